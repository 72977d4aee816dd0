//! Hot-path signature checks: every HTTP API request (`SignedRequest::verify`, which also
//! hashes the body for `body_md5`) and every private/presence subscription (`verify_auth`).
//!
//! Run with `cargo bench -p herald-protocol --bench signatures`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use herald_protocol::request_signature::{SignedRequest, sign_query};
use herald_protocol::signature::{
    auth_string, channel_string_to_sign, presence_string_to_sign, verify_auth,
};

const KEY: &str = "app-key";
const SECRET: &str = "app-secret";
const NOW: i64 = 1_736_251_466;

/// The brief's audit event, as a backend's Pusher library would trigger it.
fn audit_trigger_body() -> Vec<u8> {
    let data = r#"{"action": "created", "model": "service", "object_id": 53, "user": "test@example.com", "timestamp": "2025-01-07T12:04:26.123456Z", "changes": {"name": {"old": null, "new": "Test Service"}, "price": {"old": null, "new": "100.00"}}}"#;
    serde_json::to_vec(&serde_json::json!({
        "name": "model-change",
        "channels": ["audit-channel"],
        "data": data,
    }))
    .unwrap()
}

/// Splits a signed query string the way the server's extractor hands it to the verifier.
fn decoded_query(qs: &str) -> Vec<(String, String)> {
    qs.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn request_signature(c: &mut Criterion) {
    let body = audit_trigger_body();
    let query = decoded_query(&sign_query(
        "POST",
        "/apps/1/events",
        KEY,
        SECRET,
        NOW,
        &body,
        &[],
    ));
    let mut g = c.benchmark_group("request_signature");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_trigger_with_audit_body", |b| {
        b.iter(|| {
            let req = SignedRequest {
                method: "POST",
                path: "/apps/1/events",
                query: black_box(&query),
                body: black_box(&body),
            };
            req.verify(SECRET, NOW).unwrap();
        })
    });
    let get_query = decoded_query(&sign_query(
        "GET",
        "/apps/1/channels",
        KEY,
        SECRET,
        NOW,
        b"",
        &[("filter_by_prefix", "presence-"), ("info", "user_count")],
    ));
    g.bench_function("verify_get_channels", |b| {
        b.iter(|| {
            let req = SignedRequest {
                method: "GET",
                path: "/apps/1/channels",
                query: black_box(&get_query),
                body: b"",
            };
            req.verify(SECRET, NOW).unwrap();
        })
    });
    g.finish();
}

fn channel_auth(c: &mut Criterion) {
    let socket_id = "123456.7890123";
    let private = auth_string(
        KEY,
        SECRET,
        &channel_string_to_sign(socket_id, "private-orders"),
    );
    let channel_data =
        r#"{"user_id":"53","user_info":{"name":"Test User","email":"test@example.com"}}"#;
    let presence = auth_string(
        KEY,
        SECRET,
        &presence_string_to_sign(socket_id, "presence-room", channel_data),
    );
    let mut g = c.benchmark_group("channel_auth");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_private", |b| {
        b.iter(|| {
            let to_sign = channel_string_to_sign(black_box(socket_id), "private-orders");
            verify_auth(black_box(&private), KEY, SECRET, &to_sign).unwrap();
        })
    });
    g.bench_function("verify_presence", |b| {
        b.iter(|| {
            let to_sign =
                presence_string_to_sign(black_box(socket_id), "presence-room", channel_data);
            verify_auth(black_box(&presence), KEY, SECRET, &to_sign).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, request_signature, channel_auth);
criterion_main!(benches);
