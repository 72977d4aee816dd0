//! Subscriptions and subscription counts: keeping this node's pub/sub subscription and its
//! share of each channel's count in step with the local hub, and answering the channel
//! queries of the HTTP API from the cluster-wide state.

use std::sync::Arc;

use redis::Value;

use super::link::LinkError;
use super::locks;
use super::pubsub;
use super::shared::Shared;
use super::values::{as_int, as_string};
use crate::adapter::{Subscriptions, Transition};
use crate::hub::{AppHub, ChannelSummary};

/// Brings Redis in line with the local hub for `channel`: subscribes to its topic while it
/// has local subscribers (waiting for the confirmation), unsubscribes once it has none,
/// and stores this node's subscriber count. Returns the cluster-wide count and whether the
/// channel thereby became occupied or vacant cluster-wide.
pub async fn sync(
    shared: &Shared,
    app: &Arc<AppHub>,
    channel: &str,
) -> Result<Subscriptions, LinkError> {
    let key = locks::key(&app.config.id, channel);
    let lock = shared.channel_locks.get(&key);
    let result = async {
        let mut subscribed_gen = lock.lock().await;
        let conns = shared.link.conns()?;
        let local = app.subscription_count(channel);
        let topic = shared.keys.channel_topic(&app.config.id, channel);
        let subscription =
            pubsub::set_subscribed(shared, &conns, topic, local > 0, &mut subscribed_gen);
        let count = set_count(shared, app, channel, local);
        let (subscription, count) = tokio::join!(subscription, count);
        subscription?;
        count
    }
    .await;
    let generation = shared.link.generation();
    shared
        .channel_locks
        .release(&key, lock, |g| *g != generation || generation == 0);
    result
}

async fn set_count(
    shared: &Shared,
    app: &AppHub,
    channel: &str,
    local: usize,
) -> Result<Subscriptions, LinkError> {
    let id = &app.config.id;
    let held = shared.keys.held_vacated(id, channel);
    let token = shared.hold_token();
    let mut invocation = shared.scripts.channel_count.prepare_invoke();
    invocation
        .key(shared.keys.counts(id))
        .key(shared.keys.own_counts(id, &shared.instance))
        .key(&held)
        .arg(channel)
        .arg(local)
        .arg(&token)
        .arg(shared.held_ttl_ms);
    let (total, transition): (i64, i64) = shared
        .link
        .call(|mut c| async move { invocation.invoke_async(&mut c).await })
        .await?;
    Ok(Subscriptions {
        count: total.max(0) as usize,
        occupancy: transition_of(transition, &token, &held),
    })
}

/// A script's transition code as a [`Transition`]; a held one carries its claim
/// (`token\tkey`, confirmed by `confirm_held.lua` at due time).
pub fn transition_of(code: i64, token: &str, held_key: &str) -> Transition {
    match code {
        1 => Transition::Began,
        -1 => Transition::Ended {
            claim: Some(format!("{token}\t{held_key}")),
        },
        _ => Transition::None,
    }
}

/// Cluster-wide subscription count of one channel.
pub async fn count(shared: &Shared, app: &AppHub, channel: &str) -> Result<usize, LinkError> {
    let key = shared.keys.counts(&app.config.id);
    let n: Option<i64> = shared
        .link
        .call(|mut c| async move {
            redis::cmd("HGET")
                .arg(key)
                .arg(channel)
                .query_async(&mut c)
                .await
        })
        .await?;
    Ok(n.unwrap_or(0).max(0) as usize)
}

/// Occupied channels starting with `prefix`, cluster-wide, in one round trip.
pub async fn list(
    shared: &Shared,
    app: &AppHub,
    prefix: &str,
) -> Result<Vec<ChannelSummary>, LinkError> {
    let id = &app.config.id;
    let mut invocation = shared.scripts.channels.prepare_invoke();
    invocation
        .key(shared.keys.counts(id))
        .arg(prefix)
        .arg(shared.keys.members_prefix(id));
    let flat: Vec<Value> = shared
        .link
        .call(|mut c| async move { invocation.invoke_async(&mut c).await })
        .await?;
    let mut out = Vec::with_capacity(flat.len() / 3);
    for row in flat.chunks_exact(3) {
        let (Some(name), Some(subs), Some(users)) =
            (as_string(&row[0]), as_int(&row[1]), as_int(&row[2]))
        else {
            continue;
        };
        out.push(ChannelSummary {
            name,
            subscription_count: subs.max(0) as usize,
            user_count: (users >= 0).then_some(users as usize),
        });
    }
    Ok(out)
}
