//! The node's heartbeat: a key with a TTL of `node_timeout`, refreshed every
//! `redis_heartbeat`. While it exists no reaper touches this node's state; if it is ever
//! found missing (Redis was unreachable for longer than the timeout, or restarted), a reaper
//! may have removed this node's share, so the node rebuilds it.

use std::sync::Arc;

use super::link::LinkError;
use super::shared::Shared;

/// Refreshes the heartbeat and registers the instance. Returns whether the heartbeat was
/// still there (false: it had expired, or this is the first beat).
pub async fn beat(shared: &Shared) -> Result<bool, LinkError> {
    let key = shared.keys.heartbeat(&shared.instance);
    let instances = shared.keys.instances();
    let ttl_ms = shared.node_timeout.as_millis() as u64;
    let (previous, _added): (Option<String>, i64) = shared
        .link
        .call(|mut c| async move {
            redis::pipe()
                .cmd("SET")
                .arg(&key)
                .arg(&shared.node_id)
                .arg("PX")
                .arg(ttl_ms)
                .arg("GET")
                .cmd("SADD")
                .arg(&instances)
                .arg(&shared.instance)
                .query_async(&mut c)
                .await
        })
        .await?;
    Ok(previous.is_some())
}

/// Beats every `redis_heartbeat` until shutdown.
pub async fn run(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(shared.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shared.token.cancelled() => return,
            _ = tick.tick() => {}
        }
        // Before the first rebuild of a connection the supervisor beats itself.
        if !shared.link.is_healthy() {
            continue;
        }
        let generation = shared.link.generation();
        match beat(&shared).await {
            Ok(true) => {}
            Ok(false) => shared.link.request_rebuild(),
            Err(error) => {
                tracing::warn!(message = "Heartbeat to Redis failed; reconnecting.", %error);
                shared.link.mark_lost(generation);
            }
        }
    }
}
