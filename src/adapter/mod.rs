//! The boundary between this node's hub and the cluster. Everything that must be true
//! cluster-wide — who receives a broadcast, how many subscribe to a channel, which presence
//! members and signed-in users exist — is asked of an [`Adapter`], never of the hub
//! directly, so a multi-node adapter fits without reshaping the hub or its callers.
//!
//! [`LocalAdapter`] is the single-node implementation: the cluster is this node.
//! [`RedisAdapter`] joins several nodes through Redis (selected by `HERALD_REDIS_URL`).

mod local;
mod redis;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

/// Re-exported: adapters decide transitions, the webhooks report them.
pub use crate::webhooks::Transition;
pub use local::LocalAdapter;
pub use redis::RedisAdapter;

use crate::hub::{AppHub, CachedEvent, ChannelSummary, Frame, PresenceMember, SocketId};

/// A channel's cluster-wide subscription count after a local (un)subscription, and
/// whether that change made the channel occupied or vacant cluster-wide (decided atomically
/// where the count lives, so exactly one node sees each transition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriptions {
    pub count: usize,
    pub occupancy: Transition,
}

/// Outcome of a presence join, decided cluster-wide.
#[derive(Debug, Clone)]
pub struct PresenceJoin {
    /// The user had no socket in the channel anywhere in the cluster before.
    pub member_added: bool,
    /// The `member_added` webhook: `Began` unless the user came back within the hold of
    /// its `member_removed` (then neither is sent).
    pub webhook: Transition,
    /// `subscription_succeeded` data listing the cluster-wide roster.
    pub presence_data: String,
    /// The user is new and the channel already has the most members allowed cluster-wide:
    /// the caller must undo its local join and refuse the subscription.
    pub full: bool,
}

/// Outcome of a presence leave, decided cluster-wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceLeave {
    /// The user has no socket left in the channel anywhere: `member_removed` is due.
    pub member_removed: bool,
    /// The `member_removed` webhook (`Ended`, held), when a node can decide it.
    pub webhook: Transition,
}

/// Cluster-wide channel and user state and delivery.
///
/// Every method is required: an implementation says what each fact means for it, so a new
/// adapter cannot inherit single-node behaviour by omission.
#[async_trait]
pub trait Adapter: Send + Sync + std::fmt::Debug + 'static {
    /// Delivers `frame` to every subscriber of `channel` in the cluster except `except`.
    async fn publish(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        frame: Frame,
        except: Option<SocketId>,
    );

    /// Records a local subscription (already applied to the hub); returns the cluster-wide
    /// subscription count after it.
    async fn subscribed(&self, app: &Arc<AppHub>, channel: &str, socket: SocketId)
    -> Subscriptions;

    /// Records a local unsubscription (already applied to the hub); returns the cluster-wide
    /// subscription count after it.
    async fn unsubscribed(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        socket: SocketId,
    ) -> Subscriptions;

    /// Records a presence join (already applied to the local roster).
    async fn presence_joined(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        member: &PresenceMember,
        socket: SocketId,
        first_local_socket: bool,
    ) -> PresenceJoin;

    /// Records a presence leave (already applied to the local roster).
    async fn presence_left(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        user_id: &str,
        socket: SocketId,
        last_local_socket: bool,
    ) -> PresenceLeave;

    async fn subscription_count(&self, app: &Arc<AppHub>, channel: &str) -> usize;
    async fn user_count(&self, app: &Arc<AppHub>, channel: &str) -> usize;
    async fn presence_user_ids(&self, app: &Arc<AppHub>, channel: &str) -> Vec<String>;
    /// `subscription_succeeded` data listing a presence channel's cluster-wide roster.
    async fn presence_data(&self, app: &Arc<AppHub>, channel: &str) -> String;
    /// Occupied channels whose name starts with `prefix`, cluster-wide.
    async fn channels(&self, app: &Arc<AppHub>, prefix: &str) -> Vec<ChannelSummary>;

    /// Records a signed-in socket (already applied to the hub). Returns true when the user
    /// just came online cluster-wide.
    async fn user_signed_in(
        &self,
        app: &Arc<AppHub>,
        user_id: &str,
        socket: SocketId,
        first_local: bool,
    ) -> bool;
    /// Records a signed-in socket going away. Returns true when the user just went offline
    /// cluster-wide.
    async fn user_signed_out(
        &self,
        app: &Arc<AppHub>,
        user_id: &str,
        socket: SocketId,
        last_local: bool,
    ) -> bool;
    /// Which of `user_ids` are online anywhere in the cluster.
    async fn online_users(&self, app: &Arc<AppHub>, user_ids: &[String]) -> Vec<String>;
    /// Tells every watcher of `user_id`, cluster-wide, that it came online / went offline.
    async fn notify_watchers(&self, app: &Arc<AppHub>, user_id: &str, frame: Frame);
    /// Closes every socket signed in as `user_id`, cluster-wide.
    async fn terminate_user(&self, app: &Arc<AppHub>, user_id: &str);

    /// Records a new local connection (already admitted by the hub's per-node quota).
    /// Returns false when the app's `max_connections` is exceeded cluster-wide: the caller
    /// then refuses it with 4004 and calls [`connection_closed`](Self::connection_closed).
    async fn connection_opened(&self, app: &Arc<AppHub>) -> bool;

    /// Records that a local connection went away (already removed from the hub).
    async fn connection_closed(&self, app: &Arc<AppHub>);

    /// Remembers the last event of a cache channel for `ttl`, cluster-wide.
    async fn cache_set(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        event: &str,
        data: &str,
        ttl: Duration,
    );

    /// The last event of a cache channel, if still fresh, from anywhere in the cluster.
    async fn cache_get(&self, app: &Arc<AppHub>, channel: &str) -> Option<CachedEvent>;

    /// Whether the adapter can reach its backing store.
    fn is_healthy(&self) -> bool;

    /// Why the adapter is not healthy, for `/ready` and the logs.
    fn health_reason(&self) -> Option<String>;

    /// Stops background work and withdraws this node from the cluster. Called once, after
    /// every connection has been closed and cleaned up.
    async fn shutdown(&self);
}
