//! What every part of the Redis adapter shares: the node's identity in the cluster, the
//! link, the key names, the scripts, the locks and the background tasks.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::keys::Keys;
use super::link::Link;
use super::locks::KeyedLocks;
use super::scripts::Scripts;
use crate::hub::Hub;

/// Everything the adapter's parts share.
pub struct Shared {
    /// This process's id in the cluster: the node id plus a random suffix, so a node that
    /// restarts under the same id is never mistaken for its dead predecessor.
    pub instance: String,
    pub node_id: String,
    pub keys: Keys,
    pub hub: Arc<Hub>,
    pub link: Link,
    pub scripts: Scripts,
    /// Per channel: the connection generation its topic is subscribed on (0: none).
    pub channel_locks: KeyedLocks<u64>,
    pub user_locks: KeyedLocks<()>,
    /// Per app with a connection quota.
    pub connection_locks: KeyedLocks<()>,
    pub heartbeat: Duration,
    pub node_timeout: Duration,
    pub token: CancellationToken,
    pub tasks: TaskTracker,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("instance", &self.instance)
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}
