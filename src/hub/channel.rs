//! One channel on this node: its local subscribers and, for presence channels, its roster.

use std::collections::HashMap;
use std::sync::Arc;

use super::presence::Roster;
use super::{ConnectionHandle, Frame, SocketId};

/// A local subscriber: the connection, and the presence user it joined as (if any).
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub handle: ConnectionHandle,
    pub user_id: Option<Arc<str>>,
}

/// The local state of one channel. Removed from the map as soon as it is empty, so an idle
/// server holds nothing for channels nobody listens to.
#[derive(Debug, Default)]
pub struct Channel {
    pub subscribers: HashMap<SocketId, Subscriber>,
    /// Present only on presence channels.
    pub roster: Option<Roster>,
}

impl Channel {
    /// Queues `frame` for every subscriber except `except`. Returns how many accepted it.
    ///
    /// Each recipient gets a clone of the same shared bytes: no encoding, no allocation.
    pub fn deliver(&self, frame: &Frame, except: Option<SocketId>) -> usize {
        let mut delivered = 0;
        for (id, sub) in &self.subscribers {
            if Some(*id) != except && sub.handle.deliver(frame.clone()) {
                delivered += 1;
            }
        }
        delivered
    }

    pub fn is_empty(&self) -> bool {
        self.subscribers.is_empty()
    }
}
