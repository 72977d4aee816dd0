//! An app's audit retention rules as written in the TOML file:
//!
//! ```toml
//! [[apps.retention]]
//! model = "User"          # events whose extracted model is User (case-insensitive)…
//! days = 90               # …are kept 90 days
//! [[apps.retention]]
//! channel_prefix = "user-"
//! days = 30
//! [[apps.retention]]
//! default_days = 365      # everything no rule above selects
//! ```
//!
//! Rules apply in order; the first that matches an event decides (see
//! `herald_audit::retention`).

use herald_audit::retention::{RetentionPolicy, Rule, Selector};
use serde::Deserialize;

/// One `[[apps.retention]]` table.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RetentionEntry {
    pub model: Option<String>,
    pub channel_prefix: Option<String>,
    pub days: Option<u32>,
    pub default_days: Option<u32>,
}

/// The app's policy, or why the entries are not one.
pub fn policy(entries: &[RetentionEntry]) -> Result<Option<RetentionPolicy>, String> {
    if entries.is_empty() {
        return Ok(None);
    }
    let mut rules = Vec::new();
    let mut default_days = None;
    for (i, e) in entries.iter().enumerate() {
        let positive = |d: u32| {
            if d == 0 {
                Err(format!("entry {}: days must be at least 1", i + 1))
            } else {
                Ok(d)
            }
        };
        match (&e.model, &e.channel_prefix, e.days, e.default_days) {
            (Some(m), None, Some(d), None) if !m.is_empty() => rules.push(Rule {
                selector: Selector::Model(m.clone()),
                days: positive(d)?,
            }),
            (None, Some(p), Some(d), None) if !p.is_empty() => rules.push(Rule {
                selector: Selector::ChannelPrefix(p.clone()),
                days: positive(d)?,
            }),
            (None, None, None, Some(d)) if default_days.is_none() => {
                default_days = Some(positive(d)?)
            }
            (None, None, None, Some(_)) => {
                return Err(format!("entry {}: default_days is given twice", i + 1));
            }
            _ => {
                return Err(format!(
                    "entry {}: expected either model and days, channel_prefix and days, or default_days alone",
                    i + 1
                ));
            }
        }
    }
    Ok(Some(RetentionPolicy::new(rules, default_days)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        model: Option<&str>,
        prefix: Option<&str>,
        days: Option<u32>,
        default: Option<u32>,
    ) -> RetentionEntry {
        RetentionEntry {
            model: model.map(Into::into),
            channel_prefix: prefix.map(Into::into),
            days,
            default_days: default,
        }
    }

    #[test]
    fn entries_become_ordered_rules_with_the_default_last() {
        let p = policy(&[
            entry(None, None, None, Some(365)),
            entry(Some("User"), None, Some(90), None),
            entry(None, Some("user-"), Some(30), None),
        ])
        .unwrap()
        .unwrap();
        let described: Vec<String> = p.rules().iter().map(|r| r.describe()).collect();
        assert_eq!(
            described,
            [
                "model = \"User\", days = 90",
                "channel_prefix = \"user-\", days = 30",
                "default_days = 365"
            ]
        );
        assert_eq!(policy(&[]).unwrap(), None);
    }

    #[test]
    fn malformed_entries_say_what_is_expected() {
        for bad in [
            entry(Some("User"), None, None, None),
            entry(Some("User"), Some("u-"), Some(3), None),
            entry(None, None, Some(3), None),
            entry(Some("User"), None, Some(0), None),
        ] {
            assert!(policy(std::slice::from_ref(&bad)).is_err(), "{bad:?}");
        }
        let twice = [
            entry(None, None, None, Some(1)),
            entry(None, None, None, Some(2)),
        ];
        assert!(policy(&twice).unwrap_err().contains("twice"));
    }
}
