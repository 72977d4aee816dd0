//! Extraction of the audit fields that backends put in an event's `data` (see
//! `shared/spec/audit-context.md`). Each field is looked up under a list of keys, the first
//! one holding a value wins:
//!
//! | field | keys, in order |
//! |---|---|
//! | `action` | `action`, `event_code`, `action_code` |
//! | `model` | `model`, `model_name`, `content_type`, `resource_type` |
//! | `object_id` | `object_id` |
//! | `object_repr` | `object_repr`, `object_description` |
//! | `user` | `user`, `user_email`, `actor`, `username` (an object: its `email`, else `username`, else `id`) |
//! | `timestamp` | `timestamp` |
//! | `severity` | `severity`, `level` |
//! | `status` | `status` |
//! | `error` | `error_message` |
//! | `ip` | `ip_address` (the recorder falls back to the client's IP) |
//! | `changes` | `changes` |
//!
//! An app may replace any field's list ([`FieldKeys::with_overrides`], `[apps.audit_fields]`
//! in the server's configuration); a key there may be a dotted path into nested objects
//! (`meta.verb`).
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
    /// The backend's `error_message` (a failed attempt).
    pub error: Option<String>,
    /// The end user's IP as the backend reported it (`ip_address`); the recorder fills in
    /// the client's IP when the payload has none.
    pub ip: Option<String>,
    pub changes: Option<Changes>,
}

/// The fields an app can map, by the names configuration uses.
pub const FIELD_NAMES: &[&str] = &[
    "action",
    "model",
    "object_id",
    "object_repr",
    "user",
    "timestamp",
    "severity",
    "status",
    "error",
    "ip",
    "changes",
];

/// A key to look a field up under: one key, or a dotted path into nested objects.
type KeyPath = Vec<String>;

/// Where each field is looked up, in order of preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldKeys {
    action: Vec<KeyPath>,
    model: Vec<KeyPath>,
    object_id: Vec<KeyPath>,
    object_repr: Vec<KeyPath>,
    user: Vec<KeyPath>,
    timestamp: Vec<KeyPath>,
    severity: Vec<KeyPath>,
    status: Vec<KeyPath>,
    error: Vec<KeyPath>,
    ip: Vec<KeyPath>,
    changes: Vec<KeyPath>,
}

fn keys(names: &[&str]) -> Vec<KeyPath> {
    names.iter().map(|k| vec![(*k).to_owned()]).collect()
}

impl Default for FieldKeys {
    /// The shapes the backends of `audit-context.md` send.
    fn default() -> Self {
        Self {
            action: keys(&["action", "event_code", "action_code"]),
            model: keys(&["model", "model_name", "content_type", "resource_type"]),
            object_id: keys(&["object_id"]),
            object_repr: keys(&["object_repr", "object_description"]),
            user: keys(&["user", "user_email", "actor", "username"]),
            timestamp: keys(&["timestamp"]),
            severity: keys(&["severity", "level"]),
            status: keys(&["status"]),
            error: keys(&["error_message"]),
            ip: keys(&["ip_address"]),
            changes: keys(&["changes"]),
        }
    }
}

impl FieldKeys {
    /// The defaults with some fields' key lists replaced: `{"action": ["verb"]}` makes
    /// `verb` the only key `action` is read from. A key may be a dotted path
    /// (`meta.actor.email`). Refuses unknown field names, empty lists and empty keys, naming
    /// the culprit.
    pub fn with_overrides<'a>(
        overrides: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Result<Self, String> {
        let mut keys = Self::default();
        for (field, list) in overrides {
            let slot = keys.slot(field).ok_or_else(|| {
                format!(
                    "unknown audit field {field:?} (expected one of {})",
                    FIELD_NAMES.join(", ")
                )
            })?;
            if list.is_empty() {
                return Err(format!("{field}: the list of keys is empty"));
            }
            let mut paths = Vec::with_capacity(list.len());
            for key in list {
                let path: KeyPath = key.split('.').map(str::to_owned).collect();
                if path.iter().any(|s| s.trim().is_empty()) {
                    return Err(format!(
                        "{field}: {key:?} is not a key or a dotted path (a.b.c)"
                    ));
                }
                paths.push(path);
            }
            *slot = paths;
        }
        Ok(keys)
    }

    fn slot(&mut self, field: &str) -> Option<&mut Vec<KeyPath>> {
        Some(match field {
            "action" => &mut self.action,
            "model" => &mut self.model,
            "object_id" => &mut self.object_id,
            "object_repr" => &mut self.object_repr,
            "user" => &mut self.user,
            "timestamp" => &mut self.timestamp,
            "severity" => &mut self.severity,
            "status" => &mut self.status,
            "error" => &mut self.error,
            "ip" => &mut self.ip,
            "changes" => &mut self.changes,
            _ => return None,
        })
    }
}

static DEFAULT_KEYS: std::sync::LazyLock<FieldKeys> = std::sync::LazyLock::new(FieldKeys::default);

impl AuditFields {
    /// Extracts the fields from `data` with the default keys; never fails (unreadable
    /// payloads have no fields).
    pub fn extract(data: &str) -> Self {
        Self::extract_with(data, &DEFAULT_KEYS)
    }

    /// Extracts the fields from `data`, looking each up under `keys`.
    pub fn extract_with(data: &str, keys: &FieldKeys) -> Self {
        // Cheap pre-check: most non-audit payloads are not objects, and parsing them would
        // be wasted work on the hot path.
        if !data.trim_start().starts_with('{') {
            return Self::default();
        }
        match serde_json::from_str::<Value>(data) {
            Ok(Value::Object(map)) => Self::from_object(&map, keys),
            _ => Self::default(),
        }
    }

    fn from_object(map: &Map<String, Value>, keys: &FieldKeys) -> Self {
        Self {
            action: text(map, &keys.action),
            model: text(map, &keys.model),
            object_id: text(map, &keys.object_id),
            object_repr: text(map, &keys.object_repr),
            user: keys.user.iter().find_map(|k| user(lookup(map, k)?)),
            timestamp: text(map, &keys.timestamp),
            severity: text(map, &keys.severity),
            status: text(map, &keys.status),
            error: text(map, &keys.error),
            ip: text(map, &keys.ip),
            changes: keys
                .changes
                .iter()
                .find_map(|k| normalise_changes(lookup(map, k)?)),
        }
    }
}

/// The value at `path` (one key, or several through nested objects).
fn lookup<'a>(map: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut map = map;
    for key in parents {
        map = map.get(key)?.as_object()?;
    }
    map.get(last)
}

/// The first of `keys` that holds a string, number or boolean, as text. Objects, arrays
/// and nulls are not scalar facts to index, so they are skipped.
fn text(map: &Map<String, Value>, keys: &[KeyPath]) -> Option<String> {
    keys.iter().find_map(|k| scalar(lookup(map, k)?))
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A user is a scalar (an email, a name, an id) or, as activity trackers send it, an
/// object naming them: its email is the most useful identity, then username, then id.
fn user(value: &Value) -> Option<String> {
    match value {
        Value::Object(m) => ["email", "username", "id"]
            .iter()
            .find_map(|k| scalar(m.get(*k)?)),
        other => scalar(other),
    }
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

    #[test]
    fn event_logger_shapes_map_to_the_fields() {
        let f = AuditFields::extract(
            r#"{"event_code":"permit_create","content_type":"permit","object_id":12,
                "object_description":"Permit #12","username":"alice","level":"warning",
                "status":"failed","error_message":"quota exceeded","ip_address":"10.1.2.3"}"#,
        );
        assert_eq!(f.action.as_deref(), Some("permit_create"));
        assert_eq!(f.model.as_deref(), Some("permit"));
        assert_eq!(f.object_repr.as_deref(), Some("Permit #12"));
        assert_eq!(f.user.as_deref(), Some("alice"));
        assert_eq!(f.severity.as_deref(), Some("warning"));
        assert_eq!(f.error.as_deref(), Some("quota exceeded"));
        assert_eq!(f.ip.as_deref(), Some("10.1.2.3"));
        let f = AuditFields::extract(
            r#"{"action_code":"login","resource_type":"session","actor":"bob@x.io"}"#,
        );
        assert_eq!(f.action.as_deref(), Some("login"));
        assert_eq!(f.model.as_deref(), Some("session"));
        assert_eq!(f.user.as_deref(), Some("bob@x.io"));
    }

    #[test]
    fn a_nested_user_object_names_its_email_then_username_then_id() {
        let user = |data: &str| AuditFields::extract(data).user;
        assert_eq!(
            user(r#"{"user":{"id":7,"email":"e@x.io","username":"u"}}"#).as_deref(),
            Some("e@x.io")
        );
        assert_eq!(
            user(r#"{"user":{"id":7,"username":"u"}}"#).as_deref(),
            Some("u")
        );
        assert_eq!(user(r#"{"user":{"id":7}}"#).as_deref(), Some("7"));
        // An object naming nobody falls through to the next key.
        assert_eq!(
            user(r#"{"user":{"name":"x"},"actor":"a"}"#).as_deref(),
            Some("a")
        );
        // The primary names win over the variants.
        assert_eq!(
            AuditFields::extract(r#"{"action":"a","event_code":"b","severity":"s","level":"l"}"#)
                .severity
                .as_deref(),
            Some("s")
        );
    }

    #[test]
    fn overrides_replace_a_fields_keys_and_may_be_paths() {
        let verb = vec!["verb".to_owned()];
        let who = vec!["meta.by.email".to_owned(), "by".to_owned()];
        let keys =
            FieldKeys::with_overrides([("action", verb.as_slice()), ("user", who.as_slice())])
                .unwrap();
        let f = AuditFields::extract_with(
            r#"{"action":"ignored","verb":"approve","meta":{"by":{"email":"m@x.io"}},"model":"invoice"}"#,
            &keys,
        );
        assert_eq!(f.action.as_deref(), Some("approve"));
        assert_eq!(f.user.as_deref(), Some("m@x.io"));
        // Fields not overridden keep their defaults.
        assert_eq!(f.model.as_deref(), Some("invoice"));
        let f = AuditFields::extract_with(r#"{"by":"fallback"}"#, &keys);
        assert_eq!(f.user.as_deref(), Some("fallback"));
        assert_eq!(f.action, None);
    }

    #[test]
    fn bad_overrides_are_refused_with_the_reason() {
        let one = vec!["x".to_owned()];
        let err = FieldKeys::with_overrides([("acton", one.as_slice())]).unwrap_err();
        assert!(err.contains("acton") && err.contains("action"), "{err}");
        let empty: Vec<String> = Vec::new();
        let err = FieldKeys::with_overrides([("user", empty.as_slice())]).unwrap_err();
        assert!(err.contains("empty"), "{err}");
        let dots = vec!["a..b".to_owned()];
        let err = FieldKeys::with_overrides([("user", dots.as_slice())]).unwrap_err();
        assert!(err.contains("a..b"), "{err}");
    }
}
