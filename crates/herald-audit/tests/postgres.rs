//! What only the shared PostgreSQL store promises: several nodes (writers) numbering one
//! trail without gaps in commit order, idempotency across nodes, a reader's cursor never
//! missing a later commit, versioned schemas, `herald audit copy`, and riding out a
//! PostgreSQL outage. Every test gets a fresh database (see `common::pg`).

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use clap::Parser;
use common::pg::{OwnPostgres, TestDb};
use common::*;
use herald_audit::cli::AuditCommand;
use herald_audit::query::{Direction, PageRequest};
use herald_audit::verify::VerifyOptions;
use herald_audit::{Audit, AuditConfig, NewEvent, RecordError};
use tokio_util::sync::CancellationToken;

async fn node(store: &TestStore) -> Audit {
    open_with(AuditConfig {
        max_batch: 64,
        ..store.config()
    })
    .await
}

fn keyed(key: &str, data: &str) -> NewEvent {
    NewEvent {
        idempotency_key: Some(key.to_owned()),
        ..event("1", JAN_7, "e", &["c"], data)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_number_one_gapless_trail_and_record_a_retried_key_once() {
    let Some(store) = TestStore::postgres().await else {
        return;
    };
    let nodes = [node(&store).await, node(&store).await];
    let mut tasks = Vec::new();
    for i in 0..300 {
        for (n, audit) in nodes.iter().enumerate() {
            let recorder = audit.recorder.clone();
            // Every 3rd event is a retry: the same key sent to both nodes.
            let ev = if i % 3 == 0 {
                keyed(&format!("k{i}"), &format!("node {n} try of {i}"))
            } else {
                event("1", JAN_7 + i, "e", &["c"], &format!("node {n} event {i}"))
            };
            tasks.push(tokio::spawn(async move {
                (i, recorder.record(vec![ev]).await.unwrap()[0])
            }));
        }
    }
    let mut fresh = Vec::new();
    let mut by_key: HashMap<i64, Vec<(i64, bool)>> = HashMap::new();
    for t in tasks {
        let (i, rec) = t.await.unwrap();
        if !rec.duplicate {
            fresh.push(rec.seq);
        }
        if i % 3 == 0 {
            by_key.entry(i).or_default().push((rec.seq, rec.duplicate));
        }
    }
    fresh.sort_unstable();
    let n = fresh.len() as i64;
    assert_eq!(
        fresh,
        (1..=n).collect::<Vec<_>>(),
        "seqs are 1..N, no gap, no repeat"
    );
    assert_eq!(n, 600 - 100, "each retried key recorded once");
    for (i, answers) in by_key {
        assert_eq!(answers.len(), 2);
        assert_eq!(
            answers[0].0, answers[1].0,
            "key k{i}: both nodes answer one seq"
        );
        assert_eq!(
            answers.iter().filter(|a| a.1).count(),
            1,
            "key k{i}: exactly one duplicate"
        );
    }
    // Both nodes read the same trail, and time never goes backwards along seq.
    let page = PageRequest {
        direction: Direction::Asc,
        limit: 1000,
        after: None,
    };
    let a = nodes[0]
        .reader
        .list("1", Default::default(), page)
        .await
        .unwrap();
    let b = nodes[1]
        .reader
        .list("1", Default::default(), page)
        .await
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.count as i64, n);
    let times: Vec<i64> = a
        .results
        .iter()
        .map(|r| r.received_at_micros().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    // One hash chain through both nodes' commits.
    let report = nodes[1]
        .reader
        .verify("1", VerifyOptions::default())
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.verified as i64, n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_never_misses_an_event_committed_later_by_another_node() {
    let Some(store) = TestStore::postgres().await else {
        return;
    };
    let writers = [node(&store).await, node(&store).await];
    let reader = node(&store).await.reader;
    let done = CancellationToken::new();
    let mut tasks = Vec::new();
    for (w, audit) in writers.iter().enumerate() {
        for t in 0..4 {
            let recorder = audit.recorder.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..60 {
                    recorder
                        .record(vec![event(
                            "1",
                            JAN_7 + i,
                            "e",
                            &["c"],
                            &format!("{w}.{t}.{i}"),
                        )])
                        .await
                        .unwrap();
                }
            }));
        }
    }
    let walker = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let finished = done.is_cancelled();
                let page = PageRequest {
                    direction: Direction::Asc,
                    limit: 7,
                    after,
                };
                let got = reader.list("1", Default::default(), page).await.unwrap();
                seen.extend(got.results.iter().map(|r| r.seq));
                after = seen.last().copied().or(after);
                if got.results.is_empty() {
                    if finished {
                        return seen;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        })
    };
    for t in tasks {
        t.await.unwrap();
    }
    done.cancel();
    let seen = walker.await.unwrap();
    assert_eq!(
        seen,
        (1..=480).collect::<Vec<i64>>(),
        "walked every seq once, in order"
    );
}

#[tokio::test]
async fn the_schema_is_named_by_configuration_and_a_newer_one_is_refused() {
    let Some(store) = TestStore::postgres().await else {
        return;
    };
    let config = AuditConfig {
        pg_schema: "tenant_a".into(),
        ..store.config()
    };
    let audit = open_with(config.clone()).await;
    audit
        .recorder
        .record(vec![event("1", JAN_7, "e", &["c"], "x")])
        .await
        .unwrap();
    let client = store.pg_client().await;
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM tenant_a.events),
                    (SELECT max(version)::bigint FROM tenant_a.schema_migrations),
                    (SELECT count(*) FROM pg_namespace WHERE nspname = 'herald')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(2)), (1, 0));
    let version: i64 = row.get(1);
    assert!(version >= 1);
    // Opening again is a no-op migration.
    drop(open_with(config.clone()).await);
    client
        .execute(
            "INSERT INTO tenant_a.schema_migrations (version, description) VALUES (999, 'future')",
            &[],
        )
        .await
        .unwrap();
    let err = herald_audit::open(config, CancellationToken::new())
        .await
        .err()
        .expect("a newer schema is refused")
        .to_string();
    assert!(err.contains("999") && err.contains("newer"), "{err}");
    let err = herald_audit::open(
        AuditConfig {
            pg_schema: "Bad-Name".into(),
            ..store.config()
        },
        CancellationToken::new(),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("HERALD_AUDIT_PG_SCHEMA"), "{err}");
}

#[tokio::test]
async fn an_unreachable_server_is_refused_at_start_without_leaking_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = herald_audit::open(
        AuditConfig {
            url: format!("postgres://herald:s3cret@127.0.0.1:{port}/audit"),
            ..AuditConfig::default()
        },
        CancellationToken::new(),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("PostgreSQL"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: AuditCommand,
}

async fn record_sqlite(url: &str, app: &str, from: i64, to: i64) {
    let shutdown = CancellationToken::new();
    let audit = herald_audit::open(
        AuditConfig {
            url: url.to_owned(),
            ..AuditConfig::default()
        },
        shutdown.clone(),
    )
    .await
    .unwrap();
    let events: Vec<NewEvent> = (from..to)
        .map(|i| NewEvent {
            idempotency_key: (i % 5 == 0).then(|| format!("k{i}")),
            ..audit_event(
                app,
                JAN_7 + i * MINUTE,
                ["created", "updated", "deleted"][i as usize % 3],
                ["service", "invoice"][i as usize % 2],
                i,
                "test@example.com",
                &format!("n{i}"),
            )
        })
        .collect();
    for chunk in events.chunks(500) {
        audit.recorder.record(chunk.to_vec()).await.unwrap();
    }
    shutdown.cancel();
    audit.writer.await.unwrap();
}

async fn copy(from: &str, to: &str) -> anyhow::Result<()> {
    let cli = Cli::parse_from(["audit", "copy", "--from", from, "--to", to]);
    herald_audit::cli::run(cli.command).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_moves_a_sqlite_trail_with_its_seqs_and_resumes_safely() {
    let Some(store) = TestStore::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/node.db", dir.path().display());
    record_sqlite(&sqlite, "1", 0, 2300).await;
    record_sqlite(&sqlite, "other-app", 0, 40).await;
    let pg = store.url();
    copy(&sqlite, &pg).await.unwrap();

    let source = herald_audit::AuditReader::open_existing(&sqlite, "herald")
        .await
        .unwrap();
    let target = herald_audit::AuditReader::open_existing(&pg, "herald")
        .await
        .unwrap();
    let same = |app: &'static str| {
        let (source, target) = (source.clone(), target.clone());
        async move {
            let all = PageRequest {
                direction: Direction::Asc,
                limit: 1000,
                after: None,
            };
            let a = source.list(app, Default::default(), all).await.unwrap();
            let b = target.list(app, Default::default(), all).await.unwrap();
            assert_eq!(a, b, "app {app}: the same events with the same seqs");
            for seq in [1, 2, a.count as i64] {
                assert_eq!(
                    source.get(app, seq).await.unwrap(),
                    target.get(app, seq).await.unwrap(),
                    "app {app} seq {seq} in full"
                );
            }
            let request = |p: &str| {
                let mut params = herald_audit::query::Params::from_query(Some(p)).unwrap();
                herald_audit::stats::StatsRequest::from_params(&mut params, JAN_7 + 30 * DAY)
                    .unwrap()
            };
            for p in [
                "",
                "model=service",
                "from=2025-01-07T10:00:00Z&to=2025-01-08",
            ] {
                assert_eq!(
                    source.stats(app, request(p)).await.unwrap(),
                    target.stats(app, request(p)).await.unwrap(),
                    "app {app}: stats {p:?}"
                );
            }
            a.count
        }
    };
    assert_eq!(same("1").await, 2300);
    assert_eq!(same("other-app").await, 40);

    // Re-running copies nothing; new source events are copied after the others.
    copy(&sqlite, &pg).await.unwrap();
    assert_eq!(same("1").await, 2300);
    record_sqlite(&sqlite, "1", 2300, 2310).await;
    copy(&sqlite, &pg).await.unwrap();
    assert_eq!(same("1").await, 2310);

    // The chain is rebuilt in the target exactly as the source has it: the same hashes,
    // and it verifies.
    let sqlite_path = dir.path().join("node.db");
    let client = store.pg_client().await;
    for app in ["1", "other-app"] {
        assert_eq!(
            sqlite_hashes(&sqlite_path, app),
            pg_hashes(&client, app).await,
            "app {app}: same chain"
        );
        let report = target.verify(app, VerifyOptions::default()).await.unwrap();
        assert!(report.ok, "{report:?}");
    }

    // Idempotency keys came along: a retry against the cluster's store is a duplicate.
    let cluster = open_with(store.persistent_config()).await;
    let retry = NewEvent {
        idempotency_key: Some("k5".into()),
        ..event("1", JAN_7, "e", &["c"], "retry")
    };
    let rec = cluster.recorder.record(vec![retry]).await.unwrap();
    assert_eq!((rec[0].seq, rec[0].duplicate), (6, true));

    // Once the target has events of its own, copying more would mix two trails.
    cluster
        .recorder
        .record(vec![event("1", JAN_7 + DAY * 3, "e", &["c"], "live")])
        .await
        .unwrap();
    record_sqlite(&sqlite, "1", 2310, 2312).await;
    let err = format!("{:#}", copy(&sqlite, &pg).await.unwrap_err());
    assert!(err.contains("mix two trails"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_answers_unavailable_then_recovers_with_nothing_lost() {
    let Some(server) = OwnPostgres::start() else {
        return;
    };
    let db = TestDb::create(&server.admin_url()).await;
    let audit = open_with(AuditConfig {
        url: db.url.clone(),
        ..AuditConfig::default()
    })
    .await;
    for i in 0..10 {
        audit
            .recorder
            .record(vec![event("1", JAN_7 + i, "e", &["c"], &i.to_string())])
            .await
            .unwrap();
    }
    server.stop_server();
    for _ in 0..3 {
        let err = audit
            .recorder
            .record(vec![event("1", JAN_7, "e", &["c"], "while down")])
            .await
            .unwrap_err();
        let RecordError::Unavailable(reason) = &err else {
            panic!("expected Unavailable, got {err:?}");
        };
        assert!(reason.contains("PostgreSQL"), "{reason}");
        assert!(
            !reason.contains("127.0.0.1") && !reason.contains("postgres@"),
            "{reason}"
        );
    }
    let reason = audit
        .recorder
        .unavailable_reason()
        .expect("reported unavailable");
    assert!(reason.contains("unreachable"), "{reason}");

    server.start_server();
    // The writer probes by itself while idle: readiness comes back without traffic.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while audit.recorder.unavailable_reason().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "never recovered: {:?}",
            audit.recorder.unavailable_reason()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rec = audit
        .recorder
        .record(vec![event("1", JAN_7 + 20, "e", &["c"], "after")])
        .await
        .unwrap();
    assert_eq!(
        rec[0].seq, 11,
        "nothing refused was numbered, nothing acknowledged lost"
    );
    let all = PageRequest {
        direction: Direction::Asc,
        limit: 100,
        after: None,
    };
    let page = audit
        .reader
        .list("1", Default::default(), all)
        .await
        .unwrap();
    let data: BTreeSet<String> =
        futures_util::future::join_all(page.results.iter().map(|r| audit.reader.get("1", r.seq)))
            .await
            .into_iter()
            .map(|r| r.unwrap().unwrap().data)
            .collect();
    assert_eq!(page.count, 11);
    assert!(data.contains("9") && data.contains("after") && !data.contains("while down"));
    drop(audit);
    drop(db);
}

/// `(seq, content_hash, hash)` of an app's events in an SQLite store.
fn sqlite_hashes(path: &std::path::Path, app: &str) -> Vec<(i64, Vec<u8>, Vec<u8>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT seq, content_hash, hash FROM events WHERE app_id = ?1 ORDER BY seq")
        .unwrap();
    stmt.query_map([app], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The same from a PostgreSQL store.
async fn pg_hashes(client: &tokio_postgres::Client, app: &str) -> Vec<(i64, Vec<u8>, Vec<u8>)> {
    client
        .query(
            "SELECT seq, content_hash, hash FROM events WHERE app_id = $1 ORDER BY seq",
            &[&app],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[tokio::test]
async fn both_stores_chain_the_same_events_to_the_same_hashes() {
    let Some(store) = TestStore::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/a.db", dir.path().display());
    let mut audits = Vec::new();
    for config in [
        AuditConfig {
            url: sqlite,
            ..AuditConfig::default()
        },
        store.persistent_config(),
    ] {
        audits.push(open_with(config).await);
    }
    for i in 0..25 {
        let batch = vec![
            NewEvent {
                idempotency_key: (i % 4 == 0).then(|| format!("k{}", i / 8)),
                socket_id: (i % 3 == 0).then(|| "1.2".to_owned()),
                ..audit_event(
                    "1",
                    JAN_7 + i * MINUTE,
                    "updated",
                    "invoice",
                    i,
                    "a@b.c",
                    "x",
                )
            },
            event(
                "1",
                JAN_7 + i * MINUTE,
                "note",
                &["c", "d"],
                &format!("plain {i}"),
            ),
        ];
        let a = audits[0].recorder.record(batch.clone()).await.unwrap();
        let b = audits[1].recorder.record(batch).await.unwrap();
        assert_eq!(a, b);
    }
    let client = store.pg_client().await;
    let sqlite_rows = sqlite_hashes(&dir.path().join("a.db"), "1");
    assert_eq!(sqlite_rows.len(), 47, "50 events, 3 of them retries");
    assert_eq!(sqlite_rows, pg_hashes(&client, "1").await);
    let report = audits[1]
        .reader
        .verify("1", VerifyOptions::default())
        .await
        .unwrap();
    assert!(report.ok && report.verified == 47, "{report:?}");
    // Editing a row in PostgreSQL (as its owner, triggers aside) is caught.
    client
        .batch_execute(
            "ALTER TABLE events DISABLE TRIGGER events_append_only_update;
             UPDATE events SET data = 'forged' WHERE seq = 5;",
        )
        .await
        .unwrap();
    let report = audits[1]
        .reader
        .verify("1", VerifyOptions::default())
        .await
        .unwrap();
    assert!(!report.ok, "{report:?}");
    assert_eq!(report.verified, 4, "{report:?}");
}
