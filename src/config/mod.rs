//! Typed configuration, assembled from command-line flags, `HERALD_*` environment variables
//! (soketi's names accepted as aliases) and an optional TOML file, in that order of
//! precedence, and validated before anything binds.

mod app;
mod layer;
pub mod origins;
mod resolve;
pub mod retention;
pub mod webhooks;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use app::AppConfig;
pub use layer::{Layer, env_layer, file_layer};

/// Credentials of the zero-config app. Anyone who knows them can publish, so herald warns
/// loudly when they are in use.
pub const DEFAULT_APP_ID: &str = "1";
pub const DEFAULT_APP_KEY: &str = "app-key";
pub const DEFAULT_APP_SECRET: &str = "app-secret";

/// How the trigger API treats the audit recorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditMode {
    /// `200` only after the event is committed (default).
    Durable,
    /// `200` after the commit reaches the operating system but before it is fsynced: survives
    /// `kill -9` of herald, not a power loss or OS crash; lower trigger latency.
    Async,
    /// No audit trail at all.
    Off,
}

/// Everything herald needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: IpAddr,
    pub port: u16,
    pub metrics_port: Option<u16>,
    /// Address of the `/metrics` listener: loopback unless the operator opens it up.
    pub metrics_host: IpAddr,
    pub node_id: String,
    pub apps: Vec<AppConfig>,
    /// Set ⇒ several nodes share state through Redis.
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    /// How often a clustered node refreshes its heartbeat and looks for dead nodes.
    pub redis_heartbeat: Duration,
    /// How long a silent node counts as alive; after it, its share of the cluster state
    /// (counts, presence members, signed-in users) is removed by the survivors.
    pub node_timeout: Duration,
    pub audit_url: String,
    pub audit_mode: AuditMode,
    /// Whether a trigger the recorder cannot record is refused (503) or delivered anyway.
    pub audit_on_unavailable: herald_audit::UnavailablePolicy,
    /// The checkpoint signing key file; `None`: beside the store, generated on first start.
    pub audit_signing_key: Option<std::path::PathBuf>,
    /// A signed checkpoint after this many new events of an app…
    pub audit_checkpoint_every: u64,
    /// …or this long after its first unsigned one.
    pub audit_checkpoint_interval: Duration,
    /// Events a live audit stream reader may fall behind before it is cut off.
    pub audit_stream_buffer: usize,
    /// Interval of the live audit stream's heartbeat comments.
    pub audit_stream_heartbeat: Duration,
    /// How often the retention job prunes every app that has `[[apps.retention]]` rules.
    pub audit_prune_interval: Duration,
    /// Schema of a PostgreSQL audit store.
    pub audit_pg_schema: String,
    /// Seconds of client silence before the server pings; also sent in the handshake.
    pub activity_timeout: Duration,
    /// How long to wait for any reply to a ping before closing with 4201.
    pub pong_timeout: Duration,
    pub max_channel_name_len: usize,
    pub max_event_name_len: usize,
    pub max_event_data_bytes: usize,
    pub max_channels_per_trigger: usize,
    pub max_batch_size: usize,
    /// Largest WebSocket message a client may send.
    pub max_ws_message_bytes: usize,
    /// Channels one connection may be subscribed to at once.
    pub max_subscriptions_per_connection: usize,
    /// Frames (any kind: subscribe, ping, client events…) one connection may send per
    /// second; more are dropped with one `pusher:error` 4301 per second.
    pub max_client_frames_per_second: u32,
    /// Outgoing frames queued per connection before it is dropped as too slow (4100).
    pub connection_queue_capacity: usize,
    /// How long cache channels keep their last event.
    pub cache_ttl: Duration,
    /// How long an HTTP request may take until its response starts (408 after that).
    pub http_request_timeout: Duration,
    /// How long a connection may take to send a complete request head, counted from when it
    /// connects or finished its previous response; the connection is closed after it. Bounds
    /// idle keep-alive connections and sockets that never send a request (slowloris).
    pub http_header_timeout: Duration,
    /// How long an authenticated API request may take to send its body (408 after that).
    pub http_body_timeout: Duration,
    /// Largest body the signed API reads; larger requests get 413 without being read.
    pub max_request_body_bytes: usize,
    /// How long shutdown waits for connections and requests to finish.
    pub shutdown_grace: Duration,
    /// WebSocket connections one client address may hold open (`None`: no limit).
    pub max_connections_per_ip: Option<usize>,
    /// WebSocket connections one client address may open per second (`None`: no limit).
    pub max_connections_per_ip_per_second: Option<u32>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// The webhook outbox, give-up time and queue size (receivers are per app).
    pub webhooks: webhooks::WebhookSettings,
    /// True when the zero-config credentials are in use (herald then warns loudly).
    pub using_default_credentials: bool,
}

/// A setting that cannot be used, named so the operator can fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("Invalid configuration: {setting}: {reason}")]
    Invalid { setting: String, reason: String },
    #[error("Invalid configuration: cannot read config file {path}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Invalid configuration: config file {path}: {message}")]
    BadFile { path: PathBuf, message: String },
}

impl ConfigError {
    pub(crate) fn invalid(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            setting: setting.into(),
            reason: reason.into(),
        }
    }
}

impl Config {
    /// Builds the configuration from layers, highest precedence first.
    pub fn from_layers(layers: &[Layer]) -> Result<Self, ConfigError> {
        resolve::resolve(layers)
    }

    /// The zero-config configuration (useful for tests; `port` 0 is fine there).
    pub fn default_single_app() -> Self {
        resolve::resolve(&[]).expect("the defaults are valid")
    }

    pub fn app_by_id(&self, id: &str) -> Option<&AppConfig> {
        self.apps.iter().find(|a| a.id == id)
    }
}
