//! `POST /apps/{id}/events` and `POST /apps/{id}/batch_events`: the HTTP face of the
//! trigger use case (`crate::trigger`), plus the `info` counts the libraries may ask for.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use herald_protocol::ChannelKind;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::signed::Signed;
use crate::hub::AppHub;
use crate::state::AppState;
use crate::trigger::{self, EventBody, Info, Origin};

#[derive(Debug, Deserialize)]
struct BatchBody {
    batch: Option<Vec<EventBody>>,
}

fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))
}

/// Where a signed request came from, as the audit trail records it.
fn origin(signed: &Signed) -> Origin {
    let header = |name: &str| {
        signed
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Origin {
        auth_key: signed.key.clone(),
        client_ip: signed.client_ip.map(|ip| ip.to_string()),
        user_agent: header("user-agent"),
        library: header("x-pusher-library"),
        idempotency_key: header("idempotency-key"),
    }
}

/// The counts `info` asked for, per channel.
async fn channel_info(state: &AppState, app: &Arc<AppHub>, channel: &str, info: Info) -> Value {
    let mut out = Map::new();
    if info.user_count && ChannelKind::of(channel) == ChannelKind::Presence {
        out.insert(
            "user_count".into(),
            state.adapter.user_count(app, channel).await.into(),
        );
    }
    if info.subscription_count {
        out.insert(
            "subscription_count".into(),
            state.adapter.subscription_count(app, channel).await.into(),
        );
    }
    Value::Object(out)
}

/// `POST /apps/{app_id}/events`
pub async fn trigger(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<Value>, ApiError> {
    let event = trigger::prepare(parse_json(&signed.body)?, &state.config, "")?;
    let events = [event];
    trigger::record_and_publish(&state, &signed.app, &origin(&signed), &events).await?;
    let event = &events[0];
    if !event.info.any() {
        return Ok(Json(json!({})));
    }
    let mut channels = Map::new();
    for channel in &event.channels {
        channels.insert(
            channel.clone(),
            channel_info(&state, &signed.app, channel, event.info).await,
        );
    }
    Ok(Json(json!({ "channels": channels })))
}

/// `POST /apps/{app_id}/batch_events`
pub async fn trigger_batch(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<Value>, ApiError> {
    let body: BatchBody = parse_json(&signed.body)?;
    let batch = body
        .batch
        .ok_or_else(|| ApiError::bad_request("Missing parameter: batch"))?;
    let events = trigger::prepare_batch(batch, &state.config)?;
    trigger::record_and_publish(&state, &signed.app, &origin(&signed), &events).await?;
    if !events.iter().any(|e| e.info.any()) {
        return Ok(Json(json!({})));
    }
    let mut results = Vec::with_capacity(events.len());
    for event in &events {
        results.push(channel_info(&state, &signed.app, &event.channels[0], event.info).await);
    }
    Ok(Json(json!({ "batch": results })))
}
