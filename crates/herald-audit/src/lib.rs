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
//!   [`store::ReadStore`]; SQLite is the only implementation today, PostgreSQL fits behind
//!   the same traits.
//! * Queries: every index leads with `(app_id, …, seq)`; a time range becomes a `seq` range
//!   (see *Order and time*); channel filters and full-text searches (FTS5) are driven by
//!   their own indexes; statistics over whole days read per-day rollups the writer keeps
//!   in the same transaction as the events.
//! * [`router`] serves the JSON query API; [`cli`] the `herald audit …` subcommands.
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
pub mod cli;
pub mod config;
pub mod error;
pub mod event;
pub mod export;
pub mod extract;
pub mod query;
pub mod reader;
pub mod stats;
pub mod store;
pub mod timefmt;
pub mod writer;

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use api::router;
pub use config::{AuditConfig, DEFAULT_URL, Durability, StoreLocation, UnavailablePolicy};
pub use error::{OpenError, RecordError, StoreError};
pub use event::{EventRecord, EventSummary, NewEvent, Recorded};
pub use reader::{AuditReader, QueryError};
pub use writer::AuditRecorder;

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
    let location = StoreLocation::parse(&config.url)?;
    let target = SqliteTarget::new(&location, config.busy_timeout);
    let durability = config.durability;
    let opened = tokio::task::spawn_blocking({
        let target = target.clone();
        move || {
            let conn = target.open_writer(durability)?;
            SqliteWriter::new(conn)
        }
    })
    .await
    .map_err(|e| OpenError::Store {
        location: target.describe(),
        source: StoreError::Corrupt(format!("opening panicked: {e}")),
    })?;
    let writer_store = opened.map_err(|source| OpenError::Store {
        location: target.describe(),
        source,
    })?;
    let reader = AuditReader::new(
        Arc::new(SqliteReader::new(target, config.read_connections)),
        config.read_connections,
    );
    let (recorder, writer) = writer::spawn(
        Box::new(writer_store),
        writer::WriterSettings {
            queue_capacity: config.queue_capacity,
            max_batch: config.max_batch,
            durability,
            on_unavailable: config.on_unavailable,
        },
        shutdown,
    );
    tracing::info!(
        message = "Audit recorder started.",
        url = %config.url,
        durability = ?durability,
    );
    Ok(Audit {
        recorder,
        reader,
        writer,
    })
}
