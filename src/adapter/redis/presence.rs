//! Presence members cluster-wide: each node stores how many sockets each user has in each
//! presence channel on it; the `presence_set` script turns that into "first socket
//! anywhere" (`member_added` due) and "last socket anywhere" (`member_removed` due).

use std::sync::Arc;

use herald_protocol::frame;
use redis::Value;
use serde_json::value::RawValue;

use super::link::LinkError;
use super::locks;
use super::shared::Shared;
use super::values::{as_int, as_string};
use crate::adapter::Transition;
use crate::hub::AppHub;

/// What a member sync decided, cluster-wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Joined,
    Left,
    None,
    /// The user is new to the channel and the channel already has the most members allowed
    /// cluster-wide; nothing was written.
    Full,
}

/// What one member sync decided: the frame-level change, the webhook, and (when asked
/// for) the `subscription_succeeded` data of the cluster-wide roster.
#[derive(Debug)]
pub struct MemberSync {
    pub change: Change,
    pub webhook: Transition,
    pub roster: Option<String>,
}

/// Brings Redis in line with the local roster for one user of a presence channel. With
/// `want_roster`, also returns the `subscription_succeeded` data of the cluster-wide roster.
pub async fn sync_member(
    shared: &Shared,
    app: &Arc<AppHub>,
    channel: &str,
    user_id: &str,
    want_roster: bool,
) -> Result<MemberSync, LinkError> {
    let id = &app.config.id;
    let key = locks::key(id, channel);
    // The channel's lock: member writes are ordered with the channel's subscription writes.
    let lock = shared.channel_locks.get(&key);
    let result = async {
        let _guard = lock.lock().await;
        let (sockets, info) = app.presence_member(channel, user_id).unwrap_or((0, None));
        let info = info.as_deref().map_or("null", RawValue::get).to_owned();
        let held = shared.keys.held_removed(id, channel, user_id);
        let token = shared.hold_token();
        let mut invocation = shared.scripts.presence_set.prepare_invoke();
        invocation
            .key(shared.keys.members(id, channel))
            .key(shared.keys.member_sockets(id, channel))
            .key(shared.keys.own_presence(id, &shared.instance))
            .key(&held)
            .arg(channel)
            .arg(user_id)
            .arg(sockets)
            .arg(info)
            .arg(if want_roster { "1" } else { "0" })
            // The member limit is checked on joins only (a join asks for the roster).
            .arg(if want_roster {
                app.config.max_presence_members
            } else {
                0
            })
            .arg(&token)
            .arg(shared.held_ttl_ms);
        let reply: Vec<Value> = shared
            .link
            .call(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        let change = match reply.first().and_then(as_int) {
            Some(1) => Change::Joined,
            Some(-1) => Change::Left,
            Some(2) => Change::Full,
            _ => Change::None,
        };
        let webhook = reply.get(1).and_then(as_int).unwrap_or(0);
        let roster = reply.get(2).map(roster_data);
        Ok(MemberSync {
            change,
            webhook: super::channels::transition_of(webhook, &token, &held),
            roster,
        })
    }
    .await;
    let generation = shared.link.generation();
    shared
        .channel_locks
        .release(&key, lock, |g| *g != generation || generation == 0);
    result
}

/// `subscription_succeeded` data from the `HGETALL` of a members hash: a flat array when it
/// comes through a Lua script, a map when RESP3 answers the command directly.
fn roster_data(reply: &Value) -> String {
    let members: Vec<(String, Option<String>)> = match reply {
        Value::Array(items) => items
            .chunks_exact(2)
            .filter_map(|pair| Some((as_string(&pair[0])?, as_string(&pair[1]))))
            .collect(),
        Value::Map(pairs) => pairs
            .iter()
            .filter_map(|(user, info)| Some((as_string(user)?, as_string(info))))
            .collect(),
        _ => Vec::new(),
    };
    frame::presence_data(members.iter().map(|(u, i)| (u.as_str(), i.as_deref())))
}

/// Cluster-wide member ids of a presence channel.
pub async fn user_ids(
    shared: &Shared,
    app: &AppHub,
    channel: &str,
) -> Result<Vec<String>, LinkError> {
    let key = shared.keys.members(&app.config.id, channel);
    shared
        .link
        .call(|mut c| async move { redis::cmd("HKEYS").arg(key).query_async(&mut c).await })
        .await
}

/// Cluster-wide member count of a presence channel.
pub async fn user_count(shared: &Shared, app: &AppHub, channel: &str) -> Result<usize, LinkError> {
    let key = shared.keys.members(&app.config.id, channel);
    shared
        .link
        .call(|mut c| async move { redis::cmd("HLEN").arg(key).query_async(&mut c).await })
        .await
}

/// `subscription_succeeded` data of a presence channel's cluster-wide roster.
pub async fn roster(shared: &Shared, app: &AppHub, channel: &str) -> Result<String, LinkError> {
    let key = shared.keys.members(&app.config.id, channel);
    let flat: Value = shared
        .link
        .call(|mut c| async move { redis::cmd("HGETALL").arg(key).query_async(&mut c).await })
        .await?;
    Ok(roster_data(&flat))
}
