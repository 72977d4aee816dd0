//! The durable outbox: a small SQLite file (one per node, `webhook_store`) holding every
//! webhook event from the moment it is generated until its receiver answers 2xx or herald
//! gives up, plus the delivery log that the operator reads.
//!
//! - `pending`: one row per event and receiver URL. A held event (`channel_vacated`,
//!   `member_removed`) is due 3 s after it happened; a `channel_occupied` / `member_added`
//!   arriving before that deletes it instead of being stored (the debounce). `claim` is set
//!   when the cluster must confirm the held event at due time (see `docs/cluster.md`).
//! - `deliveries`: one row per batch (one POST body, retried as a whole), with its attempts
//!   and the last answer. A batch's events keep their `batch_id` until the batch ends, so a
//!   restart resumes the same batch.
//!
//! WAL with `synchronous = NORMAL`: a commit survives `kill -9` of herald (the WAL is in the
//! OS's hands), which is the failure this store is for.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL,
    url TEXT NOT NULL,
    name TEXT NOT NULL,
    channel TEXT NOT NULL,
    user_id TEXT,
    event_json TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    due_ms INTEGER NOT NULL,
    claim TEXT,
    batch_id INTEGER
);
CREATE INDEX IF NOT EXISTS pending_by_receiver ON pending (app_id, url, batch_id, id);
CREATE INDEX IF NOT EXISTS pending_held ON pending (app_id, url, channel, name) WHERE batch_id IS NULL;
CREATE INDEX IF NOT EXISTS pending_batch ON pending (batch_id) WHERE batch_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL,
    url TEXT NOT NULL,
    status TEXT NOT NULL,
    events INTEGER NOT NULL,
    summary TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    last_attempt_ms INTEGER,
    next_attempt_ms INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    finished_ms INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_by_app ON deliveries (app_id, id);
CREATE INDEX IF NOT EXISTS deliveries_open ON deliveries (app_id, url, status);
CREATE TABLE IF NOT EXISTS live (
    app_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    user_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (app_id, channel, user_id)
) WITHOUT ROWID;
";

/// Finished batches kept per app in the delivery log.
const LOG_KEEP_PER_APP: i64 = 1000;

/// A row to store: one event for one receiver.
#[derive(Debug, Clone)]
pub struct NewPending {
    pub app_id: Arc<str>,
    pub url: Arc<str>,
    pub name: &'static str,
    pub channel: Arc<str>,
    pub user_id: Option<Arc<str>>,
    pub event_json: Arc<str>,
    pub created_ms: i64,
    pub due_ms: i64,
    pub claim: Option<String>,
    /// Name of the held event this one cancels (`channel_vacated` for `channel_occupied`).
    pub cancels: Option<&'static str>,
    /// Replaces the receiver's pending event of the same name and channel instead of
    /// adding one (subscription counts: only the latest matters).
    pub coalesce: bool,
}

/// A channel (or, with `user_id`, a presence member) becoming live or not (single node).
#[derive(Debug, Clone)]
pub struct LiveChange {
    pub app_id: Arc<str>,
    pub channel: Arc<str>,
    pub user_id: Option<Arc<str>>,
    pub live: bool,
}

/// A held event whose cluster-wide claim is due.
#[derive(Debug, Clone)]
pub struct DueClaim {
    pub id: i64,
    pub claim: String,
}

/// One POST body's worth of events, being delivered.
#[derive(Debug, Clone)]
pub struct Batch {
    pub id: i64,
    pub created_ms: i64,
    pub attempts: u32,
    pub next_attempt_ms: i64,
    /// Event objects, oldest first.
    pub events: Vec<String>,
}

/// One row of the delivery log, as the API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivery {
    pub id: i64,
    pub url: String,
    /// `pending` (being retried), `delivered` or `given_up`.
    pub status: String,
    pub events: i64,
    /// `[{"name":…, "channel":…, "user_id"?:…}]` (client event data is left out).
    pub summary: serde_json::Value,
    pub attempts: i64,
    pub created_ms: i64,
    pub last_attempt_ms: Option<i64>,
    pub next_attempt_ms: Option<i64>,
    /// HTTP status of the last answer, if there was one.
    pub last_status: Option<i64>,
    /// Why the last attempt failed (timeout, connection refused, non-2xx).
    pub last_error: Option<String>,
    pub finished_ms: Option<i64>,
}

/// How a batch attempt ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Delivered {
        status: u16,
    },
    Retry {
        status: Option<u16>,
        error: String,
        next_attempt_ms: i64,
    },
    GaveUp {
        status: Option<u16>,
        error: String,
    },
}

/// The outbox file. Cheap to clone; every call runs on the blocking pool.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

pub type StoreError = rusqlite::Error;

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool. The mutex is never held across an
    /// `.await`: it lives inside the blocking closure.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .unwrap_or_else(|join| Err(rusqlite::Error::ToSqlConversionFailure(Box::new(join))))
    }

    /// Stores events in one transaction, applying the debounce: an event that cancels a held
    /// one still pending deletes it and is itself not stored. Returns how many rows the
    /// outbox gained (negative when cancellations outnumber new rows).
    /// `live` updates the record of live channels and members in the same transaction.
    pub async fn insert(
        &self,
        rows: Vec<NewPending>,
        live: Vec<LiveChange>,
    ) -> Result<i64, StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let mut stored = 0;
            {
                let mut add = tx.prepare_cached(
                    "INSERT OR IGNORE INTO live (app_id, channel, user_id) VALUES (?1, ?2, ?3)",
                )?;
                let mut remove = tx.prepare_cached(
                    "DELETE FROM live WHERE app_id = ?1 AND channel = ?2 AND user_id = ?3",
                )?;
                for change in &live {
                    let key = params![
                        &*change.app_id,
                        &*change.channel,
                        change.user_id.as_deref().unwrap_or("")
                    ];
                    if change.live {
                        add.execute(key)?;
                    } else {
                        remove.execute(key)?;
                    }
                }
            }
            {
                let mut cancel = tx.prepare_cached(
                    "DELETE FROM pending WHERE id = (SELECT id FROM pending
                       WHERE app_id = ?1 AND url = ?2 AND channel = ?3 AND name = ?4
                         AND user_id IS ?5 AND batch_id IS NULL AND due_ms > ?6
                       ORDER BY id DESC LIMIT 1)",
                )?;
                let mut replace = tx.prepare_cached(
                    "UPDATE pending SET event_json = ?5 WHERE app_id = ?1 AND url = ?2
                       AND channel = ?3 AND name = ?4 AND batch_id IS NULL",
                )?;
                let mut insert = tx.prepare_cached(
                    "INSERT INTO pending (app_id, url, name, channel, user_id, event_json,
                       created_ms, due_ms, claim) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?;
                for row in rows {
                    if let Some(held) = row.cancels {
                        let n = cancel.execute(params![
                            &*row.app_id,
                            &*row.url,
                            &*row.channel,
                            held,
                            row.user_id.as_deref(),
                            row.created_ms,
                        ])?;
                        if n > 0 {
                            stored -= n as i64;
                            continue;
                        }
                    }
                    if row.coalesce
                        && replace.execute(params![
                            &*row.app_id,
                            &*row.url,
                            &*row.channel,
                            row.name,
                            &*row.event_json,
                        ])? > 0
                    {
                        continue;
                    }
                    insert.execute(params![
                        &*row.app_id,
                        &*row.url,
                        row.name,
                        &*row.channel,
                        row.user_id.as_deref(),
                        &*row.event_json,
                        row.created_ms,
                        row.due_ms,
                        row.claim,
                    ])?;
                    stored += 1;
                }
            }
            tx.commit()?;
            Ok(stored)
        })
        .await
    }

    /// Held events for a receiver whose cluster claim is due.
    pub async fn due_claims(
        &self,
        app_id: Arc<str>,
        url: Arc<str>,
        now_ms: i64,
    ) -> Result<Vec<DueClaim>, StoreError> {
        self.with(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, claim FROM pending WHERE app_id = ?1 AND url = ?2
                   AND batch_id IS NULL AND claim IS NOT NULL AND due_ms <= ?3 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![&*app_id, &*url, now_ms], |r| {
                Ok(DueClaim {
                    id: r.get(0)?,
                    claim: r.get(1)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Settles a claim: confirmed events become sendable, refused ones are dropped.
    pub async fn settle_claim(&self, id: i64, confirmed: bool) -> Result<(), StoreError> {
        self.with(move |conn| {
            if confirmed {
                conn.execute("UPDATE pending SET claim = NULL WHERE id = ?1", [id])?;
            } else {
                conn.execute("DELETE FROM pending WHERE id = ?1", [id])?;
            }
            Ok(())
        })
        .await
    }

    /// The receiver's unfinished batch, if one was started (before a restart, say).
    pub async fn open_batch(
        &self,
        app_id: Arc<str>,
        url: Arc<str>,
    ) -> Result<Option<Batch>, StoreError> {
        self.with(move |conn| {
            let head = conn
                .query_row(
                    "SELECT id, created_ms, attempts, next_attempt_ms FROM deliveries
                       WHERE app_id = ?1 AND url = ?2 AND status = 'pending' ORDER BY id LIMIT 1",
                    params![&*app_id, &*url],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((id, created_ms, attempts, next_attempt_ms)) = head else {
                return Ok(None);
            };
            let events = batch_events(conn, id)?;
            Ok(Some(Batch {
                id,
                created_ms,
                attempts,
                next_attempt_ms,
                events,
            }))
        })
        .await
    }

    /// Starts a batch of up to `cap` due events for a receiver, oldest first.
    pub async fn start_batch(
        &self,
        app_id: Arc<str>,
        url: Arc<str>,
        now_ms: i64,
        cap: usize,
    ) -> Result<Option<Batch>, StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let rows: Vec<(i64, String, String, Option<String>, String)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, name, channel, user_id, event_json FROM pending
                       WHERE app_id = ?1 AND url = ?2 AND batch_id IS NULL AND claim IS NULL
                         AND due_ms <= ?3 ORDER BY id LIMIT ?4",
                )?;
                stmt.query_map(params![&*app_id, &*url, now_ms, cap as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<Result<_, _>>()?
            };
            if rows.is_empty() {
                return Ok(None);
            }
            let summary: Vec<serde_json::Value> = rows
                .iter()
                .map(|(_, name, channel, user, _)| {
                    let mut v = serde_json::json!({ "name": name, "channel": channel });
                    if let Some(user) = user {
                        v["user_id"] = serde_json::json!(user);
                    }
                    v
                })
                .collect();
            tx.execute(
                "INSERT INTO deliveries (app_id, url, status, events, summary, created_ms,
                   next_attempt_ms) VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?5)",
                params![
                    &*app_id,
                    &*url,
                    rows.len() as i64,
                    serde_json::Value::Array(summary).to_string(),
                    now_ms
                ],
            )?;
            let id = tx.last_insert_rowid();
            {
                let mut mark =
                    tx.prepare_cached("UPDATE pending SET batch_id = ?1 WHERE id = ?2")?;
                for row in &rows {
                    mark.execute(params![id, row.0])?;
                }
            }
            tx.commit()?;
            Ok(Some(Batch {
                id,
                created_ms: now_ms,
                attempts: 0,
                next_attempt_ms: now_ms,
                events: rows.into_iter().map(|r| r.4).collect(),
            }))
        })
        .await
    }

    /// When the receiver's next unbatched event falls due (held events are due later).
    pub async fn next_due(
        &self,
        app_id: Arc<str>,
        url: Arc<str>,
    ) -> Result<Option<i64>, StoreError> {
        self.with(move |conn| {
            conn.query_row(
                "SELECT MIN(due_ms) FROM pending WHERE app_id = ?1 AND url = ?2
                   AND batch_id IS NULL",
                params![&*app_id, &*url],
                |r| r.get(0),
            )
        })
        .await
    }

    /// Records an attempt's outcome; a finished batch's events leave the outbox.
    pub async fn record(
        &self,
        app_id: Arc<str>,
        batch: i64,
        now_ms: i64,
        outcome: Outcome,
    ) -> Result<(), StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let finished = match &outcome {
                Outcome::Delivered { status } => {
                    tx.execute(
                        "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1,
                           last_attempt_ms = ?2, last_status = ?3, last_error = NULL,
                           finished_ms = ?2 WHERE id = ?1",
                        params![batch, now_ms, *status as i64],
                    )?;
                    true
                }
                Outcome::Retry {
                    status,
                    error,
                    next_attempt_ms,
                } => {
                    tx.execute(
                        "UPDATE deliveries SET attempts = attempts + 1, last_attempt_ms = ?2,
                           last_status = ?3, last_error = ?4, next_attempt_ms = ?5 WHERE id = ?1",
                        params![batch, now_ms, status.map(i64::from), error, next_attempt_ms],
                    )?;
                    false
                }
                Outcome::GaveUp { status, error } => {
                    tx.execute(
                        "UPDATE deliveries SET status = 'given_up', attempts = attempts + 1,
                           last_attempt_ms = ?2, last_status = ?3, last_error = ?4,
                           finished_ms = ?2 WHERE id = ?1",
                        params![batch, now_ms, status.map(i64::from), error],
                    )?;
                    true
                }
            };
            if finished {
                tx.execute("DELETE FROM pending WHERE batch_id = ?1", [batch])?;
                if batch % 100 == 0 {
                    tx.execute(
                        "DELETE FROM deliveries WHERE app_id = ?1 AND status != 'pending'
                           AND id <= (SELECT id FROM deliveries WHERE app_id = ?1
                                      ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                        params![&*app_id, LOG_KEEP_PER_APP],
                    )?;
                }
            }
            tx.commit()
        })
        .await
    }

    /// Channels and members recorded live: `(app_id, channel, user_id)`.
    pub async fn live(&self) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare("SELECT app_id, channel, user_id FROM live")?;
            let rows = stmt.query_map([], |r| {
                let user: String = r.get(2)?;
                Ok((r.get(0)?, r.get(1)?, (!user.is_empty()).then_some(user)))
            })?;
            rows.collect()
        })
        .await
    }

    /// Events waiting in the outbox (all apps), for the queue-depth gauge.
    pub async fn pending_count(&self) -> Result<i64, StoreError> {
        self.with(|conn| conn.query_row("SELECT COUNT(*) FROM pending", [], |r| r.get(0)))
            .await
    }

    /// The newest batches of an app, newest first, optionally only those with `status`.
    pub async fn deliveries(
        &self,
        app_id: String,
        status: Option<String>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.with(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, url, status, events, summary, attempts, created_ms, last_attempt_ms,
                   next_attempt_ms, last_status, last_error, finished_ms FROM deliveries
                 WHERE app_id = ?1 AND (?2 IS NULL OR status = ?2) ORDER BY id DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![app_id, status, limit as i64], |r| {
                let status: String = r.get(2)?;
                let summary: String = r.get(4)?;
                Ok(Delivery {
                    id: r.get(0)?,
                    url: r.get(1)?,
                    next_attempt_ms: (status == "pending").then(|| r.get(8)).transpose()?,
                    status,
                    events: r.get(3)?,
                    summary: serde_json::from_str(&summary).unwrap_or_default(),
                    attempts: r.get(5)?,
                    created_ms: r.get(6)?,
                    last_attempt_ms: r.get(7)?,
                    last_status: r.get(9)?,
                    last_error: r.get(10)?,
                    finished_ms: r.get(11)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}

fn batch_events(conn: &Connection, batch: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT event_json FROM pending WHERE batch_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map([batch], |r| r.get(0))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &'static str, channel: &str, at: i64, hold: i64) -> NewPending {
        NewPending {
            app_id: Arc::from("1"),
            url: Arc::from("http://r/"),
            name,
            channel: Arc::from(channel),
            user_id: None,
            event_json: Arc::from(format!(r#"{{"name":"{name}","channel":"{channel}"}}"#)),
            created_ms: at,
            due_ms: at + hold,
            claim: None,
            cancels: (name == "channel_occupied").then_some("channel_vacated"),
            coalesce: false,
        }
    }

    fn open() -> (Store, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!(
            "herald-webhooks-test-{}-{}.db",
            std::process::id(),
            rand::random::<u32>()
        ));
        (Store::open(&path).unwrap(), path)
    }

    #[tokio::test]
    async fn a_return_within_the_hold_cancels_both_events() {
        let (store, path) = open();
        let (app, url): (Arc<str>, Arc<str>) = (Arc::from("1"), Arc::from("http://r/"));
        store
            .insert(vec![row("channel_occupied", "c", 0, 0)], Vec::new())
            .await
            .unwrap();
        store
            .insert(vec![row("channel_vacated", "c", 10, 3000)], Vec::new())
            .await
            .unwrap();
        // Back after 1 s: the held vacated goes, and the occupied is not stored.
        let stored = store
            .insert(vec![row("channel_occupied", "c", 1010, 0)], Vec::new())
            .await
            .unwrap();
        assert_eq!(stored, -1, "one held row went, nothing was added");
        let batch = store
            .start_batch(app.clone(), url.clone(), 10_000, 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(batch.events.len(), 1, "{:?}", batch.events);
        assert!(batch.events[0].contains("channel_occupied"));
        // After the hold, a vacated is sent and a later occupied is stored.
        store
            .insert(vec![row("channel_vacated", "c", 20_000, 3000)], Vec::new())
            .await
            .unwrap();
        assert_eq!(
            store.next_due(app.clone(), url.clone()).await.unwrap(),
            Some(23_000)
        );
        assert!(
            store
                .start_batch(app.clone(), url.clone(), 22_000, 100)
                .await
                .unwrap()
                .is_none(),
            "the batch in progress does not block, but nothing else is due yet"
        );
        let stored = store
            .insert(vec![row("channel_occupied", "c", 24_000, 0)], Vec::new())
            .await
            .unwrap();
        assert_eq!(stored, 1);
        std::fs::remove_file(path).ok();
    }

    #[tokio::test]
    async fn a_started_batch_survives_reopening_and_finishes_once() {
        let (store, path) = open();
        let (app, url): (Arc<str>, Arc<str>) = (Arc::from("1"), Arc::from("http://r/"));
        store
            .insert(
                vec![
                    row("channel_occupied", "a", 0, 0),
                    row("channel_occupied", "b", 1, 0),
                ],
                Vec::new(),
            )
            .await
            .unwrap();
        let batch = store
            .start_batch(app.clone(), url.clone(), 5, 100)
            .await
            .unwrap()
            .unwrap();
        store
            .record(
                app.clone(),
                batch.id,
                6,
                Outcome::Retry {
                    status: Some(500),
                    error: "HTTP 500".into(),
                    next_attempt_ms: 506,
                },
            )
            .await
            .unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        let again = store
            .open_batch(app.clone(), url.clone())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.id, batch.id);
        assert_eq!(again.attempts, 1);
        assert_eq!(again.next_attempt_ms, 506);
        assert_eq!(again.events, batch.events);
        store
            .record(
                app.clone(),
                batch.id,
                600,
                Outcome::Delivered { status: 200 },
            )
            .await
            .unwrap();
        assert!(
            store
                .open_batch(app.clone(), url.clone())
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.pending_count().await.unwrap(), 0);
        let log = store.deliveries("1".into(), None, 10).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].status, "delivered");
        assert_eq!(log[0].attempts, 2);
        assert_eq!(log[0].summary[1]["channel"], "b");
        std::fs::remove_file(path).ok();
    }
}
