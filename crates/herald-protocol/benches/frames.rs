//! Hot-path frame work: encoding a broadcast once (`frame::event` with the brief's audit
//! payload, whose bytes are then shared by every recipient) and parsing what clients send
//! (`ClientMessage::parse`).
//!
//! Run with `cargo bench -p herald-protocol --bench frames`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use herald_protocol::frame::{self, ClientMessage};

const AUDIT_DATA: &str = r#"{"action": "created", "model": "service", "object_id": 53, "user": "test@example.com", "timestamp": "2025-01-07T12:04:26.123456Z", "changes": {"name": {"old": null, "new": "Test Service"}, "price": {"old": null, "new": "100.00"}}}"#;

fn encode(c: &mut Criterion) {
    let encoded = frame::event(
        "model-change",
        Some("audit-channel"),
        Some(AUDIT_DATA),
        None,
    );
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Bytes(encoded.len() as u64));
    g.bench_function("audit_event_broadcast", |b| {
        b.iter(|| {
            frame::event(
                black_box("model-change"),
                Some(black_box("audit-channel")),
                Some(black_box(AUDIT_DATA)),
                None,
            )
        })
    });
    let big = format!(r#"{{"padding":"{}"}}"#, "x".repeat(10_000));
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("max_size_event_10k", |b| {
        b.iter(|| frame::event("e", Some("c"), Some(black_box(&big)), None))
    });
    g.finish();
}

fn parse(c: &mut Criterion) {
    let cases = [
        ("ping", r#"{"event":"pusher:ping","data":{}}"#.to_owned()),
        (
            "subscribe_public",
            r#"{"event":"pusher:subscribe","data":{"auth":"","channel":"audit-channel"}}"#.to_owned(),
        ),
        (
            "subscribe_presence",
            frame::subscribe(
                "presence-room",
                Some("app-key:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"),
                Some(r#"{"user_id":"53","user_info":{"name":"Test User"}}"#),
            ),
        ),
        (
            "client_event_object",
            r#"{"event":"client-typing","data":{"user":"test@example.com","typing":true},"channel":"private-chat"}"#.to_owned(),
        ),
    ];
    let mut g = c.benchmark_group("parse");
    for (name, text) in &cases {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(*name, |b| {
            b.iter(|| ClientMessage::parse(black_box(text)).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, encode, parse);
criterion_main!(benches);
