//! Prometheus counters: process-wide atomics, one increment per event or per broadcast,
//! never per recipient. A leaf module: every layer may count, none of this reads state.
//! `http/metrics.rs` renders them (with the gauges it reads from the state) at `/metrics`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

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

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn set(&self, n: i64) {
        self.0.store(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Durations as a Prometheus summary without quantiles: a count and a sum (seconds).
#[derive(Debug, Default)]
pub struct Timing {
    count: AtomicU64,
    micros: AtomicU64,
}

impl Timing {
    pub fn observe(&self, d: Duration) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn sum_seconds(&self) -> f64 {
        self.micros.load(Ordering::Relaxed) as f64 / 1e6
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
    pub webhook_events_queued: Counter,
    pub webhook_events_dropped: Counter,
    pub webhook_batches_sent: Counter,
    pub webhook_events_sent: Counter,
    pub webhook_attempts_failed: Counter,
    pub webhook_retries: Counter,
    pub webhook_batches_given_up: Counter,
    pub webhook_events_given_up: Counter,
    pub webhook_outbox_pending: Gauge,
    pub webhook_request_latency: Timing,
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
    webhook_events_queued: Counter(AtomicU64::new(0)),
    webhook_events_dropped: Counter(AtomicU64::new(0)),
    webhook_batches_sent: Counter(AtomicU64::new(0)),
    webhook_events_sent: Counter(AtomicU64::new(0)),
    webhook_attempts_failed: Counter(AtomicU64::new(0)),
    webhook_retries: Counter(AtomicU64::new(0)),
    webhook_batches_given_up: Counter(AtomicU64::new(0)),
    webhook_events_given_up: Counter(AtomicU64::new(0)),
    webhook_outbox_pending: Gauge(AtomicI64::new(0)),
    webhook_request_latency: Timing {
        count: AtomicU64::new(0),
        micros: AtomicU64::new(0),
    },
};
