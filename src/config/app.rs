//! One tenant's settings: credentials, switches and limits.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// Settings of one app, as given in the `[[apps]]` tables of the TOML file (or built from
/// the `HERALD_APP_*` variables for the single default app).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The app id in `/apps/{id}/…`. Numeric by default (the Python library refuses other
    /// ids), but any non-empty string works.
    pub id: String,
    pub key: String,
    pub secret: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Whether sockets may send `client-*` events (off by default, like Pusher).
    #[serde(default)]
    pub client_events: bool,
    /// Whether subscribers get `pusher_internal:subscription_count` (per-app opt-in).
    #[serde(default)]
    pub subscription_count: bool,
    /// Maximum simultaneous connections for this app; `None` is unlimited.
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// Channels the app may have occupied on this node at once; subscribing to one more
    /// gets `pusher:subscription_error` 429.
    #[serde(default = "default_max_channels")]
    pub max_channels: usize,
    #[serde(default = "default_max_presence_members")]
    pub max_presence_members: usize,
    #[serde(default = "default_max_user_info_bytes")]
    pub max_user_info_bytes: usize,
    /// Client events allowed per second per connection before `pusher:error` 4301.
    #[serde(default = "default_client_event_rate")]
    pub client_events_per_second: u32,
    /// When non-zero, sockets that neither sign in nor subscribe to an authenticated
    /// channel within this many seconds are closed with 4009.
    #[serde(default)]
    pub authorized_connections_timeout_secs: u64,
    /// Bearer token accepted by the audit API for this app (in addition to signatures).
    #[serde(default)]
    pub audit_token: Option<String>,
    /// Origins allowed to open a WebSocket (`https://app.example.com`, `https://*.example.com`);
    /// empty allows every origin. See `origins.rs`.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Receivers of this app's webhooks (`[[apps.webhooks]]`).
    #[serde(default)]
    pub webhooks: Vec<super::webhooks::WebhookConfig>,
    /// `[apps.audit_fields]`: per audit field (`action`, `user`, …), the payload keys (or
    /// dotted paths) it is read from, replacing the defaults.
    #[serde(default)]
    pub audit_fields: BTreeMap<String, Vec<String>>,
    /// Keys or dotted paths whose values are stored as `***REDACTED***` (see
    /// `herald_audit::redact` for the exact semantics).
    #[serde(default)]
    pub redact: Vec<String>,
    /// Also redact what subscribers receive (off: delivery stays exactly as triggered).
    #[serde(default)]
    pub redact_delivery: bool,
    /// `[[apps.retention]]`: how long recorded events are kept (see `retention.rs`).
    #[serde(default)]
    pub retention: Vec<super::retention::RetentionEntry>,
}

fn yes() -> bool {
    true
}
fn default_max_channels() -> usize {
    100_000
}
fn default_max_presence_members() -> usize {
    100
}
fn default_max_user_info_bytes() -> usize {
    1024
}
fn default_client_event_rate() -> u32 {
    10
}

impl AppConfig {
    /// An app with the given credentials and every other setting at its default.
    pub fn new(id: impl Into<String>, key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            key: key.into(),
            secret: secret.into(),
            enabled: true,
            client_events: false,
            subscription_count: false,
            max_connections: None,
            max_channels: default_max_channels(),
            max_presence_members: default_max_presence_members(),
            max_user_info_bytes: default_max_user_info_bytes(),
            client_events_per_second: default_client_event_rate(),
            authorized_connections_timeout_secs: 0,
            audit_token: None,
            allowed_origins: Vec::new(),
            webhooks: Vec::new(),
            audit_fields: BTreeMap::new(),
            redact: Vec::new(),
            redact_delivery: false,
            retention: Vec::new(),
        }
    }

    /// The app's retention policy (validated when the configuration is resolved).
    pub fn retention_policy(&self) -> Option<herald_audit::retention::RetentionPolicy> {
        super::retention::policy(&self.retention).ok().flatten()
    }

    /// The recorder's rules for this app, from `audit_fields` and `redact`; the error names
    /// the setting and what is wrong with it.
    pub fn audit_rules(&self) -> Result<herald_audit::AuditRules, (&'static str, String)> {
        let fields = self
            .audit_fields
            .iter()
            .map(|(field, keys)| (field.as_str(), keys.as_slice()));
        Ok(herald_audit::AuditRules {
            keys: herald_audit::extract::FieldKeys::with_overrides(fields)
                .map_err(|e| ("audit_fields", e))?,
            redaction: herald_audit::redact::Redaction::new(&self.redact)
                .map_err(|e| ("redact", e))?,
        })
    }

    pub fn authorized_connections_timeout(&self) -> Option<Duration> {
        (self.authorized_connections_timeout_secs > 0)
            .then(|| Duration::from_secs(self.authorized_connections_timeout_secs))
    }
}
