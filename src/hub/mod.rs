//! The local hub: every app's live connections and channels on this node, and the
//! non-blocking fan-out of pre-encoded frames to them. The hub never does I/O: it only
//! queues frames for connection tasks.

mod app_hub;
mod channel;
mod connection;
pub mod presence;
mod socket_id;

use std::collections::HashMap;
use std::sync::Arc;

pub use app_hub::{AppHub, CachedEvent, ChannelSummary, PresenceMember, Subscribed, Unsubscribed};
pub use connection::{CloseRequest, CloseWatch, ConnectionHandle, ConnectionInbox};
pub use socket_id::{InvalidSocketId, SocketId};

use crate::config::AppConfig;

/// An encoded server frame. Cloning shares the bytes (a reference-count increment), so a
/// broadcast encodes once and every recipient gets the same buffer.
pub type Frame = axum::extract::ws::Utf8Bytes;

/// All apps' hubs, looked up by id or key.
#[derive(Debug)]
pub struct Hub {
    by_id: HashMap<String, Arc<AppHub>>,
    by_key: HashMap<String, Arc<AppHub>>,
}

impl Hub {
    pub fn new(apps: &[AppConfig]) -> Self {
        let mut by_id = HashMap::new();
        let mut by_key = HashMap::new();
        for app in apps {
            let hub = Arc::new(AppHub::new(Arc::new(app.clone())));
            by_id.insert(app.id.clone(), hub.clone());
            by_key.insert(app.key.clone(), hub);
        }
        Self { by_id, by_key }
    }

    pub fn app(&self, id: &str) -> Option<&Arc<AppHub>> {
        self.by_id.get(id)
    }

    pub fn app_by_key(&self, key: &str) -> Option<&Arc<AppHub>> {
        self.by_key.get(key)
    }

    pub fn apps(&self) -> impl Iterator<Item = &Arc<AppHub>> {
        self.by_id.values()
    }

    /// Connections across all apps on this node.
    pub fn connection_count(&self) -> usize {
        self.by_id.values().map(|a| a.connection_count()).sum()
    }
}
