//! The recorder through its public handle: numbering, group commit under concurrency,
//! idempotency, saturation, unavailability, shutdown draining, stored fields.

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use herald_audit::{AuditConfig, NewEvent, RecordError};
use rusqlite::Connection;
use tokio_util::sync::CancellationToken;

store_tests! {
async fn seq_is_monotonic_per_app_and_separate_across_apps(store) {
    let audit = store.open().await;
    let r = &audit.recorder;
    let a1 = r
        .record(vec![
            event("a", JAN_7, "e", &["c"], "1"),
            event("a", JAN_7, "e", &["c"], "2"),
        ])
        .await
        .unwrap();
    let b1 = r
        .record(vec![event("b", JAN_7, "e", &["c"], "x")])
        .await
        .unwrap();
    let a2 = r
        .record(vec![event("a", JAN_7, "e", &["c"], "3")])
        .await
        .unwrap();
    assert_eq!(a1.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(b1[0].seq, 1);
    assert_eq!(a2[0].seq, 3);
    assert!(a1.iter().chain(&b1).chain(&a2).all(|r| !r.duplicate));
}

/// SQLite: in a file created with its directories.
async fn numbering_continues_after_reopening_the_store(store) {
    for expected in [1, 2] {
        let shutdown = CancellationToken::new();
        let audit = herald_audit::open(store.persistent_config(), shutdown.clone())
        .await
        .unwrap();
        let rec = audit
            .recorder
            .record(vec![event("1", JAN_7, "e", &["c"], "x")])
            .await
            .unwrap();
        assert_eq!(rec[0].seq, expected);
        shutdown.cancel();
        audit.writer.await.unwrap();
    }
}

async fn concurrent_calls_are_group_committed_with_distinct_seqs(store) {
    let audit = open_with(store.persistent_config()).await;
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let recorder = audit.recorder.clone();
        tasks.push(tokio::spawn(async move {
            recorder
                .record(vec![event(
                    "1",
                    JAN_7 + i,
                    "e",
                    &["c"],
                    &format!("payload {i}"),
                )])
                .await
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().unwrap()[0].seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=1000).collect::<Vec<i64>>());

    let counts = store
        .sql_ints("SELECT count(*), count(DISTINCT data) FROM events WHERE app_id = '1'")
        .await;
    assert_eq!(counts, [1000, 1000]);
    // Receive time never decreases along seq, whatever order the calls reached the writer in.
    let backwards = store
        .sql_ints(
            "SELECT count(*) FROM events a JOIN events b ON b.app_id = a.app_id AND b.seq = a.seq + 1
             WHERE b.received_at < a.received_at",
        )
        .await;
    assert_eq!(backwards, [0]);
}

async fn an_idempotency_key_records_once_and_returns_the_original_seq(store) {
    let audit = store.open().await;
    let keyed = |key: &str, data: &str| NewEvent {
        idempotency_key: Some(key.into()),
        ..event("1", JAN_7, "e", &["c"], data)
    };
    let first = audit
        .recorder
        .record(vec![keyed("k1", "first")])
        .await
        .unwrap();
    let _other = audit
        .recorder
        .record(vec![event("1", JAN_7, "e", &["c"], "other")])
        .await
        .unwrap();
    let retry = audit
        .recorder
        .record(vec![keyed("k1", "retried")])
        .await
        .unwrap();
    assert_eq!(first[0].seq, 1);
    assert_eq!((retry[0].seq, retry[0].duplicate), (1, true));
    // Within one call, and per app.
    let batch = audit
        .recorder
        .record(vec![keyed("k2", "a"), keyed("k2", "b")])
        .await
        .unwrap();
    assert_eq!(
        batch
            .iter()
            .map(|r| (r.seq, r.duplicate))
            .collect::<Vec<_>>(),
        [(3, false), (3, true)]
    );
    let other_app = audit
        .recorder
        .record(vec![NewEvent {
            app_id: "2".into(),
            ..keyed("k1", "x")
        }])
        .await
        .unwrap();
    assert_eq!((other_app[0].seq, other_app[0].duplicate), (1, false));

    let page = audit
        .reader
        .list("1", Default::default(), Default::default())
        .await
        .unwrap();
    assert_eq!(page.count, 3);
    let original = audit.reader.get("1", 1).await.unwrap().unwrap();
    assert_eq!(original.data, "first");
}
}

/// Holds SQLite's write lock from another connection, as a stuck or foreign writer would.
fn lock_store(path: &std::path::Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_saturated_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let audit = open_with(AuditConfig {
        url: format!("sqlite://{}", path.display()),
        queue_capacity: 2,
        busy_timeout: Duration::from_secs(30),
        ..AuditConfig::default()
    })
    .await;
    let lock = lock_store(&path);
    // The writer takes a call and waits for the lock; two more fill the queue; the rest
    // must be refused at once. Which calls land where depends on scheduling, so count.
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let recorder = audit.recorder.clone();
            tokio::spawn(async move {
                recorder
                    .record(vec![event("1", JAN_7, "e", &["c"], &i.to_string())])
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // On a loaded machine the writer may only wake after all ten tried (taking the two
    // that fitted and leaving the queue empty): two more calls fill it whatever happened.
    let mut calls = calls;
    for i in 10..12 {
        let recorder = audit.recorder.clone();
        calls.push(tokio::spawn(async move {
            recorder
                .record(vec![event("1", JAN_7, "e", &["c"], &i.to_string())])
                .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = audit
        .recorder
        .record(vec![event("1", JAN_7, "e", &["c"], "late")])
        .await;
    assert_eq!(refused, Err(RecordError::Saturated));
    assert!(refused.unwrap_err().to_string().contains("saturated"));

    lock.execute_batch("ROLLBACK").unwrap();
    let mut seqs: Vec<i64> = Vec::new();
    let mut saturated = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(recorded) => seqs.push(recorded[0].seq),
            Err(RecordError::Saturated) => saturated += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    seqs.sort_unstable();
    // At most the writer's batch plus two queued calls got through.
    assert!(
        saturated >= 1 && seqs.len() < 12,
        "{saturated} of 12 refused"
    );
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    let next = audit
        .recorder
        .record(vec![event("1", JAN_7, "e", &["c"], "after")])
        .await
        .unwrap();
    assert_eq!(next[0].seq, seqs.len() as i64 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_store_answers_unavailable_with_the_cause_and_keeps_numbering() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let audit = open_with(AuditConfig {
        url: format!("sqlite://{}", path.display()),
        busy_timeout: Duration::from_millis(200),
        ..AuditConfig::default()
    })
    .await;
    audit
        .recorder
        .record(vec![event("1", JAN_7, "e", &["c"], "ok")])
        .await
        .unwrap();
    let lock = lock_store(&path);
    let err = audit
        .recorder
        .record(vec![event("1", JAN_7, "e", &["c"], "blocked")])
        .await
        .unwrap_err();
    match &err {
        RecordError::Unavailable(cause) => assert!(cause.contains("locked"), "{cause}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(
        err.to_string().starts_with("audit store unavailable: "),
        "{err}"
    );
    // Many callers waiting on a locked store all get their answer within about one busy
    // timeout per batch, not one per caller.
    let started = std::time::Instant::now();
    let calls: Vec<_> = (0..20)
        .map(|i| {
            let r = audit.recorder.clone();
            tokio::spawn(async move {
                r.record(vec![event("1", JAN_7, "e", &["c"], &i.to_string())])
                    .await
            })
        })
        .collect();
    for call in calls {
        assert!(matches!(
            call.await.unwrap(),
            Err(RecordError::Unavailable(_))
        ));
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    drop(lock);
    // The failed events left no gap.
    assert_eq!(
        audit
            .recorder
            .record(vec![event("1", JAN_7, "e", &["c"], "again")])
            .await
            .unwrap()[0]
            .seq,
        2
    );
}

store_tests! {
async fn shutdown_drains_the_queue_then_refuses(store) {
    let shutdown = CancellationToken::new();
    let audit = herald_audit::open(store.config(), shutdown.clone())
    .await
    .unwrap();
    let pending: Vec<_> = (0..20)
        .map(|i| {
            let r = audit.recorder.clone();
            tokio::spawn(async move {
                r.record(vec![event("1", JAN_7, "e", &["c"], &i.to_string())])
                    .await
            })
        })
        .collect();
    tokio::task::yield_now().await;
    shutdown.cancel();
    let mut recorded = 0;
    for p in pending {
        match p.await.unwrap() {
            Ok(_) => recorded += 1,
            Err(RecordError::ShuttingDown) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    audit.writer.await.unwrap();
    assert!(recorded > 0);
    assert_eq!(
        audit
            .recorder
            .record(vec![event("1", JAN_7, "e", &["c"], "late")])
            .await,
        Err(RecordError::ShuttingDown)
    );
}

async fn every_field_is_stored_and_payloads_are_kept_verbatim(store) {
    let audit = store.open().await;
    let encrypted = r#"{"nonce":"bm9uY2U=","ciphertext":"c2VjcmV0"}"#;
    let full = NewEvent {
        socket_id: Some("123.456".into()),
        idempotency_key: Some("idem-1".into()),
        ..audit_event(
            "1",
            JAN_7,
            "created",
            "service",
            53,
            "test@example.com",
            "Test Service",
        )
    };
    let data = full.data.clone();
    audit
        .recorder
        .record(vec![
            full,
            event(
                "1",
                JAN_7 + 1,
                "secret",
                &["private-encrypted-x", "private-encrypted-x"],
                encrypted,
            ),
            event("1", JAN_7 + 2, "note", &["c"], "not json at all"),
        ])
        .await
        .unwrap();
    let r = audit.reader.get("1", 1).await.unwrap().unwrap();
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["app_id"], "1");
    assert_eq!(v["seq"], 1);
    assert_eq!(v["received_at"], "2025-01-07T00:00:00.000000Z");
    assert_eq!(v["name"], "model-change");
    assert_eq!(
        v["channels"],
        serde_json::json!(["audit-channel", "model-service", "user-test@example.com"])
    );
    assert_eq!(v["action"], "created");
    assert_eq!(v["model"], "service");
    assert_eq!(v["object_id"], "53");
    assert_eq!(v["user"], "test@example.com");
    assert_eq!(v["timestamp"], "2025-01-07T12:04:26.123456Z");
    assert_eq!(
        v["changes"],
        serde_json::json!({"name": {"old": null, "new": "Test Service"}})
    );
    assert_eq!(v["data"], data);
    assert_eq!(v["socket_id"], "123.456");
    assert_eq!(v["client_ip"], "127.0.0.1");
    assert_eq!(v["user_agent"], "pusher-http-python 3.3.2");
    assert_eq!(v["library"], "pusher-http-python 3.3.2");
    assert_eq!(v["auth_key"], "app-key");
    assert_eq!(v["idempotency_key"], "idem-1");

    let secret = audit.reader.get("1", 2).await.unwrap().unwrap();
    assert_eq!(secret.data, encrypted);
    assert_eq!(secret.summary.channels, ["private-encrypted-x"]);
    assert_eq!(secret.summary.action, None);
    let note = audit.reader.get("1", 3).await.unwrap().unwrap();
    assert_eq!(
        (note.data.as_str(), note.summary.model.clone()),
        ("not json at all", None)
    );
    assert!(audit.reader.get("1", 4).await.unwrap().is_none());
    assert!(audit.reader.get("2", 1).await.unwrap().is_none());
}

async fn the_store_refuses_updates_and_deletes(store) {
    let audit = open_with(store.persistent_config()).await;
    audit
        .recorder
        .record(vec![event("1", JAN_7, "e", &["c"], "x")])
        .await
        .unwrap();
    let mut statements = vec![
        "UPDATE events SET data = 'forged'",
        "DELETE FROM events",
        "DELETE FROM event_channels",
    ];
    if store.is_postgres() {
        statements.extend(["TRUNCATE events", "TRUNCATE event_channels"]);
        let client = store.pg_client().await;
        for sql in statements {
            let err = client.batch_execute(sql).await.unwrap_err();
            let err = err.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
            assert!(err.contains("append-only"), "{sql}: {err}");
        }
    } else {
        let conn = Connection::open(store.url().trim_start_matches("sqlite://")).unwrap();
        for sql in statements {
            let err = conn.execute(sql, []).unwrap_err().to_string();
            assert!(err.contains("append-only"), "{sql}: {err}");
        }
    }
    assert_eq!(audit.reader.get("1", 1).await.unwrap().unwrap().data, "x");
}
}

#[tokio::test]
async fn bad_configuration_is_refused_naming_the_setting() {
    let err = herald_audit::open(
        AuditConfig {
            max_batch: 0,
            ..AuditConfig::default()
        },
        CancellationToken::new(),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("max_batch"), "{err}");
    let err = herald_audit::open(
        AuditConfig {
            url: "redis://x".into(),
            ..AuditConfig::default()
        },
        CancellationToken::new(),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("redis://x"), "{err}");
}
