//! The SQLite schema and its migration. One row per event in `events`; an `event_channels`
//! row per (event, channel) so that a channel filter is an index range; a contentless FTS5
//! index over the searchable columns; per-day rollups for statistics. Triggers refuse UPDATE and DELETE so that the
//! trail stays append-only even against a bug in herald (retention will lift this in a
//! controlled way in a later version).

use rusqlite::Connection;

use crate::error::StoreError;

/// Bumped whenever the schema changes; stored in `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA_V1: &str = r#"
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

CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;
CREATE TRIGGER event_channels_append_only_update BEFORE UPDATE ON event_channels
BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;
CREATE TRIGGER event_channels_append_only_delete BEFORE DELETE ON event_channels
BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;
"#;

/// Brings the database to [`SCHEMA_VERSION`], refusing one written by a newer herald.
pub fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    match version {
        0 => {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA_V1} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))?;
            Ok(())
        }
        SCHEMA_VERSION => Ok(()),
        newer => Err(StoreError::Corrupt(format!(
            "the audit database has schema version {newer}, newer than this herald understands ({SCHEMA_VERSION})"
        ))),
    }
}

/// True when `conn` holds a herald audit schema.
pub fn is_initialised(conn: &Connection) -> Result<bool, StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(version > 0)
}
