//! The supervisor: keeps the node connected until shutdown. It connects the link (with
//! backoff), registers the node (heartbeat) and rebuilds its share of the cluster state
//! after every (re)connect, and starts over when the link is lost or the heartbeat finds
//! the share expired.

use std::sync::Arc;
use std::time::Duration;

use super::shared::Shared;
use super::{heartbeat, pubsub, rebuild};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Keeps the node connected until shutdown: connect (with backoff), heartbeat and rebuild,
/// then wait for the connection to be lost or for a rebuild request, and start over.
pub async fn supervise(shared: Arc<Shared>) {
    let link = &shared.link;
    let token = shared.token.clone();
    let mut backoff = BACKOFF_MIN;
    let mut failures: u32 = 0;
    loop {
        let generation = link.generation() + 1;
        let attempt = tokio::select! {
            _ = token.cancelled() => return,
            r = link.connect(generation, on_push(&shared, generation)) => r,
        };
        let conns = match attempt {
            Ok(c) => c,
            Err(error) => {
                failures += 1;
                // `/ready` is unauthenticated: its reason names no host or user (the log does).
                link.set_unhealthy(format!("cannot connect to Redis ({:?})", error.kind()));
                // Say it loudly once, then every so often, so an outage does not flood logs.
                if failures == 1 || failures % 20 == 0 {
                    tracing::warn!(
                        message = "Cannot connect to Redis; local delivery continues, retrying.",
                        url = %link.url(),
                        %error,
                        attempts = failures,
                        retry_in_ms = backoff.as_millis() as u64,
                    );
                }
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        link.install(Some(conns));
        backoff = BACKOFF_MIN;
        failures = 0;
        link.set_unhealthy("rebuilding this node's cluster state in Redis".to_owned());
        tracing::info!(message = "Connected to Redis.", url = %link.url(), generation);

        'connected: loop {
            let rebuilt = tokio::select! {
                _ = token.cancelled() => return,
                r = async {
                    heartbeat::beat(&shared).await?;
                    rebuild::run(&shared).await
                } => r,
            };
            match rebuilt {
                Ok(stats) => {
                    link.set_healthy();
                    tracing::info!(
                        message = "Cluster state rebuilt from the local hub; node ready.",
                        channels = stats.channels,
                        presence_members = stats.members,
                        users = stats.users,
                    );
                }
                Err(error) => {
                    tracing::warn!(message = "Rebuilding cluster state failed; reconnecting.", %error);
                    link.mark_lost(generation);
                }
            }
            loop {
                if link.is_lost(generation) {
                    break 'connected;
                }
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = link.lost() => {}
                    _ = link.rebuild_requested() => {
                        tracing::warn!(message = "This node's heartbeat had expired; rebuilding its cluster state.");
                        continue 'connected;
                    }
                }
            }
        }
        link.install(None);
        link.set_unhealthy("lost the connection to Redis; reconnecting".to_owned());
        tracing::warn!(
            message = "Lost the connection to Redis; delivering locally only until it is back.",
            url = %link.url(),
        );
    }
}

/// Hands sharded-subscription messages to the hub. It runs inside the connection's reader:
/// the hub only queues frames without waiting, so this never stalls the reader. A weak
/// handle, so the connection does not keep the adapter alive.
fn on_push(
    shared: &Arc<Shared>,
    generation: u64,
) -> impl Fn(redis::PushInfo) + Send + Sync + 'static {
    let weak = Arc::downgrade(shared);
    move |info| {
        if let Some(shared) = weak.upgrade() {
            pubsub::on_push(&shared, generation, info);
        }
    }
}
