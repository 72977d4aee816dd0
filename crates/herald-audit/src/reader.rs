//! [`AuditReader`], the async face of a [`ReadStore`]: every query runs on a blocking
//! thread, and a semaphore bounds how many run at once (one read connection each), so a
//! burst of dashboard requests queues instead of opening unbounded connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
/// How long an export waits for its reader to take the next chunk before it is abandoned
/// (a new export waits twice that for a free slot, then gets 503). Without it, two clients
/// that start an export and never read would hold both slots forever (issue 10). Twice this
/// stays under the HTTP request timeout (30 s), so a waiting export is answered first.
pub const EXPORT_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why a query failed (bad parameters are refused before this point).
#[derive(Debug, Error)]
pub enum QueryError {
    #[error("audit store query failed: {0}")]
    Store(#[from] StoreError),
    #[error("audit query was interrupted: {0}")]
    Interrupted(String),
    #[error("{0}")]
    Busy(String),
}

/// Cheap-clone handle for querying the audit store.
#[derive(Clone)]
pub struct AuditReader {
    store: Arc<dyn ReadStore>,
    /// The checkpoint signing key's public half, when known (the server knows its own).
    public_key: Option<ed25519_dalek::VerifyingKey>,
    queries: Arc<Semaphore>,
    exports: Arc<Semaphore>,
    /// See [`EXPORT_WRITE_TIMEOUT`]; `None` waits for the reader forever (the CLI, whose
    /// reader is a local file or pipe).
    export_write_timeout: Option<std::time::Duration>,
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
            export_write_timeout: Some(EXPORT_WRITE_TIMEOUT),
            live: None,
        }
    }

    /// Sets how long an export waits for its reader (see [`EXPORT_WRITE_TIMEOUT`]).
    pub fn with_export_write_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
        self.export_write_timeout = timeout;
        self
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
    pub fn open_existing(url: &str) -> Result<Self, OpenError> {
        let location = StoreLocation::parse(url)?;
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
        Ok(Self::new(Arc::new(store), 1).with_export_write_timeout(None))
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
        let deadline = self.export_write_timeout;
        let acquire = Arc::clone(&self.exports).acquire_owned();
        let permit = match deadline {
            None => acquire.await,
            // A stalled export frees its slot within `d` of its reader stopping.
            Some(d) => tokio::time::timeout(d * 2, acquire).await.map_err(|_| {
                QueryError::Busy(format!(
                    "{EXPORT_CONCURRENCY} exports are already running; retry when one has finished"
                ))
            })?,
        }
        .map_err(|e| QueryError::Interrupted(e.to_string()))?;
        let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(EXPORT_BUFFER);
        let store = Arc::clone(&self.store);
        let app = app.to_owned();
        let handle = tokio::runtime::Handle::current();
        let stalled = Arc::new(AtomicBool::new(false));
        let stalled_flag = Arc::clone(&stalled);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // True when the item was handed over; false when the reader is gone or took
            // nothing for `deadline` (then the export stops and frees its slot).
            let send = |item: Result<Bytes, std::io::Error>| -> bool {
                let Some(d) = deadline else {
                    return tx.blocking_send(item).is_ok();
                };
                match handle.block_on(tokio::time::timeout(d, tx.send(item))) {
                    Ok(sent) => sent.is_ok(),
                    Err(_) => {
                        stalled_flag.store(true, Ordering::Release);
                        tracing::warn!(message = "Audit export abandoned: its reader took no data in time.", app_id = %app, timeout = ?d);
                        false
                    }
                }
            };
            let preamble = format.preamble();
            if !preamble.is_empty() && !send(Ok(preamble)) {
                return;
            }
            let result = store.scan(&app, &filter, direction, EXPORT_CHUNK, &mut |records| {
                if send(Ok(format.encode(&records))) {
                    Ok(())
                } else {
                    Err(StoreError::Cancelled)
                }
            });
            match result {
                Ok(()) | Err(StoreError::Cancelled) => {}
                Err(error) => {
                    tracing::error!(message = "Audit export failed mid-way.", app_id = %app, %error);
                    let _ = send(Err(std::io::Error::other(error.to_string())));
                }
            }
        });
        // An abandoned export ends with an error, never a clean end: the client must see a
        // truncated transfer, not a short file.
        Ok(futures_util::stream::unfold(
            (rx, stalled, false),
            |(mut rx, stalled, ended)| async move {
                if ended {
                    return None;
                }
                match rx.recv().await {
                    Some(item) => Some((item, (rx, stalled, false))),
                    None if stalled.load(Ordering::Acquire) => Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "export abandoned: the reader took no data in time",
                        )),
                        (rx, stalled, true),
                    )),
                    None => None,
                }
            },
        ))
    }
}
