//! Turns an [`EventFilter`] into SQL over the SQLite schema, with bound parameters only
//! (no value is ever spliced into the text).
//!
//! Every query is shaped so that one index range answers it: the app and a `seq` range come
//! first in every index, time bounds are translated into a `seq` range beforehand
//! ([`seq_range`]), and a channel filter drives the query from `event_channels`.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StoreError;
use crate::event::{EventRecord, EventSummary};
use crate::extract::Changes;
use crate::query::EventFilter;
use crate::store::timeline::{self, SeqProbe};
use crate::timefmt;

pub const SUMMARY_COLUMNS: &str = "e.seq, e.received_at, e.name, e.channels, e.action, e.model, \
     e.object_id, e.object_repr, e.user, e.timestamp, e.severity, e.status, e.changes, e.error, \
     e.ip";
pub const RECORD_COLUMNS: &str = "e.seq, e.received_at, e.name, e.channels, e.action, e.model, \
     e.object_id, e.object_repr, e.user, e.timestamp, e.severity, e.status, e.changes, e.error, \
     e.ip, e.app_id, e.data, e.socket_id, e.client_ip, e.user_agent, e.library, e.auth_key, \
     e.idempotency_key";

pub use crate::store::timeline::SeqRange;

/// The `seq` range of events received in `[from, to)` (see [`crate::store::timeline`]).
pub fn seq_range(
    conn: &Connection,
    app: &str,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Option<SeqRange>, StoreError> {
    timeline::seq_range(&mut Probe(conn), app, from, to)
}

/// The first and last `seq` of an app, if it has events.
pub fn seq_bounds(conn: &Connection, app: &str) -> Result<Option<(i64, i64)>, StoreError> {
    Probe(conn).bounds(app)
}

struct Probe<'c>(&'c Connection);

impl SeqProbe for Probe<'_> {
    fn bounds(&mut self, app: &str) -> Result<Option<(i64, i64)>, StoreError> {
        let bounds: (Option<i64>, Option<i64>) = self
            .0
            // Two subqueries: SQLite answers a lone min() or max() with one index probe,
            // but both in one SELECT with a scan of the app's whole index.
            .prepare_cached(
                "SELECT (SELECT min(seq) FROM events WHERE app_id = ?1),
                        (SELECT max(seq) FROM events WHERE app_id = ?1)",
            )?
            .query_row(params![app], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(match bounds {
            (Some(first), Some(last)) => Some((first, last)),
            _ => None,
        })
    }

    fn first_from(&mut self, app: &str, seq: i64) -> Result<Option<(i64, i64)>, StoreError> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT seq, received_at FROM events WHERE app_id = ?1 AND seq >= ?2
                 ORDER BY seq LIMIT 1",
            )?
            .query_row(params![app, seq], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn before(&mut self, app: &str, seq: i64) -> Result<Option<i64>, StoreError> {
        Ok(self
            .0
            .prepare_cached("SELECT max(seq) FROM events WHERE app_id = ?1 AND seq < ?2")?
            .query_row(params![app, seq], |r| r.get(0))?)
    }
}

/// The full-text token standing for an app: `a` and the id's bytes in hex, a single token
/// to the tokenizer whatever characters the id holds, and distinct for distinct ids.
pub fn app_token(app: &str) -> String {
    let mut token = String::with_capacity(1 + app.len() * 2);
    token.push('a');
    for b in app.as_bytes() {
        token.push_str(&format!("{b:02x}"));
    }
    token
}

/// `FROM … WHERE …` for a filter, plus its parameters, to be completed by the caller.
#[derive(Debug, Clone)]
pub struct Selection {
    pub from: String,
    /// What to ORDER BY for `seq` order: the driving table's own order, so that SQLite
    /// walks it instead of sorting. For a text search that is the FTS rowid, which is
    /// `events.id`: ids grow in commit order like each app's `seq` (rows are never
    /// deleted, and a new rowid is always above every existing one).
    pub seq: &'static str,
    conditions: Vec<String>,
    pub params: Vec<Value>,
    app: String,
    /// True when only the app and a seq range are constrained.
    pub unfiltered: bool,
    /// True when only the app, one channel and a seq range are constrained: the channel
    /// table alone can count it.
    pub channel_only: bool,
    /// True when only a text search (and a seq range) constrains it: the full-text index
    /// alone can count it.
    pub text_only: bool,
    text_driven: bool,
}

impl Selection {
    pub fn new(app: &str, filter: &EventFilter, range: SeqRange) -> Self {
        let mut s = Self {
            from: String::new(),
            seq: "e.seq",
            conditions: Vec::new(),
            params: Vec::new(),
            app: app.to_owned(),
            unfiltered: false,
            channel_only: false,
            text_only: false,
            text_driven: false,
        };
        if let Some(text) = &filter.text {
            // Driven by the full-text index, scoped to the app inside it (the app token is
            // exact), so work is in proportion to the matches and a count needs no event
            // rows. (Probing `e.id IN (matches)` would visit every event of the app.)
            s.from = "events_fts JOIN events e ON e.id = events_fts.rowid".into();
            s.seq = "events_fts.rowid";
            s.text_driven = true;
            s.text_only = true;
            let query = format!(
                "app : \"{}\" AND {{name channels model user object_repr data}} : ({})",
                app_token(app),
                text.fts
            );
            s.push("events_fts MATCH ?", &query);
            if let Some(channel) = &filter.channel {
                s.text_only = false;
                s.push(
                    "EXISTS (SELECT 1 FROM event_channels c
                             WHERE c.app_id = e.app_id AND c.channel = ? AND c.seq = e.seq)",
                    channel.as_str(),
                );
            }
        } else if let Some(channel) = &filter.channel {
            // Driven by the channel's run of `event_channels`, already in seq order.
            s.from =
                "event_channels c JOIN events e ON e.app_id = c.app_id AND e.seq = c.seq".into();
            s.seq = "c.seq";
            s.channel_only = true;
            s.push("c.app_id = ?", app);
            s.push("c.channel = ?", channel.as_str());
        } else {
            s.from = "events e".into();
            s.push("e.app_id = ?", app);
            // Pruned events keep their row (for the chain) but are gone for queries. The
            // channel and text indexes no longer hold them, so only this path needs it.
            s.conditions.push("e.pruned_at IS NULL".to_owned());
            s.unfiltered = true;
        }
        if let Some(lo) = range.lo {
            s.push_seq(">=", lo);
        }
        if let Some(hi) = range.hi {
            s.push_seq("<=", hi);
        }
        let fields = [
            ("e.action = ?", &filter.action),
            ("e.model = ?", &filter.model),
            ("e.user = ?", &filter.user),
            ("e.name = ?", &filter.event),
            ("e.object_id = ?", &filter.object_id),
            ("e.severity = ?", &filter.severity),
            ("e.status = ?", &filter.status),
            ("e.error = ?", &filter.error),
            ("e.ip = ?", &filter.ip),
        ];
        for (condition, value) in fields {
            if let Some(v) = value {
                s.push(condition, v.as_str());
                s.unfiltered = false;
                s.channel_only = false;
                s.text_only = false;
            }
        }
        s
    }

    fn push(&mut self, condition: &str, value: &str) {
        self.conditions.push(condition.to_owned());
        self.params.push(Value::Text(value.to_owned()));
    }

    /// Adds `seq OP value` on the driving table's seq column.
    pub fn push_seq(&mut self, op: &str, value: i64) {
        if self.text_driven {
            // A bound on the FTS rowid lets FTS5 skip straight to it.
            self.conditions.push(format!(
                "events_fts.rowid {op} (SELECT id FROM events WHERE app_id = ? AND seq = ?)"
            ));
            self.params.push(Value::Text(self.app.clone()));
        } else {
            self.conditions.push(format!("{} {op} ?", self.seq));
        }
        self.params.push(Value::Integer(value));
    }

    /// `FROM … WHERE …` over the table that drives the selection alone, when it can answer
    /// a count by itself ([`Selection::channel_only`], [`Selection::text_only`]).
    pub fn driver_sql(&self) -> Option<String> {
        let table = if self.channel_only {
            "event_channels c"
        } else if self.text_only {
            "events_fts"
        } else {
            return None;
        };
        Some(format!(
            "FROM {table} WHERE {}",
            self.conditions.join(" AND ")
        ))
    }

    /// The same conditions with another table joined to `e` (a comma join, such as
    /// `json_each(e.channels) j`).
    pub fn joining(mut self, extra: &str) -> Self {
        self.from = format!("{}, {extra}", self.from);
        self
    }

    /// `FROM … WHERE …`.
    pub fn sql(&self) -> String {
        format!("FROM {} WHERE {}", self.from, self.conditions.join(" AND "))
    }
}

fn opt_text(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<String>> {
    r.get(i)
}

/// Reads [`SUMMARY_COLUMNS`] from the start of a row.
pub fn summary_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventSummary> {
    let channels: String = r.get(3)?;
    Ok(EventSummary {
        seq: r.get(0)?,
        received_at: timefmt::format_micros(r.get(1)?),
        name: r.get(2)?,
        // Written by the writer from a Vec<String>; unreadable only if the file was edited.
        channels: serde_json::from_str(&channels).unwrap_or_else(|_| vec![channels]),
        action: opt_text(r, 4)?,
        model: opt_text(r, 5)?,
        object_id: opt_text(r, 6)?,
        object_repr: opt_text(r, 7)?,
        user: opt_text(r, 8)?,
        timestamp: opt_text(r, 9)?,
        severity: opt_text(r, 10)?,
        status: opt_text(r, 11)?,
        changes: opt_text(r, 12)?.and_then(|c| serde_json::from_str::<Changes>(&c).ok()),
        error: opt_text(r, 13)?,
        ip: opt_text(r, 14)?,
    })
}

/// Reads [`RECORD_COLUMNS`].
pub fn record_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRecord> {
    Ok(EventRecord {
        summary: summary_from_row(r)?,
        app_id: r.get(15)?,
        data: r.get(16)?,
        socket_id: opt_text(r, 17)?,
        client_ip: opt_text(r, 18)?,
        user_agent: opt_text(r, 19)?,
        library: opt_text(r, 20)?,
        auth_key: r.get(21)?,
        idempotency_key: opt_text(r, 22)?,
    })
}
