//! `POST /apps/{id}/events` and `POST /apps/{id}/batch_events`: validate, record in the
//! audit trail, then publish — each event encoded once per channel.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use herald_audit::NewEvent;
use herald_protocol::channel::is_cache_channel;
use herald_protocol::{ChannelKind, ChannelName, frame};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::signed::Signed;
use crate::config::Config;
use crate::hub::{AppHub, Frame, SocketId};
use crate::state::AppState;

/// One event as the libraries send it.
#[derive(Debug, Deserialize)]
struct EventBody {
    name: Option<String>,
    data: Option<Value>,
    channels: Option<Vec<String>>,
    /// The PHP library sends `channel` for a single channel.
    channel: Option<String>,
    socket_id: Option<String>,
    info: Option<String>,
    idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize)]
struct BatchBody {
    batch: Option<Vec<EventBody>>,
}

/// A validated event, ready to record and publish.
#[derive(Debug)]
pub struct Prepared {
    pub name: String,
    pub channels: Vec<String>,
    pub data: String,
    pub socket_id: Option<SocketId>,
    pub socket_id_raw: Option<String>,
    pub info: Info,
    pub idempotency_key: Option<String>,
}

/// Which counts the caller asked for with `info`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Info {
    pub subscription_count: bool,
    pub user_count: bool,
}

impl Info {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut info = Self::default();
        for attr in raw
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            match attr {
                "subscription_count" => info.subscription_count = true,
                "user_count" => info.user_count = true,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid info attribute {other:?}: expected subscription_count or user_count"
                    )));
                }
            }
        }
        Ok(info)
    }

    fn any(self) -> bool {
        self.subscription_count || self.user_count
    }
}

fn prepare(body: EventBody, config: &Config, prefix: &str) -> Result<Prepared, ApiError> {
    let name = body
        .name
        .ok_or_else(|| ApiError::bad_request(format!("{prefix}Missing parameter: name")))?;
    if name.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{prefix}Event name must not be empty"
        )));
    }
    if name.chars().count() > config.max_event_name_len {
        return Err(ApiError::bad_request(format!(
            "{prefix}Event name is too long: {} characters, limit {}",
            name.chars().count(),
            config.max_event_name_len
        )));
    }
    if name.starts_with("pusher:") || name.starts_with("pusher_internal:") {
        return Err(ApiError::bad_request(format!(
            "{prefix}Event name {name:?} is reserved: names starting with pusher: or pusher_internal: are sent only by the server"
        )));
    }
    let channels = match (body.channels, body.channel) {
        (Some(list), _) => list,
        (None, Some(one)) => vec![one],
        (None, None) => {
            return Err(ApiError::bad_request(format!(
                "{prefix}Missing parameter: channels (or channel)"
            )));
        }
    };
    if channels.is_empty() || channels.len() > config.max_channels_per_trigger {
        return Err(ApiError::bad_request(format!(
            "{prefix}Expected 1 to {} channels, got {}",
            config.max_channels_per_trigger,
            channels.len()
        )));
    }
    for channel in &channels {
        ChannelName::parse(channel, config.max_channel_name_len)
            .map_err(|e| ApiError::bad_request(format!("{prefix}{e}")))?;
    }
    let data = match body.data {
        Some(Value::String(s)) => s,
        // The libraries always send a string; objects from hand-written clients are
        // serialised once so they still arrive as Pusher's double-encoded `data`.
        Some(other) => other.to_string(),
        None => {
            return Err(ApiError::bad_request(format!(
                "{prefix}Missing parameter: data"
            )));
        }
    };
    if data.len() > config.max_event_data_bytes {
        return Err(ApiError::payload_too_large(format!(
            "{prefix}The data content of this event exceeds the allowed maximum ({} bytes). See http://pusher.com/docs/server_api_guide/server_publishing_events for more info",
            config.max_event_data_bytes
        )));
    }
    let socket_id = match &body.socket_id {
        None => None,
        Some(raw) => Some(
            raw.parse::<SocketId>()
                .map_err(|e| ApiError::bad_request(format!("{prefix}{e}")))?,
        ),
    };
    Ok(Prepared {
        name,
        channels,
        data,
        socket_id,
        socket_id_raw: body.socket_id,
        info: Info::parse(body.info.as_deref()).map_err(|e| ApiError {
            message: format!("{prefix}{}", e.message),
            ..e
        })?,
        idempotency_key: body.idempotency_key,
    })
}

fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))
}

/// Encodes each event once per channel and hands it to the adapter.
async fn publish(state: &AppState, app: &Arc<AppHub>, event: &Prepared) {
    crate::metrics::METRICS.http_events_triggered.inc();
    for channel in &event.channels {
        let encoded = frame::event(&event.name, Some(channel), Some(&event.data), None);
        if is_cache_channel(channel) {
            state
                .adapter
                .cache_set(
                    app,
                    channel,
                    &event.name,
                    &event.data,
                    state.config.cache_ttl,
                )
                .await;
        }
        state
            .adapter
            .publish(app, channel, Frame::from(encoded), event.socket_id)
            .await;
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

/// What the audit trail records of each accepted event.
fn to_audit(signed: &Signed, events: &[Prepared]) -> Vec<NewEvent> {
    let header = |name: &str| {
        signed
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let idempotency_header = header("idempotency-key");
    let batch = events.len() > 1;
    let received_at_micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default();
    events
        .iter()
        .enumerate()
        .map(|(i, e)| NewEvent {
            app_id: signed.app.config.id.clone(),
            received_at_micros,
            name: e.name.clone(),
            channels: e.channels.clone(),
            data: e.data.clone(),
            socket_id: e.socket_id_raw.clone(),
            client_ip: signed.client_ip.map(|ip| ip.to_string()),
            user_agent: header("user-agent"),
            library: header("x-pusher-library"),
            auth_key: signed.key.clone(),
            // A header key covers the whole request; each event of a batch gets its own.
            idempotency_key: e.idempotency_key.clone().or_else(|| {
                idempotency_header
                    .as_ref()
                    .map(|k| if batch { format!("{k}#{i}") } else { k.clone() })
            }),
        })
        .collect()
}

/// `POST /apps/{app_id}/events`
pub async fn trigger(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<Value>, ApiError> {
    let event = prepare(parse_json(&signed.body)?, &state.config, "")?;
    let events = [event];
    let fresh = state
        .audit
        .record(&signed.app.config.id, to_audit(&signed, &events))
        .await?;
    let event = &events[0];
    if fresh[0] {
        publish(&state, &signed.app, event).await;
    }
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
    if batch.len() > state.config.max_batch_size {
        return Err(ApiError::bad_request(format!(
            "Batch too large: {} events, limit {}",
            batch.len(),
            state.config.max_batch_size
        )));
    }
    // Validate everything before anything is recorded or delivered: a batch is all or nothing.
    let events = batch
        .into_iter()
        .enumerate()
        .map(|(i, e)| prepare(e, &state.config, &format!("batch[{i}]: ")))
        .collect::<Result<Vec<_>, _>>()?;
    for event in &events {
        if event.channels.len() != 1 {
            return Err(ApiError::bad_request(
                "Each batch event must name exactly one channel",
            ));
        }
    }
    let fresh = state
        .audit
        .record(&signed.app.config.id, to_audit(&signed, &events))
        .await?;
    for (event, fresh) in events.iter().zip(&fresh) {
        if *fresh {
            publish(&state, &signed.app, event).await;
        }
    }
    if !events.iter().any(|e| e.info.any()) {
        return Ok(Json(json!({})));
    }
    let mut results = Vec::with_capacity(events.len());
    for event in &events {
        results.push(channel_info(&state, &signed.app, &event.channels[0], event.info).await);
    }
    Ok(Json(json!({ "batch": results })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> EventBody {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let c = Config::default_single_app();
        let err = prepare(body(json!({"channels":["a"],"data":"x"})), &c, "").unwrap_err();
        assert_eq!(err.message, "Missing parameter: name");
        let err = prepare(
            body(json!({"name":"pusher:x","channels":["a"],"data":"x"})),
            &c,
            "",
        )
        .unwrap_err();
        assert_eq!(err.status, 400);
        let big = "x".repeat(10241);
        let err = prepare(
            body(json!({"name":"e","channels":["a"],"data":big})),
            &c,
            "",
        )
        .unwrap_err();
        assert_eq!(err.status, 413);
        assert!(err.message.starts_with(
            "The data content of this event exceeds the allowed maximum (10240 bytes)"
        ));
        let ok = "x".repeat(10240);
        assert!(prepare(body(json!({"name":"e","channels":["a"],"data":ok})), &c, "").is_ok());
        let many: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
        assert_eq!(
            prepare(body(json!({"name":"e","channels":many,"data":"x"})), &c, "")
                .unwrap_err()
                .status,
            400
        );
        let err =
            prepare(body(json!({"name":"e","channel":"a b","data":"x"})), &c, "").unwrap_err();
        assert!(
            err.message.contains("Invalid channel name"),
            "{}",
            err.message
        );
        let err = prepare(
            body(json!({"name":"e","channel":"a","data":"x","socket_id":"nope"})),
            &c,
            "",
        )
        .unwrap_err();
        assert!(err.message.contains("Invalid socket_id"), "{}", err.message);
        let err = prepare(
            body(json!({"name":"e","channel":"a","data":"x","info":"bogus"})),
            &c,
            "",
        )
        .unwrap_err();
        assert!(err.message.contains("bogus"));
    }

    #[test]
    fn php_style_single_channel_and_object_data_are_accepted() {
        let c = Config::default_single_app();
        let p = prepare(
            body(json!({"name":"e","channel":"audit-channel","data":{"a":1}})),
            &c,
            "",
        )
        .unwrap();
        assert_eq!(p.channels, vec!["audit-channel"]);
        assert_eq!(p.data, r#"{"a":1}"#);
    }
}
