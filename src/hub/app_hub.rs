//! Everything one app has live on this node: connections, channels (a sharded concurrent
//! map), signed-in users and cached events. Every method is synchronous: map guards are
//! never held across an `.await`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use herald_protocol::frame;
use serde_json::value::RawValue;

use super::channel::{Channel, Subscriber};
use super::presence::Roster;
use super::{ConnectionHandle, Frame, SocketId};
use crate::config::AppConfig;
use crate::metrics::METRICS;

/// A presence member as declared in `channel_data`.
#[derive(Debug, Clone)]
pub struct PresenceMember {
    pub user_id: String,
    pub user_info: Option<Box<RawValue>>,
}

/// What a subscription changed.
#[derive(Debug, Default)]
pub struct Subscribed {
    /// Local subscribers after the change.
    pub subscription_count: usize,
    /// The channel had no local subscribers before.
    pub first_on_node: bool,
    /// Presence only: this is the user's first socket on this node.
    pub member_added: bool,
    /// Presence only: the roster is full, nothing changed.
    pub presence_full: bool,
}

/// What an unsubscription changed.
#[derive(Debug, Default)]
pub struct Unsubscribed {
    /// Whether the socket was subscribed at all.
    pub was_subscribed: bool,
    pub subscription_count: usize,
    /// The channel has no local subscribers any more.
    pub vacated_on_node: bool,
    /// Presence only: the user whose last socket on this node left.
    pub member_removed: Option<Arc<str>>,
}

/// A channel's summary for the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSummary {
    pub name: String,
    pub subscription_count: usize,
    /// Presence channels only.
    pub user_count: Option<usize>,
}

/// The last event triggered on a cache channel.
#[derive(Debug, Clone)]
pub struct CachedEvent {
    pub event: String,
    pub data: String,
    pub expires_at: Instant,
}

/// One app's live state on this node.
#[derive(Debug)]
pub struct AppHub {
    pub config: Arc<AppConfig>,
    channels: DashMap<String, Channel>,
    connections: DashMap<SocketId, ConnectionHandle>,
    /// Signed-in users → their sockets on this node.
    users: DashMap<String, Vec<ConnectionHandle>>,
    /// Watched user id → sockets watching it.
    watchers: DashMap<String, Vec<ConnectionHandle>>,
    cache: DashMap<String, CachedEvent>,
}

impl AppHub {
    pub fn new(config: Arc<AppConfig>) -> Self {
        Self {
            config,
            channels: DashMap::new(),
            connections: DashMap::new(),
            users: DashMap::new(),
            watchers: DashMap::new(),
            cache: DashMap::new(),
        }
    }

    // ---- connections -------------------------------------------------------------------

    /// Registers a connection under a socket id no live connection has. Returns the handle
    /// and inbox, or `None` when the app's connection quota is reached.
    pub fn connect(
        &self,
        queue_capacity: usize,
    ) -> Option<(ConnectionHandle, super::ConnectionInbox)> {
        if let Some(max) = self.config.max_connections {
            if self.connections.len() >= max as usize {
                return None;
            }
        }
        loop {
            let id = SocketId::random();
            if let Entry::Vacant(slot) = self.connections.entry(id) {
                let (handle, inbox) = ConnectionHandle::new(id, queue_capacity);
                slot.insert(handle.clone());
                return Some((handle, inbox));
            }
        }
    }

    pub fn disconnect(&self, socket_id: SocketId) {
        self.connections.remove(&socket_id);
    }

    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    /// Occupied channels on this node (empty channels are removed from the map at once).
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Whether `channel` has subscribers on this node.
    pub fn has_channel(&self, channel: &str) -> bool {
        self.channels.contains_key(channel)
    }

    pub fn connections(&self) -> Vec<ConnectionHandle> {
        self.connections.iter().map(|c| c.value().clone()).collect()
    }

    // ---- channels ----------------------------------------------------------------------

    /// Adds `handle` to `channel`, joining the presence roster when `member` is given.
    pub fn subscribe(
        &self,
        channel: &str,
        handle: &ConnectionHandle,
        member: Option<PresenceMember>,
    ) -> Subscribed {
        let mut entry = self.channels.entry(channel.to_owned()).or_default();
        let ch = entry.value_mut();
        let first_on_node = ch.is_empty();
        let mut out = Subscribed::default();
        let socket_id = handle.socket_id();
        let user_id = match member {
            Some(member) => {
                let roster = ch.roster.get_or_insert_with(Roster::default);
                if !roster.contains(&member.user_id)
                    && roster.user_count() >= self.config.max_presence_members
                {
                    out.presence_full = true;
                    out.subscription_count = ch.subscribers.len();
                    drop(entry);
                    self.remove_if_empty(channel);
                    return out;
                }
                out.member_added = roster.join(&member.user_id, member.user_info, socket_id);
                Some(Arc::<str>::from(member.user_id))
            }
            None => None,
        };
        ch.subscribers.insert(
            socket_id,
            Subscriber {
                handle: handle.clone(),
                user_id,
            },
        );
        out.first_on_node = first_on_node;
        out.subscription_count = ch.subscribers.len();
        out
    }

    /// Removes a socket from a channel.
    pub fn unsubscribe(&self, channel: &str, socket_id: SocketId) -> Unsubscribed {
        let mut out = Unsubscribed::default();
        let Some(mut entry) = self.channels.get_mut(channel) else {
            return out;
        };
        let ch = entry.value_mut();
        if let Some(sub) = ch.subscribers.remove(&socket_id) {
            out.was_subscribed = true;
            if let (Some(user_id), Some(roster)) = (sub.user_id, ch.roster.as_mut()) {
                if roster.leave(&user_id, socket_id) {
                    out.member_removed = Some(user_id);
                }
            }
        }
        out.subscription_count = ch.subscribers.len();
        out.vacated_on_node = out.was_subscribed && ch.is_empty();
        drop(entry);
        if out.vacated_on_node {
            self.remove_if_empty(channel);
        }
        out
    }

    fn remove_if_empty(&self, channel: &str) {
        self.channels.remove_if(channel, |_, ch| ch.is_empty());
    }

    /// Queues `frame` for every local subscriber of `channel` except `except`.
    pub fn deliver(&self, channel: &str, frame: &Frame, except: Option<SocketId>) -> usize {
        let delivered = self
            .channels
            .get(channel)
            .map_or(0, |ch| ch.deliver(frame, except));
        METRICS.broadcasts.inc();
        METRICS.frames_delivered.add(delivered as u64);
        delivered
    }

    pub fn subscription_count(&self, channel: &str) -> usize {
        self.channels
            .get(channel)
            .map_or(0, |c| c.subscribers.len())
    }

    pub fn user_count(&self, channel: &str) -> usize {
        self.channels
            .get(channel)
            .and_then(|c| c.roster.as_ref().map(Roster::user_count))
            .unwrap_or(0)
    }

    /// Presence user ids on this node.
    pub fn presence_user_ids(&self, channel: &str) -> Vec<String> {
        self.channels
            .get(channel)
            .and_then(|c| {
                c.roster
                    .as_ref()
                    .map(|r| r.user_ids().map(str::to_owned).collect())
            })
            .unwrap_or_default()
    }

    /// How many sockets `user_id` has in presence `channel` on this node, and the
    /// `user_info` it joined with (`None` when the user is not a member here).
    pub fn presence_member(
        &self,
        channel: &str,
        user_id: &str,
    ) -> Option<(usize, Option<Box<RawValue>>)> {
        let ch = self.channels.get(channel)?;
        let member = ch.roster.as_ref()?.member(user_id)?;
        Some((member.socket_count(), member.info.clone()))
    }

    /// Names of the channels with local subscribers.
    pub fn channel_names(&self) -> Vec<String> {
        self.channels.iter().map(|e| e.key().clone()).collect()
    }

    /// `subscription_succeeded` data of a presence channel's current roster.
    pub fn presence_data(&self, channel: &str) -> String {
        let ch = self.channels.get(channel);
        let roster = ch.as_ref().and_then(|c| c.roster.as_ref());
        match roster {
            Some(r) => r.subscription_data(),
            None => frame::presence_data(std::iter::empty()),
        }
    }

    /// Occupied channels whose name starts with `prefix`.
    pub fn channel_summaries(&self, prefix: &str) -> Vec<ChannelSummary> {
        self.channels
            .iter()
            .filter(|e| e.key().starts_with(prefix) && !e.value().is_empty())
            .map(|e| ChannelSummary {
                name: e.key().clone(),
                subscription_count: e.value().subscribers.len(),
                user_count: e.value().roster.as_ref().map(Roster::user_count),
            })
            .collect()
    }

    // ---- signed-in users and watchlists -------------------------------------------------

    /// Records that `handle` signed in as `user_id`. Returns true when this is the user's
    /// first signed-in socket on this node (they just came online).
    pub fn sign_in(&self, user_id: &str, handle: &ConnectionHandle) -> bool {
        let mut sockets = self.users.entry(user_id.to_owned()).or_default();
        let first = sockets.is_empty();
        if !sockets.iter().any(|h| h.is_same(handle)) {
            sockets.push(handle.clone());
        }
        first
    }

    /// Forgets a signed-in socket. Returns true when it was the user's last one here.
    pub fn sign_out(&self, user_id: &str, socket_id: SocketId) -> bool {
        let Some(mut sockets) = self.users.get_mut(user_id) else {
            return false;
        };
        sockets.retain(|h| h.socket_id() != socket_id);
        let last = sockets.is_empty();
        drop(sockets);
        if last {
            self.users.remove_if(user_id, |_, s| s.is_empty());
        }
        last
    }

    pub fn user_connections(&self, user_id: &str) -> Vec<ConnectionHandle> {
        self.users
            .get(user_id)
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Sockets signed in as `user_id` on this node.
    pub fn user_socket_count(&self, user_id: &str) -> usize {
        self.users.get(user_id).map_or(0, |s| s.len())
    }

    /// Users with at least one signed-in socket on this node.
    pub fn signed_in_user_ids(&self) -> Vec<String> {
        self.users.iter().map(|e| e.key().clone()).collect()
    }

    pub fn is_user_online(&self, user_id: &str) -> bool {
        self.users.get(user_id).is_some_and(|s| !s.is_empty())
    }

    pub fn watch(&self, watched: &str, watcher: &ConnectionHandle) {
        self.watchers
            .entry(watched.to_owned())
            .or_default()
            .push(watcher.clone());
    }

    pub fn unwatch(&self, watched: &str, socket_id: SocketId) {
        if let Some(mut list) = self.watchers.get_mut(watched) {
            list.retain(|h| h.socket_id() != socket_id);
            let empty = list.is_empty();
            drop(list);
            if empty {
                self.watchers.remove_if(watched, |_, l| l.is_empty());
            }
        }
    }

    pub fn watchers_of(&self, user_id: &str) -> Vec<ConnectionHandle> {
        self.watchers
            .get(user_id)
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    // ---- cache channels ------------------------------------------------------------------

    pub fn cache_event(&self, channel: &str, event: &str, data: &str, ttl: Duration) {
        self.cache.insert(
            channel.to_owned(),
            CachedEvent {
                event: event.to_owned(),
                data: data.to_owned(),
                expires_at: Instant::now() + ttl,
            },
        );
    }

    /// The cached event of a channel, if one is still fresh.
    pub fn cached_event(&self, channel: &str) -> Option<CachedEvent> {
        let now = Instant::now();
        let hit = self
            .cache
            .get(channel)
            .filter(|c| c.expires_at > now)
            .map(|c| c.clone());
        if hit.is_none() {
            self.cache.remove_if(channel, |_, c| c.expires_at <= now);
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> AppHub {
        AppHub::new(Arc::new(AppConfig::new("1", "k", "s")))
    }

    #[test]
    fn subscribe_and_unsubscribe_keep_counts_and_free_empty_channels() {
        let hub = hub();
        let (a, _ia) = hub.connect(8).unwrap();
        let (b, _ib) = hub.connect(8).unwrap();
        assert!(hub.subscribe("audit-channel", &a, None).first_on_node);
        assert_eq!(
            hub.subscribe("audit-channel", &b, None).subscription_count,
            2
        );
        assert_eq!(hub.subscription_count("audit-channel"), 2);
        assert!(
            !hub.unsubscribe("audit-channel", a.socket_id())
                .vacated_on_node
        );
        let out = hub.unsubscribe("audit-channel", b.socket_id());
        assert!(out.vacated_on_node);
        assert!(hub.channel_summaries("").is_empty());
        assert_eq!(hub.channel_count(), 0);
        assert!(
            !hub.unsubscribe("audit-channel", b.socket_id())
                .was_subscribed
        );
    }

    #[test]
    fn deliver_skips_the_excluded_socket() {
        let hub = hub();
        let (a, mut ia) = hub.connect(8).unwrap();
        let (b, mut ib) = hub.connect(8).unwrap();
        hub.subscribe("c", &a, None);
        hub.subscribe("c", &b, None);
        assert_eq!(hub.deliver("c", &Frame::from("x"), Some(a.socket_id())), 1);
        assert!(ia.frames.try_recv().is_err());
        assert_eq!(ib.frames.try_recv().unwrap().as_str(), "x");
    }

    #[test]
    fn presence_roster_is_bounded() {
        let mut config = AppConfig::new("1", "k", "s");
        config.max_presence_members = 1;
        let hub = AppHub::new(Arc::new(config));
        let (a, _ia) = hub.connect(8).unwrap();
        let (b, _ib) = hub.connect(8).unwrap();
        let m = |id: &str| {
            Some(PresenceMember {
                user_id: id.into(),
                user_info: None,
            })
        };
        assert!(hub.subscribe("presence-x", &a, m("1")).member_added);
        let full = hub.subscribe("presence-x", &b, m("2"));
        assert!(full.presence_full);
        assert_eq!(hub.subscription_count("presence-x"), 1);
        // The same user may add sockets even when the roster is full.
        assert!(!hub.subscribe("presence-x", &b, m("1")).presence_full);
    }

    #[test]
    fn connection_quota() {
        let mut config = AppConfig::new("1", "k", "s");
        config.max_connections = Some(1);
        let hub = AppHub::new(Arc::new(config));
        let (a, _ia) = hub.connect(8).unwrap();
        assert!(hub.connect(8).is_none());
        hub.disconnect(a.socket_id());
        assert!(hub.connect(8).is_some());
    }
}
