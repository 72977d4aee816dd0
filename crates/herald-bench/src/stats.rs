//! Measurement primitives: the run's clock, sharded counters and latency histograms, and the
//! percentile summary that goes into reports.
//!
//! Thousands of connection tasks record into a small, fixed number of shards (a task always
//! uses the same shard), so recording costs an uncontended lock and one histogram increment
//! instead of one 100 KB histogram per connection.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest latency a histogram records exactly (60 s, in microseconds); larger ones are
/// clamped to it and still counted.
pub const MAX_LATENCY_US: u64 = 60_000_000;
/// Number of shards: a few per core is enough to make lock contention negligible.
const SHARDS: usize = 16;

/// Monotonic microseconds since the start of the run. Send and receive happen in this one
/// process, so the clock needs no synchronisation with anything.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    pub fn start() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    pub fn now_us(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

/// A new histogram for microsecond latencies, 1 µs to 60 s, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("static bounds are valid")
}

/// Percentiles of a latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self {
                count: 0,
                min_ms: 0.0,
                mean_ms: 0.0,
                p50_ms: 0.0,
                p90_ms: 0.0,
                p99_ms: 0.0,
                p999_ms: 0.0,
                max_ms: 0.0,
            };
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            min_ms: ms(h.min()),
            // Rounded to whole microseconds, like every other figure here.
            mean_ms: h.mean().round() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// Events per second over `elapsed` (0 for an empty interval).
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

// Aligned to two cache lines so that shards used from different cores do not false-share.
#[repr(align(128))]
struct Shard {
    count: AtomicU64,
    /// Latest `at` passed to `record_at` (on the run's clock).
    last_at: AtomicU64,
    hist: Mutex<Histogram<u64>>,
}

/// Counts events and records their latencies, sharded by a caller-chosen index.
pub struct Recorder {
    shards: Vec<Shard>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Shard {
                    count: AtomicU64::new(0),
                    last_at: AtomicU64::new(0),
                    hist: Mutex::new(new_histogram()),
                })
                .collect(),
        }
    }

    fn shard(&self, key: usize) -> &Shard {
        &self.shards[key % SHARDS]
    }

    /// Counts one event with its latency. `key` picks the shard (e.g. the connection index).
    pub fn record(&self, key: usize, latency_us: u64) {
        let shard = self.shard(key);
        shard.count.fetch_add(1, Ordering::Relaxed);
        // A poisoned lock only means another recorder panicked mid-increment; the counts
        // are still usable.
        let mut h = shard.hist.lock().unwrap_or_else(|e| e.into_inner());
        h.saturating_record(latency_us.clamp(1, MAX_LATENCY_US));
    }

    /// Like [`record`](Self::record), also remembering when (`at_us` on the run's clock), so
    /// the time of the last event is known without a global atomic shared by every task.
    pub fn record_at(&self, key: usize, at_us: u64, latency_us: u64) {
        self.shard(key).last_at.fetch_max(at_us, Ordering::Relaxed);
        self.record(key, latency_us);
    }

    /// The latest `at_us` given to [`record_at`](Self::record_at) (0 if none).
    pub fn last_at(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.last_at.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    }

    /// Events recorded so far (cheap: no histogram merge).
    pub fn count(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.count.load(Ordering::Relaxed))
            .sum()
    }

    /// All shards merged into one histogram.
    pub fn histogram(&self) -> Histogram<u64> {
        let mut all = new_histogram();
        for s in &self.shards {
            let h = s.hist.lock().unwrap_or_else(|e| e.into_inner());
            all.add(&*h).expect("histograms share bounds");
        }
        all
    }

    pub fn summary(&self) -> LatencySummary {
        LatencySummary::from_histogram(&self.histogram())
    }
}

/// A plain relaxed counter, for the many counts that need no histogram.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn incr(&self) {
        self.add(1);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Turns successive readings of a growing counter into per-second rates (for progress lines).
#[derive(Debug, Default)]
pub struct RateMeter {
    last: u64,
}

impl RateMeter {
    pub fn rate(&mut self, now: u64, dt: Duration) -> f64 {
        let r = per_second(now.saturating_sub(self.last), dt);
        self.last = now;
        r
    }
}

/// Counts failures by kind and keeps the first message of each kind, so a report can say
/// *why* requests failed (a wrong secret shows up as the server's 401 text).
#[derive(Debug, Default)]
pub struct Failures {
    kinds: Mutex<Vec<(String, u64, String)>>,
}

impl Failures {
    pub fn record(&self, kind: &str, message: impl FnOnce() -> String) {
        let mut kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        match kinds.iter_mut().find(|(k, _, _)| k == kind) {
            Some((_, n, _)) => *n += 1,
            None => kinds.push((kind.to_owned(), 1, message())),
        }
    }

    pub fn total(&self) -> u64 {
        let kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        kinds.iter().map(|(_, n, _)| n).sum()
    }

    /// `(kind, count, first message)` per kind, in order of first occurrence.
    pub fn snapshot(&self) -> Vec<(String, u64, String)> {
        self.kinds.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// One warning line per kind, for the report.
    pub fn warnings(&self, what: &str) -> Vec<String> {
        self.snapshot()
            .into_iter()
            .map(|(kind, n, msg)| format!("{n} {what} failed ({kind}); first: {msg}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut h = new_histogram();
        for us in 1..=1000u64 {
            h.record(us * 1000).unwrap(); // 1 ms … 1000 ms
        }
        let s = LatencySummary::from_histogram(&h);
        assert_eq!(s.count, 1000);
        // Three significant digits: values are exact to within 0.1 %.
        let close = |a: f64, b: f64| (a - b).abs() <= b * 0.001 + 0.001;
        assert!(close(s.min_ms, 1.0), "{s:?}");
        assert!(close(s.p50_ms, 500.0), "{s:?}");
        assert!(close(s.p90_ms, 900.0), "{s:?}");
        assert!(close(s.p99_ms, 990.0), "{s:?}");
        assert!(close(s.max_ms, 1000.0), "{s:?}");
        assert!(close(s.mean_ms, 500.5), "{s:?}");
    }

    #[test]
    fn empty_histogram_summarises_to_zeroes() {
        let s = LatencySummary::from_histogram(&new_histogram());
        assert_eq!(s.count, 0);
        assert_eq!(s.max_ms, 0.0);
    }

    #[test]
    fn recorder_merges_shards_and_clamps() {
        let r = Recorder::new();
        for i in 0..100 {
            r.record(i, 2000);
        }
        r.record(7, 0); // clamped up to 1 µs, still counted
        r.record(8, u64::MAX); // clamped down to 60 s
        assert_eq!(r.count(), 102);
        assert_eq!(r.last_at(), 0);
        r.record_at(3, 500, 10);
        r.record_at(4, 900, 10);
        r.record_at(3, 700, 10);
        assert_eq!(r.last_at(), 900);
        assert_eq!(r.count(), 105);
        let s = r.summary();
        assert_eq!(s.count, 105);
        assert!((s.p50_ms - 2.0).abs() < 0.01, "{s:?}");
        assert!(s.max_ms >= 59_000.0, "{s:?}");
        assert!(s.min_ms <= 0.001, "{s:?}");
    }

    #[test]
    fn failures_keep_the_first_message_per_kind() {
        let f = Failures::default();
        f.record("http 401", || "Invalid signature".into());
        f.record("http 401", || {
            unreachable!("only the first message is built")
        });
        f.record("timeout", || "after 10s".into());
        assert_eq!(f.total(), 3);
        assert_eq!(
            f.warnings("triggers"),
            vec![
                "2 triggers failed (http 401); first: Invalid signature".to_owned(),
                "1 triggers failed (timeout); first: after 10s".to_owned()
            ]
        );
    }

    #[test]
    fn rates() {
        assert_eq!(per_second(500, Duration::from_millis(250)), 2000.0);
        assert_eq!(per_second(5, Duration::ZERO), 0.0);
        let mut m = RateMeter::default();
        assert_eq!(m.rate(100, Duration::from_secs(1)), 100.0);
        assert_eq!(m.rate(250, Duration::from_secs(1)), 150.0);
    }
}
