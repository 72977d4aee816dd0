//! `GET /apps/{id}/channels`, `GET /apps/{id}/channels/{name}` and
//! `GET /apps/{id}/channels/{name}/users`: occupancy, counts, presence members, cache.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use herald_protocol::channel::is_cache_channel;
use herald_protocol::{ChannelKind, ChannelName};
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::signed::Signed;
use crate::state::AppState;

fn attributes(raw: Option<String>) -> Vec<String> {
    raw.unwrap_or_default()
        .split(',')
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect()
}

/// `GET /apps/{app_id}/channels?filter_by_prefix=…&info=user_count,subscription_count`
pub async fn list(
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
    signed: Signed,
) -> Result<Json<Value>, ApiError> {
    let prefix = query.get("filter_by_prefix").cloned().unwrap_or_default();
    let info = attributes(query.get("info").cloned());
    let mut want_users = false;
    let mut want_subs = false;
    for attr in &info {
        match attr.as_str() {
            "user_count" => {
                if !prefix.starts_with("presence-") {
                    return Err(ApiError::bad_request(
                        "user_count may only be requested for presence channels - please supply filter_by_prefix beginning with presence-",
                    ));
                }
                want_users = true;
            }
            "subscription_count" => want_subs = true,
            other => {
                return Err(ApiError::bad_request(format!(
                    "Invalid info attribute {other:?}: expected user_count or subscription_count"
                )));
            }
        }
    }
    let mut channels = Map::new();
    let mut summaries = state.adapter.channels(&signed.app, &prefix).await;
    summaries.sort_by(|a, b| a.name.cmp(&b.name));
    for summary in summaries {
        let mut entry = Map::new();
        if want_users {
            entry.insert("user_count".into(), summary.user_count.unwrap_or(0).into());
        }
        if want_subs {
            entry.insert(
                "subscription_count".into(),
                summary.subscription_count.into(),
            );
        }
        channels.insert(summary.name, Value::Object(entry));
    }
    Ok(Json(json!({ "channels": channels })))
}

/// `GET /apps/{app_id}/channels/{channel_name}?info=user_count,subscription_count,cache`
pub async fn show(
    State(state): State<AppState>,
    Path((_app_id, channel)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
    signed: Signed,
) -> Result<Json<Value>, ApiError> {
    ChannelName::parse(&channel, state.config.max_channel_name_len)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let kind = ChannelKind::of(&channel);
    let app = &signed.app;
    let subscription_count = state.adapter.subscription_count(app, &channel).await;
    let mut out = Map::new();
    out.insert("occupied".into(), (subscription_count > 0).into());
    for attr in attributes(query.get("info").cloned()) {
        match attr.as_str() {
            "user_count" => {
                if kind != ChannelKind::Presence {
                    return Err(ApiError::bad_request(
                        "Cannot retrieve the user count unless the channel is a presence channel",
                    ));
                }
                out.insert(
                    "user_count".into(),
                    state.adapter.user_count(app, &channel).await.into(),
                );
            }
            "subscription_count" => {
                out.insert("subscription_count".into(), subscription_count.into());
            }
            "cache" => {
                if !is_cache_channel(&channel) {
                    return Err(ApiError::bad_request(
                        "Cannot retrieve the cache unless the channel is a cache channel",
                    ));
                }
                let cache = state.adapter.cache_get(app, &channel).await.map(|c| {
                    let ttl = c
                        .expires_at
                        .saturating_duration_since(std::time::Instant::now())
                        .as_secs();
                    json!({"event": c.event, "data": c.data, "ttl": ttl})
                });
                out.insert("cache".into(), cache.unwrap_or(Value::Null));
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "Invalid info attribute {other:?}: expected user_count, subscription_count or cache"
                )));
            }
        }
    }
    Ok(Json(Value::Object(out)))
}

/// `GET /apps/{app_id}/channels/{channel_name}/users`
pub async fn users(
    State(state): State<AppState>,
    Path((_app_id, channel)): Path<(String, String)>,
    signed: Signed,
) -> Result<Json<Value>, ApiError> {
    if ChannelKind::of(&channel) != ChannelKind::Presence {
        return Err(ApiError::bad_request(format!(
            "Cannot list users of {channel}: only presence channels have users"
        )));
    }
    let mut ids = state.adapter.presence_user_ids(&signed.app, &channel).await;
    ids.sort();
    let users: Vec<Value> = ids.into_iter().map(|id| json!({ "id": id })).collect();
    Ok(Json(json!({ "users": users })))
}
