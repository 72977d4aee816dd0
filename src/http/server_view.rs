//! `GET /apps/{app_id}/server`: the app's live state for the dashboard's server view —
//! this node's connections, the occupied channels with their subscriber counts and the
//! presence channels' members. Authorised like the audit API (audit token or signature),
//! because an auditor watching the dashboard is not given the app secret.
//!
//! Channels and members are cluster-wide facts and are asked of the adapter; connections
//! are this node's (no cluster-wide connection count is kept), and the answer says so.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

use super::error::ApiError;
use crate::state::AppState;

/// Channels listed at most (the busiest first); `channels_total` still counts them all.
const MAX_CHANNELS: usize = 500;
/// Presence channels whose members are listed at most (the busiest first).
const MAX_PRESENCE_CHANNELS: usize = 50;

#[derive(Debug, Serialize)]
pub struct ServerView {
    app_id: String,
    /// The node that answered (connections are counted on it).
    node_id: String,
    /// True when several nodes share state through Redis.
    cluster: bool,
    /// Open WebSocket connections of this app on the answering node.
    node_connections: usize,
    /// Occupied channels, cluster-wide.
    channels_total: usize,
    /// Subscriptions over every occupied channel, cluster-wide.
    subscriptions_total: usize,
    channels: Vec<ChannelView>,
    presence: Vec<PresenceView>,
}

#[derive(Debug, Serialize)]
struct ChannelView {
    name: String,
    subscription_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_count: Option<usize>,
}

#[derive(Debug, Serialize)]
struct PresenceView {
    channel: String,
    user_count: usize,
    /// User ids, sorted.
    members: Vec<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Json<ServerView>, ApiError> {
    let app = state
        .hub
        .app(&app_id)
        .ok_or_else(|| ApiError::not_found(format!("Unknown app id {app_id:?}")))?
        .clone();
    let mut summaries = state.adapter.channels(&app, "").await;
    summaries.sort_by(|a, b| {
        b.subscription_count
            .cmp(&a.subscription_count)
            .then_with(|| a.name.cmp(&b.name))
    });
    let channels_total = summaries.len();
    let subscriptions_total = summaries.iter().map(|s| s.subscription_count).sum();
    let mut presence = Vec::new();
    for summary in summaries
        .iter()
        .filter(|s| s.user_count.is_some())
        .take(MAX_PRESENCE_CHANNELS)
    {
        let mut members = state.adapter.presence_user_ids(&app, &summary.name).await;
        members.sort();
        presence.push(PresenceView {
            channel: summary.name.clone(),
            user_count: members.len(),
            members,
        });
    }
    let channels = summaries
        .into_iter()
        .take(MAX_CHANNELS)
        .map(|s| ChannelView {
            name: s.name,
            subscription_count: s.subscription_count,
            user_count: s.user_count,
        })
        .collect();
    Ok(Json(ServerView {
        app_id,
        node_id: state.config.node_id.clone(),
        cluster: state.config.redis_url.is_some(),
        node_connections: app.connection_count(),
        channels_total,
        subscriptions_total,
        channels,
        presence,
    }))
}
