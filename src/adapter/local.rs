//! Single-node adapter: the cluster is this node, so every question is answered by the hub.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use herald_protocol::CloseCode;

use super::{Adapter, PresenceJoin, PresenceLeave, Subscriptions, Transition};
use crate::hub::{AppHub, CachedEvent, ChannelSummary, Frame, PresenceMember, SocketId};

/// The adapter used when no Redis is configured.
#[derive(Debug, Default)]
pub struct LocalAdapter;

/// Close reason sent to sockets of a user terminated through the HTTP API.
const TERMINATED_REASON: &str = "You got disconnected by the app.";

#[async_trait]
impl Adapter for LocalAdapter {
    async fn publish(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        frame: Frame,
        except: Option<SocketId>,
    ) {
        app.deliver(channel, &frame, except);
    }

    async fn subscribed(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        _socket: SocketId,
    ) -> Subscriptions {
        let count = app.subscription_count(channel);
        Subscriptions {
            count,
            occupancy: if count == 1 {
                Transition::Began
            } else {
                Transition::None
            },
        }
    }

    async fn unsubscribed(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        _socket: SocketId,
    ) -> Subscriptions {
        let count = app.subscription_count(channel);
        Subscriptions {
            count,
            occupancy: if count == 0 {
                Transition::Ended { claim: None }
            } else {
                Transition::None
            },
        }
    }

    async fn presence_joined(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        _member: &PresenceMember,
        _socket: SocketId,
        first_local_socket: bool,
    ) -> PresenceJoin {
        // The hub already enforced the member limit: this node is the whole cluster.
        PresenceJoin {
            member_added: first_local_socket,
            webhook: if first_local_socket {
                Transition::Began
            } else {
                Transition::None
            },
            presence_data: app.presence_data(channel),
            full: false,
        }
    }

    async fn presence_left(
        &self,
        _app: &Arc<AppHub>,
        _channel: &str,
        _user_id: &str,
        _socket: SocketId,
        last_local_socket: bool,
    ) -> PresenceLeave {
        PresenceLeave {
            member_removed: last_local_socket,
            webhook: if last_local_socket {
                Transition::Ended { claim: None }
            } else {
                Transition::None
            },
        }
    }

    async fn subscription_count(&self, app: &Arc<AppHub>, channel: &str) -> usize {
        app.subscription_count(channel)
    }

    async fn user_count(&self, app: &Arc<AppHub>, channel: &str) -> usize {
        app.user_count(channel)
    }

    async fn presence_user_ids(&self, app: &Arc<AppHub>, channel: &str) -> Vec<String> {
        app.presence_user_ids(channel)
    }

    async fn channels(&self, app: &Arc<AppHub>, prefix: &str) -> Vec<ChannelSummary> {
        app.channel_summaries(prefix)
    }

    async fn user_signed_in(
        &self,
        _app: &Arc<AppHub>,
        _user_id: &str,
        _socket: SocketId,
        first_local: bool,
    ) -> bool {
        first_local
    }

    async fn user_signed_out(
        &self,
        _app: &Arc<AppHub>,
        _user_id: &str,
        _socket: SocketId,
        last_local: bool,
    ) -> bool {
        last_local
    }

    async fn online_users(&self, app: &Arc<AppHub>, user_ids: &[String]) -> Vec<String> {
        user_ids
            .iter()
            .filter(|u| app.is_user_online(u))
            .cloned()
            .collect()
    }

    async fn notify_watchers(&self, app: &Arc<AppHub>, user_id: &str, frame: Frame) {
        notify_local_watchers(app, user_id, &frame);
    }

    async fn terminate_user(&self, app: &Arc<AppHub>, user_id: &str) {
        terminate_local(app, user_id);
    }

    async fn presence_data(&self, app: &Arc<AppHub>, channel: &str) -> String {
        app.presence_data(channel)
    }

    async fn connection_opened(&self, _app: &Arc<AppHub>) -> bool {
        // The hub's per-node quota, already applied, is the whole cluster's.
        true
    }

    async fn connection_closed(&self, _app: &Arc<AppHub>) {}

    async fn cache_set(
        &self,
        app: &Arc<AppHub>,
        channel: &str,
        event: &str,
        data: &str,
        ttl: Duration,
    ) {
        app.cache_event(channel, event, data, ttl);
    }

    async fn cache_get(&self, app: &Arc<AppHub>, channel: &str) -> Option<CachedEvent> {
        app.cached_event(channel)
    }

    fn is_healthy(&self) -> bool {
        true
    }

    fn health_reason(&self) -> Option<String> {
        None
    }

    async fn shutdown(&self) {}
}

/// Queues `frame` to this node's sockets watching `user_id` (the Redis adapter also calls
/// this for watchlist changes announced by other nodes).
pub(super) fn notify_local_watchers(app: &AppHub, user_id: &str, frame: &Frame) {
    for watcher in app.watchers_of(user_id) {
        watcher.deliver(frame.clone());
    }
}

/// Closes this node's sockets signed in as `user_id`.
pub(super) fn terminate_local(app: &AppHub, user_id: &str) {
    for conn in app.user_connections(user_id) {
        conn.close(CloseCode::Unauthorized, TERMINATED_REASON);
    }
}
