//! `kill -9` right after acknowledgements loses nothing: a child process (this test binary,
//! re-executed) records events as fast as it can and prints each acknowledgement; the parent
//! kills it with SIGKILL mid-stream, reopens the store, and finds every acknowledged event,
//! numbered without gaps, and a retried idempotent event recorded once.

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use herald_audit::{AuditConfig, NewEvent};
use tokio_util::sync::CancellationToken;

const CHILD_ENV: &str = "HERALD_AUDIT_DURABILITY_CHILD";
const WRITERS: usize = 8;

/// In the child: records forever from several tasks, printing `ACK seq key` after each
/// acknowledgement. Ignored in a normal run: only its parent starts it (with `--ignored`).
#[test]
#[ignore = "the child process of acknowledged_events_survive_kill_9, which runs it"]
fn durability_child() {
    let url = std::env::var(CHILD_ENV).unwrap_or_else(|_| {
        panic!("run only by acknowledged_events_survive_kill_9 ({CHILD_ENV} unset)")
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let audit = herald_audit::open(
            AuditConfig {
                url,
                ..AuditConfig::default()
            },
            CancellationToken::new(),
        )
        .await
        .unwrap();
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let recorder = audit.recorder.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("w{w}-{i}");
                    let ev = NewEvent {
                        idempotency_key: Some(key.clone()),
                        ..audit_event(
                            "1",
                            JAN_7 + i,
                            "updated",
                            "service",
                            i,
                            "test@example.com",
                            &key,
                        )
                    };
                    let rec = recorder.record(vec![ev]).await.unwrap();
                    // println! takes the stdout lock and flushes at the newline (stdout is
                    // line-buffered), so a printed line means "acknowledged".
                    println!("ACK {} {key}", rec[0].seq);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

store_tests! {
async fn acknowledged_events_survive_kill_9(store) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "durability_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, store.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked: BTreeMap<i64, String> = BTreeMap::new();
    while acked.len() < 2000 {
        let line = lines.next().expect("child ended early").unwrap();
        if let Some(ack) = line.strip_prefix("ACK ") {
            let (seq, key) = ack.split_once(' ').unwrap();
            acked.insert(seq.parse().unwrap(), key.to_owned());
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Acknowledgements already in the pipe were given before the kill: they count too.
    for line in lines {
        let line = line.unwrap();
        if let Some(ack) = line.strip_prefix("ACK ") {
            let (seq, key) = ack.split_once(' ').unwrap();
            acked.insert(seq.parse().unwrap(), key.to_owned());
        }
    }

    let audit = open_with(store.persistent_config()).await;
    for (seq, key) in &acked {
        let record = audit
            .reader
            .get("1", *seq)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged seq {seq} lost"));
        assert_eq!(record.idempotency_key.as_deref(), Some(key.as_str()));
    }
    let total = audit
        .reader
        .list("1", Default::default(), Default::default())
        .await
        .unwrap()
        .count as i64;
    let last = *acked.keys().last().unwrap();
    assert!(
        total >= last,
        "{total} rows but seq {last} was acknowledged"
    );
    // No gaps: the highest seq equals the number of rows.
    let page = audit
        .reader
        .list("1", Default::default(), Default::default())
        .await
        .unwrap();
    assert_eq!(page.results[0].seq, total);

    // A backend retrying an acknowledged trigger after the crash is recorded once.
    let (seq, key) = acked.iter().next().unwrap();
    let retry = NewEvent {
        idempotency_key: Some(key.clone()),
        ..audit_event("1", JAN_7, "updated", "service", 0, "test@example.com", key)
    };
    let rec = audit.recorder.record(vec![retry]).await.unwrap();
    assert_eq!((rec[0].seq, rec[0].duplicate), (*seq, true));
    eprintln!(
        "{} acknowledged events, {total} recorded, all present after kill -9",
        acked.len()
    );
}
}
