//! Extraction of the audit fields that backends put in an event's `data` (see
//! `shared/spec/audit-context.md`): `action`, `model`/`model_name`, `object_id`,
//! `object_repr`, `user`/`user_email`, `timestamp`, `changes`, `severity`, `status`.
//!
//! Anything that is not a JSON object (plain text, arrays, encrypted `{"nonce","ciphertext"}`
//! payloads, which simply carry none of these keys) yields no fields and is stored and
//! searched as text only.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A field's change, always in this shape when returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub old: Value,
    pub new: Value,
}

/// `changes` normalised: field name → `{old, new}`, sorted by field name.
pub type Changes = BTreeMap<String, Change>;

/// The audit fields found in one payload; every field is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFields {
    pub action: Option<String>,
    pub model: Option<String>,
    pub object_id: Option<String>,
    pub object_repr: Option<String>,
    pub user: Option<String>,
    pub timestamp: Option<String>,
    pub severity: Option<String>,
    pub status: Option<String>,
    pub changes: Option<Changes>,
}

impl AuditFields {
    /// Extracts the fields from `data`; never fails (unreadable payloads have no fields).
    pub fn extract(data: &str) -> Self {
        // Cheap pre-check: most non-audit payloads are not objects, and parsing them would
        // be wasted work on the hot path.
        if !data.trim_start().starts_with('{') {
            return Self::default();
        }
        match serde_json::from_str::<Value>(data) {
            Ok(Value::Object(map)) => Self::from_object(&map),
            _ => Self::default(),
        }
    }

    fn from_object(map: &Map<String, Value>) -> Self {
        Self {
            action: text(map, &["action"]),
            model: text(map, &["model", "model_name"]),
            object_id: text(map, &["object_id"]),
            object_repr: text(map, &["object_repr"]),
            user: text(map, &["user", "user_email"]),
            timestamp: text(map, &["timestamp"]),
            severity: text(map, &["severity"]),
            status: text(map, &["status"]),
            changes: map.get("changes").and_then(normalise_changes),
        }
    }
}

/// The first of `keys` that holds a string, number or boolean, as text. Objects, arrays
/// and nulls are not scalar facts to index, so they are skipped.
fn text(map: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match map.get(*k)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

/// Accepts `{field: {old, new}}` and `{field: [old, new]}`; a field in any other shape is
/// kept as `{old: null, new: value}` so that nothing the backend sent is dropped. `changes`
/// that is not an object at all is not a diff and yields none.
fn normalise_changes(value: &Value) -> Option<Changes> {
    let Value::Object(fields) = value else {
        return None;
    };
    let changes = fields
        .iter()
        .map(|(field, change)| {
            let change = match change {
                Value::Object(m) if m.contains_key("old") || m.contains_key("new") => Change {
                    old: m.get("old").cloned().unwrap_or(Value::Null),
                    new: m.get("new").cloned().unwrap_or(Value::Null),
                },
                Value::Array(pair) if pair.len() == 2 => Change {
                    old: pair[0].clone(),
                    new: pair[1].clone(),
                },
                other => Change {
                    old: Value::Null,
                    new: other.clone(),
                },
            };
            (field.clone(), change)
        })
        .collect();
    Some(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BRIEF_PAYLOAD: &str = r#"{"action": "created", "model": "service", "object_id": 53, "user": "test@example.com",
 "timestamp": "2025-01-07T12:04:26.123456Z",
 "changes": {"name": {"old": null, "new": "Test Service"}, "price": {"old": null, "new": "100.00"}}}"#;

    #[test]
    fn extracts_the_brief_payload() {
        let f = AuditFields::extract(BRIEF_PAYLOAD);
        assert_eq!(f.action.as_deref(), Some("created"));
        assert_eq!(f.model.as_deref(), Some("service"));
        assert_eq!(f.object_id.as_deref(), Some("53"));
        assert_eq!(f.user.as_deref(), Some("test@example.com"));
        assert_eq!(f.timestamp.as_deref(), Some("2025-01-07T12:04:26.123456Z"));
        assert_eq!(f.object_repr, None);
        assert_eq!(f.severity, None);
        let changes = f.changes.unwrap();
        assert_eq!(
            serde_json::to_value(&changes).unwrap(),
            json!({"name": {"old": null, "new": "Test Service"}, "price": {"old": null, "new": "100.00"}})
        );
    }

    #[test]
    fn accepts_the_variant_names_and_list_style_changes() {
        let f = AuditFields::extract(
            r#"{"action":"approved","model_name":"invoice","object_id":"INV-7","object_repr":"Invoice 7",
                "user_email":"a@b.c","severity":"high","status":"failed",
                "changes":{"total":[1,2],"state":{"new":"paid"}}}"#,
        );
        assert_eq!(f.model.as_deref(), Some("invoice"));
        assert_eq!(f.user.as_deref(), Some("a@b.c"));
        assert_eq!(f.object_id.as_deref(), Some("INV-7"));
        assert_eq!(f.object_repr.as_deref(), Some("Invoice 7"));
        assert_eq!(f.severity.as_deref(), Some("high"));
        assert_eq!(f.status.as_deref(), Some("failed"));
        assert_eq!(
            serde_json::to_value(f.changes.unwrap()).unwrap(),
            json!({"total": {"old": 1, "new": 2}, "state": {"old": null, "new": "paid"}})
        );
    }

    #[test]
    fn model_wins_over_model_name_and_user_over_user_email() {
        let f =
            AuditFields::extract(r#"{"model":"a","model_name":"b","user":"u","user_email":"e"}"#);
        assert_eq!(f.model.as_deref(), Some("a"));
        assert_eq!(f.user.as_deref(), Some("u"));
        // A null primary key falls back to the variant.
        let f = AuditFields::extract(r#"{"user":null,"user_email":"e"}"#);
        assert_eq!(f.user.as_deref(), Some("e"));
    }

    #[test]
    fn non_objects_and_encrypted_payloads_have_no_fields() {
        for data in [
            "hello world",
            "",
            "[1,2,3]",
            "\"a string\"",
            "{not json",
            r#"{"nonce":"bm9uY2U=","ciphertext":"Y2lwaGVy"}"#,
        ] {
            assert_eq!(AuditFields::extract(data), AuditFields::default(), "{data}");
        }
    }

    #[test]
    fn changes_that_are_not_an_object_are_ignored() {
        assert_eq!(AuditFields::extract(r#"{"changes":[1,2]}"#).changes, None);
        let odd = AuditFields::extract(r#"{"changes":{"x":5}}"#)
            .changes
            .unwrap();
        assert_eq!(
            odd["x"],
            Change {
                old: Value::Null,
                new: json!(5)
            }
        );
    }
}
