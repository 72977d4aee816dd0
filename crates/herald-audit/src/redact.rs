//! Redaction of sensitive values in an event's `data` before anything is stored (and so
//! before it is indexed, extracted or hashed). A match is replaced by [`MARKER`], the
//! string the backends herald replaces already use.
//!
//! # Paths
//!
//! A rule is a key name or a dotted path of key names:
//!
//! * **One name** (`password`) matches that key in every object at any depth of the
//!   payload, inside arrays too: `{"password": …}`, `{"changes": {"password": …}}`,
//!   `{"users": [{"password": …}]}`.
//! * **A dotted path** (`changes.ssn`) is anchored at the top of the payload and matches
//!   exactly that nesting: `{"changes": {"ssn": …}}`, not `{"ssn": …}` nor
//!   `{"x": {"changes": {"ssn": …}}}`. Arrays along the way are transparent: `items.card`
//!   matches the `card` of every element of `{"items": [{"card": …}, …]}`.
//! * **`*`** as a segment matches any one key: `*.card_number` matches `card_number` one
//!   level below the top (`{"payment": {"card_number": …}}`), whatever the parent is called.
//! * Key names compare ASCII-case-insensitively (`password` also matches `Password` and
//!   `PASSWORD`): a leak through capitalisation is worse than an extra redaction.
//!
//! # What a match does
//!
//! Every string, number and boolean in the matched value becomes `"***REDACTED***"`; objects
//! and arrays keep their keys and shape (so a diff `{"ssn": {"old": "1", "new": "2"}}` stays a
//! diff, `{"old": "***REDACTED***", "new": "***REDACTED***"}`), and `null` stays `null` (it
//! hides nothing, and "was empty" is part of a diff). A payload with no match is kept
//! byte for byte; one with a match is re-encoded with the original key order, compactly.
//!
//! Only JSON payloads can be redacted: plain text and invalid JSON are stored as received.
//! Payloads of end-to-end encrypted channels (`private-encrypted-*`) are ciphertext that herald
//! cannot read, so they are never redacted (and could not be: the secret is not in them in
//! readable form). Channel and event names are not redacted either.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// What a redacted value is replaced by.
pub const MARKER: &str = "***REDACTED***";
/// [`MARKER`] as a JSON string.
const MARKER_JSON: &str = "\"***REDACTED***\"";

/// One segment of a dotted path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Any,
}

impl Segment {
    fn matches(&self, key: &str) -> bool {
        match self {
            Self::Key(k) => k.eq_ignore_ascii_case(key),
            Self::Any => true,
        }
    }
}

/// A compiled list of redaction rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redaction {
    /// Single names, matched at any depth.
    anywhere: Vec<String>,
    /// Dotted paths, anchored at the top.
    anchored: Vec<Vec<Segment>>,
}

/// Where an anchored path has got to: (index into `anchored`, next segment).
type State = (usize, usize);

impl Redaction {
    /// Compiles `rules`, refusing any that is not a name or a dotted path (with the reason).
    pub fn new(rules: &[String]) -> Result<Self, String> {
        let mut redaction = Self::default();
        for rule in rules {
            let segments: Vec<&str> = rule.split('.').collect();
            for s in &segments {
                if s.trim().is_empty() {
                    return Err(format!(
                        "{rule:?} is not a key name or a dotted path (a.b.c)"
                    ));
                }
                if s.contains('*') && *s != "*" {
                    return Err(format!(
                        "{rule:?}: `*` must be a whole segment (it matches any one key)"
                    ));
                }
            }
            match segments.as_slice() {
                ["*"] => {
                    return Err(format!(
                        "{rule:?} would redact every value; name the keys to redact"
                    ));
                }
                [one] => redaction.anywhere.push((*one).to_owned()),
                many => redaction.anchored.push(
                    many.iter()
                        .map(|s| match *s {
                            "*" => Segment::Any,
                            key => Segment::Key(key.to_owned()),
                        })
                        .collect(),
                ),
            }
        }
        Ok(redaction)
    }

    /// True when there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.anywhere.is_empty() && self.anchored.is_empty()
    }

    /// `data` with every match replaced, or `None` when nothing matched (or `data` is not
    /// JSON), in which case `data` is to be kept as it is.
    pub fn apply(&self, data: &str) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let start = data.trim_start();
        if !(start.starts_with('{') || start.starts_with('[')) {
            return None;
        }
        let raw: &RawValue = serde_json::from_str(data).ok()?;
        let states: Vec<State> = (0..self.anchored.len()).map(|i| (i, 0)).collect();
        self.walk(raw, &states, false)
    }

    /// The re-encoded `value` if anything in it changes. `all` redacts every scalar.
    fn walk(&self, value: &RawValue, states: &[State], all: bool) -> Option<String> {
        let text = value.get();
        match text.as_bytes().first()? {
            b'{' => {
                let ObjectEntries(entries) = serde_json::from_str(text).ok()?;
                let mut changed = false;
                let mut parts = Vec::with_capacity(entries.len());
                for (key, child) in &entries {
                    let new = if all || self.ends_here(key, states) {
                        self.walk(child, &[], true)
                    } else {
                        let next: Vec<State> = states
                            .iter()
                            .filter(|(p, at)| self.anchored[*p][*at].matches(key))
                            .map(|(p, at)| (*p, at + 1))
                            .collect();
                        if next.is_empty() && self.anywhere.is_empty() {
                            None
                        } else {
                            self.walk(child, &next, false)
                        }
                    };
                    changed |= new.is_some();
                    // Serialising a string cannot fail.
                    let key = serde_json::to_string(key).unwrap_or_default();
                    parts.push(format!("{key}:{}", new.as_deref().unwrap_or(child.get())));
                }
                changed.then(|| format!("{{{}}}", parts.join(",")))
            }
            b'[' => {
                let items: Vec<&RawValue> = serde_json::from_str(text).ok()?;
                let mut changed = false;
                let parts: Vec<String> = items
                    .iter()
                    .map(|item| {
                        let new = self.walk(item, states, all);
                        changed |= new.is_some();
                        new.unwrap_or_else(|| item.get().to_owned())
                    })
                    .collect();
                changed.then(|| format!("[{}]", parts.join(",")))
            }
            b'n' => None,
            _ if !all => None,
            // Already the marker (redacted upstream, e.g. for delivery): unchanged.
            b'"' if text == MARKER_JSON => None,
            _ => Some(MARKER_JSON.to_owned()),
        }
    }

    /// True when `key`, reached with `states`, is itself to be redacted.
    fn ends_here(&self, key: &str, states: &[State]) -> bool {
        self.anywhere.iter().any(|k| k.eq_ignore_ascii_case(key))
            || states.iter().any(|(p, at)| {
                let path = &self.anchored[*p];
                *at + 1 == path.len() && path[*at].matches(key)
            })
    }
}

/// An object's entries in document order (a `serde_json::Map` would sort them), values
/// left unparsed.
struct ObjectEntries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for ObjectEntries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = ObjectEntries<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    entries.push(entry);
                }
                Ok(ObjectEntries(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn rules(r: &[&str]) -> Redaction {
        Redaction::new(&r.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    fn redact(r: &[&str], data: Value) -> Value {
        let out = rules(r)
            .apply(&data.to_string())
            .expect("something to redact");
        serde_json::from_str(&out).unwrap()
    }

    #[test]
    fn a_single_name_matches_at_any_depth_and_in_arrays() {
        let got = redact(
            &["password"],
            json!({"password": "a", "user": {"Password": "b", "name": "n"},
                   "list": [{"PASSWORD": 3}, {"other": true}]}),
        );
        assert_eq!(
            got,
            json!({"password": MARKER, "user": {"Password": MARKER, "name": "n"},
                   "list": [{"PASSWORD": MARKER}, {"other": true}]})
        );
    }

    #[test]
    fn dotted_paths_are_anchored_and_star_is_one_key() {
        let data = json!({"ssn": "top", "changes": {"ssn": {"old": null, "new": "123-45"}},
                          "x": {"changes": {"ssn": "deep"}},
                          "payment": {"card_number": "4111"}, "card_number": "kept",
                          "a": {"b": {"card_number": "too deep"}},
                          "items": [{"card": 1}, {"card": 2}]});
        let got = redact(&["changes.ssn", "*.card_number", "items.card"], data);
        assert_eq!(
            got,
            json!({"ssn": "top", "changes": {"ssn": {"old": null, "new": MARKER}},
                   "x": {"changes": {"ssn": "deep"}},
                   "payment": {"card_number": MARKER}, "card_number": "kept",
                   "a": {"b": {"card_number": "too deep"}},
                   "items": [{"card": MARKER}, {"card": MARKER}]})
        );
    }

    #[test]
    fn objects_keep_their_shape_and_key_order() {
        let data = r#"{"z":1, "secret": {"b": [1, "two", null, false], "a": {}}, "a": "x"}"#;
        let out = rules(&["secret"]).apply(data).unwrap();
        assert_eq!(
            out,
            r#"{"z":1,"secret":{"b":["***REDACTED***","***REDACTED***",null,"***REDACTED***"],"a":{}},"a":"x"}"#
        );
    }

    #[test]
    fn nothing_matched_or_not_json_is_kept_as_is() {
        let r = rules(&["password", "a.b"]);
        assert_eq!(r.apply(r#"{"user": "x", "a": {"c": 1}}"#), None);
        assert_eq!(r.apply("password=hunter2"), None);
        assert_eq!(r.apply(r#"{"password": "#), None);
        assert_eq!(r.apply(r#"{"password": null}"#), None);
        // Already redacted (for delivery, say): a second pass changes nothing.
        let once = r.apply(r#"{"password": "p"}"#).unwrap();
        assert_eq!(r.apply(&once), None);
        assert_eq!(Redaction::default().apply(r#"{"password": "p"}"#), None);
    }

    #[test]
    fn escaped_keys_and_values_are_matched_and_reencoded_correctly() {
        let data = r#"{"pass\u0077ord":"x","note":"a \"quoted\" \u00e9 value"}"#;
        let out = rules(&["password"]).apply(data).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v,
            json!({"password": MARKER, "note": "a \"quoted\" é value"})
        );
    }

    #[test]
    fn the_marker_is_the_json_of_marker() {
        assert_eq!(serde_json::to_string(MARKER).unwrap(), MARKER_JSON);
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        for (rule, why) in [
            ("", "not a key name"),
            ("a..b", "not a key name"),
            ("*", "every value"),
            ("card*", "whole segment"),
        ] {
            let err = Redaction::new(&[rule.to_owned()]).unwrap_err();
            assert!(err.contains(why), "{rule}: {err}");
        }
    }
}
