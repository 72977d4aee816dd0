//! Time values at the edges of the audit API: microseconds since the epoch inside, RFC 3339
//! UTC strings outside. `from`/`to` also accept a plain date and a zone-less date-time
//! (taken as UTC), because that is what people type.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Now, in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    let now = OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000) as i64
}

/// `2025-01-07T12:04:26.123456Z`.
pub fn format_micros(micros: i64) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000) else {
        return micros.to_string();
    };
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    t.format(&fmt).unwrap_or_else(|_| micros.to_string())
}

/// `2025-01-07` for the UTC day containing `micros`.
pub fn format_day(day_index: i64) -> String {
    let micros = day_index.saturating_mul(MICROS_PER_DAY);
    format_micros(micros)[..10].to_owned()
}

/// The UTC day number (days since 1970-01-01) of an instant.
pub fn day_index(micros: i64) -> i64 {
    micros.div_euclid(MICROS_PER_DAY)
}

/// Parses an RFC 3339 instant (with `T` or a space between date and time).
pub fn parse_instant(value: &str) -> Result<i64, String> {
    let fixed = repair_plus(value);
    OffsetDateTime::parse(&fixed, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&fixed.replacen(' ', "T", 1), &Rfc3339))
        .map(to_micros)
        .map_err(|_| format!("{value:?} is not an RFC 3339 date-time"))
}

/// A range bound as typed by a user: the instant it names, and whether it was a whole day
/// (so that `to=2025-01-07` can mean "through the end of that day").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub micros: i64,
    pub whole_day: bool,
}

/// Accepts `2025-01-07`, `2025-01-07T12:04:26Z`, `2025-01-07T12:04:26.5+01:00` and a zone-less
/// `2025-01-07T12:04:26` (UTC).
pub fn parse_bound(value: &str) -> Result<Bound, String> {
    let value = value.trim();
    if let Ok(date) = Date::parse(value, format_description!("[year]-[month]-[day]")) {
        let micros = to_micros(date.midnight().assume_offset(UtcOffset::UTC));
        return Ok(Bound {
            micros,
            whole_day: true,
        });
    }
    if let Ok(micros) = parse_instant(value) {
        return Ok(Bound {
            micros,
            whole_day: false,
        });
    }
    let naive = format_description!(
        version = 2,
        "[year]-[month]-[day][first [T] [ ]][hour]:[minute][optional [:[second][optional [.[subsecond]]]]]"
    );
    PrimitiveDateTime::parse(value, naive)
        .map(|t| Bound {
            micros: to_micros(t.assume_utc()),
            whole_day: false,
        })
        .map_err(|_| {
            format!("{value:?} is not a date (2025-01-07) or an RFC 3339 date-time (2025-01-07T12:04:26Z)")
        })
}

fn to_micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

/// A `+` in an unescaped query string arrives as a space (`…12:00:00 01:00`); put it back so
/// that offsets typed by hand still parse.
fn repair_plus(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.len() > 6 && bytes[bytes.len() - 6] == b' ' && bytes[bytes.len() - 3] == b':' {
        let mut s = value.to_owned();
        s.replace_range(s.len() - 6..s.len() - 5, "+");
        return s;
    }
    value.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_736_251_466_123_456; // 2025-01-07T12:04:26.123456Z

    #[test]
    fn formats_and_parses_back() {
        assert_eq!(format_micros(T), "2025-01-07T12:04:26.123456Z");
        assert_eq!(parse_instant("2025-01-07T12:04:26.123456Z").unwrap(), T);
        assert_eq!(format_day(day_index(T)), "2025-01-07");
        assert_eq!(format_day(day_index(-1)), "1969-12-31");
    }

    #[test]
    fn parses_bounds_people_type() {
        let day = parse_bound("2025-01-07").unwrap();
        assert!(day.whole_day);
        assert_eq!(
            day.micros,
            T - (12 * 3600 + 4 * 60 + 26) * 1_000_000 - 123_456
        );
        assert_eq!(
            parse_bound("2025-01-07T12:04:26.123456Z").unwrap().micros,
            T
        );
        assert_eq!(
            parse_bound("2025-01-07T13:04:26.123456+01:00")
                .unwrap()
                .micros,
            T
        );
        // `+` decoded as a space by the query-string decoder.
        assert_eq!(
            parse_bound("2025-01-07T13:04:26.123456 01:00")
                .unwrap()
                .micros,
            T
        );
        assert_eq!(parse_bound("2025-01-07T12:04:26.123456").unwrap().micros, T);
        assert_eq!(
            parse_bound("2025-01-07 12:04").unwrap().micros,
            T - 26_123_456
        );
        assert!(parse_bound("yesterday").is_err());
        assert!(parse_bound("2025-13-01").is_err());
    }
}
