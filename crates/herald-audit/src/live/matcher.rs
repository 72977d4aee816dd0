//! Whether a recorded event matches an [`EventFilter`], decided in memory. The per-app tail
//! reads every new event once; each stream reader keeps the ones its filter selects,
//! without a query of its own.
//!
//! Equality filters and the time range compare exactly as the SQL does. A text search
//! follows FTS5's rules closely enough for a live feed: the searched columns are split
//! into lower-cased runs of letters and digits, and every typed word must occur as a
//! phrase of such tokens whose last one may be a prefix. (FTS5 also folds diacritics; an
//! accented search can therefore differ between catch-up and live delivery.)

use crate::event::EventRecord;
use crate::query::EventFilter;

/// A filter prepared for matching many events.
#[derive(Debug, Clone)]
pub struct Matcher {
    filter: EventFilter,
    /// Each typed word as its tokens.
    words: Vec<Vec<String>>,
}

impl Matcher {
    pub fn new(filter: EventFilter) -> Self {
        let words = filter
            .text
            .as_ref()
            .map(|t| {
                t.typed
                    .split_whitespace()
                    .map(tokens)
                    .filter(|w| !w.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Self { filter, words }
    }

    pub fn filter(&self) -> &EventFilter {
        &self.filter
    }

    /// True when the filter selects nothing but the app: every event matches.
    pub fn is_everything(&self) -> bool {
        self.filter.is_empty()
    }

    pub fn matches(&self, record: &EventRecord) -> bool {
        let f = &self.filter;
        let e = &record.summary;
        let same = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_deref() == Some(w))
        };
        if !(same(&f.action, &e.action)
            && same(&f.model, &e.model)
            && same(&f.user, &e.user)
            && same(&f.object_id, &e.object_id)
            && same(&f.severity, &e.severity)
            && same(&f.status, &e.status)
            && same(&f.error, &e.error)
            && same(&f.ip, &e.ip)
            && f.event.as_ref().is_none_or(|n| *n == e.name)
            && f.channel.as_ref().is_none_or(|c| e.channels.contains(c)))
        {
            return false;
        }
        if f.from.is_some() || f.to.is_some() {
            let Some(at) = e.received_at_micros() else {
                return false;
            };
            if f.from.is_some_and(|from| at < from) || f.to.is_some_and(|to| at >= to) {
                return false;
            }
        }
        self.words.is_empty() || self.text_matches(record)
    }

    fn text_matches(&self, record: &EventRecord) -> bool {
        let e = &record.summary;
        let channels = serde_json::to_string(&e.channels).unwrap_or_default();
        let columns: Vec<Vec<String>> = [
            Some(e.name.as_str()),
            Some(channels.as_str()),
            e.model.as_deref(),
            e.user.as_deref(),
            e.object_repr.as_deref(),
            Some(record.data.as_str()),
        ]
        .into_iter()
        .flatten()
        .map(tokens)
        .collect();
        self.words
            .iter()
            .all(|word| columns.iter().any(|column| contains_phrase(column, word)))
    }
}

/// Lower-cased runs of letters and digits, as FTS5's default tokenizer splits text.
fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// `phrase` occurs in `column` as consecutive tokens, the last one as a prefix.
fn contains_phrase(column: &[String], phrase: &[String]) -> bool {
    let Some((last, head)) = phrase.split_last() else {
        return true;
    };
    column.windows(phrase.len()).any(|window| {
        window[..head.len()] == *head && window[head.len()].starts_with(last.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventSummary;
    use crate::query::Params;

    fn record(data: &str) -> EventRecord {
        let fields = crate::extract::AuditFields::extract(data);
        EventRecord {
            app_id: "1".into(),
            summary: EventSummary {
                seq: 1,
                received_at: "2025-01-07T12:00:00.000000Z".into(),
                name: "model-change".into(),
                channels: vec!["audit-channel".into(), "model-service".into()],
                action: fields.action,
                model: fields.model,
                object_id: fields.object_id,
                object_repr: fields.object_repr,
                user: fields.user,
                timestamp: fields.timestamp,
                severity: fields.severity,
                status: fields.status,
                error: fields.error,
                ip: fields.ip,
                changes: fields.changes,
            },
            data: data.into(),
            socket_id: None,
            client_ip: None,
            user_agent: None,
            library: None,
            auth_key: "k".into(),
            idempotency_key: None,
        }
    }

    fn matcher(query: &str) -> Matcher {
        let mut p = Params::from_query(Some(query)).unwrap();
        let f = EventFilter::from_params(&mut p, 0).unwrap();
        p.finish().unwrap();
        Matcher::new(f)
    }

    const DATA: &str = r#"{"action":"created","model":"service","object_id":53,"user":"test@example.com","object_repr":"Test Service"}"#;

    #[test]
    fn equality_filters_and_channels() {
        let r = record(DATA);
        assert!(matcher("").matches(&r));
        assert!(matcher("action=created&model=service&object_id=53").matches(&r));
        assert!(!matcher("action=deleted").matches(&r));
        assert!(matcher("channel=model-service&event=model-change").matches(&r));
        assert!(!matcher("channel=model-invoice").matches(&r));
        assert!(!matcher("severity=high").matches(&r));
        assert!(matcher("ip=10.0.0.1&error=timeout").matches(&record(
            r#"{"action":"failed","ip_address":"10.0.0.1","error_message":"timeout"}"#
        )));
        assert!(!matcher("ip=10.0.0.2").matches(&r));
    }

    #[test]
    fn time_range_is_half_open() {
        let r = record(DATA);
        assert!(matcher("from=2025-01-07&to=2025-01-07").matches(&r));
        assert!(!matcher("from=2025-01-08").matches(&r));
        assert!(matcher("to=2025-01-07T12:00:00Z").matches(&r));
        assert!(!matcher("to=2025-01-07T11:59:59Z").matches(&r));
        assert!(!matcher("to=2025-01-06").matches(&r));
    }

    #[test]
    fn text_search_is_token_prefix_phrases() {
        let r = record(DATA);
        assert!(matcher("q=serv").matches(&r));
        assert!(matcher("q=test%40example.com").matches(&r));
        assert!(matcher("q=TEST+service").matches(&r));
        assert!(matcher("q=audit-chan").matches(&r));
        assert!(!matcher("q=example.org").matches(&r));
        assert!(!matcher("q=service+invoice").matches(&r));
    }
}
