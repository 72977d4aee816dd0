//! Synthetic audit traffic shared by the benches and the `fill_and_query` example: the
//! model-change events of the brief, spread over 6 actions, 20 models, 1000 users and
//! 100 000 objects, ~300 bytes of payload, three channels each.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use herald_audit::{AuditRecorder, NewEvent, RecordError, timefmt};

pub const ACTIONS: [&str; 6] = [
    "created", "updated", "deleted", "approved", "exported", "login",
];
/// 2025-01-07T00:00:00Z.
pub const START: i64 = 1_736_208_000_000_000;
pub const SPAN_DAYS: i64 = 90;

/// Event number `i` of `n`, deterministic; receive times spread evenly over 90 days.
pub fn make_event(i: u64, n: u64) -> NewEvent {
    let x = i.wrapping_mul(2_654_435_761) % 1_000_003; // scatter without a RNG
    let action = ACTIONS[((x / 7) % 6) as usize];
    let model = format!("model{}", x % 20);
    let user = format!("user{}@example.com", x % 1000);
    let object_id = x % 100_000;
    let data = format!(
        r#"{{"action":"{action}","model":"{model}","object_id":{object_id},"object_repr":"{model} #{object_id}","user":"{user}","timestamp":"2025-01-07T12:04:26.123456Z","changes":{{"name":{{"old":"item {x}","new":"item {i}"}},"price":{{"old":"{}.00","new":"{}.50"}}}}}}"#,
        x % 500,
        i % 500
    );
    NewEvent {
        app_id: "1".into(),
        received_at_micros: START
            + (i as i64) * (SPAN_DAYS * timefmt::MICROS_PER_DAY / n.max(1) as i64),
        name: "model-change".into(),
        channels: vec![
            "audit-channel".into(),
            format!("model-{model}"),
            format!("user-{user}"),
        ],
        data,
        socket_id: None,
        client_ip: Some("10.0.0.1".into()),
        user_agent: Some("pusher-http-python 3.3.2".into()),
        library: Some("pusher-http-python 3.3.2".into()),
        auth_key: "app-key".into(),
        idempotency_key: None,
    }
}

/// Records events `first..first + count` (numbered out of `n`) from `producers` concurrent
/// callers, `batch` events per call, as the trigger API would. Producers draw numbers from
/// one counter so receive times reach the writer in (nearly) time order, as on a live
/// server. Returns how many calls were refused as saturated (and retried).
pub async fn record_all(
    recorder: &AuditRecorder,
    first: u64,
    count: u64,
    n: u64,
    producers: u64,
    batch: u64,
) -> u64 {
    let next = Arc::new(AtomicU64::new(first));
    let end = first + count;
    let mut tasks = Vec::new();
    for _ in 0..producers {
        let recorder = recorder.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut saturated = 0u64;
            loop {
                let i = next.fetch_add(batch, Ordering::Relaxed);
                if i >= end {
                    return saturated;
                }
                let events: Vec<NewEvent> = (i..(i + batch).min(end))
                    .map(|j| make_event(j, n))
                    .collect();
                loop {
                    match recorder.record(events.clone()).await {
                        Ok(_) => break,
                        Err(RecordError::Saturated) => {
                            saturated += 1;
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        }));
    }
    let mut saturated = 0;
    for t in tasks {
        saturated += t.await.unwrap();
    }
    saturated
}
