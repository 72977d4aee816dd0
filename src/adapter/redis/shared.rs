//! What every part of the Redis adapter shares: the node's identity in the cluster, the
//! link, the key names, the scripts, the locks and the background tasks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::keys::Keys;
use super::link::Link;
use super::locks::KeyedLocks;
use super::scripts::Scripts;
use crate::hub::Hub;
use crate::webhooks::Webhooks;

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
    /// Where the reaper and the rebuild report the webhooks they decide.
    pub webhooks: Webhooks,
    /// Lifetime of a held-webhook key: longer than any sender takes to confirm it.
    pub held_ttl_ms: u64,
    /// Numbers this instance's hold tokens.
    pub held_seq: AtomicU64,
}

impl Shared {
    /// A token naming one held webhook of this instance, unique cluster-wide.
    pub fn hold_token(&self) -> String {
        format!(
            "{}:{}",
            self.instance,
            self.held_seq.fetch_add(1, Ordering::Relaxed)
        )
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("instance", &self.instance)
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}
