//! One reader's stream: the opening block, catch-up from the store, then the app's tail,
//! with heartbeats, as a `Stream` of SSE bytes that the HTTP body pulls. Nothing is
//! produced faster than the client reads: while its socket is full the stream is not
//! polled, and the tail's ring (shared, bounded) is the only place events wait.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use futures_util::stream::BoxStream;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Interval, MissedTickBehavior};

use super::tail::{self, LiveEvent};
use super::{LiveFeed, Matcher, frame};
use crate::error::StoreError;

/// Events per catch-up read (and per write to the socket while catching up).
const CATCH_UP_CHUNK: usize = 500;

/// The body of one `GET …/audit/stream` response.
pub struct ReaderStream {
    inner: BoxStream<'static, Result<Bytes, Infallible>>,
}

impl Stream for ReaderStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

enum Phase {
    Opening(Option<i64>),
    CatchUp,
    Live,
    Done,
}

struct Reader {
    feed: LiveFeed,
    app: String,
    matcher: Arc<Matcher>,
    /// Every event up to this seq has been sent or passed over.
    position: i64,
    rx: Option<broadcast::Receiver<Arc<LiveEvent>>>,
    /// False until the first event is taken from the ring: a lag before that happened
    /// while the reader was still catching up (the ring filled during its last store
    /// read), which is not the reader being slow.
    followed: bool,
    heartbeat: Interval,
    phase: Phase,
}

pub(super) fn open(
    feed: LiveFeed,
    app: String,
    matcher: Matcher,
    after: Option<i64>,
) -> ReaderStream {
    let period = feed.settings().heartbeat;
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let reader = Reader {
        feed,
        app,
        matcher: Arc::new(matcher),
        position: 0,
        rx: None,
        followed: false,
        heartbeat,
        phase: Phase::Opening(after),
    };
    let inner = futures_util::stream::unfold(reader, |mut reader| async move {
        let bytes = reader.next().await?;
        Some((Ok(bytes), reader))
    });
    ReaderStream {
        inner: Box::pin(inner),
    }
}

impl Reader {
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if self.feed.closing().is_cancelled() && !matches!(self.phase, Phase::Done) {
                self.phase = Phase::Done;
                return Some(Bytes::from_static(
                    b": herald is shutting down; reconnect to resume\n\n",
                ));
            }
            match self.phase {
                Phase::Opening(after) => match self.start(after).await {
                    Ok(bytes) => {
                        self.phase = Phase::CatchUp;
                        return Some(bytes);
                    }
                    Err(error) => return self.fail(&error),
                },
                Phase::CatchUp => match self.catch_up().await {
                    Ok(Some(bytes)) => return Some(bytes),
                    Ok(None) => continue,
                    Err(error) => return self.fail(&error),
                },
                Phase::Live => {
                    if let Some(bytes) = self.live().await {
                        return Some(bytes);
                    }
                }
                Phase::Done => return None,
            }
        }
    }

    async fn start(&mut self, after: Option<i64>) -> Result<Bytes, StoreError> {
        self.position = match after {
            Some(after) => after,
            None => {
                let app = self.app.clone();
                self.feed
                    .read(move |store| store.last_seq(&app))
                    .await?
                    .unwrap_or(0)
            }
        };
        Ok(frame::opening(self.position))
    }

    /// One catch-up read. Returns the encoded events, or `None` when the phase changed.
    async fn catch_up(&mut self) -> Result<Option<Bytes>, StoreError> {
        let app = self.app.clone();
        let matcher = Arc::clone(&self.matcher);
        let after = self.position;
        let records = self
            .feed
            .read(move |store| store.follow(&app, matcher.filter(), after, CATCH_UP_CHUNK))
            .await?;
        let caught_up = records.len() < CATCH_UP_CHUNK;
        if caught_up {
            if self.rx.is_some() {
                // This read began after subscribing: everything newer reaches the ring.
                self.phase = Phase::Live;
                self.followed = false;
            } else {
                // Subscribe, then read once more to cover what committed in between.
                self.rx = Some(tail::subscribe(&self.feed, &self.app).await?);
            }
        } else {
            // Still far behind: do not let the ring fill up behind us meanwhile.
            self.rx = None;
        }
        if records.is_empty() {
            return Ok(None);
        }
        let mut out = BytesMut::new();
        for record in &records {
            out.extend_from_slice(&frame::event(record));
        }
        if let Some(last) = records.last() {
            self.position = last.summary.seq;
        }
        Ok(Some(out.freeze()))
    }

    /// Waits for the next live event, heartbeat or shutdown. `None`: nothing to send yet.
    async fn live(&mut self) -> Option<Bytes> {
        let Some(rx) = self.rx.as_mut() else {
            self.phase = Phase::CatchUp;
            return None;
        };
        tokio::select! {
            received = rx.recv() => match received {
                Ok(event) => {
                    self.followed = true;
                    let seq = event.record.summary.seq;
                    if seq <= self.position {
                        return None;
                    }
                    self.position = seq;
                    self.matcher
                        .matches(&event.record)
                        .then(|| event.frame.clone())
                }
                Err(RecvError::Lagged(_)) if !self.followed => {
                    // Overflowed during the hand-over: catch up from the store again.
                    self.rx = None;
                    self.phase = Phase::CatchUp;
                    None
                }
                Err(RecvError::Lagged(missed)) => {
                    self.phase = Phase::Done;
                    self.rx = None;
                    let buffer = self.feed.settings().buffer;
                    tracing::info!(message = "Live audit stream reader cut off: too slow.", app_id = %self.app, missed, buffer);
                    Some(frame::cutoff(
                        &format!(
                            "cut off because this reader fell more than {buffer} events behind the live stream (its connection does not read fast enough); reconnect with Last-Event-ID or ?after={} to resume",
                            self.position
                        ),
                        self.position,
                    ))
                }
                Err(RecvError::Closed) => {
                    // The tail stopped (shutdown): end, the client resumes elsewhere.
                    self.phase = Phase::Done;
                    None
                }
            },
            _ = self.heartbeat.tick() => Some(Bytes::from_static(frame::HEARTBEAT)),
            () = self.feed.closing().cancelled() => None,
        }
    }

    fn fail(&mut self, error: &StoreError) -> Option<Bytes> {
        tracing::error!(message = "Live audit stream failed.", app_id = %self.app, %error);
        self.phase = Phase::Done;
        Some(frame::cutoff(
            "ended because the audit store could not be read; reconnect to resume",
            self.position,
        ))
    }
}
