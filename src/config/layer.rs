//! Configuration sources: one [`Layer`] of optional values per source — command-line flags,
//! `HERALD_*` environment variables (with soketi's names as aliases), and the TOML file.
//! `resolve.rs` merges them.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::{AppConfig, ConfigError};

/// One source of settings. Field names are the TOML keys.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub host: Option<String>,
    pub port: Option<String>,
    pub metrics_port: Option<String>,
    pub metrics_host: Option<String>,
    pub node_id: Option<String>,
    pub redis_url: Option<String>,
    pub redis_prefix: Option<String>,
    pub redis_heartbeat: Option<String>,
    pub node_timeout: Option<String>,
    pub audit_url: Option<String>,
    pub audit_mode: Option<String>,
    pub audit_on_unavailable: Option<String>,
    pub audit_signing_key: Option<String>,
    pub audit_checkpoint_every: Option<String>,
    pub audit_checkpoint_interval: Option<String>,
    pub audit_stream_buffer: Option<String>,
    pub audit_stream_heartbeat: Option<String>,
    pub audit_prune_interval: Option<String>,
    pub audit_pg_schema: Option<String>,
    pub activity_timeout: Option<String>,
    pub pong_timeout: Option<String>,
    pub max_channel_name_length: Option<String>,
    pub max_event_name_length: Option<String>,
    pub max_event_data_bytes: Option<String>,
    pub max_channels_per_trigger: Option<String>,
    pub max_batch_size: Option<String>,
    pub max_ws_message_bytes: Option<String>,
    pub max_subscriptions_per_connection: Option<String>,
    pub max_client_frames_per_second: Option<String>,
    pub connection_queue_capacity: Option<String>,
    pub cache_ttl: Option<String>,
    pub shutdown_grace: Option<String>,
    pub http_request_timeout: Option<String>,
    pub http_header_timeout: Option<String>,
    pub http_body_timeout: Option<String>,
    pub max_request_body_bytes: Option<String>,
    pub trusted_proxies: Option<String>,
    pub allow_default_credentials: Option<String>,
    pub webhook_store: Option<String>,
    pub webhook_give_up: Option<String>,
    pub webhook_queue_capacity: Option<String>,
    pub max_connections_per_ip: Option<String>,
    pub max_connections_per_ip_per_second: Option<String>,
    pub app_max_channels: Option<String>,
    /// The single app built from `HERALD_APP_*` (env/flags) — ignored when `apps` is set.
    pub app_id: Option<String>,
    pub app_key: Option<String>,
    pub app_secret: Option<String>,
    pub app_client_events: Option<String>,
    pub app_subscription_count: Option<String>,
    pub app_audit_token: Option<String>,
    /// Comma-separated origin allow-list of the single env-configured app.
    pub app_allowed_origins: Option<String>,
    /// JSON list of webhooks of the single env-configured app.
    pub app_webhooks: Option<String>,
    /// Several apps, from the TOML file.
    pub apps: Option<Vec<AppConfig>>,
}

/// Reads `HERALD_*` variables, falling back to soketi's names where they exist.
pub fn env_layer(vars: &HashMap<String, String>) -> Layer {
    let get = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| vars.get(*n).filter(|v| !v.is_empty()).cloned())
    };
    Layer {
        host: get(&["HERALD_HOST", "SOKETI_HOST"]),
        port: get(&["HERALD_PORT", "SOKETI_PORT"]),
        metrics_port: get(&["HERALD_METRICS_PORT", "SOKETI_METRICS_SERVER_PORT"]),
        metrics_host: get(&["HERALD_METRICS_HOST"]),
        node_id: get(&["HERALD_NODE_ID"]),
        redis_url: get(&["HERALD_REDIS_URL"]),
        redis_prefix: get(&["HERALD_REDIS_PREFIX", "SOKETI_DB_REDIS_KEY_PREFIX"]),
        redis_heartbeat: get(&["HERALD_REDIS_HEARTBEAT"]),
        node_timeout: get(&["HERALD_NODE_TIMEOUT"]),
        audit_url: get(&["HERALD_AUDIT_URL"]),
        audit_mode: get(&["HERALD_AUDIT_MODE"]),
        audit_on_unavailable: get(&["HERALD_AUDIT_ON_UNAVAILABLE"]),
        audit_signing_key: get(&["HERALD_AUDIT_SIGNING_KEY"]),
        audit_checkpoint_every: get(&["HERALD_AUDIT_CHECKPOINT_EVERY"]),
        audit_checkpoint_interval: get(&["HERALD_AUDIT_CHECKPOINT_INTERVAL"]),
        audit_stream_buffer: get(&["HERALD_AUDIT_STREAM_BUFFER"]),
        audit_stream_heartbeat: get(&["HERALD_AUDIT_STREAM_HEARTBEAT"]),
        audit_prune_interval: get(&["HERALD_AUDIT_PRUNE_INTERVAL"]),
        audit_pg_schema: get(&["HERALD_AUDIT_PG_SCHEMA"]),
        activity_timeout: get(&["HERALD_ACTIVITY_TIMEOUT"]),
        pong_timeout: get(&["HERALD_PONG_TIMEOUT"]),
        max_channel_name_length: get(&[
            "HERALD_MAX_CHANNEL_NAME_LENGTH",
            "SOKETI_CHANNEL_LIMITS_MAX_NAME_LENGTH",
        ]),
        max_event_name_length: get(&[
            "HERALD_MAX_EVENT_NAME_LENGTH",
            "SOKETI_EVENT_LIMITS_MAX_NAME_LENGTH",
        ]),
        max_event_data_bytes: get(&["HERALD_MAX_EVENT_DATA_BYTES"]),
        max_channels_per_trigger: get(&[
            "HERALD_MAX_CHANNELS_PER_TRIGGER",
            "SOKETI_EVENT_LIMITS_MAX_CHANNELS_AT_ONCE",
        ]),
        max_batch_size: get(&[
            "HERALD_MAX_BATCH_SIZE",
            "SOKETI_EVENT_LIMITS_MAX_BATCH_SIZE",
        ]),
        max_ws_message_bytes: get(&["HERALD_MAX_WS_MESSAGE_BYTES"]),
        max_subscriptions_per_connection: get(&["HERALD_MAX_SUBSCRIPTIONS_PER_CONNECTION"]),
        max_client_frames_per_second: get(&["HERALD_MAX_CLIENT_FRAMES_PER_SECOND"]),
        connection_queue_capacity: get(&["HERALD_CONNECTION_QUEUE_CAPACITY"]),
        cache_ttl: get(&["HERALD_CACHE_TTL"]),
        shutdown_grace: get(&["HERALD_SHUTDOWN_GRACE", "SOKETI_SHUTDOWN_GRACE_PERIOD"]),
        trusted_proxies: get(&["HERALD_TRUSTED_PROXIES"]),
        allow_default_credentials: get(&["HERALD_ALLOW_DEFAULT_CREDENTIALS"]),
        max_connections_per_ip: get(&["HERALD_MAX_CONNECTIONS_PER_IP"]),
        max_connections_per_ip_per_second: get(&["HERALD_MAX_CONNECTIONS_PER_IP_PER_SECOND"]),
        app_max_channels: get(&["HERALD_APP_MAX_CHANNELS"]),
        http_request_timeout: get(&["HERALD_HTTP_REQUEST_TIMEOUT"]),
        http_header_timeout: get(&["HERALD_HTTP_HEADER_TIMEOUT"]),
        http_body_timeout: get(&["HERALD_HTTP_BODY_TIMEOUT"]),
        max_request_body_bytes: get(&["HERALD_MAX_REQUEST_BODY_BYTES"]),
        app_id: get(&["HERALD_APP_ID", "SOKETI_DEFAULT_APP_ID"]),
        app_key: get(&["HERALD_APP_KEY", "SOKETI_DEFAULT_APP_KEY"]),
        app_secret: get(&["HERALD_APP_SECRET", "SOKETI_DEFAULT_APP_SECRET"]),
        app_client_events: get(&[
            "HERALD_APP_CLIENT_EVENTS",
            "SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES",
        ]),
        app_subscription_count: get(&["HERALD_APP_SUBSCRIPTION_COUNT"]),
        app_audit_token: get(&["HERALD_APP_AUDIT_TOKEN"]),
        app_allowed_origins: get(&["HERALD_APP_ALLOWED_ORIGINS"]),
        app_webhooks: get(&["HERALD_APP_WEBHOOKS", "SOKETI_DEFAULT_APP_WEBHOOKS"]),
        webhook_store: get(&["HERALD_WEBHOOK_STORE"]),
        webhook_give_up: get(&["HERALD_WEBHOOK_GIVE_UP"]),
        webhook_queue_capacity: get(&["HERALD_WEBHOOK_QUEUE_CAPACITY"]),
        apps: None,
    }
}

/// Reads a TOML file. Numbers and booleans are accepted as TOML values for scalar settings.
pub fn file_layer(path: &Path) -> Result<Layer, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    let mut table: toml::Table =
        text.parse()
            .map_err(|e: toml::de::Error| ConfigError::BadFile {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
    // Scalars are kept as strings in a Layer so every source parses them the same way.
    for (key, value) in table.iter_mut() {
        if key == "apps" {
            continue;
        }
        match value {
            toml::Value::Integer(i) => *value = toml::Value::String(i.to_string()),
            toml::Value::Float(f) => *value = toml::Value::String(f.to_string()),
            toml::Value::Boolean(b) => *value = toml::Value::String(b.to_string()),
            toml::Value::Array(items) => {
                let joined: Vec<String> = items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect();
                *value = toml::Value::String(joined.join(","));
            }
            _ => {}
        }
    }
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::BadFile {
            path: path.to_owned(),
            message: e.to_string(),
        })
}
