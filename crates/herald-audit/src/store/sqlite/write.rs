//! The SQLite side of the writer: appends a batch in one transaction, numbering events per
//! app and answering duplicates of an idempotency key with the original `seq`.
//!
//! The per-app counters live in memory (loaded at open) because this connection is the only
//! writer; they are only advanced after COMMIT succeeds, so a failed batch leaves no gap.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::sql;
use crate::error::StoreError;
use crate::event::{PreparedEvent, Recorded};
use crate::store::WriteStore;
use crate::timefmt;

/// The last `seq` and receive time recorded for an app.
#[derive(Debug, Clone, Copy)]
struct AppHead {
    seq: i64,
    received_at: i64,
}

pub struct SqliteWriter {
    conn: Connection,
    heads: HashMap<String, AppHead>,
}

/// A receive time this far behind the app's latest is worth a warning (a clock step).
const CLOCK_STEP_WARNING_MICROS: i64 = 1_000_000;

impl SqliteWriter {
    pub fn new(conn: Connection) -> Result<Self, StoreError> {
        let mut heads = HashMap::new();
        {
            // One index seek per app through events_app_seq.
            let mut stmt = conn.prepare(
                "SELECT app_id, seq, received_at FROM events e
                 WHERE seq = (SELECT max(seq) FROM events WHERE app_id = e.app_id)",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    AppHead {
                        seq: r.get(1)?,
                        received_at: r.get(2)?,
                    },
                ))
            })?;
            for row in rows {
                let (app, head) = row?;
                heads.insert(app, head);
            }
        }
        Ok(Self { conn, heads })
    }

    fn append_in_tx<'a>(
        tx: &rusqlite::Transaction<'_>,
        heads: &HashMap<String, AppHead>,
        batch: &[&'a PreparedEvent],
    ) -> Result<(Vec<Recorded>, HashMap<String, AppHead>), StoreError> {
        let mut moved: HashMap<String, AppHead> = HashMap::new();
        let mut out = Vec::with_capacity(batch.len());
        let mut find_key =
            tx.prepare_cached("SELECT seq FROM events WHERE app_id = ?1 AND idempotency_key = ?2")?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO events (app_id, seq, received_at, name, channels, data, socket_id,
                 client_ip, user_agent, library, auth_key, idempotency_key, action, model,
                 object_id, object_repr, user, timestamp, severity, status, changes, error, ip)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                 ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
        )?;
        let mut insert_fts = tx.prepare_cached(
            "INSERT INTO events_fts (rowid, app, name, channels, model, user, object_repr, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut insert_channel = tx.prepare_cached(
            "INSERT INTO event_channels (app_id, channel, seq) VALUES (?1, ?2, ?3)",
        )?;
        // Rollup increments, summed over the batch first: one upsert per distinct key.
        let mut rollup: HashMap<(&str, i64, &str, &str), i64> = HashMap::new();
        for p in batch {
            let e = &p.event;
            if let Some(key) = &e.idempotency_key {
                // Sees rows inserted earlier in this same transaction too, so a key repeated
                // within one batch is also recorded once.
                let existing: Option<i64> = find_key
                    .query_row(params![e.app_id, key], |r| r.get(0))
                    .optional()?;
                if let Some(seq) = existing {
                    out.push(Recorded {
                        seq,
                        duplicate: true,
                    });
                    continue;
                }
            }
            let head = moved
                .get(&e.app_id)
                .or_else(|| heads.get(&e.app_id))
                .copied()
                .unwrap_or(AppHead {
                    seq: 0,
                    received_at: i64::MIN,
                });
            let seq = head.seq + 1;
            // Time never goes backwards within an app, so time order is seq order and a
            // time range is a seq range (see the crate docs).
            if head.received_at.saturating_sub(e.received_at_micros) > CLOCK_STEP_WARNING_MICROS {
                tracing::warn!(
                    message = "Audit receive time went backwards; recording the later time.",
                    app_id = %e.app_id,
                    behind_micros = head.received_at.saturating_sub(e.received_at_micros),
                );
            }
            let received_at = e.received_at_micros.max(head.received_at);
            let f = &p.fields;
            insert.execute(params![
                e.app_id,
                seq,
                received_at,
                e.name,
                p.channels_json,
                e.data,
                e.socket_id,
                e.client_ip,
                e.user_agent,
                e.library,
                e.auth_key,
                e.idempotency_key,
                f.action,
                f.model,
                f.object_id,
                f.object_repr,
                f.user,
                f.timestamp,
                f.severity,
                f.status,
                p.changes_json,
                f.error,
                f.ip,
            ])?;
            let id = tx.last_insert_rowid();
            insert_fts.execute(params![
                id,
                sql::app_token(&e.app_id),
                e.name,
                p.channels_json,
                f.model,
                f.user,
                f.object_repr,
                e.data
            ])?;
            for channel in &e.channels {
                insert_channel.execute(params![e.app_id, channel, seq])?;
            }
            let day = timefmt::day_index(received_at);
            let mut bump = |dim: &'static str, value: &'a str| {
                *rollup
                    .entry((e.app_id.as_str(), day, dim, value))
                    .or_default() += 1;
            };
            bump("", "");
            for (dim, value) in [
                ("action", &f.action),
                ("model", &f.model),
                ("user", &f.user),
            ] {
                if let Some(v) = value {
                    bump(dim, v);
                }
            }
            for channel in &e.channels {
                bump("channel", channel);
            }
            moved.insert(e.app_id.clone(), AppHead { seq, received_at });
            out.push(Recorded {
                seq,
                duplicate: false,
            });
        }
        let mut upsert = tx.prepare_cached(
            "INSERT INTO daily_counts (app_id, day, dim, value, count) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (app_id, day, dim, value) DO UPDATE SET count = count + excluded.count",
        )?;
        for ((app, day, dim, value), n) in rollup {
            upsert.execute(params![app, day, dim, value, n])?;
        }
        Ok((out, moved))
    }
}

impl WriteStore for SqliteWriter {
    fn append(&mut self, batch: &[&PreparedEvent]) -> Result<Vec<Recorded>, StoreError> {
        // IMMEDIATE takes the write lock up front, so a lock conflict fails here (after the
        // busy timeout) instead of halfway through the batch.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (recorded, moved) = Self::append_in_tx(&tx, &self.heads, batch)?;
        tx.commit()?;
        self.heads.extend(moved);
        Ok(recorded)
    }

    fn close(&mut self) {
        // Leaves a compact file behind and refreshes the planner's statistics; failures
        // only cost startup time next time, so they are logged, not returned.
        if let Err(error) = self
            .conn
            .execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);")
        {
            tracing::warn!(message = "Audit store checkpoint at shutdown failed.", %error);
        }
    }
}
