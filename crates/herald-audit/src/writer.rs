//! The recorder handle and the single writer task behind it.
//!
//! `record` prepares events in the caller's task and queues them (a bounded queue: when it
//! is full the call fails at once with `Saturated` rather than piling up memory). The
//! writer takes everything queued, up to `max_batch` events, commits it in one transaction
//! on a blocking thread, then answers every caller of that batch: group commit, so one
//! fsync covers many triggers.
//!
//! The writer also signs checkpoints ([`crate::chain::checkpoint`]): after every
//! `checkpoint_every` new events of an app, every `checkpoint_interval` while an app has
//! unsigned events, and once more at shutdown, each in its own small transaction after
//! the batch it covers has committed.

use std::collections::HashMap;
use std::time::Duration;

use std::sync::{Arc, Mutex};

use ed25519_dalek::SigningKey;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::chain::Checkpoint;
use crate::config::{Durability, UnavailablePolicy};
use crate::error::RecordError;
use crate::event::{NewEvent, PreparedEvent, Recorded};
use crate::live::LiveFeed;
use crate::retention::run::{STEP, Totals, record_events};
use crate::retention::{PruneStep, RetentionPolicy, RulePruned};
use crate::rules::AuditRules;
use crate::store::WriteStore;

type Reply = oneshot::Sender<Result<Vec<Recorded>, RecordError>>;

/// One `record` call waiting for the writer.
struct Job {
    events: Vec<PreparedEvent>,
    reply: Reply,
}

/// One bounded retention step for the writer to run.
struct PruneJob {
    app: String,
    policy: Arc<RetentionPolicy>,
    now: i64,
    after: i64,
    dry_run: bool,
    reply: oneshot::Sender<Result<PruneStep, String>>,
}

/// Cheap-clone handle to the writer. Every clone feeds the same queue.
#[derive(Clone)]
pub struct AuditRecorder {
    inner: Arc<Inner>,
}

struct Inner {
    queue: mpsc::Sender<Job>,
    /// Retention steps, run by the writer between batches.
    prunes: mpsc::Sender<PruneJob>,
    durability: Durability,
    on_unavailable: UnavailablePolicy,
    health: Health,
}

/// Why the store cannot be written, if the last attempt failed: set by the writer after
/// each batch or probe, read by `/ready`. A std Mutex: held only to copy a string.
#[derive(Default)]
struct Health(Mutex<Option<String>>);

impl Health {
    fn set(&self, reason: Option<String>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = reason;
    }

    fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// How often an idle writer whose store failed checks whether it is back (the store's own
/// reconnect backoff decides whether a check actually connects).
const PROBE_INTERVAL: Duration = Duration::from_millis(500);

impl AuditRecorder {
    /// Records `events` (in order) and answers one [`Recorded`] per event. With
    /// [`Durability::Durable`] it resolves only after the transaction holding them is
    /// committed and fsynced.
    pub async fn record(&self, events: Vec<NewEvent>) -> Result<Vec<Recorded>, RecordError> {
        self.record_with(&AuditRules::default(), events).await
    }

    /// [`AuditRecorder::record`] with an app's own [`AuditRules`]: its field keys and its
    /// redaction, applied here, before the events are queued.
    pub async fn record_with(
        &self,
        rules: &AuditRules,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Recorded>, RecordError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let events: Vec<PreparedEvent> = events
            .into_iter()
            .map(|e| PreparedEvent::new(e, rules))
            .collect();
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

    /// Applies `policy` to `app` (see [`crate::retention`]): the writer runs it in bounded
    /// steps between batches of events, so recording goes on meanwhile; then the run is
    /// recorded in the trail (unless `dry_run`, which changes nothing).
    pub async fn prune(
        &self,
        app: &str,
        policy: Arc<RetentionPolicy>,
        now: i64,
        dry_run: bool,
    ) -> Result<Vec<RulePruned>, RecordError> {
        let mut totals = Totals::default();
        let mut after = 0;
        loop {
            let (reply, answer) = oneshot::channel();
            self.inner
                .prunes
                .send(PruneJob {
                    app: app.to_owned(),
                    policy: Arc::clone(&policy),
                    now,
                    after,
                    dry_run,
                    reply,
                })
                .await
                .map_err(|_| RecordError::ShuttingDown)?;
            let step = answer
                .await
                .map_err(|_| RecordError::ShuttingDown)?
                .map_err(RecordError::Unavailable)?;
            totals.add(&step);
            match step.resume_after {
                Some(next) => after = next,
                None => break,
            }
        }
        let pruned = totals.finish(&policy);
        if !dry_run && !pruned.is_empty() {
            self.record(record_events(app, now, &pruned)).await?;
        }
        Ok(pruned)
    }

    /// The configured durability.
    pub fn durability(&self) -> Durability {
        self.inner.durability
    }

    /// What the trigger API should do when `record` fails.
    pub fn on_unavailable(&self) -> UnavailablePolicy {
        self.inner.on_unavailable
    }

    /// Why the store cannot be written right now (`None` when the last write or probe
    /// succeeded). Safe to show publicly: it names no host, user or password.
    pub fn unavailable_reason(&self) -> Option<String> {
        self.inner.health.get()
    }
}

/// Settings the writer needs.
pub(crate) struct WriterSettings {
    pub queue_capacity: usize,
    pub max_batch: usize,
    pub durability: Durability,
    pub on_unavailable: UnavailablePolicy,
    /// Told which apps got new events after every commit.
    pub live: Option<LiveFeed>,
    pub signer: Arc<SigningKey>,
    pub checkpoint_every: u64,
    pub checkpoint_interval: Duration,
    /// Events per app recorded but not yet covered by a checkpoint ([`unsigned_events`]).
    pub unsigned: HashMap<String, u64>,
}

/// Events of each app recorded after its latest checkpoint (a crash before the shutdown
/// checkpoint, a CLI prune): the writer signs them at its first occasion.
pub(crate) fn unsigned_events(
    store: &mut dyn WriteStore,
) -> Result<HashMap<String, u64>, crate::error::StoreError> {
    let signed: HashMap<String, i64> = store
        .latest_checkpoints()?
        .into_iter()
        .map(|c| (c.app_id, c.seq))
        .collect();
    Ok(store
        .chain_heads()?
        .into_iter()
        .filter_map(|h| {
            let done = signed.get(&h.app_id).copied().unwrap_or(0);
            (h.last_seq > done).then(|| (h.app_id, (h.last_seq - done) as u64))
        })
        .collect())
}

/// Starts the writer task over `store`. It stops when `shutdown` is cancelled, after
/// recording everything already queued; calls made after that get `ShuttingDown`.
pub(crate) fn spawn(
    store: Box<dyn WriteStore>,
    settings: WriterSettings,
    shutdown: CancellationToken,
) -> (AuditRecorder, JoinHandle<()>) {
    let (queue, rx) = mpsc::channel(settings.queue_capacity);
    let (prunes, prune_rx) = mpsc::channel(1);
    let recorder = AuditRecorder {
        inner: Arc::new(Inner {
            queue,
            prunes,
            durability: settings.durability,
            on_unavailable: settings.on_unavailable,
            health: Health::default(),
        }),
    };
    let checkpoints = Checkpoints {
        key: settings.signer,
        every: settings.checkpoint_every.max(1),
        interval: settings.checkpoint_interval,
        pending: settings.unsigned,
    };
    let task = tokio::spawn(run(
        store,
        (rx, prune_rx),
        settings.max_batch,
        settings.live,
        checkpoints,
        shutdown,
        Arc::clone(&recorder.inner),
    ));
    (recorder, task)
}

/// When to sign the next checkpoint of each app.
struct Checkpoints {
    key: Arc<SigningKey>,
    every: u64,
    interval: Duration,
    /// Events recorded since each app's last checkpoint.
    pending: HashMap<String, u64>,
}

impl Checkpoints {
    /// Signs and stores a checkpoint of each app's current head in `apps`. A failure is
    /// logged and retried at the next occasion (the events themselves are recorded).
    fn write(&mut self, store: &mut dyn WriteStore, apps: &[String]) {
        let heads = match store.chain_heads() {
            Ok(heads) => heads,
            Err(error) => {
                tracing::error!(message = "Audit checkpoint skipped: cannot read the chain heads.", %error);
                return;
            }
        };
        let now = crate::timefmt::now_micros();
        for head in heads.iter().filter(|h| apps.contains(&h.app_id)) {
            let cp = Checkpoint::sign(&self.key, &head.app_id, head.last_seq, head.last_hash, now);
            match store.add_checkpoint(&cp) {
                Ok(()) => {
                    self.pending.remove(&head.app_id);
                }
                Err(error) => {
                    tracing::error!(message = "Audit checkpoint could not be stored.", app_id = %head.app_id, %error)
                }
            }
        }
    }

    /// Apps whose unsigned events reached `every`.
    fn due(&self) -> Vec<String> {
        self.pending
            .iter()
            .filter(|&(_, &n)| n >= self.every)
            .map(|(app, _)| app.clone())
            .collect()
    }

    fn unsigned(&self) -> Vec<String> {
        self.pending.keys().cloned().collect()
    }
}

/// Runs `f` on the store on a blocking thread and gives the store back (`None` if the
/// thread panicked: the store is gone).
async fn blocking<R: Send + 'static>(
    mut store: Box<dyn WriteStore>,
    f: impl FnOnce(&mut dyn WriteStore) -> R + Send + 'static,
) -> Option<(Box<dyn WriteStore>, R)> {
    match tokio::task::spawn_blocking(move || {
        let r = f(store.as_mut());
        (store, r)
    })
    .await
    {
        Ok(pair) => Some(pair),
        Err(error) => {
            tracing::error!(message = "Audit writer thread panicked; recording stops.", %error);
            None
        }
    }
}

/// Checkpoints `apps` on a blocking thread.
async fn checkpoint(
    store: Box<dyn WriteStore>,
    mut cps: Checkpoints,
    apps: Vec<String>,
) -> Option<(Box<dyn WriteStore>, Checkpoints)> {
    blocking(store, move |s| {
        cps.write(s, &apps);
        cps
    })
    .await
}

async fn run(
    mut store: Box<dyn WriteStore>,
    (mut rx, mut prunes): (mpsc::Receiver<Job>, mpsc::Receiver<PruneJob>),
    max_batch: usize,
    live: Option<LiveFeed>,
    mut cps: Checkpoints,
    shutdown: CancellationToken,
    inner: Arc<Inner>,
) {
    // The first tick one interval from now: awaiting an immediate first tick would go
    // through the timer driver and leave the writer late to its first `recv`.
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + cps.interval, cps.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = false;
    loop {
        let unhealthy = inner.health.get().is_some();
        let first = if closing {
            rx.recv().await
        } else {
            tokio::select! {
                job = rx.recv() => job,
                Some(p) = prunes.recv() => {
                    let outcome = blocking(store, move |s| {
                        let step = s
                            .prune_step(&p.app, &p.policy, p.now, p.after, STEP, p.dry_run)
                            .map_err(|e| e.to_string());
                        if let Err(error) = &step {
                            tracing::error!(message = "Audit retention step failed.", app_id = %p.app, %error);
                        }
                        let _ = p.reply.send(step);
                    })
                    .await;
                    match outcome {
                        Some((s, ())) => store = s,
                        None => return,
                    }
                    continue;
                }
                _ = tick.tick() => {
                    if !cps.pending.is_empty() {
                        let apps = cps.unsigned();
                        match checkpoint(store, cps, apps).await {
                            Some((s, c)) => (store, cps) = (s, c),
                            None => return,
                        }
                    }
                    continue;
                }
                () = shutdown.cancelled() => {
                    // Refuse new calls, then drain what is already queued.
                    closing = true;
                    rx.close();
                    continue;
                }
                () = tokio::time::sleep(PROBE_INTERVAL), if unhealthy => {
                    // Idle after a failure: find out whether the store is back, so that
                    // readiness recovers without waiting for a trigger.
                    let probed = tokio::task::spawn_blocking(move || {
                        let result = store.probe();
                        (store, result)
                    })
                    .await;
                    match probed {
                        Ok((s, result)) => {
                            store = s;
                            inner.health.set(result.err().map(|e| e.public_reason()));
                        }
                        Err(error) => {
                            tracing::error!(message = "Audit writer thread panicked; recording stops.", %error);
                            return;
                        }
                    }
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
        match commit(store, jobs, &inner.health).await {
            Some((s, recorded)) => {
                store = s;
                for (app, n) in recorded {
                    // The live stream's tail of each app with new events reads them.
                    if let Some(feed) = &live {
                        feed.committed(&app);
                    }
                    *cps.pending.entry(app).or_default() += n;
                }
            }
            None => return,
        }
        let due = cps.due();
        if !due.is_empty() {
            match checkpoint(store, cps, due).await {
                Some((s, c)) => (store, cps) = (s, c),
                None => return,
            }
        }
    }
    // The last events recorded get a checkpoint too, so that a truncated tail is caught.
    let apps = cps.unsigned();
    let _ = blocking(store, move |s| {
        if !apps.is_empty() {
            cps.write(s, &apps);
        }
        s.close();
    })
    .await;
    tracing::info!(message = "Audit writer stopped.");
}

/// Commits `jobs` together and answers them. If the batch fails because of what one of its
/// calls holds (a constraint, a value too big) and holds several calls, each call is
/// retried alone so that one bad call cannot fail its neighbours. Returns the
/// store for the next batch with how many new events each app got, or `None` if the
/// blocking thread panicked (the store is gone; later calls then get `Unavailable`).
async fn commit(
    store: Box<dyn WriteStore>,
    jobs: Vec<Job>,
    health: &Health,
) -> Option<(Box<dyn WriteStore>, HashMap<String, u64>)> {
    let outcome = tokio::task::spawn_blocking(move || {
        let mut store = store;
        let mut new_events: HashMap<String, u64> = HashMap::new();
        let mut count = |events: &[PreparedEvent], recorded: &[Recorded]| {
            for (e, r) in events.iter().zip(recorded) {
                if !r.duplicate {
                    *new_events.entry(e.event.app_id.clone()).or_default() += 1;
                }
            }
        };
        let batch: Vec<&PreparedEvent> = jobs.iter().flat_map(|j| j.events.iter()).collect();
        let mut reason = None;
        match store.append(&batch) {
            Ok(recorded) => {
                let mut recorded = recorded.into_iter();
                for job in jobs {
                    let mine: Vec<Recorded> = recorded.by_ref().take(job.events.len()).collect();
                    count(&job.events, &mine);
                    let _ = job.reply.send(Ok(mine));
                }
            }
            // A locked, full or broken store fails every call alike: answer them all now
            // rather than retrying each one into the same wall (each retry could wait out
            // the busy timeout).
            Err(error) if jobs.len() == 1 || !error.is_about_content() => {
                tracing::error!(message = "Audit batch could not be recorded.", %error);
                let public = error.public_reason();
                if !error.is_about_content() {
                    reason = Some(public.clone());
                }
                for job in jobs {
                    let _ = job.reply.send(Err(RecordError::Unavailable(public.clone())));
                }
            }
            Err(error) => {
                tracing::warn!(message = "Audit batch failed; retrying its calls one by one.", %error, calls = jobs.len());
                for job in jobs {
                    let single: Vec<&PreparedEvent> = job.events.iter().collect();
                    let result = store
                        .append(&single)
                        .map_err(|e| RecordError::Unavailable(e.public_reason()));
                    match &result {
                        Ok(recorded) => count(&job.events, recorded),
                        Err(error) => {
                            tracing::error!(message = "Audit events could not be recorded.", %error)
                        }
                    }
                    let _ = job.reply.send(result);
                }
            }
        }
        (store, new_events, reason)
    })
    .await;
    match outcome {
        Ok((store, new_events, reason)) => {
            health.set(reason);
            Some((store, new_events))
        }
        Err(error) => {
            tracing::error!(message = "Audit writer thread panicked; recording stops.", %error);
            None
        }
    }
}
