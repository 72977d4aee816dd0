//! The SQLite side of the writer: appends a batch in one transaction, numbering and
//! hash-chaining events per app and answering duplicates of an idempotency key with the
//! original `seq`.
//!
//! Each app's head `(last_seq, last_hash, last_received_at)` is read from `chain_heads`
//! inside the transaction and written back before COMMIT, so another writer on the same
//! file (`herald audit prune` while the server runs) chains correctly, and a failed batch
//! leaves neither a gap nor a moved head.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{chain, sql};
use crate::chain::{ChainHead, Checkpoint, Digest, GENESIS};
use crate::error::StoreError;
use crate::event::{PreparedEvent, Recorded};
use crate::retention::{PruneStep, RetentionPolicy};
use crate::store::WriteStore;
use crate::timefmt;

/// The last `seq`, hash and receive time recorded for an app.
#[derive(Debug, Clone, Copy)]
struct AppHead {
    seq: i64,
    hash: Digest,
    received_at: i64,
}

pub struct SqliteWriter {
    conn: Connection,
}

/// A receive time this far behind the app's latest is worth a warning (a clock step).
const CLOCK_STEP_WARNING_MICROS: i64 = 1_000_000;

impl SqliteWriter {
    pub fn new(conn: Connection) -> Result<Self, StoreError> {
        Ok(Self { conn })
    }

    fn load_head(tx: &rusqlite::Transaction<'_>, app: &str) -> Result<AppHead, StoreError> {
        let row: Option<(i64, Vec<u8>, i64)> = tx
            .prepare_cached(
                "SELECT last_seq, last_hash, last_received_at FROM chain_heads WHERE app_id = ?1",
            )?
            .query_row(params![app], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        Ok(match row {
            Some((seq, hash, received_at)) => AppHead {
                seq,
                hash: crate::chain::hash::from_slice(&hash).ok_or_else(|| {
                    StoreError::Corrupt(format!("the chain head of app {app:?} is not a hash"))
                })?,
                received_at,
            },
            None => AppHead {
                seq: 0,
                hash: GENESIS,
                received_at: i64::MIN,
            },
        })
    }

    fn append_in_tx<'a>(
        tx: &rusqlite::Transaction<'_>,
        batch: &[&'a PreparedEvent],
    ) -> Result<Vec<Recorded>, StoreError> {
        let mut moved: HashMap<String, AppHead> = HashMap::new();
        let mut out = Vec::with_capacity(batch.len());
        let mut find_key =
            tx.prepare_cached("SELECT seq FROM events WHERE app_id = ?1 AND idempotency_key = ?2")?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO events (app_id, seq, received_at, name, channels, data, socket_id,
                 client_ip, user_agent, library, auth_key, idempotency_key, action, model,
                 object_id, object_repr, user, timestamp, severity, status, changes, error, ip,
                 content_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                 ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
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
            let head = match moved.get(&e.app_id) {
                Some(head) => *head,
                None => Self::load_head(tx, &e.app_id)?,
            };
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
            let content = crate::chain::content_hash(&p.canonical(received_at));
            let hash = crate::chain::link(&head.hash, &content);
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
                &content[..],
                &hash[..],
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
            moved.insert(
                e.app_id.clone(),
                AppHead {
                    seq,
                    hash,
                    received_at,
                },
            );
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
        let mut set_head = tx.prepare_cached(
            "INSERT INTO chain_heads (app_id, last_seq, last_hash, last_received_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (app_id) DO UPDATE SET last_seq = excluded.last_seq,
                 last_hash = excluded.last_hash, last_received_at = excluded.last_received_at",
        )?;
        for (app, head) in &moved {
            set_head.execute(params![app, head.seq, &head.hash[..], head.received_at])?;
        }
        Ok(out)
    }
}

impl WriteStore for SqliteWriter {
    fn append(&mut self, batch: &[&PreparedEvent]) -> Result<Vec<Recorded>, StoreError> {
        // IMMEDIATE takes the write lock up front, so a lock conflict fails here (after the
        // busy timeout) instead of halfway through the batch.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let recorded = Self::append_in_tx(&tx, batch)?;
        tx.commit()?;
        Ok(recorded)
    }

    fn chain_heads(&mut self) -> Result<Vec<ChainHead>, StoreError> {
        chain::heads(&self.conn)
    }

    fn latest_checkpoints(&mut self) -> Result<Vec<Checkpoint>, StoreError> {
        chain::latest_checkpoints(&self.conn)
    }

    fn add_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        chain::insert_checkpoint(&self.conn, checkpoint)
    }

    fn prune_step(
        &mut self,
        app: &str,
        policy: &RetentionPolicy,
        now: i64,
        after: i64,
        limit: usize,
        dry_run: bool,
    ) -> Result<PruneStep, StoreError> {
        super::prune::step(&mut self.conn, app, policy, (now, after, limit), dry_run)
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
