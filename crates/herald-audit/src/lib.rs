//! herald's audit recorder: every event accepted by the trigger API is persisted, indexed
//! and queryable, so that backends need not keep audit tables of their own.
//!
//! # Shape
//!
//! * [`open`] opens the store and starts the single **writer** task. It returns an
//!   [`Audit`]: the [`AuditRecorder`] handle the trigger API calls, the [`AuditReader`]
//!   handle the query API uses, and the writer's `JoinHandle`.
//! * The writer **group-commits**: it takes everything queued (up to `max_batch` events) and
//!   commits it in one transaction on a blocking thread, then answers every caller of that
//!   batch. One fsync therefore covers many triggers.
//! * The queue in front of it is **bounded**: when full, `record` fails at once with
//!   [`RecordError::Saturated`]; when the store cannot be written it fails with
//!   [`RecordError::Unavailable`] naming the cause. The trigger API turns both into 503.
//! * Readers use their own connections (WAL lets them run while the writer commits).
//! * [`store`] is the boundary to the database: [`store::WriteStore`] and
//!   [`store::ReadStore`], implemented by the embedded SQLite store (one node) and the
//!   PostgreSQL store shared by a cluster ([`store::postgres`]: ordering across nodes,
//!   driver choice, durability).
//! * Queries: every index leads with `(app_id, …, seq)`; a time range becomes a `seq` range
//!   (see *Order and time*); channel filters and full-text searches (FTS5) are driven by
//!   their own indexes; statistics over whole days read per-day rollups the writer keeps
//!   in the same transaction as the events.
//! * [`router`] serves the JSON query API and the live stream ([`live`]: one tail per app
//!   reads each commit once and fans it out to that app's SSE readers); [`cli`] the
//!   `herald audit …` subcommands.
//!   Measured figures: `BENCHMARKS.md` beside this crate.
//!
//! # Durability
//!
//! SQLite runs in WAL mode. With [`Durability::Durable`] (the default) the connection uses
//! `synchronous=FULL`: every commit fsyncs the WAL before `record` resolves, so an
//! acknowledged event survives `kill -9` of herald *and* a crash or power loss of the
//! machine. With [`Durability::Async`] it uses `synchronous=NORMAL`: a commit is written to
//! the WAL file but not fsynced. That still survives `kill -9` of the process (the data is in
//! the operating system's page cache and reaches the disk regardless), but an OS crash or
//! power loss can lose the most recent commits. Group commit makes the fsync cheap per
//! event, which is why durable is affordable as the default.
//!
//! # Order and time
//!
//! Each app's events are numbered `seq` = 1, 2, 3, … in the order the writer commits them.
//! The recorded `received_at` is the server's receive time, except that the writer never
//! lets it go backwards within an app: an event stamped a few microseconds before the
//! previous one (two requests racing to the queue) or during a clock step is recorded with
//! the previous event's time. So ordering by time and by `seq` are the same order, and a
//! `from`/`to` range is exactly a `seq` range, which is how queries use one index for a
//! time range and a filter together. A step back of more than a second is logged.
//!
//! # Append-only
//!
//! Nothing in this crate updates or deletes a recorded event, and the SQLite schema has
//! triggers that refuse UPDATE and DELETE on the event tables.

#![forbid(unsafe_code)]

pub mod api;
pub mod chain;
pub mod cli;
pub mod config;
pub mod copy;
pub mod error;
pub mod event;
pub mod export;
pub mod extract;
pub mod live;
pub mod query;
pub mod reader;
pub mod redact;
pub mod retention;
pub mod rules;
pub mod signing;
pub mod stats;
pub mod store;
pub mod timefmt;
pub mod verify;
pub mod writer;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use api::router;
pub use config::{AuditConfig, DEFAULT_URL, Durability, StoreLocation, UnavailablePolicy};
pub use error::{OpenError, RecordError, StoreError};
pub use event::{EventRecord, EventSummary, NewEvent, Recorded};
pub use live::{LiveFeed, LiveSettings};
pub use reader::{AuditReader, QueryError};
pub use rules::AuditRules;
pub use writer::AuditRecorder;

use store::WriteStore;
use store::postgres::{PgReader, PgTarget, PgWriter};
use store::sqlite::{SqliteReader, SqliteTarget, SqliteWriter};

/// An open audit store: the handles the server keeps.
pub struct Audit {
    /// Records events (the trigger API).
    pub recorder: AuditRecorder,
    /// Queries the store (the audit API, the dashboard).
    pub reader: AuditReader,
    /// The writer task; it ends after the shutdown token is cancelled and everything
    /// already queued has been recorded. Await it before exiting.
    pub writer: JoinHandle<()>,
}

/// How often a live stream over a PostgreSQL store looks for events other nodes committed.
const PG_LIVE_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Opens (creating if needed) the store named by `config.url`, and starts the writer.
/// Refuses invalid configuration with a message naming the setting.
pub async fn open(config: AuditConfig, shutdown: CancellationToken) -> Result<Audit, OpenError> {
    for (name, value) in [
        ("queue_capacity", config.queue_capacity),
        ("max_batch", config.max_batch),
        ("read_connections", config.read_connections),
    ] {
        if value == 0 {
            return Err(OpenError::InvalidConfig(format!(
                "{name} must be at least 1"
            )));
        }
    }
    if config.checkpoint_every == 0 || config.checkpoint_interval.is_zero() {
        return Err(OpenError::InvalidConfig(
            "checkpoint_every and checkpoint_interval must be at least 1".into(),
        ));
    }
    let location = StoreLocation::parse(&config.url)?;
    let signer = Arc::new(signing_key(&config, &location)?);
    let durability = config.durability;
    let (writer_store, unsigned, store) = match &location {
        StoreLocation::Postgres(url) => open_postgres(url, &config).await?,
        _ => open_sqlite(&location, &config).await?,
    };
    let mut live = config.live.clone();
    if matches!(location, StoreLocation::Postgres(_)) && live.poll.is_none() {
        // Other nodes commit into the same store: the live tail also looks for their
        // events (this node's own commits still wake it at once).
        live.poll = Some(PG_LIVE_POLL);
    }
    let feed = LiveFeed::new(Arc::clone(&store), live);
    let reader = AuditReader::new(store, config.read_connections)
        .with_public_key(signer.verifying_key())
        .with_live(feed.clone());
    let (recorder, writer) = writer::spawn(
        writer_store,
        writer::WriterSettings {
            queue_capacity: config.queue_capacity,
            max_batch: config.max_batch,
            durability,
            on_unavailable: config.on_unavailable,
            signer,
            checkpoint_every: config.checkpoint_every,
            checkpoint_interval: config.checkpoint_interval,
            unsigned,
            live: Some(feed),
        },
        shutdown,
    );
    tracing::info!(
        message = "Audit recorder started.",
        url = %config::redact_url(&config.url),
        durability = ?durability,
    );
    Ok(Audit {
        recorder,
        reader,
        writer,
    })
}

/// What opening a store gives: the writer's store, each app's events not yet covered by
/// a signed checkpoint, and the read side.
type Opened = (
    Box<dyn WriteStore>,
    HashMap<String, u64>,
    Arc<dyn store::ReadStore>,
);

async fn open_sqlite(location: &StoreLocation, config: &AuditConfig) -> Result<Opened, OpenError> {
    let target = SqliteTarget::new(location, config.busy_timeout);
    let durability = config.durability;
    let opened = tokio::task::spawn_blocking({
        let target = target.clone();
        move || {
            let conn = target.open_writer(durability)?;
            let mut store = SqliteWriter::new(conn)?;
            let unsigned = writer::unsigned_events(&mut store)?;
            Ok((store, unsigned))
        }
    })
    .await
    .map_err(|e| OpenError::Store {
        location: target.describe(),
        source: StoreError::Corrupt(format!("opening panicked: {e}")),
    })?;
    let (writer_store, unsigned) = opened.map_err(|source| OpenError::Store {
        location: target.describe(),
        source,
    })?;
    let store = Arc::new(SqliteReader::new(target, config.read_connections));
    Ok((Box::new(writer_store), unsigned, store))
}

/// Migrates the schema (once per cluster: the migration takes an advisory lock), opens the
/// writer's connection and the readers' pool. Refuses to start when PostgreSQL cannot be
/// reached, so a misconfigured node fails loudly instead of answering 503 forever.
async fn open_postgres(url: &str, config: &AuditConfig) -> Result<Opened, OpenError> {
    let target = PgTarget::new(url, &config.pg_schema)?;
    let rt = tokio::runtime::Handle::current();
    let durability = config.durability;
    let read_connections = config.read_connections;
    let describe = target.describe();
    let opened = tokio::task::spawn_blocking(move || {
        target.migrate(&rt)?;
        let mut writer = PgWriter::open(target.clone(), rt.clone(), durability)?;
        let unsigned = writer::unsigned_events(&mut writer)?;
        let reader = PgReader::new(&target, rt, read_connections)?;
        Ok::<_, StoreError>((writer, unsigned, reader))
    })
    .await
    .map_err(|e| OpenError::Store {
        location: describe.clone(),
        source: StoreError::Corrupt(format!("opening panicked: {e}")),
    })?;
    let (writer, unsigned, reader) = opened.map_err(|source| OpenError::Store {
        location: describe,
        source,
    })?;
    Ok((Box::new(writer), unsigned, Arc::new(reader)))
}

/// Opens the store named by `url` for maintenance outside the server (`herald audit
/// prune`): a write connection of its own, which SQLite serialises with a running server's
/// writer; the chain head is read inside every transaction, so both chain correctly.
pub fn open_maintenance_store(url: &str) -> Result<Box<dyn store::WriteStore>, OpenError> {
    let location = StoreLocation::parse(url)?;
    if location == StoreLocation::SqliteMemory {
        return Err(OpenError::Unsupported(
            "sqlite::memory: has nothing to maintain outside the server that owns it".into(),
        ));
    }
    let target = SqliteTarget::new(&location, std::time::Duration::from_secs(30));
    if let Some(path) = target.path().filter(|p| !p.exists()) {
        return Err(OpenError::Store {
            location: target.describe(),
            source: StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no audit database at {}", path.display()),
            )),
        });
    }
    let store = target
        .open_writer(Durability::Durable)
        .and_then(SqliteWriter::new)
        .map_err(|source| OpenError::Store {
            location: target.describe(),
            source,
        })?;
    Ok(Box::new(store))
}

/// The checkpoint signing key: the configured file, else the default one beside the store
/// (generated on first start and logged), else for an in-memory store a throwaway key.
fn signing_key(
    config: &AuditConfig,
    location: &StoreLocation,
) -> Result<ed25519_dalek::SigningKey, OpenError> {
    let path = match (&config.signing_key, location) {
        (Some(path), _) => path.clone(),
        (None, StoreLocation::SqliteMemory) => {
            return signing::ephemeral().map_err(|e| OpenError::InvalidConfig(e.to_string()));
        }
        (None, location) => signing::default_key_path(location),
    };
    let (key, created) = signing::load_or_create(&path)
        .map_err(|e| OpenError::InvalidConfig(format!("audit_signing_key: {e}")))?;
    let public = signing::public_key_base64(&key.verifying_key());
    if created {
        tracing::warn!(
            message = "Generated a new audit signing key; back it up and give auditors its public key (herald audit public-key).",
            path = %path.display(),
            public_key = %public,
        );
    } else {
        tracing::info!(message = "Audit signing key loaded.", path = %path.display(), public_key = %public);
    }
    Ok(key)
}
