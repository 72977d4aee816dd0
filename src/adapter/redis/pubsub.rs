//! Cross-node messages over Redis 7 sharded pub/sub (`SPUBLISH` / `SSUBSCRIBE`).
//!
//! A node subscribes to a channel's topic while it has local subscribers to it, and only
//! then, so it never receives traffic for channels nobody here listens to. Every node also
//! subscribes to its apps' control topics (terminate-user, watchlist notices). Incoming
//! messages are handled inside the connection's reader (see `connection.rs`): decode the
//! envelope, drop our own echo, queue the frame to local sockets.

use std::sync::Arc;

use bytes::Bytes;
use redis::{PushInfo, PushKind, Value};

use super::envelope::{self, Kind};
use super::keys::Topic;
use super::link::{Conns, LinkError};
use super::shared::Shared;
use crate::adapter::local::{notify_local_watchers, terminate_local};
use crate::hub::{AppHub, Frame, SocketId};

/// Makes this node's subscription to `topic` match `want`. `subscribed_gen` is the
/// connection generation the topic was subscribed on (0 = not subscribed); a subscription
/// from an older connection is gone with it.
pub async fn set_subscribed(
    shared: &Shared,
    conns: &Conns,
    topic: String,
    want: bool,
    subscribed_gen: &mut u64,
) -> Result<(), LinkError> {
    let have = *subscribed_gen == conns.generation;
    if want == have {
        // Nothing to do; a stale generation already means "not subscribed".
        return Ok(());
    }
    let command = if want { "SSUBSCRIBE" } else { "SUNSUBSCRIBE" };
    let mut sub = conns.sub.clone();
    // With RESP3 the reply to SSUBSCRIBE is its confirmation push: once this returns, every
    // message published to the topic reaches us.
    shared
        .link
        .guard(conns.generation, async move {
            redis::cmd(command).arg(topic).exec_async(&mut sub).await
        })
        .await?;
    *subscribed_gen = if want { conns.generation } else { 0 };
    Ok(())
}

/// Subscribes to a topic that is held for the whole connection (control topics).
pub async fn subscribe_always(shared: &Shared, topic: String) -> Result<(), LinkError> {
    let conns = shared.link.conns()?;
    let mut generation = 0;
    set_subscribed(shared, &conns, topic, true, &mut generation).await
}

/// Publishes an envelope on a topic. Returns how many nodes received it.
pub async fn publish(shared: &Shared, topic: String, payload: Vec<u8>) -> Result<i64, LinkError> {
    shared
        .link
        .call(|mut c| async move {
            redis::cmd("SPUBLISH")
                .arg(topic)
                .arg(payload)
                .query_async(&mut c)
                .await
        })
        .await
}

/// Sends a frame to the other nodes' subscribers of `channel` (not to local ones).
pub async fn broadcast_remote(
    shared: &Shared,
    app: &AppHub,
    channel: &str,
    frame: &Frame,
    except: Option<SocketId>,
) {
    if !shared.link.is_connected() {
        return;
    }
    let except = except.map(|s| s.to_string()).unwrap_or_default();
    let payload = envelope::encode(
        Kind::Broadcast,
        &shared.instance,
        &except,
        frame.as_str().as_bytes(),
    );
    let topic = shared.keys.channel_topic(&app.config.id, channel);
    if let Err(error) = publish(shared, topic, payload).await {
        tracing::debug!(message = "Cross-node publish failed; delivered locally only.", channel, %error);
    }
}

/// Sends a control message (terminate / watchers) to the other nodes.
pub async fn control_remote(shared: &Shared, app: &AppHub, kind: Kind, user_id: &str, body: &[u8]) {
    if !shared.link.is_connected() {
        return;
    }
    let payload = envelope::encode(kind, &shared.instance, user_id, body);
    let topic = shared.keys.control_topic(&app.config.id);
    if let Err(error) = publish(shared, topic, payload).await {
        tracing::debug!(message = "Cross-node control message failed.", user_id, %error);
    }
}

/// Handles one RESP3 push from the subscription connection.
pub fn on_push(shared: &Arc<Shared>, generation: u64, info: PushInfo) {
    match info.kind {
        PushKind::Disconnection => shared.link.mark_lost(generation),
        PushKind::SMessage | PushKind::Message => {
            let mut data = info.data.into_iter();
            let (Some(Value::BulkString(topic)), Some(Value::BulkString(payload))) =
                (data.next(), data.next())
            else {
                return;
            };
            let Ok(topic) = std::str::from_utf8(&topic) else {
                return;
            };
            on_message(shared, topic, Bytes::from(payload));
        }
        _ => {}
    }
}

fn on_message(shared: &Shared, topic: &str, payload: Bytes) {
    let Some(env) = envelope::decode(&payload) else {
        tracing::debug!(message = "Ignoring a malformed cluster message.", topic);
        return;
    };
    if env.origin == shared.instance {
        return; // our own publish: local subscribers already have it
    }
    let Some(topic) = shared.keys.parse_topic(topic) else {
        return;
    };
    let app_id = match topic {
        Topic::Channel { app, .. } | Topic::Control { app } => app,
    };
    let Some(app) = shared.hub.app(app_id) else {
        return;
    };
    let frame = || Frame::try_from(env.body.clone()).ok();
    match (topic, env.kind) {
        (Topic::Channel { channel, .. }, Kind::Broadcast) => {
            if let Some(frame) = frame() {
                app.deliver(channel, &frame, env.arg.parse().ok());
            }
        }
        (Topic::Control { .. }, Kind::Watchers) => {
            if let Some(frame) = frame() {
                notify_local_watchers(app, env.arg, &frame);
            }
        }
        (Topic::Control { .. }, Kind::Terminate) => terminate_local(app, env.arg),
        _ => {}
    }
}
