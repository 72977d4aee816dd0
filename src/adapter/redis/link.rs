//! The link to Redis: the node's two connections — one for commands and publishing, one
//! that holds the sharded subscriptions and receives their messages as RESP3 pushes — and
//! their health. Every other part of the adapter makes its calls through it; `supervisor.rs`
//! connects it and reconnects it when it is lost.
//!
//! Losing Redis never blocks local work: while no connection is installed every call fails
//! at once with [`LinkError::Down`], and every call that is made has a deadline.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, IntoConnectionInfo, ProtocolVersion, RedisError};
use tokio::sync::Notify;

/// Longest any single Redis call may take before the caller gives up on it.
pub const OP_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a Redis call did not happen or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("not connected to Redis")]
    Down,
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Redis error: {0}")]
    Redis(#[from] RedisError),
}

/// The installed connections, cloned out for each call (a clone is a handle to the same
/// multiplexed connection).
#[derive(Clone)]
pub struct Conns {
    pub cmd: MultiplexedConnection,
    pub sub: MultiplexedConnection,
    /// Which connect this is; subscriptions made on an older one are gone.
    pub generation: u64,
}

/// Connection state shared by every part of the adapter.
pub struct Link {
    client: redis::Client,
    /// The URL with any password masked, for logs.
    url: String,
    // A std lock: it is only held to clone or swap the handles, never across an `.await`.
    conns: RwLock<Option<Conns>>,
    generation: AtomicU64,
    /// Highest generation known to be lost.
    lost_generation: AtomicU64,
    healthy: AtomicBool,
    reason: Mutex<String>,
    lost: Notify,
    rebuild: Notify,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("url", &self.url)
            .field("generation", &self.generation)
            .field("healthy", &self.healthy)
            .finish_non_exhaustive()
    }
}

impl Link {
    /// Parses the URL (so a bad one is refused before anything binds); connects later.
    pub fn new(url: &str) -> Result<Self, RedisError> {
        let info = url.into_connection_info()?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(settings))?;
        Ok(Self {
            client,
            url: mask_password(url),
            conns: RwLock::new(None),
            generation: AtomicU64::new(0),
            lost_generation: AtomicU64::new(0),
            healthy: AtomicBool::new(false),
            reason: Mutex::new("connecting to Redis".to_owned()),
            lost: Notify::new(),
            rebuild: Notify::new(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The current connections, or `Down`.
    pub fn conns(&self) -> Result<Conns, LinkError> {
        self.conns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(LinkError::Down)
    }

    pub fn is_connected(&self) -> bool {
        self.conns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// The generation of the installed connections (0 before the first connect).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    pub fn reason(&self) -> String {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_healthy(&self) {
        self.healthy.store(true, Ordering::SeqCst);
    }

    pub fn set_unhealthy(&self, reason: String) {
        self.healthy.store(false, Ordering::SeqCst);
        *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = reason;
    }

    /// Reports that the connections of `generation` are broken; the supervisor reconnects.
    pub fn mark_lost(&self, generation: u64) {
        if generation == 0 {
            return;
        }
        let previous = self.lost_generation.fetch_max(generation, Ordering::SeqCst);
        if previous < generation && generation == self.generation() {
            self.lost.notify_one();
        }
    }

    pub fn is_lost(&self, generation: u64) -> bool {
        self.lost_generation.load(Ordering::SeqCst) >= generation
    }

    /// Resolves when a connection is reported lost.
    pub async fn lost(&self) {
        self.lost.notified().await;
    }

    /// Resolves when a rebuild is requested.
    pub async fn rebuild_requested(&self) {
        self.rebuild.notified().await;
    }

    /// Asks the supervisor to rebuild this node's share of the state (the heartbeat found
    /// that it had expired, so a reaper may have removed it).
    pub fn request_rebuild(&self) {
        self.rebuild.notify_one();
    }

    /// Runs one command on the command connection, with a deadline. Connection-level
    /// failures mark the link lost.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, LinkError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let conns = self.conns()?;
        self.guard(conns.generation, f(conns.cmd)).await
    }

    /// Applies the deadline and the lost-connection check to a call already made.
    pub async fn guard<T>(
        &self,
        generation: u64,
        call: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, LinkError> {
        match tokio::time::timeout(OP_TIMEOUT, call).await {
            Err(_) => Err(LinkError::Timeout(OP_TIMEOUT)),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error() {
                    self.mark_lost(generation);
                }
                Err(LinkError::Redis(e))
            }
        }
    }

    /// Opens both connections as `generation`; pushes (sharded-subscription messages)
    /// arriving on the second one are handed to `on_push` inside the connection's reader.
    pub async fn connect(
        &self,
        generation: u64,
        on_push: impl Fn(redis::PushInfo) + Send + Sync + 'static,
    ) -> Result<Conns, RedisError> {
        let base = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT));
        let cmd = self
            .client
            .get_multiplexed_async_connection_with_config(&base)
            .await?;
        let push = move |info: redis::PushInfo| -> Result<(), std::convert::Infallible> {
            on_push(info);
            Ok(())
        };
        let sub = self
            .client
            .get_multiplexed_async_connection_with_config(&base.set_push_sender(push))
            .await?;
        Ok(Conns {
            cmd,
            sub,
            generation,
        })
    }

    pub fn install(&self, conns: Option<Conns>) {
        let mut slot = self.conns.write().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = &conns {
            self.generation.store(c.generation, Ordering::SeqCst);
        }
        *slot = conns;
    }
}

/// `redis://user:secret@host` → `redis://user:***@host`.
fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(
            super::mask_password("redis://u:pw@h:6379/0"),
            "redis://u:***@h:6379/0"
        );
        assert_eq!(
            super::mask_password("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }
}
