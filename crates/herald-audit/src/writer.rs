//! The recorder handle and the single writer task behind it.
//!
//! `record` prepares events in the caller's task and queues them (a bounded queue: when it
//! is full the call fails at once with `Saturated` rather than piling up memory). The
//! writer takes everything queued, up to `max_batch` events, commits it in one transaction
//! on a blocking thread, then answers every caller of that batch: group commit, so one
//! fsync covers many triggers.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{Durability, UnavailablePolicy};
use crate::error::RecordError;
use crate::event::{NewEvent, PreparedEvent, Recorded};
use crate::store::WriteStore;

type Reply = oneshot::Sender<Result<Vec<Recorded>, RecordError>>;

/// One `record` call waiting for the writer.
struct Job {
    events: Vec<PreparedEvent>,
    reply: Reply,
}

/// Cheap-clone handle to the writer. Every clone feeds the same queue.
#[derive(Clone)]
pub struct AuditRecorder {
    inner: Arc<Inner>,
}

struct Inner {
    queue: mpsc::Sender<Job>,
    durability: Durability,
    on_unavailable: UnavailablePolicy,
}

impl AuditRecorder {
    /// Records `events` (in order) and answers one [`Recorded`] per event. With
    /// [`Durability::Durable`] it resolves only after the transaction holding them is
    /// committed and fsynced.
    pub async fn record(&self, events: Vec<NewEvent>) -> Result<Vec<Recorded>, RecordError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let events: Vec<PreparedEvent> = events.into_iter().map(PreparedEvent::new).collect();
        let (reply, answer) = oneshot::channel();
        self.inner
            .queue
            .try_send(Job { events, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => RecordError::Saturated,
                mpsc::error::TrySendError::Closed(_) => RecordError::ShuttingDown,
            })?;
        answer.await.unwrap_or_else(|_| {
            Err(RecordError::Unavailable(
                "the audit writer stopped before recording these events".into(),
            ))
        })
    }

    /// The configured durability.
    pub fn durability(&self) -> Durability {
        self.inner.durability
    }

    /// What the trigger API should do when `record` fails.
    pub fn on_unavailable(&self) -> UnavailablePolicy {
        self.inner.on_unavailable
    }
}

/// Settings the writer needs.
pub(crate) struct WriterSettings {
    pub queue_capacity: usize,
    pub max_batch: usize,
    pub durability: Durability,
    pub on_unavailable: UnavailablePolicy,
}

/// Starts the writer task over `store`. It stops when `shutdown` is cancelled, after
/// recording everything already queued; calls made after that get `ShuttingDown`.
pub(crate) fn spawn(
    store: Box<dyn WriteStore>,
    settings: WriterSettings,
    shutdown: CancellationToken,
) -> (AuditRecorder, JoinHandle<()>) {
    let (queue, rx) = mpsc::channel(settings.queue_capacity);
    let recorder = AuditRecorder {
        inner: Arc::new(Inner {
            queue,
            durability: settings.durability,
            on_unavailable: settings.on_unavailable,
        }),
    };
    let task = tokio::spawn(run(store, rx, settings.max_batch, shutdown));
    (recorder, task)
}

async fn run(
    mut store: Box<dyn WriteStore>,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
    shutdown: CancellationToken,
) {
    let mut closing = false;
    loop {
        let first = if closing {
            rx.recv().await
        } else {
            tokio::select! {
                job = rx.recv() => job,
                () = shutdown.cancelled() => {
                    // Refuse new calls, then drain what is already queued.
                    closing = true;
                    rx.close();
                    continue;
                }
            }
        };
        let Some(first) = first else { break };
        let mut events = first.events.len();
        let mut jobs = vec![first];
        while events < max_batch {
            match rx.try_recv() {
                Ok(job) => {
                    events += job.events.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        match commit(store, jobs).await {
            Some(s) => store = s,
            None => return,
        }
    }
    let _ = tokio::task::spawn_blocking(move || store.close()).await;
    tracing::info!(message = "Audit writer stopped.");
}

/// Commits `jobs` together and answers them. If the batch fails because of what one of its
/// calls holds (a constraint, a value too big) and holds several calls, each call is
/// retried alone so that one bad call cannot fail its neighbours. Returns the
/// store for the next batch, or `None` if the blocking thread panicked (the store is gone;
/// later calls then get `Unavailable`).
async fn commit(store: Box<dyn WriteStore>, jobs: Vec<Job>) -> Option<Box<dyn WriteStore>> {
    let outcome = tokio::task::spawn_blocking(move || {
        let mut store = store;
        let batch: Vec<&PreparedEvent> = jobs.iter().flat_map(|j| j.events.iter()).collect();
        match store.append(&batch) {
            Ok(recorded) => {
                let mut recorded = recorded.into_iter();
                for job in jobs {
                    let mine: Vec<Recorded> = recorded.by_ref().take(job.events.len()).collect();
                    let _ = job.reply.send(Ok(mine));
                }
            }
            // A locked, full or broken store fails every call alike: answer them all now
            // rather than retrying each one into the same wall (each retry could wait out
            // the busy timeout).
            Err(error) if jobs.len() == 1 || !error.is_about_content() => {
                tracing::error!(message = "Audit batch could not be recorded.", %error);
                for job in jobs {
                    let _ = job.reply.send(Err(RecordError::Unavailable(error.to_string())));
                }
            }
            Err(error) => {
                tracing::warn!(message = "Audit batch failed; retrying its calls one by one.", %error, calls = jobs.len());
                for job in jobs {
                    let single: Vec<&PreparedEvent> = job.events.iter().collect();
                    let result = store
                        .append(&single)
                        .map_err(|e| RecordError::Unavailable(e.to_string()));
                    if let Err(error) = &result {
                        tracing::error!(message = "Audit events could not be recorded.", %error);
                    }
                    let _ = job.reply.send(result);
                }
            }
        }
        store
    })
    .await;
    match outcome {
        Ok(store) => Some(store),
        Err(error) => {
            tracing::error!(message = "Audit writer thread panicked; recording stops.", %error);
            None
        }
    }
}
