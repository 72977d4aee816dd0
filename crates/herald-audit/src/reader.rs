//! [`AuditReader`], the async face of a [`ReadStore`]: every query runs on a blocking
//! thread, and a semaphore bounds how many run at once (one read connection each), so a
//! burst of dashboard requests queues instead of opening unbounded connections.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use thiserror::Error;
use tokio::sync::{Semaphore, mpsc};

use crate::chain::Checkpoint;
use crate::config::StoreLocation;
use crate::error::{OpenError, StoreError};
use crate::event::EventRecord;
use crate::export::ExportFormat;
use crate::live::LiveFeed;
use crate::query::{Direction, EventFilter, PageRequest};
use crate::stats::{Stats, StatsRequest};
use crate::store::postgres::{PgReader, PgTarget};
use crate::store::sqlite::{SqliteReader, SqliteTarget};
use crate::store::{EventPage, ReadStore};
use crate::verify::{Report, VerifyOptions};

/// Records per chunk of an export: big enough to amortise a query, small enough (~0.5 MB)
/// that memory stays flat.
const EXPORT_CHUNK: usize = 1000;
/// Encoded chunks buffered between the scan and a slow client.
const EXPORT_BUFFER: usize = 4;
/// Exports allowed at once; each holds a connection for its whole duration, so they get
/// their own limit and cannot starve interactive queries.
const EXPORT_CONCURRENCY: usize = 2;

/// Why a query failed (bad parameters are refused before this point).
#[derive(Debug, Error)]
pub enum QueryError {
    #[error("audit store query failed: {0}")]
    Store(#[from] StoreError),
    #[error("audit query was interrupted: {0}")]
    Interrupted(String),
}

/// Cheap-clone handle for querying the audit store.
#[derive(Clone)]
pub struct AuditReader {
    store: Arc<dyn ReadStore>,
    /// The checkpoint signing key's public half, when known (the server knows its own).
    public_key: Option<ed25519_dalek::VerifyingKey>,
    queries: Arc<Semaphore>,
    exports: Arc<Semaphore>,
    /// The live stream, when a writer in this process feeds it (not for the CLI).
    live: Option<LiveFeed>,
}

impl AuditReader {
    pub fn new(store: Arc<dyn ReadStore>, concurrency: usize) -> Self {
        Self {
            store,
            public_key: None,
            queries: Arc::new(Semaphore::new(concurrency.max(1))),
            exports: Arc::new(Semaphore::new(EXPORT_CONCURRENCY)),
            live: None,
        }
    }

    /// Verifies checkpoints against `key` (see [`crate::verify`]).
    pub fn with_public_key(mut self, key: ed25519_dalek::VerifyingKey) -> Self {
        self.public_key = Some(key);
        self
    }

    pub fn public_key(&self) -> Option<&ed25519_dalek::VerifyingKey> {
        self.public_key.as_ref()
    }

    /// Recomputes `app`'s chain (see [`crate::verify`]). `options.public_key` defaults to
    /// this reader's.
    pub async fn verify(
        &self,
        app: &str,
        mut options: VerifyOptions,
    ) -> Result<Report, QueryError> {
        let app = app.to_owned();
        if options.public_key.is_none() {
            options.public_key = self.public_key;
        }
        self.run(move |s| crate::verify::verify(s, &app, &options))
            .await
    }

    /// Up to `limit` signed checkpoints of `app` after `after`, oldest first.
    pub async fn checkpoints(
        &self,
        app: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Checkpoint>, QueryError> {
        let app = app.to_owned();
        self.run(move |s| s.checkpoints(&app, after, limit)).await
    }

    /// Serves `feed` as the live stream (`GET /stream`).
    pub fn with_live(mut self, feed: LiveFeed) -> Self {
        self.live = Some(feed);
        self
    }

    /// The live stream, if this reader has one.
    pub fn live(&self) -> Option<&LiveFeed> {
        self.live.as_ref()
    }

    /// Opens a reader on an existing store without starting a writer (the CLI's way in).
    /// `pg_schema` names the schema of a PostgreSQL store.
    pub async fn open_existing(url: &str, pg_schema: &str) -> Result<Self, OpenError> {
        let location = StoreLocation::parse(url)?;
        if let StoreLocation::Postgres(url) = &location {
            let target = PgTarget::new(url, pg_schema)?;
            let describe = target.describe();
            let rt = tokio::runtime::Handle::current();
            let store = tokio::task::spawn_blocking(move || {
                target.check_readable(&rt)?;
                PgReader::new(&target, rt, 1)
            })
            .await
            .map_err(|e| OpenError::Store {
                location: describe.clone(),
                source: StoreError::Corrupt(format!("opening panicked: {e}")),
            })?
            .map_err(|source| OpenError::Store {
                location: describe,
                source,
            })?;
            return Ok(Self::new(Arc::new(store), 1));
        }
        if location == StoreLocation::SqliteMemory {
            return Err(OpenError::Unsupported(
                "sqlite::memory: has nothing to read outside the server that owns it".into(),
            ));
        }
        let target = SqliteTarget::new(&location, std::time::Duration::from_secs(5));
        if let Some(path) = target.path().filter(|p| !p.exists()) {
            return Err(OpenError::Store {
                location: target.describe(),
                source: StoreError::Io(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("no audit database at {}", path.display()),
                )),
            });
        }
        let store =
            SqliteReader::open_existing(target.clone(), 1).map_err(|source| OpenError::Store {
                location: target.describe(),
                source,
            })?;
        Ok(Self::new(Arc::new(store), 1))
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn ReadStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, QueryError> {
        let permit = Arc::clone(&self.queries)
            .acquire_owned()
            .await
            .map_err(|e| QueryError::Interrupted(e.to_string()))?;
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f(store.as_ref())
        })
        .await
        .map_err(|e| QueryError::Interrupted(e.to_string()))?
        .map_err(QueryError::from)
    }

    pub async fn list(
        &self,
        app: &str,
        filter: EventFilter,
        page: PageRequest,
    ) -> Result<EventPage, QueryError> {
        let app = app.to_owned();
        self.run(move |s| s.list(&app, &filter, &page)).await
    }

    /// Every app with recorded events.
    pub async fn apps(&self) -> Result<Vec<String>, QueryError> {
        self.run(|s| s.apps()).await
    }

    /// Feeds every event of `app` with `seq` above `after`, oldest first, to `sink` in
    /// chunks (on a blocking thread; `sink` may block).
    pub async fn scan_after(
        &self,
        app: &str,
        after: i64,
        chunk: usize,
        mut sink: impl FnMut(Vec<EventRecord>) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), QueryError> {
        let app = app.to_owned();
        self.run(move |s| {
            let mut skip = |records: Vec<EventRecord>| {
                let fresh: Vec<EventRecord> = records
                    .into_iter()
                    .filter(|r| r.summary.seq > after)
                    .collect();
                if fresh.is_empty() {
                    Ok(())
                } else {
                    sink(fresh)
                }
            };
            s.scan(
                &app,
                &EventFilter::default(),
                Direction::Asc,
                chunk,
                &mut skip,
            )
        })
        .await
    }

    pub async fn get(&self, app: &str, seq: i64) -> Result<Option<EventRecord>, QueryError> {
        let app = app.to_owned();
        self.run(move |s| s.get(&app, seq)).await
    }

    pub async fn stats(&self, app: &str, request: StatsRequest) -> Result<Stats, QueryError> {
        let app = app.to_owned();
        self.run(move |s| s.stats(&app, &request)).await
    }

    /// Streams every matching event, encoded, in `direction`. The scan runs on a blocking
    /// thread and waits whenever the consumer is a few chunks behind, so memory
    /// stays constant; dropping the stream stops the scan. A failure mid-way ends the
    /// stream with an error (an HTTP client then sees a truncated transfer, never a
    /// silently short file).
    pub async fn export(
        &self,
        app: &str,
        filter: EventFilter,
        direction: Direction,
        format: ExportFormat,
    ) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static, QueryError>
    {
        let permit = Arc::clone(&self.exports)
            .acquire_owned()
            .await
            .map_err(|e| QueryError::Interrupted(e.to_string()))?;
        let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(EXPORT_BUFFER);
        let store = Arc::clone(&self.store);
        let app = app.to_owned();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let preamble = format.preamble();
            if !preamble.is_empty() && tx.blocking_send(Ok(preamble)).is_err() {
                return;
            }
            let result = store.scan(&app, &filter, direction, EXPORT_CHUNK, &mut |records| {
                tx.blocking_send(Ok(format.encode(&records)))
                    .map_err(|_| StoreError::Cancelled)
            });
            match result {
                Ok(()) | Err(StoreError::Cancelled) => {}
                Err(error) => {
                    tracing::error!(message = "Audit export failed mid-way.", app_id = %app, %error);
                    let _ = tx.blocking_send(Err(std::io::Error::other(error.to_string())));
                }
            }
        });
        Ok(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }))
    }
}
