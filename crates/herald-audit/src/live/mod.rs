//! The live audit stream's engine: every event as it commits, to any number of readers,
//! each resuming from a position without gap or duplicate.
//!
//! # Shape
//!
//! * One [`tail`] per app with readers. After each commit the writer calls
//!   [`LiveFeed::committed`]; the tail wakes, reads the new events from the store **once**
//!   (unfiltered, `seq > last`), encodes each as an SSE frame **once**, and sends it into a
//!   `tokio::sync::broadcast` ring shared by the app's readers. Reading the store rather
//!   than taking events from the writer is the seam for a shared store: events that other
//!   nodes commit become visible the same way, woken by a poll
//!   ([`LiveSettings::poll`]) or by a store notification calling [`LiveFeed::committed`].
//!   The tail publishes seqs contiguously, waiting briefly for a seq that is not visible
//!   yet (another node's transaction committing out of order).
//! * Each [`reader`] first catches up from the store (`seq > after`, with its filter, in
//!   chunks), subscribes to the tail, reads the store once more, and then follows the ring,
//!   skipping what it already sent and what its filter rejects ([`matcher`]). Subscribing
//!   before the last read is what closes the gap: an event committed after that read is
//!   published by the tail to a ring the reader is already on.
//! * The ring is the readers' bounded buffer: it holds [`LiveSettings::buffer`] events in
//!   all, however many readers there are. A reader that falls further behind (its socket
//!   does not drain) gets a final `cutoff` message naming its resume position and is
//!   closed; it catches up from the store when it reconnects.
//! * A tail stops when its last reader leaves; [`LiveFeed::close`] ends every stream (at
//!   shutdown), so open streams do not hold the HTTP drain.

mod frame;
mod matcher;
mod reader;
mod tail;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use matcher::Matcher;
pub use reader::ReaderStream;

use crate::error::StoreError;
use crate::store::ReadStore;
use tail::Tail;

/// How the live stream behaves.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// Events a reader may fall behind the newest before it is cut off (per app ring).
    pub buffer: usize,
    /// Interval of the comment heartbeats.
    pub heartbeat: Duration,
    /// Also look for new events this often, for stores that other nodes write to. `None`
    /// relies on [`LiveFeed::committed`] alone (the local writer's commits).
    pub poll: Option<Duration>,
    /// Readers' catch-up reads allowed at once (each holds a read connection), so that a
    /// thousand readers reconnecting together queue instead of opening a thousand.
    pub catch_up_concurrency: usize,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            buffer: 1024,
            heartbeat: Duration::from_secs(15),
            poll: None,
            catch_up_concurrency: 4,
        }
    }
}

/// Cheap-clone handle to the live stream of every app.
#[derive(Clone)]
pub struct LiveFeed {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn ReadStore>,
    settings: LiveSettings,
    /// The running tails. A std Mutex: held only to look up, insert or remove, never
    /// across an `.await`.
    tails: Mutex<HashMap<String, Arc<Tail>>>,
    closing: CancellationToken,
    catch_ups: Arc<Semaphore>,
}

impl LiveFeed {
    pub fn new(store: Arc<dyn ReadStore>, settings: LiveSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                catch_ups: Arc::new(Semaphore::new(settings.catch_up_concurrency.max(1))),
                settings: LiveSettings {
                    buffer: settings.buffer.max(1),
                    ..settings
                },
                tails: Mutex::new(HashMap::new()),
                closing: CancellationToken::new(),
            }),
        }
    }

    /// New events of `app` are committed: its tail (if it has readers) reads them.
    /// Cheap and non-blocking; called by the writer after every commit.
    pub fn committed(&self, app: &str) {
        if let Some(tail) = self.tails().get(app) {
            tail.wake();
        }
    }

    /// Ends every stream (each gets a last comment saying why) and refuses new ones.
    pub fn close(&self) {
        self.inner.closing.cancel();
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closing.is_cancelled()
    }

    /// The stream of `app` for one reader: the events matching `matcher` after `after`
    /// (from the newest event when `None`), then live, as SSE bytes.
    pub fn open(&self, app: &str, matcher: Matcher, after: Option<i64>) -> ReaderStream {
        reader::open(self.clone(), app.to_owned(), matcher, after)
    }

    /// Readers currently following `app` live (for tests and metrics).
    pub fn live_readers(&self, app: &str) -> usize {
        self.tails().get(app).map_or(0, |t| t.receivers())
    }

    fn tails(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Tail>>> {
        self.inner
            .tails
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn store(&self) -> &Arc<dyn ReadStore> {
        &self.inner.store
    }

    /// Runs a reader's query on a blocking thread, within the catch-up limit.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn ReadStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let permit = Arc::clone(&self.inner.catch_ups)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Cancelled)?;
        let store = Arc::clone(&self.inner.store);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f(store.as_ref())
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("live stream read panicked: {e}")))?
    }

    fn settings(&self) -> &LiveSettings {
        &self.inner.settings
    }

    fn closing(&self) -> &CancellationToken {
        &self.inner.closing
    }
}
