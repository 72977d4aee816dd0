//! Turns an [`EventFilter`] into SQL over the PostgreSQL schema, with bound parameters
//! only, and reads rows back. Shaped like the SQLite store's queries: the app and a `seq`
//! range lead every index, time bounds become a `seq` range first
//! ([`crate::store::timeline`]), a channel filter drives the query from `event_channels`,
//! and a text search goes through the GIN index on `events.search`.

use tokio::runtime::Handle;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::StoreError;
use crate::event::{EventRecord, EventSummary};
use crate::extract::Changes;
use crate::query::EventFilter;
use crate::query::filter::TextQuery;
use crate::store::timeline::{self, SeqProbe, SeqRange};
use crate::timefmt;

pub const SUMMARY_COLUMNS: &str = "e.seq, e.received_at, e.name, e.channels, e.action, e.model, \
     e.object_id, e.object_repr, e.\"user\", e.\"timestamp\", e.severity, e.status, e.changes, \
     e.error, e.ip";
pub const RECORD_COLUMNS: &str = "e.seq, e.received_at, e.name, e.channels, e.action, e.model, \
     e.object_id, e.object_repr, e.\"user\", e.\"timestamp\", e.severity, e.status, e.changes, \
     e.error, e.ip, e.app_id, e.data, e.socket_id, e.client_ip, e.user_agent, e.library, \
     e.auth_key, e.idempotency_key";

/// A bound parameter.
#[derive(Debug, Clone)]
pub enum Param {
    Text(String),
    Int(i64),
}

impl Param {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Self::Text(t) => t,
            Self::Int(i) => i,
        }
    }
}

/// One read transaction, driven from a blocking thread: every statement is prepared once
/// per connection (deadpool's statement cache) and run to completion with `block_on`.
pub struct Db<'a, 't> {
    pub rt: &'a Handle,
    pub tx: &'a deadpool_postgres::Transaction<'t>,
}

impl Db<'_, '_> {
    pub fn query(&self, sql: &str, params: &[Param]) -> Result<Vec<Row>, StoreError> {
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
        self.rt.block_on(async {
            let statement = self.tx.prepare_cached(sql).await?;
            Ok(self.tx.query(&statement, &params).await?)
        })
    }

    pub fn query_opt(&self, sql: &str, params: &[Param]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The `seq` range of events received in `[from, to)`.
    pub fn seq_range(
        &self,
        app: &str,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Option<SeqRange>, StoreError> {
        timeline::seq_range(&mut Probe(self), app, from, to)
    }
}

struct Probe<'d, 'a, 't>(&'d Db<'a, 't>);

impl SeqProbe for Probe<'_, '_, '_> {
    fn bounds(&mut self, app: &str) -> Result<Option<(i64, i64)>, StoreError> {
        let row = self.0.query_opt(
            "SELECT (SELECT min(seq) FROM events WHERE app_id = $1),
                    (SELECT max(seq) FROM events WHERE app_id = $1)",
            &[Param::Text(app.to_owned())],
        )?;
        Ok(row.and_then(|r| match (r.get(0), r.get(1)) {
            (Some(first), Some(last)) => Some((first, last)),
            _ => None,
        }))
    }

    fn first_from(&mut self, app: &str, seq: i64) -> Result<Option<(i64, i64)>, StoreError> {
        let row = self.0.query_opt(
            "SELECT seq, received_at FROM events WHERE app_id = $1 AND seq >= $2
             ORDER BY seq LIMIT 1",
            &[Param::Text(app.to_owned()), Param::Int(seq)],
        )?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    fn before(&mut self, app: &str, seq: i64) -> Result<Option<i64>, StoreError> {
        let row = self.0.query_opt(
            "SELECT max(seq) FROM events WHERE app_id = $1 AND seq < $2",
            &[Param::Text(app.to_owned()), Param::Int(seq)],
        )?;
        Ok(row.and_then(|r| r.get(0)))
    }
}

/// The `tsquery` for a search: every typed word must occur; a word is the phrase of its
/// letter-and-digit runs (as the index splits text), the last of them a prefix. Only
/// letters and digits reach the query text, so nothing typed can be tsquery syntax.
pub fn tsquery(text: &TextQuery) -> String {
    let words: Vec<String> = text
        .typed
        .split_whitespace()
        .filter_map(|word| {
            let runs: Vec<&str> = word
                .split(|c: char| !c.is_alphanumeric())
                .filter(|r| !r.is_empty())
                .collect();
            if runs.is_empty() {
                return None;
            }
            let last = runs.len() - 1;
            let phrase: Vec<String> = runs
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    if i == last {
                        format!("'{r}':*")
                    } else {
                        format!("'{r}'")
                    }
                })
                .collect();
            Some(format!("({})", phrase.join(" <-> ")))
        })
        .collect();
    words.join(" & ")
}

/// `FROM … WHERE …` for a filter, plus its parameters, to be completed by the caller.
#[derive(Debug, Clone)]
pub struct Selection {
    pub from: String,
    /// The driving table's `seq` column, to ORDER BY without a sort.
    pub seq: &'static str,
    conditions: Vec<String>,
    pub params: Vec<Param>,
    /// True when only the app and a seq range are constrained.
    pub unfiltered: bool,
    /// True when only the app, one channel and a seq range are constrained.
    pub channel_only: bool,
}

impl Selection {
    pub fn new(app: &str, filter: &EventFilter, range: SeqRange) -> Self {
        let mut s = Self {
            from: String::new(),
            seq: "e.seq",
            conditions: Vec::new(),
            params: Vec::new(),
            unfiltered: true,
            channel_only: false,
        };
        if let Some(channel) = &filter.channel {
            // Driven by the channel's run of `event_channels`, already in seq order.
            s.from =
                "event_channels c JOIN events e ON e.app_id = c.app_id AND e.seq = c.seq".into();
            s.seq = "c.seq";
            s.push_text("c.app_id = $", app);
            s.push_text("c.channel = $", channel);
            s.unfiltered = false;
            s.channel_only = true;
        } else {
            s.from = "events e".into();
            s.push_text("e.app_id = $", app);
        }
        if let Some(lo) = range.lo {
            s.push_seq(">=", lo);
        }
        if let Some(hi) = range.hi {
            s.push_seq("<=", hi);
        }
        let fields = [
            ("e.action = $", &filter.action),
            ("e.model = $", &filter.model),
            ("e.\"user\" = $", &filter.user),
            ("e.name = $", &filter.event),
            ("e.object_id = $", &filter.object_id),
            ("e.severity = $", &filter.severity),
            ("e.status = $", &filter.status),
            ("e.error = $", &filter.error),
            ("e.ip = $", &filter.ip),
        ];
        for (condition, value) in fields {
            if let Some(v) = value {
                s.push_text(condition, v);
                s.unfiltered = false;
                s.channel_only = false;
            }
        }
        if let Some(text) = &filter.text {
            let query = tsquery(text);
            s.push_text("e.search @@ to_tsquery('simple', $", &query);
            // Close the call opened above.
            if let Some(last) = s.conditions.last_mut() {
                last.push(')');
            }
            s.unfiltered = false;
            s.channel_only = false;
        }
        s
    }

    /// Appends `condition` followed by the next placeholder number, bound to `value`.
    fn push_text(&mut self, condition: &str, value: &str) {
        self.params.push(Param::Text(value.to_owned()));
        self.conditions
            .push(format!("{condition}{}", self.params.len()));
    }

    /// Adds `seq OP value` on the driving table's seq column.
    pub fn push_seq(&mut self, op: &str, value: i64) {
        self.params.push(Param::Int(value));
        self.conditions
            .push(format!("{} {op} ${}", self.seq, self.params.len()));
    }

    /// `FROM event_channels c WHERE …` when the channel table alone can count it.
    pub fn driver_sql(&self) -> Option<String> {
        self.channel_only.then(|| {
            format!(
                "FROM event_channels c WHERE {}",
                self.conditions.join(" AND ")
            )
        })
    }

    /// `FROM … WHERE …`.
    pub fn sql(&self) -> String {
        format!("FROM {} WHERE {}", self.from, self.conditions.join(" AND "))
    }
}

/// Reads [`SUMMARY_COLUMNS`] from the start of a row.
pub fn summary_from_row(r: &Row) -> EventSummary {
    let channels: String = r.get(3);
    EventSummary {
        seq: r.get(0),
        received_at: timefmt::format_micros(r.get(1)),
        name: r.get(2),
        // Written by the writer from a Vec<String>; unreadable only if the row was edited.
        channels: serde_json::from_str(&channels).unwrap_or_else(|_| vec![channels]),
        action: r.get(4),
        model: r.get(5),
        object_id: r.get(6),
        object_repr: r.get(7),
        user: r.get(8),
        timestamp: r.get(9),
        severity: r.get(10),
        status: r.get(11),
        changes: r
            .get::<_, Option<String>>(12)
            .and_then(|c| serde_json::from_str::<Changes>(&c).ok()),
        error: r.get(13),
        ip: r.get(14),
    }
}

/// Reads [`RECORD_COLUMNS`].
pub fn record_from_row(r: &Row) -> EventRecord {
    EventRecord {
        summary: summary_from_row(r),
        app_id: r.get(15),
        data: r.get(16),
        socket_id: r.get(17),
        client_ip: r.get(18),
        user_agent: r.get(19),
        library: r.get(20),
        auth_key: r.get(21),
        idempotency_key: r.get(22),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsqueries_hold_only_letters_and_digits() {
        let t = TextQuery::parse(r#"test@example.com "price -name OR' x:*"#).unwrap();
        assert_eq!(
            tsquery(&t),
            "('test' <-> 'example' <-> 'com':*) & ('price':*) & ('name':*) & ('OR':*) & ('x':*)"
        );
    }
}
