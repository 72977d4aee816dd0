//! The PostgreSQL schema and its versioned migrations.
//!
//! Everything lives in one schema (`herald` unless configured), created if missing.
//! `schema_migrations` lists the versions applied; [`migrate`] applies the missing ones in
//! order, each in its own transaction, under an advisory lock so that several nodes starting
//! at once migrate exactly once, and refuses a database whose newest version is above
//! [`SCHEMA_VERSION`] (written by a newer herald). Migrations are append-only: a shipped one
//! is never edited, a change is a new version.

use tokio_postgres::Client;

use crate::error::StoreError;

/// The newest schema version this herald knows.
pub const SCHEMA_VERSION: i32 = 1;

/// `(version, description, SQL)`, in order.
const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "events (hash-chained), channels, daily counts, chain heads, checkpoints, full-text index",
    MIGRATION_1,
)];

/// Searchable text is every run of letters and digits of the name, channels, model, user,
/// object_repr and data, lower-cased and unstemmed (the `simple` configuration): the same
/// tokens SQLite's FTS5 `unicode61` tokenizer makes, so a search means the same on both
/// stores (differences are listed in the README).
const MIGRATION_1: &str = r#"
-- Each app's head: locked FOR UPDATE by a node's group commit, which numbers and chains
-- its events from it (see store/postgres/mod.rs) and moves it before COMMIT.
CREATE TABLE chain_heads (
    app_id           text   PRIMARY KEY,
    last_seq         bigint NOT NULL,
    last_hash        bytea  NOT NULL,  -- 32 zero bytes before the first event
    last_received_at bigint NOT NULL
);

CREATE TABLE events (
    app_id          text   NOT NULL,
    seq             bigint NOT NULL,
    received_at     bigint NOT NULL,  -- µs since the epoch, never decreasing along seq
    name            text   NOT NULL,
    channels        text   NOT NULL,  -- JSON array
    data            text   NOT NULL,  -- exactly as received
    socket_id       text,
    client_ip       text,
    user_agent      text,
    library         text,
    auth_key        text   NOT NULL,
    idempotency_key text,
    action          text,
    model           text,
    object_id       text,
    object_repr     text,
    "user"          text,
    "timestamp"     text,
    severity        text,
    status          text,
    changes         text,             -- normalised JSON {field: {old, new}}
    error           text,             -- the backend's error_message
    ip              text,             -- ip_address from the payload, else the client's IP
    content_hash    bytea  NOT NULL,  -- SHA-256 of the canonical encoding (chain/)
    hash            bytea  NOT NULL,  -- SHA-256(previous hash || content_hash)
    pruned_at       bigint,           -- µs; NULL while the event is whole (retention)
    search tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, regexp_replace(
        name || ' ' || channels || ' ' || coalesce(model, '') || ' ' || coalesce("user", '')
            || ' ' || coalesce(object_repr, '') || ' ' || data,
        '[^[:alnum:]]+', ' ', 'g'))) STORED,
    PRIMARY KEY (app_id, seq)
);
CREATE INDEX events_app_action       ON events (app_id, action, seq);
CREATE INDEX events_app_model        ON events (app_id, model, seq);
CREATE INDEX events_app_model_action ON events (app_id, model, action, seq);
CREATE INDEX events_app_user         ON events (app_id, "user", seq);
CREATE INDEX events_app_name         ON events (app_id, name, seq);
CREATE INDEX events_app_object       ON events (app_id, object_id, seq);
CREATE INDEX events_app_ip           ON events (app_id, ip, seq);
CREATE UNIQUE INDEX events_app_idempotency ON events (app_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_search ON events USING gin (search);

CREATE TABLE event_channels (
    app_id  text   NOT NULL,
    channel text   NOT NULL,
    seq     bigint NOT NULL,
    PRIMARY KEY (app_id, channel, seq)
);

-- Events per day by action, model, user and channel (dim '' counts all events), kept by
-- the writer in each batch's transaction. Derived data: rebuildable from `events`.
CREATE TABLE daily_counts (
    app_id text   NOT NULL,
    day    bigint NOT NULL,
    dim    text   NOT NULL,
    value  text   NOT NULL,
    count  bigint NOT NULL,
    PRIMARY KEY (app_id, day, dim, value)
);

-- Signed checkpoints of each app's chain (chain/checkpoint.rs). Several nodes may sign the
-- same seq; the first one stays.
CREATE TABLE checkpoints (
    app_id     text   NOT NULL,
    seq        bigint NOT NULL,
    hash       bytea  NOT NULL,
    created_at bigint NOT NULL,
    public_key bytea  NOT NULL,
    signature  bytea  NOT NULL,
    PRIMARY KEY (app_id, seq)
);

CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP;
END $$;
-- The one UPDATE allowed on events is retention's prune, as on SQLite: it sets pruned_at
-- once and keeps the event's identity and hashes.
CREATE FUNCTION refuse_event_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.pruned_at IS NULL AND NEW.pruned_at IS NOT NULL
       AND NEW.app_id = OLD.app_id AND NEW.seq = OLD.seq
       AND NEW.received_at = OLD.received_at
       AND NEW.content_hash = OLD.content_hash AND NEW.hash = OLD.hash THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: UPDATE refused';
END $$;
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION refuse_event_update();
CREATE TRIGGER events_append_only BEFORE DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER event_channels_append_only BEFORE UPDATE OR DELETE ON event_channels
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER event_channels_no_truncate BEFORE TRUNCATE ON event_channels
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
"#;

/// Brings `schema` to [`SCHEMA_VERSION`].
pub async fn migrate(client: &mut Client, schema: &str) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    // One migrator at a time per schema, across every node; released at COMMIT.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('herald-audit-migrate:' || $1::text))",
        &[&schema],
    )
    .await?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
             version     integer     PRIMARY KEY,
             description text        NOT NULL,
             applied_at  timestamptz NOT NULL DEFAULT now()
         );
         SET LOCAL search_path TO {schema}, public;"
    ))
    .await?;
    let current = current_version(&tx, schema).await?;
    refuse_newer(current, schema)?;
    for (version, description, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql)
            .await
            .map_err(|e| StoreError::Schema(format!("migration {version} failed: {e}")))?;
        tx.execute(
            &format!(
                "INSERT INTO {schema}.schema_migrations (version, description) VALUES ($1, $2)"
            ),
            &[version, description],
        )
        .await?;
        tracing::info!(
            message = "Audit schema migrated.",
            schema,
            version,
            description
        );
    }
    tx.commit().await?;
    Ok(())
}

/// Refuses a schema that is missing or newer than this herald.
pub async fn check_version(client: &Client, schema: &str) -> Result<(), StoreError> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass($1::text || '.schema_migrations') IS NOT NULL",
            &[&schema],
        )
        .await?
        .get(0);
    if !exists {
        return Err(StoreError::Schema(format!(
            "the database holds no herald audit data in schema {schema}"
        )));
    }
    let current = current_version(client, schema).await?;
    refuse_newer(current, schema)?;
    if current < SCHEMA_VERSION {
        return Err(StoreError::Schema(format!(
            "schema {schema} is at version {current}; start this herald's server once to migrate it to {SCHEMA_VERSION}"
        )));
    }
    Ok(())
}

async fn current_version(
    client: &impl tokio_postgres::GenericClient,
    schema: &str,
) -> Result<i32, StoreError> {
    Ok(client
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {schema}.schema_migrations"),
            &[],
        )
        .await?
        .get(0))
}

fn refuse_newer(current: i32, schema: &str) -> Result<(), StoreError> {
    if current > SCHEMA_VERSION {
        return Err(StoreError::Schema(format!(
            "the audit schema {schema} is at version {current}, newer than this herald understands ({SCHEMA_VERSION}); upgrade herald"
        )));
    }
    Ok(())
}
