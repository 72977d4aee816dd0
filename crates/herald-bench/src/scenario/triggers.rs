//! Triggers: HTTP trigger throughput and latency at a fixed concurrency (closed loop: each
//! worker sends its next request when the previous one is answered), optionally capped at a
//! rate. With herald's audit recorder on, an accepted trigger is a durably recorded one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::args::TriggersArgs;
use crate::client::http::TriggerClient;
use crate::pacing::Pacer;
use crate::payload::{AuditPayload, trigger_body};
use crate::progress;
use crate::report::{Report, Value};
use crate::stats::{Clock, Failures, RateMeter, Recorder, per_second};
use crate::target::Target;

struct Shared {
    clock: Clock,
    /// Next request number; also how many were started.
    issued: AtomicU64,
    accepted: Recorder,
    failures: Failures,
    bytes_sent: AtomicU64,
}

pub async fn run(a: &TriggersArgs, target: &Target, show_progress: bool) -> anyhow::Result<Report> {
    let client = TriggerClient::new(target, a.concurrency)?;
    let shared = Arc::new(Shared {
        clock: Clock::start(),
        issued: AtomicU64::new(0),
        accepted: Recorder::new(),
        failures: Failures::default(),
        bytes_sent: AtomicU64::new(0),
    });
    let payload = AuditPayload {
        pad_to: a.payload_size,
    };
    let channels = Arc::new(a.channels.clone());
    let event: Arc<str> = a.event.as_str().into();
    let max = a.requests.unwrap_or(u64::MAX);
    let stop = CancellationToken::new();
    let bar = {
        let shared = shared.clone();
        let mut meter = RateMeter::default();
        progress::spawn(show_progress, stop.child_token(), move |dt| {
            let ok = shared.accepted.count();
            format!(
                "accepted {ok} ({:.0}/s), failed {}, p99 {:.2} ms",
                meter.rate(ok, dt),
                shared.failures.total(),
                shared.accepted.summary().p99_ms
            )
        })
    };

    let started = Instant::now();
    let deadline = started + a.duration;
    let mut workers = JoinSet::new();
    for worker in 0..a.concurrency {
        let (client, shared, channels, event) = (
            client.clone(),
            shared.clone(),
            channels.clone(),
            event.clone(),
        );
        // A rate cap is split evenly over the workers, each pacing itself.
        let mut pacer = a.rate.map(|r| Pacer::new(r / a.concurrency as f64));
        workers.spawn(async move {
            let names: Vec<&str> = channels.iter().map(String::as_str).collect();
            loop {
                if let Some(p) = pacer.as_mut() {
                    if p.next_due() >= deadline {
                        break;
                    }
                    p.tick().await;
                }
                if Instant::now() >= deadline {
                    break;
                }
                let n = shared.issued.fetch_add(1, Ordering::Relaxed);
                if n >= max {
                    break;
                }
                let body = trigger_body(&event, &names, &payload.data(n, None));
                shared
                    .bytes_sent
                    .fetch_add(body.len() as u64, Ordering::Relaxed);
                let start = shared.clock.now_us();
                match client.trigger(body).await {
                    Ok(()) => shared
                        .accepted
                        .record(worker, shared.clock.now_us() - start),
                    Err(e) => shared.failures.record(&e.kind(), || e.message()),
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let elapsed = started.elapsed();
    stop.cancel();
    let _ = bar.await;

    let ok = shared.accepted.count();
    let failed = shared.failures.total();
    let mut r = Report::new("triggers");
    let p = &mut r.parameters;
    p.push(
        "concurrency",
        "concurrency",
        Value::Count(a.concurrency as u64),
    );
    p.push(
        "duration_s",
        "duration",
        Value::Secs(a.duration.as_secs_f64()),
    );
    if let Some(n) = a.requests {
        p.push("max_requests", "max requests", Value::Count(n));
    }
    if let Some(rate) = a.rate {
        p.push("rate", "rate cap", Value::Rate(rate));
    }
    p.push(
        "channels",
        "channels per trigger",
        Value::Count(a.channels.len() as u64),
    );
    p.push("event", "event", Value::Text(a.event.clone()));
    p.push(
        "payload_bytes",
        "event data size",
        Value::Bytes(payload.data(0, None).len() as u64),
    );

    let s = &mut r.results;
    s.push("requests", "requests", Value::Count(ok + failed));
    s.push("accepted", "accepted (2xx)", Value::Count(ok));
    s.push("failed", "failed", Value::Count(failed));
    s.push("elapsed_s", "elapsed", Value::Secs(elapsed.as_secs_f64()));
    s.push(
        "accepted_per_s",
        "accepted triggers/s",
        Value::Rate(per_second(ok, elapsed)),
    );
    s.push(
        "channel_events_per_s",
        "channel events/s",
        Value::Rate(per_second(ok * a.channels.len() as u64, elapsed)),
    );
    s.push(
        "request_bytes_per_s",
        "request body bytes/s",
        Value::Bytes((per_second(shared.bytes_sent.load(Ordering::Relaxed), elapsed)) as u64),
    );
    r.latency("request", "trigger request", shared.accepted.summary());
    r.warnings.extend(shared.failures.warnings("triggers"));
    Ok(r)
}
