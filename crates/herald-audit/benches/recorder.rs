//! Recorder hot paths: extracting audit fields from a payload (done once per event in the
//! caller's task), hash-chaining an event (done on the single writer thread, so its cost
//! adds straight to the writer's), and durable group-commit throughput through the real
//! writer into a file store (with the chain and checkpoints every 1000 events).
//!
//! `cargo bench -p herald-audit --bench recorder`

mod support;

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use herald_audit::extract::AuditFields;
use herald_audit::{AuditConfig, Durability};
use tokio_util::sync::CancellationToken;

const BRIEF_PAYLOAD: &str = r#"{"action": "created", "model": "service", "object_id": 53, "user": "test@example.com", "timestamp": "2025-01-07T12:04:26.123456Z", "changes": {"name": {"old": null, "new": "Test Service"}, "price": {"old": null, "new": "100.00"}}}"#;

fn extract(c: &mut Criterion) {
    let mut g = c.benchmark_group("extract");
    g.throughput(Throughput::Elements(1));
    g.bench_function("brief_payload", |b| {
        b.iter(|| AuditFields::extract(std::hint::black_box(BRIEF_PAYLOAD)))
    });
    g.bench_function("plain_text", |b| {
        b.iter(|| AuditFields::extract(std::hint::black_box("hello world, not json")))
    });
    g.finish();
}

/// Events per measured round: enough for group commit to reach steady state.
const ROUND: u64 = 10_000;

fn record(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("record");
    // One round of ROUND events per iteration, ten rounds: flat sampling keeps a run to
    // about a minute per configuration.
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(15))
        .throughput(Throughput::Elements(ROUND));
    for (name, durability, producers, batch) in [
        ("durable_1024_callers_x1", Durability::Durable, 1024, 1),
        ("durable_256_callers_x10", Durability::Durable, 256, 10),
        ("async_1024_callers_x1", Durability::Async, 1024, 1),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let shutdown = CancellationToken::new();
        let audit = rt
            .block_on(herald_audit::open(
                AuditConfig {
                    url: format!("sqlite://{}/bench.db", dir.path().display()),
                    durability,
                    ..AuditConfig::default()
                },
                shutdown.clone(),
            ))
            .unwrap();
        let mut recorded = 0u64;
        g.bench_function(name, |b| {
            b.iter_custom(|rounds| {
                let started = Instant::now();
                for _ in 0..rounds {
                    rt.block_on(support::record_all(
                        &audit.recorder,
                        recorded,
                        ROUND,
                        10_000_000,
                        producers,
                        batch,
                    ));
                    recorded += ROUND;
                }
                started.elapsed()
            })
        });
        shutdown.cancel();
        rt.block_on(audit.writer).unwrap();
    }
    g.finish();
}

/// The writer's per-event chain work: canonical encoding, `content_hash` and the link.
fn chain(c: &mut Criterion) {
    use herald_audit::event::PreparedEvent;
    let event = PreparedEvent::new(
        herald_audit::NewEvent {
            app_id: "1".into(),
            received_at_micros: 1_736_251_466_123_456,
            name: "model-change".into(),
            channels: vec![
                "audit-channel".into(),
                "model-service".into(),
                "user-test@example.com".into(),
            ],
            data: BRIEF_PAYLOAD.into(),
            socket_id: None,
            client_ip: Some("127.0.0.1".into()),
            user_agent: Some("pusher-http-python 3.3.2".into()),
            library: Some("pusher-http-python 3.3.2".into()),
            auth_key: "app-key".into(),
            idempotency_key: None,
        },
        &herald_audit::AuditRules::default(),
    );
    let mut g = c.benchmark_group("chain");
    g.throughput(Throughput::Elements(1));
    let prev = [7u8; 32];
    g.bench_function("content_hash_and_link", |b| {
        b.iter(|| {
            let e = std::hint::black_box(&event);
            let content = herald_audit::chain::content_hash(&e.canonical(1_736_251_466_123_456));
            herald_audit::chain::link(&prev, &content)
        })
    });
    g.finish();
}

criterion_group!(benches, extract, chain, record);
criterion_main!(benches);
