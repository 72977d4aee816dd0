//! The generator's own per-delivery cost: classifying a received frame (the timestamp scan)
//! and recording its latency. These must stay far below the server's per-delivery cost, or
//! the generator would be what a fan-out run measures.
//!
//! Run with `cargo bench -p herald-bench --bench receive_path`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use herald_bench::client::ws::classify;
use herald_bench::payload::AuditPayload;
use herald_bench::stats::Recorder;
use herald_protocol::frame;

fn receive_path(c: &mut Criterion) {
    let data = AuditPayload::default().data(53, Some(12_345_678));
    let delivery = frame::event("model-change", Some("bench-fanout-0"), Some(&data), None);
    let ping = frame::ping();
    let recorder = Recorder::new();

    let mut g = c.benchmark_group("receive_path");
    g.throughput(Throughput::Elements(1));
    g.bench_function("classify_delivery", |b| {
        b.iter(|| classify(black_box(delivery.as_bytes())))
    });
    g.bench_function("classify_ping", |b| {
        b.iter(|| classify(black_box(ping.as_bytes())))
    });
    let mut i = 0usize;
    g.bench_function("record_latency", |b| {
        b.iter(|| {
            i += 1;
            recorder.record_at(i, black_box(1_000_000), black_box(1500));
        })
    });
    g.finish();
}

criterion_group!(benches, receive_path);
criterion_main!(benches);
