//! Which events a query selects: equality on the indexed fields, a time range on the server
//! receive time, and full-text search. Shared by `/events`, `/stats`, the activity views,
//! export and the CLI.

use crate::query::params::{ParamError, Params};
use crate::timefmt::{self, MICROS_PER_DAY};

/// A selection of events within one app (the app is always given separately).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub action: Option<String>,
    pub model: Option<String>,
    pub user: Option<String>,
    pub channel: Option<String>,
    /// The Pusher event name.
    pub event: Option<String>,
    pub object_id: Option<String>,
    pub severity: Option<String>,
    pub status: Option<String>,
    /// The backend's `error_message`, exactly.
    pub error: Option<String>,
    /// The end user's IP (`ip_address`, else the trigger's client IP).
    pub ip: Option<String>,
    /// Received at or after, µs since the epoch.
    pub from: Option<i64>,
    /// Received strictly before, µs since the epoch.
    pub to: Option<i64>,
    pub text: Option<TextQuery>,
}

impl EventFilter {
    /// Reads `action` (`event_code`), `model` (`model_name`), `user` (`user_email`),
    /// `channel`, `event`, `object_id`, `severity`, `status`, `error`, `ip` (`ip_address`),
    /// `from` (`date_from`), `to` (`date_to`), `days` and `q` (`search`). `days=N` means "the last N days up to now".
    pub fn from_params(p: &mut Params, now_micros: i64) -> Result<Self, ParamError> {
        let mut filter = Self {
            action: p.take_any("action", &["event_code"])?,
            model: p.take_any("model", &["model_name"])?,
            user: p.take_any("user", &["user_email"])?,
            channel: p.take("channel"),
            event: p.take("event"),
            object_id: p.take("object_id"),
            severity: p.take("severity"),
            status: p.take("status"),
            error: p.take("error"),
            ip: p.take_any("ip", &["ip_address"])?,
            ..Self::default()
        };
        if let Some(v) = p.take_any("from", &["date_from"])? {
            let b = timefmt::parse_bound(&v).map_err(|e| ParamError::new("from", e))?;
            filter.from = Some(b.micros);
        }
        if let Some(v) = p.take_any("to", &["date_to"])? {
            let b = timefmt::parse_bound(&v).map_err(|e| ParamError::new("to", e))?;
            // A plain date is inclusive of the whole day; an instant is inclusive of itself.
            filter.to = Some(if b.whole_day {
                b.micros + MICROS_PER_DAY
            } else {
                b.micros + 1
            });
        }
        if let Some(days) = p.take_int("days", 1, 36_500)? {
            if filter.from.is_some() {
                return Err(ParamError::new(
                    "days",
                    "conflicts with `from`; give only one",
                ));
            }
            filter.from = Some(now_micros - days * MICROS_PER_DAY);
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to) {
            if from >= to {
                return Err(ParamError::new("to", "must be later than `from`"));
            }
        }
        if let Some(q) = p.take_any("q", &["search"])? {
            filter.text = Some(TextQuery::parse(&q).map_err(|e| ParamError::new("q", e))?);
        }
        Ok(filter)
    }

    /// True when nothing but the app is selected.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A full-text search as typed, turned into a safe FTS5 expression: every word must occur,
/// each as a prefix (so `serv` finds `service`), and no character the user types can be
/// FTS5 syntax (a stray `"` or `-` would otherwise be a syntax error or an operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    pub typed: String,
    pub fts: String,
}

impl TextQuery {
    pub fn parse(typed: &str) -> Result<Self, String> {
        let terms: Vec<String> = typed
            .split_whitespace()
            // A word is searchable only if the tokenizer keeps something of it.
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
            .collect();
        if terms.is_empty() {
            return Err(format!(
                "{typed:?} contains no letters or digits to search for"
            ));
        }
        Ok(Self {
            typed: typed.to_owned(),
            fts: terms.join(" "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<EventFilter, ParamError> {
        let mut p = Params::from_query(Some(q)).unwrap();
        let f = EventFilter::from_params(&mut p, 100 * MICROS_PER_DAY)?;
        p.finish()?;
        Ok(f)
    }

    #[test]
    fn reads_every_filter() {
        let f = parse("action=created&model_name=service&user=a@b.c&channel=audit-channel&event=model-change&object_id=53&error=quota%20exceeded&ip_address=10.0.0.1&from=2025-01-01&to=2025-01-31&q=Test").unwrap();
        assert_eq!(f.error.as_deref(), Some("quota exceeded"));
        assert_eq!(f.ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(f.action.as_deref(), Some("created"));
        assert_eq!(f.model.as_deref(), Some("service"));
        assert_eq!(f.user.as_deref(), Some("a@b.c"));
        assert_eq!(f.channel.as_deref(), Some("audit-channel"));
        assert_eq!(f.event.as_deref(), Some("model-change"));
        assert_eq!(f.object_id.as_deref(), Some("53"));
        assert_eq!(f.to.unwrap() - f.from.unwrap(), 31 * MICROS_PER_DAY);
        assert_eq!(f.text.unwrap().fts, "\"Test\"*");
    }

    #[test]
    fn days_counts_back_from_now() {
        let f = parse("days=7").unwrap();
        assert_eq!(f.from, Some(93 * MICROS_PER_DAY));
        assert_eq!(parse("days=7&from=2025-01-01").unwrap_err().param, "days");
        assert_eq!(parse("days=0").unwrap_err().param, "days");
    }

    #[test]
    fn bad_values_name_their_parameter() {
        assert_eq!(parse("from=yesterday").unwrap_err().param, "from");
        assert_eq!(
            parse("to=2025-01-01&from=2025-02-01").unwrap_err().param,
            "to"
        );
        assert_eq!(parse("q=%22%22").unwrap_err().param, "q");
    }

    #[test]
    fn text_queries_cannot_inject_fts_syntax() {
        let t = TextQuery::parse(r#"test@example.com "price -name OR"#).unwrap();
        assert_eq!(t.fts, r#""test@example.com"* """price"* "-name"* "OR"*"#);
    }
}
