//! The live stream's engine in-process: readers joining at many positions while events keep
//! being committed see every event exactly once in seq order; a reader that stops reading is
//! cut off with a reason and its resume position; the HTTP route's headers and refusals.

#[macro_use]
mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use futures_util::StreamExt;
use herald_audit::live::{Matcher, ReaderStream};
use herald_audit::{AuditConfig, LiveSettings};
use tower::ServiceExt;

use common::*;

const APP: &str = "1";

/// Reads SSE blocks from `stream` until `done` says so; returns (event seqs, other blocks).
async fn read_until(
    stream: &mut ReaderStream,
    mut done: impl FnMut(&[i64], &[String]) -> bool,
) -> (Vec<i64>, Vec<String>) {
    let mut seqs = Vec::new();
    let mut others = Vec::new();
    let mut pending = String::new();
    while !done(&seqs, &others) {
        let chunk: Bytes = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .unwrap_or_else(|_| panic!("stream stalled after {} events", seqs.len()))
            .expect("stream ended early")
            .unwrap();
        pending.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = pending.find("\n\n") {
            let block: String = pending.drain(..end + 2).collect();
            match block.strip_prefix("id: ") {
                Some(rest) if block.contains("\nevent: audit\n") => {
                    seqs.push(rest.split('\n').next().unwrap().parse().unwrap());
                }
                _ => others.push(block),
            }
        }
    }
    (seqs, others)
}

async fn record_many(audit: &herald_audit::Audit, count: usize, per_call: usize) {
    for _ in 0..count / per_call {
        let events = (0..per_call)
            .map(|i| audit_event(APP, JAN_7, "created", "service", i as i64, "a@b.c", "x"))
            .collect();
        audit.recorder.record(events).await.unwrap();
    }
}

store_tests! {
async fn readers_joining_during_writes_get_every_event_once_in_order(store) {
    let audit = store.open().await;
    record_many(&audit, 1000, 50).await;
    let feed = audit.reader.live().unwrap().clone();
    let writer = {
        let recorder = audit.recorder.clone();
        tokio::spawn(async move {
            for batch in 0..400 {
                let events = (0..5)
                    .map(|i| {
                        audit_event(
                            APP,
                            JAN_7,
                            "updated",
                            "service",
                            batch * 5 + i,
                            "a@b.c",
                            "y",
                        )
                    })
                    .collect();
                recorder.record(events).await.unwrap();
            }
        })
    };
    const LAST: i64 = 3000;
    let mut readers = Vec::new();
    for position in [0, 1, 499, 500, 999, 1000, 1500, 2200, 2999] {
        let mut stream = feed.open(APP, Matcher::new(Default::default()), Some(position));
        readers.push(tokio::spawn(async move {
            let (seqs, _) = read_until(&mut stream, |s, _| s.last() == Some(&LAST)).await;
            (position, seqs)
        }));
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    writer.await.unwrap();
    for reader in readers {
        let (position, seqs) = reader.await.unwrap();
        assert_eq!(
            seqs,
            (position + 1..=LAST).collect::<Vec<_>>(),
            "reader after {position}"
        );
    }
}
}

store_tests! {
async fn a_reader_that_stops_reading_is_cut_off_with_its_resume_position(store) {
    let audit = open_with(AuditConfig {
        live: LiveSettings {
            buffer: 8,
            ..LiveSettings::default()
        },
        ..store.config()
    })
    .await;
    let feed = audit.reader.live().unwrap().clone();
    let mut stream = feed.open(APP, Matcher::new(Default::default()), None);
    // The opening block, then one live event: the reader is now on the tail's ring.
    let (_, opening) = read_until(&mut stream, |_, o| !o.is_empty()).await;
    assert!(opening[0].contains("retry: 1000\nid: 0\n"), "{opening:?}");
    // Let the reader finish catching up (nothing to read) and wait on the ring.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), stream.next())
            .await
            .is_err()
    );
    record_many(&audit, 1, 1).await;
    let (seqs, _) = read_until(&mut stream, |s, _| !s.is_empty()).await;
    assert_eq!(seqs, [1]);
    assert_eq!(feed.live_readers(APP), 1);
    // 40 events while the reader reads nothing: it falls more than 8 behind.
    record_many(&audit, 40, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (seqs, others) =
        read_until(&mut stream, |_, o| o.iter().any(|b| b.contains("cutoff"))).await;
    assert!(seqs.is_empty(), "events after falling behind: {seqs:?}");
    let cutoff = others.iter().find(|b| b.contains("cutoff")).unwrap();
    assert!(cutoff.contains("more than 8 events behind"), "{cutoff}");
    assert!(cutoff.contains("\"resume_after\":1"), "{cutoff}");
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the cut-off"
    );
    // Resuming from there delivers the rest from the store, then live.
    let mut resumed = feed.open(APP, Matcher::new(Default::default()), Some(1));
    let (seqs, _) = read_until(&mut resumed, |s, _| s.len() == 40).await;
    assert_eq!(seqs, (2..=41).collect::<Vec<_>>());
}
}

store_tests! {
async fn the_route_answers_sse_and_refuses_bad_positions(store) {
    let audit = store.open().await;
    let app = api(&audit);
    let response = app
        .clone()
        .oneshot(
            Request::get("/apps/1/audit/stream?model=service")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    for (uri, header, param) in [
        ("/apps/1/audit/stream?after=-1", None, "after"),
        ("/apps/1/audit/stream?after=x", None, "after"),
        ("/apps/1/audit/stream?acton=created", None, "acton"),
        ("/apps/1/audit/stream", Some("abc"), "Last-Event-ID"),
    ] {
        let mut request = Request::get(uri);
        if let Some(h) = header {
            request = request.header("last-event-id", h);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["parameter"], param, "{uri}: {value}");
    }
}
}
