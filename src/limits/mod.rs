//! Protection against hostile or broken clients: the limits herald enforces beyond Pusher's
//! own (body sizes, timeouts, descriptor exhaustion, …) and how often each one refused
//! something (leaf counters; `http/metrics.rs` exports them as
//! `herald_limit_refusals_total{limit="…"}`) so an operator can tell an attack (or a
//! too-tight setting) from a quiet day.

mod client_ip;
mod descriptors;
mod per_ip;

use std::sync::atomic::{AtomicU64, Ordering};

use std::sync::Arc;

pub use client_ip::client_ip;
pub use descriptors::{DescriptorHealth, raise_open_file_limit};
pub use per_ip::{IpPermit, IpRefusal, PerIp};

/// The limits' shared state, one per node (in `AppState`).
#[derive(Debug)]
pub struct Guards {
    pub descriptors: DescriptorHealth,
    /// WebSocket connections per client address.
    pub per_ip: Arc<PerIp>,
}

impl Guards {
    /// `max_connections_per_ip` and `max_connections_per_ip_per_second` from the config.
    pub fn new(max_connections_per_ip: Option<usize>, per_ip_per_second: Option<u32>) -> Self {
        Self {
            descriptors: DescriptorHealth::default(),
            per_ip: Arc::new(PerIp::new(max_connections_per_ip, per_ip_per_second)),
        }
    }
}

/// A limit that can refuse a request, a frame or a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// A signed API request whose body exceeds `max_request_body_bytes` (413).
    RequestBody,
    /// A signed API request whose body is not `application/json` (415).
    ContentType,
    /// A signed API request whose body did not arrive within `http_body_timeout` (408).
    BodyTimeout,
    /// A connection closed for not sending a request head within `http_header_timeout`.
    HeaderTimeout,
    /// An `accept` that failed for lack of file descriptors (retried after a backoff).
    FileDescriptors,
    /// A subscription refused by `max_subscriptions_per_connection`.
    SubscriptionsPerConnection,
    /// A client frame dropped by `max_client_frames_per_second`.
    ClientFrameRate,
    /// A WebSocket closed with 1007 (invalid UTF-8) or 1009 (message too big).
    WebSocketFrame,
    /// A WebSocket refused by `max_connections_per_ip` or `max_connections_per_ip_per_second`.
    ConnectionsPerIp,
    /// A subscription to a new channel refused by the app's `max_channels`.
    ChannelsPerApp,
}

impl Limit {
    pub const ALL: [Limit; 10] = [
        Limit::RequestBody,
        Limit::ContentType,
        Limit::BodyTimeout,
        Limit::HeaderTimeout,
        Limit::FileDescriptors,
        Limit::SubscriptionsPerConnection,
        Limit::ClientFrameRate,
        Limit::WebSocketFrame,
        Limit::ConnectionsPerIp,
        Limit::ChannelsPerApp,
    ];

    /// The label value in `/metrics`.
    pub fn label(self) -> &'static str {
        match self {
            Limit::RequestBody => "request_body_bytes",
            Limit::ContentType => "content_type",
            Limit::BodyTimeout => "http_body_timeout",
            Limit::HeaderTimeout => "http_header_timeout",
            Limit::FileDescriptors => "file_descriptors",
            Limit::SubscriptionsPerConnection => "subscriptions_per_connection",
            Limit::ClientFrameRate => "client_frames_per_second",
            Limit::WebSocketFrame => "websocket_frame",
            Limit::ConnectionsPerIp => "connections_per_ip",
            Limit::ChannelsPerApp => "channels_per_app",
        }
    }
}

static REFUSALS: [AtomicU64; Limit::ALL.len()] = [const { AtomicU64::new(0) }; Limit::ALL.len()];

/// Counts one refusal by `limit`.
pub fn refused(limit: Limit) {
    REFUSALS[limit as usize].fetch_add(1, Ordering::Relaxed);
}

/// How many times `limit` refused something since the process started.
pub fn refusals(limit: Limit) -> u64 {
    REFUSALS[limit as usize].load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_is_listed_once_in_discriminant_order() {
        for (i, limit) in Limit::ALL.iter().enumerate() {
            assert_eq!(*limit as usize, i, "{limit:?}");
        }
        refused(Limit::RequestBody);
        assert!(refusals(Limit::RequestBody) >= 1);
    }
}
