//! Pusher webhooks: telling an app's backend that a channel became occupied or vacated, a
//! presence member joined or left, a client sent an event, a cache channel missed, or a
//! subscription count changed — signed exactly as Pusher signs them, debounced, batched,
//! retried durably and (in a cluster) decided once per cluster.
//!
//! The path of an event:
//!
//! 1. Whoever decides it (the WebSocket session from the adapter's cluster-wide answers, the
//!    Redis reaper for a dead node's share) calls [`Webhooks::emit`]. That never blocks: the
//!    event goes into the app's bounded in-memory queue, or is counted and dropped when the
//!    queue is full (`herald_webhook_events_dropped_total`; the queue only fills when the
//!    outbox file cannot keep up, never because a receiver is slow).
//! 2. The app's [`writer`] matches it against each receiver's event types and channel
//!    filter and stores one row per receiver in the [`store`] (SQLite, survives `kill -9`),
//!    applying the 3 s debounce of `channel_vacated` / `member_removed`.
//! 3. One [`sender`] task per receiver URL batches due events into one POST, signs it,
//!    and retries with exponential backoff until a 2xx or the give-up time; every batch is
//!    in the delivery log (`GET /apps/{id}/webhooks/deliveries`).
//!
//! Nothing here runs on the WebSocket or trigger path beyond step 1, so a slow or dead
//! receiver cannot slow delivery.

pub mod event;
pub mod sender;
pub mod store;
pub mod transition;
pub mod writer;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::config::webhooks::{
    ChannelFilter, EventType, EventTypes, WebhookConfig, WebhookSettings,
};
pub use event::WebhookEvent;
pub use store::{Delivery, Store};
pub use transition::Transition;

use crate::config::AppConfig;
use crate::metrics::METRICS;

/// How long `channel_vacated` and `member_removed` wait for the channel or user to come back.
pub const HOLD: Duration = Duration::from_secs(3);

/// Decides at due time whether a held event still stands cluster-wide (the channel or user
/// did not come back anywhere). The single-node answer is always yes.
#[async_trait::async_trait]
pub trait HeldEvents: Send + Sync + 'static {
    async fn confirm_held(&self, app_id: &str, claim: &str) -> bool;
}

/// An event waiting in an app's queue for the writer.
#[derive(Debug)]
pub(crate) struct Queued {
    pub event: WebhookEvent,
    pub created_ms: i64,
    /// Cluster token a held event must confirm at due time.
    pub claim: Option<String>,
}

/// One receiver URL of an app and the rules (event types + channel filter) that send an
/// event to it. Several `[[apps.webhooks]]` entries with the same URL share one receiver, so
/// an event goes to a URL once and in one POST.
#[derive(Debug)]
pub(crate) struct Receiver {
    pub url: Arc<str>,
    pub rules: Vec<(EventTypes, ChannelFilter)>,
    pub headers: Vec<(String, String)>,
    /// Woken when the writer stored something for this receiver.
    pub wake: Notify,
}

impl Receiver {
    fn wants(&self, event: &WebhookEvent) -> bool {
        let kind = event.kind();
        self.rules
            .iter()
            .any(|(types, filter)| types.contains(kind) && filter.matches(event.channel()))
    }
}

#[derive(Debug)]
struct AppHooks {
    app: AppConfig,
    receivers: Arc<Vec<Arc<Receiver>>>,
    queue: mpsc::Sender<Queued>,
    /// Taken by `start`.
    queue_rx: std::sync::Mutex<Option<mpsc::Receiver<Queued>>>,
    /// When a full queue was last logged (ms), so a flood logs once a second.
    last_full_log_ms: AtomicI64,
}

#[derive(Debug)]
struct Inner {
    apps: HashMap<String, AppHooks>,
    store: Store,
    settings: WebhookSettings,
    /// Single node: the outbox also remembers which channels and members are live, so a
    /// restart after `kill -9` reports the ones the dead process never saw leave. (In a
    /// cluster the reaper does that from Redis.)
    track_live: bool,
}

/// The webhook emitter and its background tasks. Cheap to clone; a no-op when no app has
/// webhooks configured.
#[derive(Debug, Clone, Default)]
pub struct Webhooks(Option<Arc<Inner>>);

impl Webhooks {
    /// Opens the outbox and builds the queues when any app has webhooks. Tasks start with
    /// [`start`](Self::start), once the adapter exists.
    /// `track_live`: this node is the whole cluster (see [`Inner::track_live`]).
    pub fn open(
        apps: &[AppConfig],
        settings: &WebhookSettings,
        track_live: bool,
    ) -> anyhow::Result<Self> {
        if apps.iter().all(|a| a.webhooks.is_empty()) {
            return Ok(Self(None));
        }
        let store = Store::open(&settings.store).map_err(|e| {
            anyhow::anyhow!(
                "cannot open the webhook outbox {} (webhook_store): {e}",
                settings.store.display()
            )
        })?;
        let mut map = HashMap::new();
        for app in apps.iter().filter(|a| !a.webhooks.is_empty()) {
            let (tx, rx) = mpsc::channel(settings.queue_capacity);
            map.insert(
                app.id.clone(),
                AppHooks {
                    app: app.clone(),
                    receivers: Arc::new(receivers(&app.webhooks)),
                    queue: tx,
                    queue_rx: std::sync::Mutex::new(Some(rx)),
                    last_full_log_ms: AtomicI64::new(0),
                },
            );
        }
        Ok(Self(Some(Arc::new(Inner {
            apps: map,
            store,
            settings: settings.clone(),
            track_live,
        }))))
    }

    /// Whether any app wants webhooks of type `kind` (lets callers skip building events).
    pub fn wants(&self, app_id: &str, kind: EventType) -> bool {
        self.0.as_ref().is_some_and(|inner| {
            inner.apps.get(app_id).is_some_and(|hooks| {
                hooks
                    .receivers
                    .iter()
                    .any(|r| r.rules.iter().any(|(t, _)| t.contains(kind)))
            })
        })
    }

    /// Queues an event for the app's receivers. Never waits.
    pub fn emit(&self, app_id: &str, event: WebhookEvent) {
        self.emit_claimed(app_id, event, None);
    }

    /// Queues a held event that must be confirmed cluster-wide (with `claim`) at due time.
    pub fn emit_claimed(&self, app_id: &str, event: WebhookEvent, claim: Option<String>) {
        let Some(inner) = &self.0 else { return };
        let Some(hooks) = inner.apps.get(app_id) else {
            return;
        };
        let live_change = inner.track_live && event.live_change().is_some();
        if !live_change && !hooks.receivers.iter().any(|r| r.wants(&event)) {
            return;
        }
        let created_ms = now_ms();
        let queued = Queued {
            event,
            created_ms,
            claim,
        };
        match hooks.queue.try_send(queued) {
            Ok(()) => METRICS.webhook_events_queued.inc(),
            Err(_) => {
                METRICS.webhook_events_dropped.inc();
                let last = hooks.last_full_log_ms.load(Ordering::Relaxed);
                if created_ms - last >= 1000 {
                    hooks.last_full_log_ms.store(created_ms, Ordering::Relaxed);
                    tracing::warn!(
                        message =
                            "Webhook queue full: dropping events (the outbox cannot keep up).",
                        app_id,
                        capacity = inner.settings.queue_capacity,
                    );
                }
            }
        }
    }

    /// Reports what a subscription change did to a channel's occupancy (as decided by the
    /// adapter): `channel_occupied`, or `channel_vacated` held for [`HOLD`].
    pub fn occupancy(&self, app_id: &str, channel: &str, transition: &Transition) {
        let channel = Arc::from(channel);
        match transition {
            Transition::None => {}
            Transition::Began => self.emit(app_id, WebhookEvent::ChannelOccupied { channel }),
            Transition::Ended { claim } => self.emit_claimed(
                app_id,
                WebhookEvent::ChannelVacated { channel },
                claim.clone(),
            ),
        }
    }

    /// Reports a presence membership change: `member_added`, or `member_removed` held.
    pub fn membership(&self, app_id: &str, channel: &str, user_id: &str, transition: &Transition) {
        let (channel, user_id) = (Arc::from(channel), Arc::from(user_id));
        match transition {
            Transition::None => {}
            Transition::Began => self.emit(app_id, WebhookEvent::MemberAdded { channel, user_id }),
            Transition::Ended { claim } => self.emit_claimed(
                app_id,
                WebhookEvent::MemberRemoved { channel, user_id },
                claim.clone(),
            ),
        }
    }

    /// Starts the writer of each app and a sender per receiver, tracked by `tasks` and
    /// stopped by `token`. Pending batches of an earlier run resume at once.
    pub async fn start(
        &self,
        held: Arc<dyn HeldEvents>,
        token: CancellationToken,
        tasks: &TaskTracker,
    ) {
        let Some(inner) = &self.0 else { return };
        match inner.store.pending_count().await {
            Ok(n) => {
                METRICS.webhook_outbox_pending.set(n);
                if n > 0 {
                    tracing::info!(
                        message = "Resuming webhooks left pending by an earlier run.",
                        events = n
                    );
                }
            }
            Err(error) => tracing::warn!(message = "Cannot count pending webhooks.", %error),
        }
        if inner.track_live {
            self.report_left_behind(inner).await;
        }
        let client = sender::http_client();
        for hooks in inner.apps.values() {
            let Some(rx) = hooks
                .queue_rx
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
            else {
                continue;
            };
            let app_id: Arc<str> = Arc::from(hooks.app.id.as_str());
            tasks.spawn(writer::run(
                app_id.clone(),
                rx,
                hooks.receivers.clone(),
                inner.store.clone(),
                inner.track_live,
                token.clone(),
            ));
            for receiver in hooks.receivers.iter() {
                tasks.spawn(
                    sender::Sender {
                        app_id: app_id.clone(),
                        key: hooks.app.key.clone(),
                        secret: hooks.app.secret.clone(),
                        receiver: receiver.clone(),
                        store: inner.store.clone(),
                        client: client.clone(),
                        give_up: inner.settings.give_up,
                        held: held.clone(),
                        token: token.clone(),
                    }
                    .run(),
                );
            }
        }
    }

    /// Channels and members still live when the previous process ended without cleaning
    /// up (`kill -9`, a crash): their sockets are gone, so they are reported vacated / removed
    /// now — held like any other, so clients reconnecting within 3 s cancel them.
    async fn report_left_behind(&self, inner: &Inner) {
        let live = match inner.store.live().await {
            Ok(live) => live,
            Err(error) => {
                tracing::warn!(message = "Cannot read the webhook outbox's live channels.", %error);
                return;
            }
        };
        if live.is_empty() {
            return;
        }
        tracing::info!(
            message = "The previous run ended without cleanup: reporting its channels vacated and members removed.",
            entries = live.len(),
        );
        // Members first, so each channel's member_removed precede its channel_vacated.
        let (members, channels): (Vec<_>, Vec<_>) =
            live.into_iter().partition(|(_, _, user)| user.is_some());
        for (app_id, channel, user) in members.into_iter().chain(channels) {
            let channel = Arc::from(channel.as_str());
            let event = match user {
                Some(user) => WebhookEvent::MemberRemoved {
                    channel,
                    user_id: Arc::from(user.as_str()),
                },
                None => WebhookEvent::ChannelVacated { channel },
            };
            self.emit(&app_id, event);
        }
    }

    /// The delivery log of an app, or `None` when it has no webhooks.
    pub async fn deliveries(
        &self,
        app_id: &str,
        status: Option<String>,
        limit: usize,
    ) -> Option<Result<Vec<Delivery>, store::StoreError>> {
        let inner = self.0.as_ref()?;
        inner.apps.get(app_id)?;
        Some(
            inner
                .store
                .deliveries(app_id.to_owned(), status, limit)
                .await,
        )
    }

    /// Events in the in-memory queues (all apps), for `/metrics`.
    pub fn queued(&self) -> usize {
        self.0.as_ref().map_or(0, |inner| {
            inner
                .apps
                .values()
                .map(|h| h.queue.max_capacity() - h.queue.capacity())
                .sum()
        })
    }
}

/// Groups an app's webhook entries by URL.
fn receivers(hooks: &[WebhookConfig]) -> Vec<Arc<Receiver>> {
    let mut out: Vec<Receiver> = Vec::new();
    for hook in hooks {
        let mut types = EventTypes::default();
        for name in &hook.event_types {
            if let Some(t) = EventType::parse(name) {
                types.insert(t);
            }
        }
        let rule = (types, hook.filter.clone());
        let headers = hook.headers.iter().map(|(k, v)| (k.clone(), v.clone()));
        match out.iter_mut().find(|r| *r.url == *hook.url) {
            Some(r) => {
                r.rules.push(rule);
                r.headers.extend(headers);
            }
            None => out.push(Receiver {
                url: Arc::from(hook.url.as_str()),
                rules: vec![rule],
                headers: headers.collect(),
                wake: Notify::new(),
            }),
        }
    }
    out.into_iter().map(Arc::new).collect()
}

/// Milliseconds since the Unix epoch (webhook times are wall-clock: they are stored and
/// compared with the receiver's clock).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The single-node answer to [`HeldEvents`]: this node is the cluster, and the outbox's own
/// debounce already dropped events whose channel or user came back.
#[derive(Debug, Default)]
pub struct LocalHeld;

#[async_trait::async_trait]
impl HeldEvents for LocalHeld {
    async fn confirm_held(&self, _app_id: &str, _claim: &str) -> bool {
        true
    }
}
