//! The shapes of an audit event: what the server hands in ([`NewEvent`]), what `record`
//! answers ([`Recorded`]), what the writer stores ([`PreparedEvent`]) and what queries return
//! ([`EventSummary`] for lists, [`EventRecord`] for one event in full).

use serde::Serialize;

use crate::extract::{AuditFields, Changes};
use crate::rules::AuditRules;
use crate::timefmt;

/// One event accepted by the trigger API, as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub app_id: String,
    /// Server receive time, microseconds since the Unix epoch.
    pub received_at_micros: i64,
    pub name: String,
    pub channels: Vec<String>,
    /// The `data` string exactly as received (the recorder redacts it per the app's
    /// [`AuditRules`] before anything is stored).
    pub data: String,
    pub socket_id: Option<String>,
    pub client_ip: Option<String>,
    /// `User-Agent` header.
    pub user_agent: Option<String>,
    /// `X-Pusher-Library` header.
    pub library: Option<String>,
    /// The key that authenticated the trigger.
    pub auth_key: String,
    /// Retried triggers with the same key (per app) are recorded once.
    pub idempotency_key: Option<String>,
}

/// The outcome of recording one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Recorded {
    /// The event's sequence number within its app.
    pub seq: i64,
    /// True when the idempotency key had been recorded before; `seq` is the original's.
    pub duplicate: bool,
}

/// A [`NewEvent`] with its audit fields extracted, ready for the writer. Preparing happens
/// in the caller's task, so JSON parsing is spread over the runtime instead of loading the
/// single writer.
#[derive(Debug, Clone)]
pub struct PreparedEvent {
    pub event: NewEvent,
    /// `channels` as a JSON array, the form in which they are stored and indexed.
    pub channels_json: String,
    pub fields: AuditFields,
    /// `fields.changes` normalised and encoded, if any.
    pub changes_json: Option<String>,
}

impl PreparedEvent {
    /// Redacts `event.data` per `rules` (so that nothing below ever sees a redacted value),
    /// then extracts the audit fields from what is left.
    pub fn new(mut event: NewEvent, rules: &AuditRules) -> Self {
        if let Some(redacted) = rules.redact(&event.channels, &event.data) {
            event.data = redacted;
        }
        // A channel listed twice is one delivery; keep the first occurrence's order.
        let mut seen = std::collections::HashSet::new();
        event.channels.retain(|c| seen.insert(c.clone()));
        let channels_json =
            serde_json::to_string(&event.channels).unwrap_or_else(|_| "[]".to_owned());
        let mut fields = AuditFields::extract_with(&event.data, &rules.keys);
        // Backends behind a proxy report the end user's address; otherwise the address
        // the trigger came from is the best there is.
        if fields.ip.is_none() {
            fields.ip = event.client_ip.clone();
        }
        let changes_json = fields
            .changes
            .as_ref()
            .and_then(|c| serde_json::to_string(c).ok());
        Self {
            event,
            channels_json,
            fields,
            changes_json,
        }
    }
}

impl PreparedEvent {
    /// The fields the chain hashes, as they will be stored with `received_at` (the writer's
    /// monotonic receive time).
    pub fn canonical(&self, received_at: i64) -> crate::chain::CanonicalFields<'_> {
        let e = &self.event;
        let f = &self.fields;
        crate::chain::CanonicalFields {
            app_id: &e.app_id,
            received_at,
            name: &e.name,
            channels: &e.channels,
            data: &e.data,
            socket_id: e.socket_id.as_deref(),
            client_ip: e.client_ip.as_deref(),
            user_agent: e.user_agent.as_deref(),
            library: e.library.as_deref(),
            auth_key: &e.auth_key,
            idempotency_key: e.idempotency_key.as_deref(),
            action: f.action.as_deref(),
            model: f.model.as_deref(),
            object_id: f.object_id.as_deref(),
            object_repr: f.object_repr.as_deref(),
            user: f.user.as_deref(),
            timestamp: f.timestamp.as_deref(),
            severity: f.severity.as_deref(),
            status: f.status.as_deref(),
            changes: self.changes_json.as_deref(),
            error: f.error.as_deref(),
            ip: f.ip.as_deref(),
        }
    }
}

/// One event in a list: identity, time, routing and the extracted audit fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSummary {
    pub seq: i64,
    /// RFC 3339 UTC with microseconds.
    pub received_at: String,
    pub name: String,
    pub channels: Vec<String>,
    pub action: Option<String>,
    pub model: Option<String>,
    pub object_id: Option<String>,
    pub object_repr: Option<String>,
    pub user: Option<String>,
    /// The `timestamp` the backend sent, verbatim.
    pub timestamp: Option<String>,
    pub severity: Option<String>,
    pub status: Option<String>,
    /// The backend's `error_message`.
    pub error: Option<String>,
    /// The payload's `ip_address`, else the IP the trigger came from.
    pub ip: Option<String>,
    /// `changes` normalised to `{field: {old, new}}`.
    pub changes: Option<Changes>,
}

impl EventSummary {
    /// The receive time in microseconds, parsed back from `received_at`.
    pub fn received_at_micros(&self) -> Option<i64> {
        timefmt::parse_instant(&self.received_at).ok()
    }
}

/// One event in full.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    pub app_id: String,
    #[serde(flatten)]
    pub summary: EventSummary,
    /// The `data` string exactly as received, after redaction.
    pub data: String,
    pub socket_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub library: Option<String>,
    pub auth_key: String,
    pub idempotency_key: Option<String>,
}
