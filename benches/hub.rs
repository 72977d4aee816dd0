//! Hot paths of the hub: broadcasting a pre-encoded frame to many local subscribers, and
//! subscribe/unsubscribe on the sharded channel map while other threads do the same.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use herald::config::AppConfig;
use herald::hub::{AppHub, Frame};
use herald_protocol::frame;

const AUDIT: &str = r#"{"action": "created", "model": "service", "object_id": 53, "user": "test@example.com", "timestamp": "2025-01-07T12:04:26.123456Z", "changes": {"name": {"old": null, "new": "Test Service"}, "price": {"old": null, "new": "100.00"}}}"#;

fn hub() -> Arc<AppHub> {
    Arc::new(AppHub::new(Arc::new(AppConfig::new("1", "k", "s"))))
}

/// Encode once, queue to N subscribers, then drain the queues (as connection tasks would).
fn broadcast(c: &mut Criterion) {
    let mut group = c.benchmark_group("broadcast");
    for n in [100usize, 1_000, 10_000] {
        let hub = hub();
        let mut inboxes = Vec::with_capacity(n);
        for _ in 0..n {
            let (handle, inbox) = hub.connect(1024).unwrap();
            hub.subscribe("audit-channel", &handle, None);
            inboxes.push(inbox);
        }
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("encode_and_deliver", n), &n, |b, _| {
            b.iter(|| {
                let encoded =
                    frame::event("model-change", Some("audit-channel"), Some(AUDIT), None);
                let delivered = hub.deliver("audit-channel", &Frame::from(encoded), None);
                for inbox in &mut inboxes {
                    black_box(inbox.frames.try_recv().ok());
                }
                delivered
            })
        });
    }
    group.finish();
}

/// Subscribe + unsubscribe pairs on 1000 channels, with 0 or 1 other thread doing the same.
fn subscribe_churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("subscribe_unsubscribe");
    let channels: Vec<String> = (0..1000).map(|i| format!("model-{i}")).collect();
    for contending in [0usize, 1] {
        let hub = hub();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let others: Vec<_> = (0..contending)
            .map(|_| {
                let (hub, stop, channels) = (hub.clone(), stop.clone(), channels.clone());
                std::thread::spawn(move || {
                    let (handle, _inbox) = hub.connect(16).unwrap();
                    let mut i = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let ch = &channels[i % channels.len()];
                        hub.subscribe(ch, &handle, None);
                        hub.unsubscribe(ch, handle.socket_id());
                        i += 1;
                    }
                })
            })
            .collect();
        let (handle, _inbox) = hub.connect(16).unwrap();
        let mut i = 0;
        group.bench_function(
            BenchmarkId::new("pairs", format!("{contending}_contending")),
            |b| {
                b.iter(|| {
                    let ch = &channels[i % channels.len()];
                    i += 1;
                    hub.subscribe(ch, &handle, None);
                    hub.unsubscribe(ch, handle.socket_id())
                })
            },
        );
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in others {
            t.join().unwrap();
        }
    }
    group.finish();
}

criterion_group!(benches, broadcast, subscribe_churn);
criterion_main!(benches);
