//! Removing dead nodes' state. Every node runs a reaper; each sweep, whoever takes the
//! short-lived lock looks for registered instances whose heartbeat has expired and, per app,
//! removes their subscription counts, presence sockets and signed-in users in one script,
//! then tells the survivors' sockets: `member_removed` for users who thereby left a
//! presence channel, watchlist `offline` for users who went offline. The reaping node
//! also emits the `member_removed` and `channel_vacated` webhooks the death caused (held
//! like any other, so members who reconnected elsewhere in the meantime cancel them).
//!
//! Bound: a node that dies is reaped at most `node_timeout + redis_heartbeat` later (plus
//! `2 × redis_heartbeat` if it held the reaper lock when it died).

use std::sync::Arc;

use herald_protocol::frame::{self, Watch};
use redis::Value;

use super::channels::transition_of;
use super::envelope::Kind;
use super::link::LinkError;
use super::pubsub;
use super::shared::Shared;
use super::values::as_strings;
use crate::adapter::local::notify_local_watchers;
use crate::hub::Frame;

/// Sweeps every `redis_heartbeat` until shutdown.
pub async fn run(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(shared.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shared.token.cancelled() => return,
            _ = tick.tick() => {}
        }
        if !shared.link.is_healthy() {
            continue;
        }
        if let Err(error) = sweep(&shared).await {
            tracing::debug!(message = "Reaper sweep failed; retrying next beat.", %error);
        }
    }
}

async fn sweep(shared: &Shared) -> Result<(), LinkError> {
    let lock = shared.keys.reaper_lock();
    let lock_ms = (shared.heartbeat.as_millis() as u64) * 2;
    let me = shared.instance.clone();
    let took: Option<String> = shared
        .link
        .call(|mut c| async move {
            redis::cmd("SET")
                .arg(lock)
                .arg(me)
                .arg("NX")
                .arg("PX")
                .arg(lock_ms)
                .query_async(&mut c)
                .await
        })
        .await?;
    if took.is_none() {
        return Ok(());
    }
    let instances_key = shared.keys.instances();
    let instances: Vec<String> = shared
        .link
        .call(|mut c| async move {
            redis::cmd("SMEMBERS")
                .arg(instances_key)
                .query_async(&mut c)
                .await
        })
        .await?;
    for instance in instances {
        if instance == shared.instance {
            continue;
        }
        let hb = shared.keys.heartbeat(&instance);
        let alive: bool = shared
            .link
            .call(|mut c| async move { redis::cmd("EXISTS").arg(hb).query_async(&mut c).await })
            .await?;
        if !alive {
            reap(shared, &instance).await?;
        }
    }
    Ok(())
}

/// Removes `instance`'s share of every app's state (unless its heartbeat is back) and
/// notifies the sockets concerned. Also used by a node on its own way out.
pub async fn reap(shared: &Shared, instance: &str) -> Result<(), LinkError> {
    let mut members = 0;
    let mut users = 0;
    let mut vacated = 0;
    for app in shared.hub.apps() {
        let token = shared.hold_token();
        let mut invocation = shared.scripts.reap.prepare_invoke();
        invocation
            .key(shared.keys.heartbeat(instance))
            .arg(shared.keys.app(&app.config.id))
            .arg(instance)
            .arg(&token)
            .arg(shared.held_ttl_ms);
        let reply: Value = shared
            .link
            .call(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        let Value::Array(parts) = reply else {
            tracing::info!(message = "Node came back before it was reaped.", instance);
            return Ok(());
        };
        let removed = parts.first().map(as_strings).unwrap_or_default();
        let offline = parts.get(1).map(as_strings).unwrap_or_default();
        let emptied = parts.get(2).map(as_strings).unwrap_or_default();
        let id = &app.config.id;
        for pair in removed.chunks_exact(2) {
            let (channel, user_id) = (&pair[0], &pair[1]);
            let frame = Frame::from(frame::member_removed(channel, user_id));
            app.deliver(channel, &frame, None);
            pubsub::broadcast_remote(shared, app, channel, &frame, None).await;
            let held = shared.keys.held_removed(id, channel, user_id);
            shared
                .webhooks
                .membership(id, channel, user_id, &transition_of(-1, &token, &held));
            members += 1;
        }
        for channel in &emptied {
            let held = shared.keys.held_vacated(id, channel);
            shared
                .webhooks
                .occupancy(id, channel, &transition_of(-1, &token, &held));
            vacated += 1;
        }
        for user_id in &offline {
            let frame = Frame::from(frame::watchlist_events(
                Watch::Offline,
                std::slice::from_ref(user_id),
            ));
            notify_local_watchers(app, user_id, &frame);
            pubsub::control_remote(
                shared,
                app,
                Kind::Watchers,
                user_id,
                frame.as_str().as_bytes(),
            )
            .await;
            users += 1;
        }
    }
    let instances_key = shared.keys.instances();
    let gone = instance.to_owned();
    shared
        .link
        .call(|mut c| async move {
            redis::cmd("SREM")
                .arg(instances_key)
                .arg(gone)
                .query_async::<i64>(&mut c)
                .await
        })
        .await?;
    tracing::info!(
        message = "Removed a dead node's share of the cluster state.",
        instance,
        presence_members_removed = members,
        users_offline = users,
        channels_vacated = vacated,
    );
    Ok(())
}
