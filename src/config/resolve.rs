//! Resolving layers into a [`Config`]: the first layer that sets a value wins, then the
//! defaults apply, and every value is validated once, naming the setting when it is refused.

use std::net::IpAddr;
use std::time::Duration;

use super::layer::Layer;
use super::{
    AppConfig, AuditMode, Config, ConfigError, DEFAULT_APP_ID, DEFAULT_APP_KEY, DEFAULT_APP_SECRET,
};

/// First layer that sets a field wins.
macro_rules! pick {
    ($layers:expr, $field:ident) => {
        $layers.iter().find_map(|l| l.$field.clone())
    };
}

fn parse<T: std::str::FromStr>(
    setting: &str,
    raw: Option<String>,
    default: T,
    what: &str,
) -> Result<T, ConfigError> {
    match raw {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| ConfigError::invalid(setting, format!("expected {what}, got {v:?}"))),
    }
}

fn parse_bool(setting: &str, raw: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match raw.as_deref().map(str::trim) {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(v) => Err(ConfigError::invalid(
            setting,
            format!("expected true or false, got {v:?}"),
        )),
    }
}

/// An optional limit: unset or 0 means none.
fn optional_count(setting: &str, raw: Option<String>) -> Result<Option<usize>, ConfigError> {
    let n: u64 = parse(setting, raw, 0, "a whole number (0 for no limit)")?;
    Ok((n > 0).then_some(n as usize))
}

fn positive(setting: &str, value: u64) -> Result<u64, ConfigError> {
    if value == 0 {
        Err(ConfigError::invalid(setting, "must be greater than 0"))
    } else {
        Ok(value)
    }
}

pub(super) fn resolve(layers: &[Layer]) -> Result<Config, ConfigError> {
    let port: u16 = parse(
        "port (HERALD_PORT)",
        pick!(layers, port),
        6001,
        "a port number",
    )?;
    let metrics_host: IpAddr = parse(
        "metrics_host (HERALD_METRICS_HOST)",
        pick!(layers, metrics_host),
        IpAddr::from([127, 0, 0, 1]),
        "an IP address",
    )?;
    let metrics_port = match pick!(layers, metrics_port) {
        None => None,
        Some(v) => Some(parse(
            "metrics_port (HERALD_METRICS_PORT)",
            Some(v),
            0u16,
            "a port number",
        )?),
    };
    let secs =
        |setting: &str, raw: Option<String>, default: u64| -> Result<Duration, ConfigError> {
            let v = parse(setting, raw, default, "a whole number of seconds")?;
            Ok(Duration::from_secs(positive(setting, v)?))
        };
    let count = |setting: &str, raw: Option<String>, default: u64| -> Result<usize, ConfigError> {
        let v = parse(setting, raw, default, "a positive whole number")?;
        Ok(positive(setting, v)? as usize)
    };

    let apps = match pick!(layers, apps) {
        Some(apps) => apps,
        None => {
            let mut app = AppConfig::new(
                pick!(layers, app_id).unwrap_or_else(|| DEFAULT_APP_ID.into()),
                pick!(layers, app_key).unwrap_or_else(|| DEFAULT_APP_KEY.into()),
                pick!(layers, app_secret).unwrap_or_else(|| DEFAULT_APP_SECRET.into()),
            );
            app.client_events = parse_bool(
                "app_client_events (HERALD_APP_CLIENT_EVENTS)",
                pick!(layers, app_client_events),
                false,
            )?;
            app.subscription_count = parse_bool(
                "app_subscription_count (HERALD_APP_SUBSCRIPTION_COUNT)",
                pick!(layers, app_subscription_count),
                false,
            )?;
            app.audit_token = pick!(layers, app_audit_token);
            if let Some(raw) = pick!(layers, app_allowed_origins) {
                app.allowed_origins = raw
                    .split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(str::to_owned)
                    .collect();
                for origin in &app.allowed_origins {
                    super::origins::validate(origin).map_err(|reason| {
                        ConfigError::invalid(
                            "app_allowed_origins (HERALD_APP_ALLOWED_ORIGINS)",
                            reason,
                        )
                    })?;
                }
            }
            if let Some(raw) = pick!(layers, app_webhooks) {
                app.webhooks = serde_json::from_str(&raw).map_err(|e| {
                    ConfigError::invalid(
                        "app_webhooks (HERALD_APP_WEBHOOKS)",
                        format!(
                            "expected a JSON list like [{{\"url\": \"http://…\", \"event_types\": [\"channel_occupied\"]}}]: {e}"
                        ),
                    )
                })?;
                super::webhooks::validate(&app.webhooks).map_err(|(field, reason)| {
                    ConfigError::invalid(
                        format!("app_webhooks (HERALD_APP_WEBHOOKS) {field}"),
                        reason,
                    )
                })?;
            }
            if let Some(raw) = pick!(layers, app_max_channels) {
                app.max_channels =
                    count("app_max_channels (HERALD_APP_MAX_CHANNELS)", Some(raw), 0)?;
            }
            vec![app]
        }
    };
    validate_apps(&apps)?;
    for app in &apps {
        super::retention::policy(&app.retention).map_err(|why| {
            ConfigError::invalid(format!("apps[id = {:?}].retention", app.id), why)
        })?;
    }
    let using_default_credentials = apps
        .iter()
        .any(|a| a.key == DEFAULT_APP_KEY || a.secret == DEFAULT_APP_SECRET);

    let host = resolve_host(layers, &apps)?;

    let audit_mode = match pick!(layers, audit_mode).as_deref().map(str::trim) {
        None | Some("durable") => AuditMode::Durable,
        Some("async") => AuditMode::Async,
        Some("off") => AuditMode::Off,
        Some(other) => {
            return Err(ConfigError::invalid(
                "audit_mode (HERALD_AUDIT_MODE)",
                format!("expected durable, async or off, got {other:?}"),
            ));
        }
    };
    let audit_url =
        pick!(layers, audit_url).unwrap_or_else(|| herald_audit::DEFAULT_URL.to_owned());
    if audit_mode != AuditMode::Off {
        herald_audit::StoreLocation::parse(&audit_url)
            .map_err(|e| ConfigError::invalid("audit_url (HERALD_AUDIT_URL)", e.to_string()))?;
    }
    let audit_on_unavailable = match pick!(layers, audit_on_unavailable)
        .as_deref()
        .map(str::trim)
    {
        None | Some("reject") => herald_audit::UnavailablePolicy::RecordOrReject,
        Some("deliver") => herald_audit::UnavailablePolicy::DeliverAndRecord,
        Some(other) => {
            return Err(ConfigError::invalid(
                "audit_on_unavailable (HERALD_AUDIT_ON_UNAVAILABLE)",
                format!("expected reject or deliver, got {other:?}"),
            ));
        }
    };
    let audit_pg_schema = pick!(layers, audit_pg_schema)
        .unwrap_or_else(|| herald_audit::config::DEFAULT_PG_SCHEMA.to_owned());
    herald_audit::config::check_pg_schema(&audit_pg_schema)
        .map_err(|e| ConfigError::invalid("audit_pg_schema (HERALD_AUDIT_PG_SCHEMA)", e))?;
    let redis_url = pick!(layers, redis_url);
    if let Some(url) = &redis_url {
        if url.starts_with("rediss://") {
            // The Redis client is built without TLS; refusing here beats failing to connect later.
            return Err(ConfigError::invalid(
                "redis_url (HERALD_REDIS_URL)",
                "rediss:// (TLS) is not supported by this build; use redis:// on a private network or a TLS tunnel",
            ));
        }
        if !url.starts_with("redis://") {
            return Err(ConfigError::invalid(
                "redis_url (HERALD_REDIS_URL)",
                format!("expected redis://HOST:PORT, got {url:?}"),
            ));
        }
    }
    let redis_prefix = pick!(layers, redis_prefix).unwrap_or_else(|| "herald".to_owned());
    // Braces would break the hash tags that keep an app's keys in one Redis Cluster slot.
    if redis_prefix.is_empty()
        || !redis_prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    {
        return Err(ConfigError::invalid(
            "redis_prefix (HERALD_REDIS_PREFIX)",
            format!("{redis_prefix:?} may contain only letters, digits, -, _, . and :"),
        ));
    }
    let redis_heartbeat = secs(
        "redis_heartbeat (HERALD_REDIS_HEARTBEAT)",
        pick!(layers, redis_heartbeat),
        3,
    )?;
    let node_timeout = secs(
        "node_timeout (HERALD_NODE_TIMEOUT)",
        pick!(layers, node_timeout),
        10,
    )?;
    if node_timeout < redis_heartbeat * 2 {
        return Err(ConfigError::invalid(
            "node_timeout (HERALD_NODE_TIMEOUT)",
            format!(
                "must be at least twice redis_heartbeat ({}s), got {}s",
                redis_heartbeat.as_secs(),
                node_timeout.as_secs()
            ),
        ));
    }
    let node_id = pick!(layers, node_id).unwrap_or_else(default_node_id);
    if node_id.is_empty() || node_id.len() > 100 || node_id.chars().any(char::is_control) {
        return Err(ConfigError::invalid(
            "node_id (HERALD_NODE_ID)",
            "must be 1 to 100 printable characters",
        ));
    }
    let trusted_proxies = match pick!(layers, trusted_proxies) {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse().map_err(|_| {
                    ConfigError::invalid(
                        "trusted_proxies (HERALD_TRUSTED_PROXIES)",
                        format!("{s:?} is not an IP address"),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };

    let max_event_data_bytes = count(
        "max_event_data_bytes (HERALD_MAX_EVENT_DATA_BYTES)",
        pick!(layers, max_event_data_bytes),
        10240,
    )?;
    let max_channel_name_len = count(
        "max_channel_name_length (HERALD_MAX_CHANNEL_NAME_LENGTH)",
        pick!(layers, max_channel_name_length),
        200,
    )?;
    let max_event_name_len = count(
        "max_event_name_length (HERALD_MAX_EVENT_NAME_LENGTH)",
        pick!(layers, max_event_name_length),
        200,
    )?;
    let max_channels_per_trigger = count(
        "max_channels_per_trigger (HERALD_MAX_CHANNELS_PER_TRIGGER)",
        pick!(layers, max_channels_per_trigger),
        100,
    )?;
    let max_batch_size = count(
        "max_batch_size (HERALD_MAX_BATCH_SIZE)",
        pick!(layers, max_batch_size),
        10,
    )?;
    let max_request_body_bytes = match pick!(layers, max_request_body_bytes) {
        Some(raw) => count(
            "max_request_body_bytes (HERALD_MAX_REQUEST_BODY_BYTES)",
            Some(raw),
            0,
        )?,
        None => largest_legal_body(
            max_batch_size,
            max_event_data_bytes,
            max_event_name_len,
            max_channels_per_trigger,
            max_channel_name_len,
        ),
    };
    let webhooks = super::webhooks::WebhookSettings {
        store: pick!(layers, webhook_store)
            .unwrap_or_else(|| "./data/herald-webhooks.db".to_owned())
            .into(),
        give_up: secs(
            "webhook_give_up (HERALD_WEBHOOK_GIVE_UP)",
            pick!(layers, webhook_give_up),
            600,
        )?,
        queue_capacity: count(
            "webhook_queue_capacity (HERALD_WEBHOOK_QUEUE_CAPACITY)",
            pick!(layers, webhook_queue_capacity),
            10_000,
        )?,
    };

    let config = Config {
        host,
        port,
        metrics_port,
        metrics_host,
        node_id,
        apps,
        redis_url,
        redis_prefix,
        redis_heartbeat,
        node_timeout,
        audit_url,
        audit_mode,
        audit_on_unavailable,
        audit_signing_key: pick!(layers, audit_signing_key).map(std::path::PathBuf::from),
        audit_checkpoint_every: count(
            "audit_checkpoint_every (HERALD_AUDIT_CHECKPOINT_EVERY)",
            pick!(layers, audit_checkpoint_every),
            1000,
        )? as u64,
        audit_checkpoint_interval: secs(
            "audit_checkpoint_interval (HERALD_AUDIT_CHECKPOINT_INTERVAL)",
            pick!(layers, audit_checkpoint_interval),
            60,
        )?,
        audit_stream_buffer: count(
            "audit_stream_buffer (HERALD_AUDIT_STREAM_BUFFER)",
            pick!(layers, audit_stream_buffer),
            1024,
        )?,
        audit_stream_heartbeat: secs(
            "audit_stream_heartbeat (HERALD_AUDIT_STREAM_HEARTBEAT)",
            pick!(layers, audit_stream_heartbeat),
            15,
        )?,
        audit_prune_interval: secs(
            "audit_prune_interval (HERALD_AUDIT_PRUNE_INTERVAL)",
            pick!(layers, audit_prune_interval),
            3600,
        )?,
        audit_pg_schema,
        activity_timeout: secs(
            "activity_timeout (HERALD_ACTIVITY_TIMEOUT)",
            pick!(layers, activity_timeout),
            120,
        )?,
        pong_timeout: secs(
            "pong_timeout (HERALD_PONG_TIMEOUT)",
            pick!(layers, pong_timeout),
            30,
        )?,
        max_channel_name_len,
        max_event_name_len,
        max_event_data_bytes,
        max_channels_per_trigger,
        max_batch_size,
        max_request_body_bytes,
        max_ws_message_bytes: count(
            "max_ws_message_bytes (HERALD_MAX_WS_MESSAGE_BYTES)",
            pick!(layers, max_ws_message_bytes),
            64 * 1024,
        )?,
        max_subscriptions_per_connection: count(
            "max_subscriptions_per_connection (HERALD_MAX_SUBSCRIPTIONS_PER_CONNECTION)",
            pick!(layers, max_subscriptions_per_connection),
            128,
        )?,
        max_client_frames_per_second: u32::try_from(count(
            "max_client_frames_per_second (HERALD_MAX_CLIENT_FRAMES_PER_SECOND)",
            pick!(layers, max_client_frames_per_second),
            200,
        )?)
        .unwrap_or(u32::MAX),
        connection_queue_capacity: count(
            "connection_queue_capacity (HERALD_CONNECTION_QUEUE_CAPACITY)",
            pick!(layers, connection_queue_capacity),
            1024,
        )?,
        cache_ttl: secs(
            "cache_ttl (HERALD_CACHE_TTL)",
            pick!(layers, cache_ttl),
            1800,
        )?,
        http_request_timeout: secs(
            "http_request_timeout (HERALD_HTTP_REQUEST_TIMEOUT)",
            pick!(layers, http_request_timeout),
            30,
        )?,
        http_header_timeout: secs(
            "http_header_timeout (HERALD_HTTP_HEADER_TIMEOUT)",
            pick!(layers, http_header_timeout),
            20,
        )?,
        http_body_timeout: secs(
            "http_body_timeout (HERALD_HTTP_BODY_TIMEOUT)",
            pick!(layers, http_body_timeout),
            10,
        )?,
        shutdown_grace: secs(
            "shutdown_grace (HERALD_SHUTDOWN_GRACE)",
            pick!(layers, shutdown_grace),
            10,
        )?,
        max_connections_per_ip: optional_count(
            "max_connections_per_ip (HERALD_MAX_CONNECTIONS_PER_IP)",
            pick!(layers, max_connections_per_ip),
        )?,
        max_connections_per_ip_per_second: optional_count(
            "max_connections_per_ip_per_second (HERALD_MAX_CONNECTIONS_PER_IP_PER_SECOND)",
            pick!(layers, max_connections_per_ip_per_second),
        )?
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        trusted_proxies,
        webhooks,
        using_default_credentials,
    };
    Ok(config)
}

/// The listen address. While an app uses the default secret — which anyone can use to
/// publish and to read the audit trail — herald listens on loopback only: by default, and by
/// refusing any other address unless `allow_default_credentials` says this is deliberate.
fn resolve_host(layers: &[Layer], apps: &[AppConfig]) -> Result<IpAddr, ConfigError> {
    let default_secret = apps.iter().any(|a| a.secret == DEFAULT_APP_SECRET);
    let fallback = if default_secret {
        IpAddr::from([127, 0, 0, 1])
    } else {
        IpAddr::from([0, 0, 0, 0])
    };
    let explicit = pick!(layers, host);
    let host: IpAddr = parse("host (HERALD_HOST)", explicit, fallback, "an IP address")?;
    let allowed = parse_bool(
        "allow_default_credentials (HERALD_ALLOW_DEFAULT_CREDENTIALS)",
        pick!(layers, allow_default_credentials),
        false,
    )?;
    if default_secret && !host.is_loopback() && !allowed {
        return Err(ConfigError::invalid(
            "host (HERALD_HOST)",
            format!(
                "refusing to listen on {host} with the default app secret {DEFAULT_APP_SECRET:?}: anyone who can reach the port could publish and read the audit trail. Set HERALD_APP_SECRET (or each secret in [[apps]]), listen on 127.0.0.1, or set HERALD_ALLOW_DEFAULT_CREDENTIALS=true for a throwaway server"
            ),
        ));
    }
    Ok(host)
}

/// The largest body a legal trigger can have: a full batch of events with the largest data,
/// allowing for JSON escaping doubling the data (a string of quotes does), plus a single event
/// naming the most channels. 234 KB with Pusher's limits — a quarter of the 1 MiB herald
/// used to buffer before authenticating.
fn largest_legal_body(
    batch: usize,
    data: usize,
    event_name: usize,
    channels: usize,
    channel_name: usize,
) -> usize {
    const ENVELOPE: usize = 512; // keys, quotes, socket_id, info, idempotency_key
    let one_event = 2 * data + event_name + channel_name + ENVELOPE;
    batch.saturating_mul(one_event) + channels.saturating_mul(channel_name + 3)
}

fn validate_apps(apps: &[AppConfig]) -> Result<(), ConfigError> {
    if apps.is_empty() {
        return Err(ConfigError::invalid("apps", "at least one app is required"));
    }
    let mut ids = std::collections::HashSet::new();
    let mut keys = std::collections::HashSet::new();
    for (i, app) in apps.iter().enumerate() {
        let at = |field: &str| format!("apps[{i}].{field}");
        for (field, value) in [("id", &app.id), ("key", &app.key), ("secret", &app.secret)] {
            if value.trim().is_empty() {
                return Err(ConfigError::invalid(at(field), "must not be empty"));
            }
        }
        if !app
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ConfigError::invalid(
                at("id"),
                format!("{:?} may contain only letters, digits, - and _", app.id),
            ));
        }
        if !ids.insert(app.id.as_str()) {
            return Err(ConfigError::invalid(
                at("id"),
                format!("duplicate app id {:?}", app.id),
            ));
        }
        if !keys.insert(app.key.as_str()) {
            return Err(ConfigError::invalid(
                at("key"),
                format!("duplicate app key {:?}", app.key),
            ));
        }
        super::webhooks::validate(&app.webhooks)
            .map_err(|(field, reason)| ConfigError::invalid(at(&field), reason))?;
        if app.max_channels == 0 {
            return Err(ConfigError::invalid(
                at("max_channels"),
                "must be greater than 0",
            ));
        }
        for (j, origin) in app.allowed_origins.iter().enumerate() {
            super::origins::validate(origin).map_err(|reason| {
                ConfigError::invalid(at(&format!("allowed_origins[{j}]")), reason)
            })?;
        }
        if app.client_events_per_second == 0 {
            return Err(ConfigError::invalid(
                at("client_events_per_second"),
                "must be greater than 0",
            ));
        }
        if let Err((setting, reason)) = app.audit_rules() {
            return Err(ConfigError::invalid(at(setting), reason));
        }
    }
    Ok(())
}

fn default_node_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".to_owned());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{env_layer, file_layer};

    fn env(pairs: &[(&str, &str)]) -> Layer {
        env_layer(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn zero_config_is_the_documented_default() {
        let c = resolve(&[]).unwrap();
        assert_eq!(c.port, 6001);
        // The default secret keeps the zero-config server on loopback.
        assert_eq!(c.host.to_string(), "127.0.0.1");
        assert_eq!(c.apps.len(), 1);
        assert_eq!(
            (
                c.apps[0].id.as_str(),
                c.apps[0].key.as_str(),
                c.apps[0].secret.as_str()
            ),
            ("1", "app-key", "app-secret")
        );
        assert!(c.using_default_credentials);
        assert_eq!(c.audit_url, "sqlite://./data/herald-audit.db");
        assert_eq!(c.activity_timeout, Duration::from_secs(120));
    }

    #[test]
    fn default_secret_binds_loopback_and_refuses_other_addresses() {
        let err = resolve(&[env(&[("HERALD_HOST", "0.0.0.0")])]).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "Invalid configuration: host (HERALD_HOST): refusing to listen on 0.0.0.0 with the default app secret"
            ),
            "{err}"
        );
        // The default key alone is not a secret: a real secret lifts the rule.
        let c = resolve(&[env(&[("HERALD_APP_SECRET", "s3cret")])]).unwrap();
        assert_eq!(c.host.to_string(), "0.0.0.0");
        let c = resolve(&[env(&[
            ("HERALD_APP_SECRET", "s3cret"),
            ("HERALD_HOST", "10.1.2.3"),
        ])])
        .unwrap();
        assert_eq!(c.host.to_string(), "10.1.2.3");
        // Explicitly allowed, for a throwaway server.
        let c = resolve(&[env(&[
            ("HERALD_HOST", "::"),
            ("HERALD_ALLOW_DEFAULT_CREDENTIALS", "true"),
        ])])
        .unwrap();
        assert_eq!(c.host.to_string(), "::");
        assert!(resolve(&[env(&[("HERALD_HOST", "::1")])]).is_ok());
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let flags = Layer {
            port: Some("7000".into()),
            ..Layer::default()
        };
        let env = env(&[("HERALD_PORT", "7001"), ("HERALD_HOST", "127.0.0.1")]);
        let file = Layer {
            port: Some("7002".into()),
            host: Some("10.0.0.1".into()),
            node_id: Some("from-file".into()),
            ..Layer::default()
        };
        let c = resolve(&[flags, env, file]).unwrap();
        assert_eq!(c.port, 7000);
        assert_eq!(c.host.to_string(), "127.0.0.1");
        assert_eq!(c.node_id, "from-file");
    }

    #[test]
    fn soketi_names_are_aliases() {
        let c = resolve(&[env(&[
            ("SOKETI_DEFAULT_APP_ID", "app-id"),
            ("SOKETI_DEFAULT_APP_KEY", "k"),
            ("SOKETI_DEFAULT_APP_SECRET", "s"),
            ("SOKETI_PORT", "6009"),
        ])])
        .unwrap();
        assert_eq!(c.apps[0].id, "app-id");
        assert_eq!(c.apps[0].key, "k");
        assert_eq!(c.port, 6009);
        assert!(!c.using_default_credentials);
        // HERALD_ wins over the alias.
        let c = resolve(&[env(&[("SOKETI_PORT", "6009"), ("HERALD_PORT", "6010")])]).unwrap();
        assert_eq!(c.port, 6010);
    }

    #[test]
    fn invalid_settings_are_named() {
        let err = resolve(&[env(&[("HERALD_PORT", "http")])]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid configuration: port (HERALD_PORT): expected a port number, got \"http\""
        );
        let err = resolve(&[env(&[("HERALD_ACTIVITY_TIMEOUT", "0")])]).unwrap_err();
        assert!(err.to_string().contains("activity_timeout"), "{err}");
        let err = resolve(&[env(&[("HERALD_REDIS_URL", "localhost:6379")])]).unwrap_err();
        assert!(err.to_string().contains("HERALD_REDIS_URL"), "{err}");
        let err = resolve(&[env(&[("HERALD_REDIS_URL", "rediss://cache:6380")])]).unwrap_err();
        assert!(err.to_string().contains("TLS"), "{err}");
        let err = resolve(&[env(&[("HERALD_REDIS_PREFIX", "a{b}")])]).unwrap_err();
        assert!(err.to_string().contains("HERALD_REDIS_PREFIX"), "{err}");
        let err = resolve(&[env(&[
            ("HERALD_REDIS_HEARTBEAT", "5"),
            ("HERALD_NODE_TIMEOUT", "6"),
        ])])
        .unwrap_err();
        assert!(err.to_string().contains("HERALD_NODE_TIMEOUT"), "{err}");
        let err = resolve(&[env(&[("HERALD_APP_CLIENT_EVENTS", "maybe")])]).unwrap_err();
        assert!(
            err.to_string().contains("HERALD_APP_CLIENT_EVENTS"),
            "{err}"
        );
    }

    #[test]
    fn toml_file_with_several_apps() {
        let dir = std::env::temp_dir().join(format!("herald-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("herald.toml");
        std::fs::write(
            &path,
            r#"
port = 6100
trusted_proxies = ["127.0.0.1"]
[[apps]]
id = "app-id"
key = "k1"
secret = "s1"
client_events = true
allowed_origins = ["https://app.example.com", "https://*.example.com"]
[[apps]]
id = "2"
key = "k2"
secret = "s2"
enabled = false
max_connections = 10
"#,
        )
        .unwrap();
        let c = resolve(&[file_layer(&path).unwrap()]).unwrap();
        assert_eq!(c.port, 6100);
        assert_eq!(c.apps.len(), 2);
        assert!(c.apps[0].client_events);
        assert_eq!(
            c.apps[0].allowed_origins,
            ["https://app.example.com", "https://*.example.com"]
        );
        assert!(c.apps[1].allowed_origins.is_empty());
        assert!(!c.apps[1].enabled);
        assert_eq!(c.apps[1].max_connections, Some(10));
        assert_eq!(c.trusted_proxies.len(), 1);

        std::fs::write(
            &path,
            "[[apps]]\nid = \"x\"\nkey = \"k\"\nsecret = \"s\"\nbogus = 1\n",
        )
        .unwrap();
        let err = file_layer(&path).unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");

        std::fs::write(
            &path,
            "[[apps]]\nid = \"a\"\nkey = \"k\"\nsecret = \"s\"\n[[apps]]\nid = \"b\"\nkey = \"k\"\nsecret = \"t\"\n",
        )
        .unwrap();
        let err = resolve(&[file_layer(&path).unwrap()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid configuration: apps[1].key: duplicate app key \"k\""
        );
    }

    #[test]
    fn every_limit_refusal_names_its_env_variable() {
        for var in [
            "HERALD_MAX_EVENT_DATA_BYTES",
            "HERALD_MAX_CHANNEL_NAME_LENGTH",
            "HERALD_MAX_EVENT_NAME_LENGTH",
            "HERALD_MAX_CHANNELS_PER_TRIGGER",
            "HERALD_MAX_BATCH_SIZE",
            "HERALD_MAX_WS_MESSAGE_BYTES",
            "HERALD_CONNECTION_QUEUE_CAPACITY",
        ] {
            let vars = std::collections::HashMap::from([(var.to_owned(), "lots".to_owned())]);
            let err = Config::from_layers(&[env_layer(&vars)])
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("({var})")), "{var}: {err}");
        }
    }

    #[test]
    fn webhooks_from_toml_and_from_the_env_json() {
        let dir = std::env::temp_dir().join(format!("herald-cfg-hooks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("herald.toml");
        std::fs::write(
            &path,
            r#"
webhook_give_up = 30
[[apps]]
id = "1"
key = "k"
secret = "s"
[[apps.webhooks]]
url = "http://127.0.0.1:9000/hooks"
event_types = ["channel_occupied", "channel_vacated"]
filter = { channel_name_starts_with = "private-" }
headers = { Authorization = "Bearer t" }
"#,
        )
        .unwrap();
        let c = resolve(&[file_layer(&path).unwrap()]).unwrap();
        let hook = &c.apps[0].webhooks[0];
        assert_eq!(hook.event_types.len(), 2);
        assert!(hook.filter.matches("private-x") && !hook.filter.matches("x"));
        assert_eq!(hook.headers["Authorization"], "Bearer t");
        assert_eq!(c.webhooks.give_up, Duration::from_secs(30));

        std::fs::write(
            &path,
            "[[apps]]\nid = \"1\"\nkey = \"k\"\nsecret = \"s\"\n[[apps.webhooks]]\nurl = \"http://h/\"\nevent_types = [\"channel_occupid\"]\n",
        )
        .unwrap();
        let err = resolve(&[file_layer(&path).unwrap()]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Invalid configuration: apps[0].webhooks[0].event_types: unknown event type \"channel_occupid\""),
            "{err}"
        );

        let json = r#"[{"url":"http://127.0.0.1:1/h","event_types":["member_added"]}]"#;
        let c = resolve(&[env(&[("SOKETI_DEFAULT_APP_WEBHOOKS", json)])]).unwrap();
        assert_eq!(c.apps[0].webhooks[0].url, "http://127.0.0.1:1/h");
        let err = resolve(&[env(&[(
            "HERALD_APP_WEBHOOKS",
            r#"[{"url":"localhost/h","event_types":["member_added"]}]"#,
        )])])
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("app_webhooks (HERALD_APP_WEBHOOKS) webhooks[0].url"),
            "{err}"
        );
        let err = resolve(&[env(&[("HERALD_APP_WEBHOOKS", "{not json")])]).unwrap_err();
        assert!(err.to_string().contains("HERALD_APP_WEBHOOKS"), "{err}");
    }

    #[test]
    fn audit_fields_and_redaction_come_from_the_app_table_and_are_checked() {
        let dir = std::env::temp_dir().join(format!("herald-cfg-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("herald.toml");
        let app = "[[apps]]\nid = \"1\"\nkey = \"k\"\nsecret = \"s\"\n";
        std::fs::write(
            &path,
            format!(
                "{app}redact = [\"password\", \"changes.ssn\", \"*.card_number\"]\nredact_delivery = true\n[apps.audit_fields]\naction = [\"verb\"]\nuser = [\"meta.by.email\", \"by\"]\n"
            ),
        )
        .unwrap();
        let c = resolve(&[file_layer(&path).unwrap()]).unwrap();
        assert_eq!(c.apps[0].redact.len(), 3);
        assert!(c.apps[0].redact_delivery);
        assert_eq!(c.apps[0].audit_fields["action"], vec!["verb".to_owned()]);
        let rules = c.apps[0].audit_rules().unwrap();
        assert!(rules.redact(&["c".into()], r#"{"password":"x"}"#).is_some());

        for (extra, expected) in [
            (
                "redact = [\"card*\"]\n",
                "Invalid configuration: apps[0].redact: \"card*\": `*` must be a whole segment",
            ),
            (
                "[apps.audit_fields]\nacton = [\"verb\"]\n",
                "Invalid configuration: apps[0].audit_fields: unknown audit field \"acton\"",
            ),
        ] {
            std::fs::write(&path, format!("{app}{extra}")).unwrap();
            let err = resolve(&[file_layer(&path).unwrap()]).unwrap_err();
            assert!(err.to_string().starts_with(expected), "{err}");
        }
    }

    #[test]
    fn metrics_listen_on_loopback_unless_told() {
        assert_eq!(
            resolve(&[env(&[])]).unwrap().metrics_host,
            IpAddr::from([127, 0, 0, 1])
        );
        let c = resolve(&[env(&[("HERALD_METRICS_HOST", "0.0.0.0")])]).unwrap();
        assert_eq!(c.metrics_host, IpAddr::from([0, 0, 0, 0]));
        let err = resolve(&[env(&[("HERALD_METRICS_HOST", "nowhere")])]).unwrap_err();
        assert!(err.to_string().contains("HERALD_METRICS_HOST"), "{err}");
    }

    #[test]
    fn allowed_origins_from_the_env_and_bad_ones_named() {
        let c = resolve(&[env(&[(
            "HERALD_APP_ALLOWED_ORIGINS",
            "https://app.example.com, http://localhost:3000",
        )])])
        .unwrap();
        assert_eq!(
            c.apps[0].allowed_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        let err = resolve(&[env(&[("HERALD_APP_ALLOWED_ORIGINS", "app.example.com")])])
            .unwrap_err()
            .to_string();
        assert!(err.contains("HERALD_APP_ALLOWED_ORIGINS"), "{err}");
        assert!(err.contains("scheme://host"), "{err}");
        let mut app = AppConfig::new("1", "k", "s");
        app.allowed_origins = vec!["https://a.*.com".into()];
        let err = validate_apps(&[app]).unwrap_err().to_string();
        assert!(err.contains("apps[0].allowed_origins[0]"), "{err}");
    }
}
