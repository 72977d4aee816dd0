//! The SQLite schema and its migrations. One row per event in `events`; an `event_channels`
//! row per (event, channel) so that a channel filter is an index range; a contentless FTS5
//! index over the searchable columns; per-day rollups for statistics. Triggers refuse UPDATE
//! and DELETE so that the trail stays append-only even against a bug in herald; from schema 3
//! on, the only UPDATE they let through is retention's prune, which keeps an event's seq and
//! hashes.
//!
//! `PRAGMA user_version` holds the schema version. A new store gets version 1 and then every
//! later step in order, exactly as an old store is upgraded, so there is one path to each
//! version. Each step runs in its own transaction: an interrupted upgrade leaves the store
//! at the last completed version.

use rusqlite::Connection;

use crate::error::StoreError;

/// Bumped whenever the schema changes; stored in `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 4;

pub(super) const SCHEMA_V1: &str = r#"
CREATE TABLE events (
    id              INTEGER PRIMARY KEY,  -- global insertion order; FTS rowid
    app_id          TEXT    NOT NULL,
    seq             INTEGER NOT NULL,     -- per app, 1, 2, 3, ...
    received_at     INTEGER NOT NULL,     -- µs since the epoch, never decreasing along seq
                                          -- (so it needs no index: see sql::seq_range)
    name            TEXT    NOT NULL,
    channels        TEXT    NOT NULL,     -- JSON array
    data            TEXT    NOT NULL,     -- exactly as received
    socket_id       TEXT,
    client_ip       TEXT,
    user_agent      TEXT,
    library         TEXT,
    auth_key        TEXT    NOT NULL,
    idempotency_key TEXT,
    action          TEXT,
    model           TEXT,
    object_id       TEXT,
    object_repr     TEXT,
    user            TEXT,
    timestamp       TEXT,
    severity        TEXT,
    status          TEXT,
    changes         TEXT                  -- normalised JSON {field: {old, new}}
);
CREATE UNIQUE INDEX events_app_seq    ON events (app_id, seq);
CREATE INDEX events_app_action        ON events (app_id, action, seq);
CREATE INDEX events_app_model         ON events (app_id, model, seq);
-- "this kind of change to this model" is the most common pair of filters; few distinct
-- pairs, so inserts land on few pages.
CREATE INDEX events_app_model_action  ON events (app_id, model, action, seq);
CREATE INDEX events_app_user          ON events (app_id, user, seq);
CREATE INDEX events_app_name          ON events (app_id, name, seq);
CREATE INDEX events_app_object        ON events (app_id, object_id, seq);
CREATE UNIQUE INDEX events_app_idempotency ON events (app_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE event_channels (
    app_id  TEXT    NOT NULL,
    channel TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (app_id, channel, seq)
) WITHOUT ROWID;

-- Events per day by action, model, user and channel (dim '' counts all events), kept by
-- the writer in each batch's transaction so that statistics over long ranges read a few
-- thousand rows instead of every event. Derived data: rebuildable from `events`.
CREATE TABLE daily_counts (
    app_id TEXT    NOT NULL,
    day    INTEGER NOT NULL,  -- days since 1970-01-01 (UTC) of received_at
    dim    TEXT    NOT NULL,
    value  TEXT    NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (app_id, day, dim, value)
) WITHOUT ROWID;

-- Full-text index, rowid = events.id. Contentless: it holds only the index, and `app`
-- holds one token naming the app (see sql::app_token) rather than text, so that a search
-- is scoped to its app inside the index and can be counted without reading events.
CREATE VIRTUAL TABLE events_fts USING fts5(
    app, name, channels, model, user, object_repr, data,
    content = '', contentless_delete = 1
);

CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;
CREATE TRIGGER event_channels_append_only_update BEFORE UPDATE ON event_channels
BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;
CREATE TRIGGER event_channels_append_only_delete BEFORE DELETE ON event_channels
BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;
"#;

/// Refuses UPDATE on events. Separate from [`SCHEMA_V1`] because an upgrade that fills in
/// new columns lifts it for the length of its transaction.
pub(super) const EVENTS_APPEND_ONLY_UPDATE: &str = "
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;
";

/// Version 2: the `error` and `ip` audit fields (see `extract`), filterable, with `ip`
/// indexed for "everything from this address". Existing rows are filled in by
/// [`super::upgrade::extract_new_fields`] in the same transaction.
const SCHEMA_V2: &str = r#"
ALTER TABLE events ADD COLUMN error TEXT;
ALTER TABLE events ADD COLUMN ip    TEXT;
CREATE INDEX events_app_ip ON events (app_id, ip, seq);
"#;

/// Version 3: the hash chain (see `crate::chain`). Each event gets its `content_hash` and
/// `hash`; `chain_heads` holds each app's last seq, hash and receive time, updated in every
/// append transaction; `checkpoints` holds the signed checkpoints; `pruned_at` marks an
/// event whose payload retention removed. Existing rows are chained by
/// [`super::chain::chain_existing`] in the same transaction (after schema 2 filled in their
/// `error` and `ip`, which the canonical encoding covers).
const SCHEMA_V3: &str = r#"
ALTER TABLE events ADD COLUMN content_hash BLOB;
ALTER TABLE events ADD COLUMN hash         BLOB;
ALTER TABLE events ADD COLUMN pruned_at    INTEGER;  -- µs; NULL while the event is whole

CREATE TABLE chain_heads (
    app_id           TEXT    PRIMARY KEY,
    last_seq         INTEGER NOT NULL,
    last_hash        BLOB    NOT NULL,
    last_received_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    app_id     TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    hash       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    public_key BLOB    NOT NULL,
    signature  BLOB    NOT NULL,
    PRIMARY KEY (app_id, seq)
) WITHOUT ROWID;

CREATE TRIGGER checkpoints_append_only_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only: UPDATE refused'); END;
CREATE TRIGGER checkpoints_append_only_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only: DELETE refused'); END;
"#;

/// From schema 3 on, the one UPDATE allowed on `events` is retention's prune: it sets
/// `pruned_at` once and keeps the event's identity and hashes. A later upgrade that must
/// fill in columns drops this trigger and re-creates it before its COMMIT.
pub(super) const EVENTS_UPDATE_ONLY_PRUNE: &str = "
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
WHEN NOT (old.pruned_at IS NULL AND new.pruned_at IS NOT NULL
          AND new.id = old.id AND new.app_id = old.app_id AND new.seq = old.seq
          AND new.received_at = old.received_at
          AND new.content_hash IS old.content_hash AND new.hash IS old.hash)
BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;
";

/// Version 4: retention. A pruned event's `event_channels` rows may be deleted (nothing
/// else may), and pruned events are indexed so that counting what remains stays cheap.
const SCHEMA_V4: &str = r#"
CREATE INDEX events_app_pruned ON events (app_id, seq) WHERE pruned_at IS NOT NULL;
DROP TRIGGER event_channels_append_only_delete;
CREATE TRIGGER event_channels_append_only_delete BEFORE DELETE ON event_channels
WHEN NOT EXISTS (SELECT 1 FROM events
                 WHERE app_id = old.app_id AND seq = old.seq AND pruned_at IS NOT NULL)
BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;
"#;

/// Brings the database to [`SCHEMA_VERSION`], refusing one written by a newer herald.
pub fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let mut version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "the audit database has schema version {version}, newer than this herald understands ({SCHEMA_VERSION})"
        )));
    }
    while version < SCHEMA_VERSION {
        // IMMEDIATE: a second herald opening the same file waits instead of migrating too.
        conn.execute_batch("BEGIN IMMEDIATE")?;
        match step(conn, version) {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
        version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    }
    Ok(())
}

/// Moves the store from `from` to the next version, inside the caller's transaction.
fn step(conn: &Connection, from: i64) -> Result<(), StoreError> {
    // Re-read under the write lock: another process may have migrated meanwhile.
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current != from {
        return Ok(());
    }
    let next = from + 1;
    match next {
        1 => {
            conn.execute_batch(SCHEMA_V1)?;
            conn.execute_batch(EVENTS_APPEND_ONLY_UPDATE)?;
        }
        2 => {
            conn.execute_batch(SCHEMA_V2)?;
            let filled = super::upgrade::extract_new_fields(conn)?;
            if filled > 0 {
                tracing::info!(
                    message = "Audit store upgraded to schema 2: new audit fields extracted for existing events.",
                    events = filled,
                );
            }
        }
        3 => {
            conn.execute_batch(SCHEMA_V3)?;
            // Lifted for this transaction only and re-created before COMMIT, so no other
            // connection ever sees the table without it.
            conn.execute_batch("DROP TRIGGER events_append_only_update")?;
            let chained = super::chain::chain_existing(conn)?;
            conn.execute_batch(EVENTS_UPDATE_ONLY_PRUNE)?;
            if chained > 0 {
                tracing::info!(
                    message = "Audit store upgraded to schema 3: existing events hash-chained.",
                    events = chained,
                );
            }
        }
        4 => conn.execute_batch(SCHEMA_V4)?,
        _ => unreachable!("every version up to SCHEMA_VERSION has a step"),
    }
    conn.execute_batch(&format!("PRAGMA user_version = {next}"))?;
    Ok(())
}

/// True when `conn` holds a herald audit schema.
pub fn is_initialised(conn: &Connection) -> Result<bool, StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(version > 0)
}
