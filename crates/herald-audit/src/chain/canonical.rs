//! Canonical encoding **v1** of a recorded event: the exact bytes whose SHA-256 is the
//! event's `content_hash`. The layout is specified in the [module docs](super) and must never
//! change for v1; a new layout gets a new version tag.

/// Every stored field of an event, borrowed, in the order they are encoded.
///
/// `seq` is deliberately absent: it is the event's position in its app's chain, which the
/// link hash already binds (see [`super`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanonicalFields<'a> {
    pub app_id: &'a str,
    /// Recorded receive time, µs since the Unix epoch (after the writer's monotonic clamp).
    pub received_at: i64,
    pub name: &'a str,
    /// In stored order (first occurrence of each channel).
    pub channels: &'a [String],
    pub data: &'a str,
    pub socket_id: Option<&'a str>,
    pub client_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub library: Option<&'a str>,
    pub auth_key: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub action: Option<&'a str>,
    pub model: Option<&'a str>,
    pub object_id: Option<&'a str>,
    pub object_repr: Option<&'a str>,
    pub user: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub severity: Option<&'a str>,
    pub status: Option<&'a str>,
    /// The normalised changes as herald encodes them (compact JSON, keys sorted).
    pub changes: Option<&'a str>,
    pub error: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// The version tag every v1 encoding starts with.
pub const V1_TAG: &[u8] = b"herald-audit-event-v1\0";

const ABSENT: u8 = 0;
const PRESENT: u8 = 1;

impl CanonicalFields<'_> {
    /// The canonical v1 bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            V1_TAG.len() + 128 + self.data.len() + self.changes.map_or(0, str::len),
        );
        out.extend_from_slice(V1_TAG);
        text(&mut out, Some(self.app_id));
        out.extend_from_slice(&self.received_at.to_be_bytes());
        text(&mut out, Some(self.name));
        out.extend_from_slice(&len32(self.channels.len()).to_be_bytes());
        for channel in self.channels {
            text(&mut out, Some(channel));
        }
        for field in [
            Some(self.data),
            self.socket_id,
            self.client_ip,
            self.user_agent,
            self.library,
            Some(self.auth_key),
            self.idempotency_key,
            self.action,
            self.model,
            self.object_id,
            self.object_repr,
            self.user,
            self.timestamp,
            self.severity,
            self.status,
            self.changes,
            self.error,
            self.ip,
        ] {
            text(&mut out, field);
        }
        out
    }
}

/// `0x00` when absent; `0x01`, the UTF-8 length as u32 big-endian, then the bytes.
fn text(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => out.push(ABSENT),
        Some(s) => {
            out.push(PRESENT);
            out.extend_from_slice(&len32(s.len()).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// Lengths above 4 GiB cannot be recorded (the trigger API's limits are far below), so
/// saturating here can never make two different records encode alike in practice; it keeps
/// the encoder total instead of panicking.
fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(channels: &[String]) -> CanonicalFields<'_> {
        CanonicalFields {
            app_id: "1",
            received_at: 1_736_251_466_123_456,
            name: "model-change",
            channels,
            data: r#"{"action":"created"}"#,
            socket_id: None,
            client_ip: Some("127.0.0.1"),
            user_agent: None,
            library: None,
            auth_key: "app-key",
            idempotency_key: None,
            action: Some("created"),
            model: None,
            object_id: None,
            object_repr: None,
            user: None,
            timestamp: None,
            severity: None,
            status: None,
            changes: None,
            error: None,
            ip: Some("127.0.0.1"),
        }
    }

    #[test]
    fn layout_is_the_documented_one() {
        let channels = vec!["a".to_owned()];
        let bytes = sample(&channels).encode();
        let mut expected = V1_TAG.to_vec();
        expected.extend_from_slice(&[1, 0, 0, 0, 1, b'1']);
        expected.extend_from_slice(&1_736_251_466_123_456i64.to_be_bytes());
        expected.extend_from_slice(&[1, 0, 0, 0, 12]);
        expected.extend_from_slice(b"model-change");
        expected.extend_from_slice(&[0, 0, 0, 1, 1, 0, 0, 0, 1, b'a']);
        expected.extend_from_slice(&[1, 0, 0, 0, 20]);
        expected.extend_from_slice(br#"{"action":"created"}"#);
        expected.push(0); // socket_id
        expected.extend_from_slice(&[1, 0, 0, 0, 9]);
        expected.extend_from_slice(b"127.0.0.1");
        expected.extend_from_slice(&[0, 0]); // user_agent, library
        expected.extend_from_slice(&[1, 0, 0, 0, 7]);
        expected.extend_from_slice(b"app-key");
        expected.push(0); // idempotency_key
        expected.extend_from_slice(&[1, 0, 0, 0, 7]);
        expected.extend_from_slice(b"created");
        expected.extend_from_slice(&[0; 9]); // model … error
        expected.extend_from_slice(&[1, 0, 0, 0, 9]);
        expected.extend_from_slice(b"127.0.0.1");
        assert_eq!(bytes, expected);
    }

    #[test]
    fn absent_and_empty_differ_and_fields_do_not_run_together() {
        let channels: Vec<String> = Vec::new();
        let a = sample(&channels);
        let b = CanonicalFields {
            socket_id: Some(""),
            ..a
        };
        assert_ne!(a.encode(), b.encode());
        // "ab" + "" must not encode like "a" + "b".
        let c = CanonicalFields {
            model: Some("ab"),
            object_id: Some(""),
            ..a
        };
        let d = CanonicalFields {
            model: Some("a"),
            object_id: Some("b"),
            ..a
        };
        assert_ne!(c.encode(), d.encode());
        let one = vec!["a,b".to_owned()];
        let two = vec!["a".to_owned(), "b".to_owned()];
        assert_ne!(sample(&one).encode(), sample(&two).encode());
    }
}
