//! What the generator triggers: the audit event from the brief (the typical herald payload),
//! optionally stamped with the send time and padded to a given size, and the JSON body of a
//! `POST /apps/{id}/events` request.

use serde::Serialize;

use crate::scan::SENT_MARKER;

/// Builds event `data` strings.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditPayload {
    /// Pad `data` to about this many bytes with a `padding` field.
    pub pad_to: Option<usize>,
}

impl AuditPayload {
    /// The event data for object `object_id`, stamped with `sent_us` if given. The timestamp
    /// goes first so the receive-side scan finds it after a few bytes.
    pub fn data(&self, object_id: u64, sent_us: Option<u64>) -> String {
        let mut out = String::with_capacity(self.pad_to.unwrap_or(0).max(320));
        out.push('{');
        if let Some(us) = sent_us {
            out.push_str(&format!("\"{SENT_MARKER}\":{us},"));
        }
        out.push_str(&format!(
            concat!(
                r#""action":"created","model":"service","object_id":{},"user":"test@example.com","#,
                r#""timestamp":"2025-01-07T12:04:26.123456Z","#,
                r#""changes":{{"name":{{"old":null,"new":"Test Service"}},"price":{{"old":null,"new":"100.00"}}}}"#
            ),
            object_id
        ));
        if let Some(target) = self.pad_to {
            const FIELD: &str = r#","padding":""#;
            let have = out.len() + FIELD.len() + 2; // + closing quote and brace
            if target > have {
                out.push_str(FIELD);
                out.extend(std::iter::repeat_n('x', target - have));
                out.push('"');
            }
        }
        out.push('}');
        out
    }
}

#[derive(Serialize)]
struct TriggerBody<'a> {
    name: &'a str,
    channels: &'a [&'a str],
    data: &'a str,
}

/// The JSON body of a trigger, as the official libraries send it (`channels` array, `data` a
/// JSON string).
pub fn trigger_body(event: &str, channels: &[&str], data: &str) -> Vec<u8> {
    serde_json::to_vec(&TriggerBody {
        name: event,
        channels,
        data,
    })
    .expect("serialising strings cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::sent_micros;

    #[test]
    fn audit_event_is_valid_json_with_the_brief_fields() {
        let data = AuditPayload::default().data(53, None);
        let v: serde_json::Value = serde_json::from_str(&data).unwrap();
        assert_eq!(v["object_id"], 53);
        assert_eq!(v["changes"]["price"]["new"], "100.00");
        assert!(v.get(SENT_MARKER).is_none());
    }

    #[test]
    fn stamped_event_survives_double_encoding_and_scans_back() {
        let data = AuditPayload::default().data(1, Some(987_654));
        let body = trigger_body("model-change", &["audit-channel"], &data);
        // The server re-embeds `data` as a string in the frame; the scan must still find it.
        assert_eq!(sent_micros(&body), Some(987_654));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["name"], "model-change");
        assert_eq!(v["channels"][0], "audit-channel");
        assert_eq!(v["data"].as_str().unwrap(), data);
    }

    #[test]
    fn padding_reaches_the_requested_size() {
        for size in [400, 1024, 10_240] {
            let data = AuditPayload { pad_to: Some(size) }.data(7, Some(1));
            assert_eq!(data.len(), size);
            serde_json::from_str::<serde_json::Value>(&data).unwrap();
        }
        // A size below the natural one leaves the event unpadded.
        let small = AuditPayload { pad_to: Some(10) }.data(7, None);
        assert_eq!(small, AuditPayload::default().data(7, None));
    }
}
