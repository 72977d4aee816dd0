//! One app's tail: the only reader of new events for all of that app's streams. It waits
//! for a commit notification (or a poll tick), reads everything after the last seq it
//! published, encodes each event once and broadcasts it; it stops when no reader is left.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Notify, OnceCell, broadcast};

use super::{LiveFeed, frame};
use crate::error::StoreError;
use crate::event::EventRecord;
use crate::query::EventFilter;

/// Events read per store query; a tail loops until it has caught up.
const CHUNK: usize = 500;
/// How long a missing seq is waited for before the tail moves past it (see `publish`).
const GAP_WAIT: Duration = Duration::from_secs(2);
/// Pause after a failed read before trying again, even without a new commit.
const RETRY_AFTER_ERROR: Duration = Duration::from_millis(500);

/// One recorded event on its way to the readers, encoded once.
#[derive(Debug)]
pub struct LiveEvent {
    pub record: EventRecord,
    pub frame: Bytes,
}

pub(super) struct Tail {
    app: String,
    tx: broadcast::Sender<Arc<LiveEvent>>,
    wake: Notify,
    /// Set once the tail knows where it starts and runs; readers wait for it before their
    /// last catch-up read (see the module docs of `live`).
    started: OnceCell<()>,
}

impl Tail {
    pub fn wake(&self) {
        // A stored permit if the tail is busy: a commit during a read is never missed.
        self.wake.notify_one();
    }

    pub fn receivers(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// Subscribes to `app`'s tail, starting it if needed, and resolves once it runs.
pub(super) async fn subscribe(
    feed: &LiveFeed,
    app: &str,
) -> Result<broadcast::Receiver<Arc<LiveEvent>>, StoreError> {
    let (tail, rx) = {
        let mut tails = feed.tails();
        let tail = tails
            .entry(app.to_owned())
            .or_insert_with(|| {
                Arc::new(Tail {
                    app: app.to_owned(),
                    tx: broadcast::channel(feed.settings().buffer).0,
                    wake: Notify::new(),
                    started: OnceCell::new(),
                })
            })
            .clone();
        // Under the map's lock, so a tail that finds no receivers and removes itself
        // (also under the lock) cannot miss this one.
        let rx = tail.tx.subscribe();
        (tail, rx)
    };
    tail.started
        .get_or_try_init(|| async {
            let store = Arc::clone(feed.store());
            let app = tail.app.clone();
            let last = tokio::task::spawn_blocking(move || store.last_seq(&app))
                .await
                .map_err(|e| StoreError::Corrupt(format!("tail start panicked: {e}")))??;
            tokio::spawn(run(feed.clone(), Arc::clone(&tail), last.unwrap_or(0)));
            Ok::<(), StoreError>(())
        })
        .await?;
    Ok(rx)
}

async fn run(feed: LiveFeed, tail: Arc<Tail>, mut last: i64) {
    let poll = feed.settings().poll;
    let mut gap_since: Option<Instant> = None;
    let mut retry: Option<Duration> = None;
    loop {
        let pause = match (retry, poll) {
            (Some(r), _) => Some(r),
            (None, p) => p,
        };
        tokio::select! {
            () = tail.wake.notified() => {}
            () = sleep_or_forever(pause) => {}
            () = feed.closing().cancelled() => break,
        }
        retry = None;
        match publish(&feed, &tail, &mut last, &mut gap_since).await {
            Ok(waiting_for_gap) => {
                if waiting_for_gap {
                    retry = Some(Duration::from_millis(20));
                }
            }
            Err(error) => {
                tracing::warn!(message = "Live audit stream could not read new events.", app_id = %tail.app, %error);
                retry = Some(RETRY_AFTER_ERROR);
            }
        }
        let mut tails = feed.tails();
        if tail.tx.receiver_count() == 0 {
            tails.remove(&tail.app);
            return;
        }
    }
    feed.tails().remove(&tail.app);
}

/// Reads and broadcasts everything after `last`. Returns true while it waits for a
/// missing seq.
///
/// Seqs are dense per app. A gap means a transaction holding the missing seq has not
/// become visible yet — possible with a store shared by several writers — so only the
/// contiguous run is published and the rest is read again shortly; after [`GAP_WAIT`] the
/// seq is taken as never coming (logged) so that one lost transaction cannot stall the
/// stream.
async fn publish(
    feed: &LiveFeed,
    tail: &Tail,
    last: &mut i64,
    gap_since: &mut Option<Instant>,
) -> Result<bool, StoreError> {
    loop {
        let store = Arc::clone(feed.store());
        let app = tail.app.clone();
        let after = *last;
        let records = tokio::task::spawn_blocking(move || {
            store.follow(&app, &EventFilter::default(), after, CHUNK)
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("tail read panicked: {e}")))??;
        let full = records.len() == CHUNK;
        for record in records {
            let seq = record.summary.seq;
            if seq != *last + 1 {
                let since = *gap_since.get_or_insert_with(Instant::now);
                if since.elapsed() < GAP_WAIT {
                    return Ok(true);
                }
                tracing::warn!(
                    message = "Live audit stream skips seqs that never became visible.",
                    app_id = %tail.app,
                    from = *last + 1,
                    to = seq - 1,
                );
            }
            *gap_since = None;
            *last = seq;
            let frame = frame::event(&record);
            // No receivers is not an error: the tail stops after this round.
            let _ = tail.tx.send(Arc::new(LiveEvent { record, frame }));
        }
        if !full {
            return Ok(false);
        }
    }
}

async fn sleep_or_forever(pause: Option<Duration>) {
    match pause {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
