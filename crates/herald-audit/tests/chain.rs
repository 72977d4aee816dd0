//! The hash chain through the real writer and SQLite store: chaining per app, signed
//! checkpoints every N events and at shutdown, and the upgrade of a store written before
//! the chain existed (its rows get exactly the hashes the writer would have given them).
//! Tampering with the file is tested against the binary in
//! `tests/compat/python/test_audit_integrity.py`.

#[macro_use]
mod common;

use std::time::Duration;

use common::{JAN_7, MINUTE, TestStore, audit_event};
use herald_audit::verify::VerifyOptions;
use herald_audit::{Audit, AuditConfig, AuditReader};
use rusqlite::Connection;
use tokio_util::sync::CancellationToken;

async fn open_file(path: &std::path::Path, every: u64) -> (Audit, CancellationToken) {
    let shutdown = CancellationToken::new();
    let audit = herald_audit::open(
        AuditConfig {
            url: format!("sqlite://{}", path.display()),
            checkpoint_every: every,
            checkpoint_interval: Duration::from_secs(3600),
            ..AuditConfig::default()
        },
        shutdown.clone(),
    )
    .await
    .expect("open audit store");
    (audit, shutdown)
}

/// The test's store, checkpointing every `every` events.
async fn open_store(store: &TestStore, every: u64) -> (Audit, CancellationToken) {
    let shutdown = CancellationToken::new();
    let audit = herald_audit::open(
        AuditConfig {
            checkpoint_every: every,
            checkpoint_interval: Duration::from_secs(3600),
            ..store.persistent_config()
        },
        shutdown.clone(),
    )
    .await
    .expect("open audit store");
    (audit, shutdown)
}

async fn close(audit: Audit, shutdown: CancellationToken) {
    shutdown.cancel();
    audit.writer.await.unwrap();
}

async fn record(audit: &Audit, app: &str, n: i64) {
    for i in 0..n {
        audit
            .recorder
            .record(vec![audit_event(
                app,
                JAN_7 + i * MINUTE,
                if i % 2 == 0 { "created" } else { "updated" },
                "service",
                i,
                "test@example.com",
                &format!("Service {i}"),
            )])
            .await
            .unwrap();
    }
}

async fn verify(reader: &AuditReader, app: &str) -> herald_audit::verify::Report {
    reader.verify(app, VerifyOptions::default()).await.unwrap()
}

fn hashes(path: &std::path::Path) -> Vec<(String, i64, Vec<u8>, Vec<u8>)> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT app_id, seq, content_hash, hash FROM events ORDER BY app_id, seq")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

store_tests! {
async fn each_app_is_chained_and_checkpointed_every_n_events_and_at_shutdown(store) {
    let (audit, shutdown) = open_store(&store, 4).await;
    record(&audit, "1", 10).await;
    record(&audit, "other", 3).await;
    let reader = audit.reader.clone();
    close(audit, shutdown).await;

    // The key was generated (beside an SQLite store), readable by its owner only.
    let key = store.key_path();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let cps: Vec<i64> = reader
        .checkpoints("1", 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(
        cps,
        vec![4, 8, 10],
        "every 4 events, and the rest at shutdown"
    );
    let other: Vec<i64> = reader
        .checkpoints("other", 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(other, vec![3]);

    let report = verify(&reader, "1").await;
    assert!(report.ok, "{report:?}");
    assert_eq!((report.verified, report.checkpoints), (10, 3));
    assert!(report.summary().starts_with("verified 10 events"));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let report = verify(&reader, "other").await;
    assert_eq!((report.ok, report.verified), (true, 3));

    // A restart keeps the key and continues the chain.
    let (audit, shutdown) = open_store(&store, 4).await;
    record(&audit, "1", 2).await;
    let reader = audit.reader.clone();
    close(audit, shutdown).await;
    let report = verify(&reader, "1").await;
    assert_eq!(
        (report.ok, report.verified, report.checkpoints),
        (true, 12, 4)
    );
}
}

/// Turns a chained store back into the schema-2 layout herald wrote before the chain.
fn downgrade_to_schema_2(path: &std::path::Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "DROP TRIGGER events_append_only_update;
         DROP INDEX events_app_pruned;
         DROP TRIGGER event_channels_append_only_delete;
         CREATE TRIGGER event_channels_append_only_delete BEFORE DELETE ON event_channels
         BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;
         ALTER TABLE events DROP COLUMN content_hash;
         ALTER TABLE events DROP COLUMN hash;
         ALTER TABLE events DROP COLUMN pruned_at;
         DROP TABLE chain_heads;
         DROP TABLE checkpoints;
         CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
         BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;
         PRAGMA user_version = 2;",
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_written_before_the_chain_is_chained_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let (audit, shutdown) = open_file(&path, 1000).await;
    record(&audit, "1", 25).await;
    record(&audit, "2", 5).await;
    close(audit, shutdown).await;
    let written = hashes(&path);
    assert_eq!(written.len(), 30);

    downgrade_to_schema_2(&path);
    let (audit, shutdown) = open_file(&path, 1000).await;
    assert_eq!(
        hashes(&path),
        written,
        "the upgrade computes the hashes the writer computes"
    );
    // Recording continues the upgraded chain.
    record(&audit, "1", 3).await;
    let reader = audit.reader.clone();
    close(audit, shutdown).await;
    let report = verify(&reader, "1").await;
    assert_eq!((report.ok, report.verified), (true, 28), "{report:?}");
    let report = verify(&reader, "2").await;
    assert_eq!((report.ok, report.verified), (true, 5), "{report:?}");

    // The upgraded table still refuses edits.
    let conn = Connection::open(&path).unwrap();
    let err = conn
        .execute("UPDATE events SET data = 'x' WHERE seq = 1", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}
