//! Finding the send timestamp in a delivered frame without parsing it.
//!
//! A fan-out run receives hundreds of thousands of frames per second; deserialising each
//! into JSON would make the generator the bottleneck. The payload carries
//! `"bench_sent_us":<digits>`, which appears in the frame escaped inside the `data` string
//! (`\"bench_sent_us\":123`), so a substring search plus a digit parse is enough.

use std::sync::LazyLock;

use memchr::memmem::Finder;

/// Field name of the send timestamp (microseconds on the run's clock, see [`crate::stats::Clock`]).
pub const SENT_MARKER: &str = "bench_sent_us";

static FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(SENT_MARKER.as_bytes()));

/// The send timestamp in `frame`, if it carries one.
pub fn sent_micros(frame: &[u8]) -> Option<u64> {
    let at = FINDER.find(frame)? + SENT_MARKER.len();
    let rest = &frame[at..];
    // Between the name and the digits: a closing quote (maybe escaped), a colon, spaces.
    let skip = rest.iter().take(8).position(|b| b.is_ascii_digit())?;
    if !rest[..skip]
        .iter()
        .all(|b| matches!(b, b'\\' | b'"' | b':' | b' '))
    {
        return None;
    }
    let mut value: u64 = 0;
    let mut digits = 0;
    for &b in &rest[skip..] {
        if !b.is_ascii_digit() {
            break;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        digits += 1;
    }
    (digits > 0).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_escaped_timestamp_in_a_frame() {
        let frame = br#"{"event":"model-change","channel":"bench-0","data":"{\"bench_sent_us\":1234567,\"action\":\"created\"}"}"#;
        assert_eq!(sent_micros(frame), Some(1_234_567));
    }

    #[test]
    fn finds_the_plain_timestamp_too() {
        assert_eq!(sent_micros(br#"{"bench_sent_us": 42}"#), Some(42));
        assert_eq!(sent_micros(br#"{"bench_sent_us":0}"#), Some(0));
    }

    #[test]
    fn frames_without_a_timestamp_are_not_deliveries() {
        assert_eq!(sent_micros(br#"{"event":"pusher:ping","data":{}}"#), None);
        assert_eq!(sent_micros(br#"{"bench_sent_us":"x"}"#), None);
        assert_eq!(sent_micros(br#"{"bench_sent_us"#), None);
        assert_eq!(sent_micros(br#"bench_sent_usabc:12"#), None);
    }

    #[test]
    fn overflow_is_not_a_timestamp() {
        assert_eq!(
            sent_micros(br#"{"bench_sent_us":99999999999999999999999}"#),
            None
        );
    }
}
