//! The trigger use case: validate → record → deduplicate → publish. The HTTP API is one
//! caller; anything else that publishes events on an app's behalf (webhook-driven flows,
//! the audit stream, an admin API) goes through the same steps, so nothing unrecorded is
//! ever delivered and an idempotent retry is never delivered twice.
//!
//! This module knows no HTTP: its callers say where a request came from ([`Origin`]) and
//! map a [`TriggerError`] to their own answer.

mod validate;

use std::sync::Arc;

use herald_audit::NewEvent;
use herald_protocol::channel::is_cache_channel;
use herald_protocol::frame;

pub use validate::{EventBody, Info, Invalid, Prepared, prepare, prepare_batch};

use crate::audit::NotRecorded;
use crate::hub::{AppHub, Frame};
use crate::metrics::METRICS;
use crate::state::AppState;

/// Who sent the events, as the audit trail records it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The key that signed the request.
    pub auth_key: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// `X-Pusher-Library`.
    pub library: Option<String>,
    /// A request-wide idempotency key; each event of a batch gets `key#index`.
    pub idempotency_key: Option<String>,
}

/// Why triggered events were not delivered.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    NotRecorded(#[from] NotRecorded),
}

/// Records validated `events` of `app` and publishes those that are new. Returns, per
/// event, whether it was delivered (false: an idempotent retry of a recorded event).
pub async fn record_and_publish(
    state: &AppState,
    app: &Arc<AppHub>,
    origin: &Origin,
    events: &[Prepared],
) -> Result<Vec<bool>, TriggerError> {
    let fresh = state
        .audit
        .record(&app.config.id, to_audit(&app.config.id, origin, events))
        .await?;
    for (event, fresh) in events.iter().zip(&fresh) {
        if *fresh {
            publish(state, app, event).await;
        }
    }
    Ok(fresh)
}

/// Encodes each event once per channel and hands it to the adapter.
async fn publish(state: &AppState, app: &Arc<AppHub>, event: &Prepared) {
    METRICS.http_events_triggered.inc();
    // With `redact_delivery`, subscribers (and the cache channel) get the redacted payload.
    let redacted = state
        .audit
        .redact_for_delivery(&app.config.id, &event.channels, &event.data);
    let data = redacted.as_deref().unwrap_or(&event.data);
    for channel in &event.channels {
        let encoded = frame::event(&event.name, Some(channel), Some(data), None);
        if is_cache_channel(channel) {
            state
                .adapter
                .cache_set(app, channel, &event.name, data, state.config.cache_ttl)
                .await;
        }
        state
            .adapter
            .publish(app, channel, Frame::from(encoded), event.socket_id)
            .await;
    }
}

/// What the audit trail records of each accepted event.
fn to_audit(app_id: &str, origin: &Origin, events: &[Prepared]) -> Vec<NewEvent> {
    let batch = events.len() > 1;
    let received_at_micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default();
    events
        .iter()
        .enumerate()
        .map(|(i, e)| NewEvent {
            app_id: app_id.to_owned(),
            received_at_micros,
            name: e.name.clone(),
            channels: e.channels.clone(),
            data: e.data.clone(),
            socket_id: e.socket_id_raw.clone(),
            client_ip: origin.client_ip.clone(),
            user_agent: origin.user_agent.clone(),
            library: origin.library.clone(),
            auth_key: origin.auth_key.clone(),
            // A request-wide key covers the whole request; each event of a batch gets its own.
            idempotency_key: e.idempotency_key.clone().or_else(|| {
                origin
                    .idempotency_key
                    .as_ref()
                    .map(|k| if batch { format!("{k}#{i}") } else { k.clone() })
            }),
        })
        .collect()
}
