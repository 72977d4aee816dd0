//! Prometheus counters: process-wide atomics, one increment per event or per broadcast,
//! never per recipient. A leaf module: every layer may count, none of this reads state.
//! `http/metrics.rs` renders them (with the gauges it reads from the state) at `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn inc(&self) {
        self.add(1);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Every counter herald exports.
#[derive(Debug, Default)]
pub struct Metrics {
    pub connections_opened: Counter,
    pub connections_refused: Counter,
    pub slow_connections_closed: Counter,
    pub ws_messages_received: Counter,
    pub frames_delivered: Counter,
    pub broadcasts: Counter,
    pub client_events: Counter,
    pub http_events_triggered: Counter,
    pub http_requests_rejected: Counter,
    pub audit_records: Counter,
    pub audit_failures: Counter,
}

/// The process's metrics. A static keeps the hot path free of handle plumbing; the values
/// are process-wide by nature (one herald node per process).
pub static METRICS: Metrics = Metrics {
    connections_opened: Counter(AtomicU64::new(0)),
    connections_refused: Counter(AtomicU64::new(0)),
    slow_connections_closed: Counter(AtomicU64::new(0)),
    ws_messages_received: Counter(AtomicU64::new(0)),
    frames_delivered: Counter(AtomicU64::new(0)),
    broadcasts: Counter(AtomicU64::new(0)),
    client_events: Counter(AtomicU64::new(0)),
    http_events_triggered: Counter(AtomicU64::new(0)),
    http_requests_rejected: Counter(AtomicU64::new(0)),
    audit_records: Counter(AtomicU64::new(0)),
    audit_failures: Counter(AtomicU64::new(0)),
};
