//! The Redis adapter: several herald nodes behave as one.
//!
//! - **Fan-out**: a publish is delivered to local subscribers at once, then sent once over
//!   Redis sharded pub/sub as the already-encoded frame; only nodes with local subscribers
//!   to the channel are subscribed to its topic ([`pubsub`]).
//! - **State**: subscription counts, presence members and signed-in users live in Redis,
//!   each node owning its share under its instance id so a dead node's share can be removed
//!   ([`channels`], [`presence`], [`users`], scripts in `lua/`).
//! - **Failure**: heartbeats and a reaper remove dead nodes' state ([`heartbeat`],
//!   [`reaper`]); a lost Redis connection never stops local delivery, and on reconnect the
//!   node rebuilds its share from its hub ([`link`], [`supervisor`], [`rebuild`]).
//!
//! Whenever Redis cannot answer, the adapter answers as [`LocalAdapter`] would: this node's
//! own view.
//!
//! Every cluster-wide write is an *absolute* write of the local hub's value, made under a
//! per-channel or per-user async lock: a retry, a rebuild or a race can never double-count.

pub(crate) mod channels;
pub(crate) mod envelope;
pub(crate) mod heartbeat;
pub(crate) mod keys;
pub(crate) mod link;
pub(crate) mod locks;
pub(crate) mod presence;
pub(crate) mod pubsub;
pub(crate) mod quota;
pub(crate) mod reaper;
pub(crate) mod rebuild;
pub(crate) mod scripts;
pub(crate) mod shared;
pub(crate) mod supervisor;
pub(crate) mod users;
pub(crate) mod values;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::envelope::Kind;
use self::keys::Keys;
use self::link::{Link, LinkError};
use self::locks::KeyedLocks;
use self::presence::Change;
use self::scripts::Scripts;
use self::shared::Shared;
use super::{Adapter, LocalAdapter, PresenceJoin, PresenceLeave, Subscriptions, Transition};
use crate::config::Config;
use crate::hub::{AppHub, CachedEvent, ChannelSummary, Frame, Hub, PresenceMember, SocketId};
use crate::webhooks::{HeldEvents, Webhooks};

/// How long startup waits for the first connection before serving anyway (unready).
const STARTUP_WAIT: Duration = Duration::from_secs(5);
/// How long shutdown waits for background tasks.
const STOP_WAIT: Duration = Duration::from_secs(3);

/// The adapter used when `HERALD_REDIS_URL` is set.
#[derive(Debug)]
pub struct RedisAdapter {
    shared: Arc<Shared>,
}

impl RedisAdapter {
    /// Starts the background tasks (connection supervisor, heartbeat, reaper) and waits up
    /// to a few seconds for the first connection; the node serves either way, unready
    /// until Redis is reachable.
    pub async fn start(config: &Config, hub: Arc<Hub>, webhooks: Webhooks) -> anyhow::Result<Self> {
        let url = config.redis_url.as_deref().unwrap_or_default();
        let link = Link::new(url).map_err(|e| {
            anyhow::anyhow!("Invalid configuration: redis_url (HERALD_REDIS_URL): {e}")
        })?;
        let instance = format!("{}:{:08x}", config.node_id, rand::random::<u32>());
        let shared = Arc::new(Shared {
            instance,
            node_id: config.node_id.clone(),
            keys: Keys::new(&config.redis_prefix),
            hub,
            link,
            scripts: Scripts::load(),
            channel_locks: KeyedLocks::default(),
            user_locks: KeyedLocks::default(),
            connection_locks: KeyedLocks::default(),
            heartbeat: config.redis_heartbeat,
            node_timeout: config.node_timeout,
            token: CancellationToken::new(),
            tasks: TaskTracker::new(),
            webhooks,
            held_ttl_ms: (config.webhooks.give_up + Duration::from_secs(60)).as_millis() as u64,
            held_seq: AtomicU64::new(0),
        });
        shared.tasks.spawn(supervisor::supervise(shared.clone()));
        shared.tasks.spawn(heartbeat::run(shared.clone()));
        shared.tasks.spawn(reaper::run(shared.clone()));
        tracing::info!(
            message = "Cluster mode: sharing state through Redis.",
            url = %shared.link.url(),
            prefix = %config.redis_prefix,
            instance = %shared.instance,
        );
        let deadline = Instant::now() + STARTUP_WAIT;
        while !shared.link.is_healthy() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !shared.link.is_healthy() {
            tracing::warn!(
                message = "Redis not reachable yet: serving local connections, /ready says 503 until it is.",
                reason = %shared.link.reason(),
            );
        }
        Ok(Self { shared })
    }

    /// This process's instance id (node id + random suffix).
    pub fn instance(&self) -> &str {
        &self.shared.instance
    }
}

#[async_trait]
impl HeldEvents for RedisAdapter {
    async fn confirm_held(&self, _app_id: &str, claim: &str) -> bool {
        let Some((token, key)) = claim.split_once('\t') else {
            return true;
        };
        let mut invocation = self.shared.scripts.confirm_held.prepare_invoke();
        invocation.key(key).arg(token);
        match self
            .shared
            .link
            .call(|mut c| async move { invocation.invoke_async::<i64>(&mut c).await })
            .await
        {
            Ok(send) => send == 1,
            Err(error) => {
                // At least once: without Redis the hold cannot be checked.
                tracing::debug!(message = "Cannot confirm a held webhook; sending it.", %error);
                true
            }
        }
    }
}

impl Drop for RedisAdapter {
    fn drop(&mut self) {
        self.shared.token.cancel();
    }
}

/// Logs a Redis failure that made the adapter fall back to this node's own view.
fn degraded(what: &str, error: &LinkError) {
    tracing::debug!(message = "Redis unavailable; answering from this node only.", what, %error);
}

#[async_trait]
impl Adapter for RedisAdapter {
    async fn publish(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        frame: Frame,
        except: Option<SocketId>,
    ) {
        // Local subscribers first and unconditionally: Redis being slow or gone never
        // delays or stops them.
        app.deliver(channel, &frame, except);
        pubsub::broadcast_remote(&self.shared, app, channel, &frame, except).await;
    }

    async fn subscribed(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        socket: SocketId,
    ) -> Subscriptions {
        match channels::sync(&self.shared, app, channel).await {
            Ok(answer) => answer,
            Err(e) => {
                degraded("subscribe", &e);
                // Without the cluster-wide count no node can decide a webhook.
                Subscriptions {
                    occupancy: Transition::None,
                    ..LocalAdapter.subscribed(app, channel, socket).await
                }
            }
        }
    }

    async fn unsubscribed(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        socket: SocketId,
    ) -> Subscriptions {
        match channels::sync(&self.shared, app, channel).await {
            Ok(answer) => answer,
            Err(e) => {
                degraded("unsubscribe", &e);
                Subscriptions {
                    occupancy: Transition::None,
                    ..LocalAdapter.unsubscribed(app, channel, socket).await
                }
            }
        }
    }

    async fn presence_joined(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        member: &PresenceMember,
        socket: SocketId,
        first_local_socket: bool,
    ) -> PresenceJoin {
        match presence::sync_member(&self.shared, app, channel, &member.user_id, true).await {
            Ok(sync) if sync.change == Change::Full => PresenceJoin {
                member_added: false,
                webhook: Transition::None,
                presence_data: String::new(),
                full: true,
            },
            Ok(presence::MemberSync {
                change,
                webhook,
                roster: Some(presence_data),
            }) => PresenceJoin {
                member_added: change == Change::Joined,
                webhook,
                presence_data,
                full: false,
            },
            other => {
                if let Err(e) = other {
                    degraded("presence join", &e);
                }
                PresenceJoin {
                    webhook: Transition::None,
                    ..LocalAdapter
                        .presence_joined(app, channel, member, socket, first_local_socket)
                        .await
                }
            }
        }
    }

    async fn presence_left(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        user_id: &str,
        socket: SocketId,
        last_local_socket: bool,
    ) -> PresenceLeave {
        match presence::sync_member(&self.shared, app, channel, user_id, false).await {
            Ok(sync) => PresenceLeave {
                member_removed: sync.change == Change::Left,
                webhook: sync.webhook,
            },
            Err(e) => {
                degraded("presence leave", &e);
                // The frame still goes to local members; no node can decide the webhook.
                PresenceLeave {
                    webhook: Transition::None,
                    ..LocalAdapter
                        .presence_left(app, channel, user_id, socket, last_local_socket)
                        .await
                }
            }
        }
    }

    async fn subscription_count(&self, app: &Arc<AppHub>, channel: &str) -> usize {
        match channels::count(&self.shared, app, channel).await {
            Ok(answer) => answer,
            Err(e) => {
                degraded("subscription_count", &e);
                LocalAdapter.subscription_count(app, channel).await
            }
        }
    }

    async fn user_count(&self, app: &Arc<AppHub>, channel: &str) -> usize {
        match presence::user_count(&self.shared, app, channel).await {
            Ok(answer) => answer,
            Err(e) => {
                degraded("user_count", &e);
                LocalAdapter.user_count(app, channel).await
            }
        }
    }

    async fn presence_user_ids(&self, app: &Arc<AppHub>, channel: &str) -> Vec<String> {
        match presence::user_ids(&self.shared, app, channel).await {
            Ok(answer) => answer,
            Err(e) => {
                degraded("presence users", &e);
                LocalAdapter.presence_user_ids(app, channel).await
            }
        }
    }

    async fn presence_data(&self, app: &Arc<AppHub>, channel: &str) -> String {
        match presence::roster(&self.shared, app, channel).await {
            Ok(answer) => answer,
            Err(e) => {
                degraded("presence roster", &e);
                LocalAdapter.presence_data(app, channel).await
            }
        }
    }

    async fn channels(&self, app: &Arc<AppHub>, prefix: &str) -> Vec<ChannelSummary> {
        match channels::list(&self.shared, app, prefix).await {
            Ok(answer) => answer,
            Err(e) => {
                degraded("channels", &e);
                LocalAdapter.channels(app, prefix).await
            }
        }
    }

    async fn user_signed_in(
        &self,
        app: &Arc<AppHub>,
        user_id: &str,
        socket: SocketId,
        first_local: bool,
    ) -> bool {
        match users::sync_user(&self.shared, app, user_id).await {
            Ok(change) => change == 1,
            Err(e) => {
                degraded("sign-in", &e);
                LocalAdapter
                    .user_signed_in(app, user_id, socket, first_local)
                    .await
            }
        }
    }

    async fn user_signed_out(
        &self,
        app: &Arc<AppHub>,
        user_id: &str,
        socket: SocketId,
        last_local: bool,
    ) -> bool {
        match users::sync_user(&self.shared, app, user_id).await {
            Ok(change) => change == -1,
            Err(e) => {
                degraded("sign-out", &e);
                LocalAdapter
                    .user_signed_out(app, user_id, socket, last_local)
                    .await
            }
        }
    }

    async fn online_users(&self, app: &Arc<AppHub>, user_ids: &[String]) -> Vec<String> {
        match users::online(&self.shared, app, user_ids).await {
            Ok(answer) => answer,
            Err(e) => {
                degraded("online users", &e);
                LocalAdapter.online_users(app, user_ids).await
            }
        }
    }

    async fn notify_watchers(&self, app: &Arc<AppHub>, user_id: &str, frame: Frame) {
        LocalAdapter
            .notify_watchers(app, user_id, frame.clone())
            .await;
        pubsub::control_remote(
            &self.shared,
            app,
            Kind::Watchers,
            user_id,
            frame.as_str().as_bytes(),
        )
        .await;
    }

    async fn terminate_user(&self, app: &Arc<AppHub>, user_id: &str) {
        LocalAdapter.terminate_user(app, user_id).await;
        pubsub::control_remote(&self.shared, app, Kind::Terminate, user_id, b"").await;
    }

    async fn connection_opened(&self, app: &Arc<AppHub>) -> bool {
        match quota::sync(&self.shared, app).await {
            Ok(Some(total)) => total <= app.config.max_connections.unwrap_or(u32::MAX) as usize,
            Ok(None) => true,
            // The hub's per-node quota already applied; without Redis that is all we know.
            Err(e) => {
                degraded("connection quota", &e);
                LocalAdapter.connection_opened(app).await
            }
        }
    }

    async fn connection_closed(&self, app: &Arc<AppHub>) {
        if let Err(e) = quota::sync(&self.shared, app).await {
            degraded("connection quota", &e);
        }
    }

    async fn cache_set(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        event: &str,
        data: &str,
        ttl: Duration,
    ) {
        LocalAdapter.cache_set(app, channel, event, data, ttl).await;
        let key = self.shared.keys.cache(&app.config.id, channel);
        let value = serde_json::json!({ "event": event, "data": data }).to_string();
        let ttl_ms = ttl.as_millis() as u64;
        let stored = self
            .shared
            .link
            .call(|mut c| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("PX")
                    .arg(ttl_ms)
                    .exec_async(&mut c)
                    .await
            })
            .await;
        if let Err(e) = stored {
            degraded("cache set", &e);
        }
    }

    async fn cache_get(&self, app: &Arc<AppHub>, channel: &str) -> Option<CachedEvent> {
        let key = self.shared.keys.cache(&app.config.id, channel);
        let found = self
            .shared
            .link
            .call(|mut c| async move {
                redis::pipe()
                    .cmd("GET")
                    .arg(&key)
                    .cmd("PTTL")
                    .arg(&key)
                    .query_async::<(Option<String>, i64)>(&mut c)
                    .await
            })
            .await;
        match found {
            Ok((Some(raw), ttl_ms)) if ttl_ms > 0 => {
                #[derive(serde::Deserialize)]
                struct Stored {
                    event: String,
                    data: String,
                }
                let stored: Stored = serde_json::from_str(&raw).ok()?;
                Some(CachedEvent {
                    event: stored.event,
                    data: stored.data,
                    expires_at: Instant::now() + Duration::from_millis(ttl_ms as u64),
                })
            }
            Ok(_) => None,
            Err(e) => {
                degraded("cache get", &e);
                LocalAdapter.cache_get(app, channel).await
            }
        }
    }

    fn is_healthy(&self) -> bool {
        self.shared.link.is_healthy()
    }

    fn health_reason(&self) -> Option<String> {
        (!self.shared.link.is_healthy()).then(|| self.shared.link.reason())
    }

    async fn shutdown(&self) {
        let shared = &self.shared;
        shared.token.cancel();
        shared.tasks.close();
        if tokio::time::timeout(STOP_WAIT, shared.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(message = "Cluster background tasks did not stop in time.");
        }
        // Withdraw: drop the heartbeat, then remove whatever share is left (sockets whose
        // cleanup could not reach Redis), announcing members who thereby leave.
        let hb = shared.keys.heartbeat(&shared.instance);
        let withdrawn = async {
            shared
                .link
                .call(|mut c| async move { redis::cmd("DEL").arg(hb).exec_async(&mut c).await })
                .await?;
            reaper::reap(shared, &shared.instance).await
        }
        .await;
        match withdrawn {
            Ok(()) => tracing::info!(message = "Left the cluster.", instance = %shared.instance),
            Err(error) => tracing::warn!(
                message = "Could not withdraw from the cluster; the survivors' reaper will remove this node's state.",
                %error,
            ),
        }
    }
}
