//! Retention through the real writer and SQLite store: a dry run changes nothing; a prune
//! removes exactly the events whose first matching rule has expired, from lists, detail,
//! search, channel filters and statistics; the chain still verifies over pruned events;
//! each run is recorded in the trail.

mod common;

use std::sync::Arc;

use common::{DAY, api, event, ok_json};
use herald_audit::retention::{RetentionPolicy, Rule, RulePruned, Selector};
use herald_audit::timefmt;
use herald_audit::verify::VerifyOptions;
use herald_audit::{Audit, AuditConfig, NewEvent};
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn policy() -> Arc<RetentionPolicy> {
    Arc::new(RetentionPolicy::new(
        vec![
            Rule {
                selector: Selector::Model("User".into()),
                days: 90,
            },
            Rule {
                selector: Selector::Model("Invoice".into()),
                days: 2555,
            },
            Rule {
                selector: Selector::ChannelPrefix("user-".into()),
                days: 30,
            },
        ],
        Some(365),
    ))
}

fn ev(at: i64, model: &str, channels: &[&str], secret: &str) -> NewEvent {
    let data = json!({"action": "updated", "model": model, "object_id": 1, "user": "a@example.com", "note": secret});
    event("1", at, "model-change", channels, &data.to_string())
}

/// 20 events: seq 1–6 User 100 days old (pruned by the User rule), 7–10 Invoice 100 days old
/// on a user- channel (kept: the Invoice rule comes first), 11–14 on user-bob 50 days old
/// (pruned by the prefix rule), 15–18 50 days old elsewhere (kept: default 365), 19–20
/// recent Users (kept).
async fn fill(audit: &Audit, now: i64) {
    let mut events = Vec::new();
    for i in 0..6 {
        events.push(ev(
            now - 100 * DAY + i,
            "User",
            &["audit-channel"],
            "gone-user-secret",
        ));
    }
    for i in 0..4 {
        events.push(ev(
            now - 100 * DAY + 10 + i,
            "Invoice",
            &["user-bob"],
            "kept-invoice",
        ));
    }
    for i in 0..4 {
        events.push(ev(
            now - 50 * DAY + i,
            "service",
            &["audit-channel", "user-bob"],
            "gone-bob-secret",
        ));
    }
    for i in 0..4 {
        events.push(ev(
            now - 50 * DAY + 10 + i,
            "service",
            &["audit-channel"],
            "kept-service",
        ));
    }
    for i in 0..2 {
        events.push(ev(now - DAY + i, "user", &["audit-channel"], "recent-user"));
    }
    for e in events {
        audit.recorder.record(vec![e]).await.unwrap();
    }
}

fn expected() -> Vec<RulePruned> {
    vec![
        RulePruned {
            rule: "model = \"User\", days = 90".into(),
            count: 6,
            first_seq: 1,
            last_seq: 6,
        },
        RulePruned {
            rule: "channel_prefix = \"user-\", days = 30".into(),
            count: 4,
            first_seq: 11,
            last_seq: 14,
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_removes_exactly_the_expired_events_and_keeps_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let audit = herald_audit::open(
        AuditConfig {
            url: format!("sqlite://{}", dir.path().join("audit.db").display()),
            ..AuditConfig::default()
        },
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let now = timefmt::now_micros();
    fill(&audit, now).await;
    let app = api(&audit);
    let before = ok_json(&app, "/apps/1/audit/stats").await;
    assert_eq!(before["total"], 20);

    let dry = audit
        .recorder
        .prune("1", policy(), now, true)
        .await
        .unwrap();
    assert_eq!(dry, expected());
    assert_eq!(
        ok_json(&app, "/apps/1/audit/stats").await,
        before,
        "a dry run changes nothing"
    );
    assert_eq!(
        ok_json(&app, "/apps/1/audit/events?q=gone").await["count"],
        10
    );

    let done = audit
        .recorder
        .prune("1", policy(), now, false)
        .await
        .unwrap();
    assert_eq!(done, expected());

    // Gone from lists, detail, search, channel filters and statistics.
    let all = ok_json(&app, "/apps/1/audit/events?ordering=seq&limit=100").await;
    let seqs = common::seqs(&all);
    let mut kept: Vec<i64> = (7..=10).chain(15..=20).collect();
    kept.extend([21, 22]); // the two prune records
    assert_eq!(seqs, kept);
    assert_eq!(all["count"], 12);
    let (status, _) = common::get_json(&app, "/apps/1/audit/events/3").await;
    assert_eq!(status, 404);
    assert_eq!(
        ok_json(&app, "/apps/1/audit/events?q=gone").await["count"],
        0
    );
    assert_eq!(
        ok_json(&app, "/apps/1/audit/events?q=kept").await["count"],
        8
    );
    assert_eq!(
        common::seqs(&ok_json(&app, "/apps/1/audit/events?channel=user-bob&ordering=seq").await),
        vec![7, 8, 9, 10]
    );
    let stats = ok_json(&app, "/apps/1/audit/stats").await;
    assert_eq!(stats["total"], 12);
    let models: Vec<(String, u64)> = stats["by_model"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["model"].as_str().unwrap().to_owned(),
                m["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        models,
        vec![
            ("Invoice".to_owned(), 4),
            ("service".to_owned(), 4),
            ("user".to_owned(), 2)
        ]
    );

    // The run is in the trail.
    let records = ok_json(
        &app,
        "/apps/1/audit/events?event=herald:audit-pruned&ordering=seq",
    )
    .await;
    let data: Vec<serde_json::Value> = records["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].clone())
        .collect();
    assert_eq!(data, vec![json!(21), json!(22)]);
    let first = ok_json(&app, "/apps/1/audit/events/21").await;
    let recorded: serde_json::Value =
        serde_json::from_str(first["data"].as_str().unwrap()).unwrap();
    assert_eq!(
        recorded,
        json!({"action": "pruned", "rule": "model = \"User\", days = 90", "count": 6, "first_seq": 1, "last_seq": 6})
    );

    // The chain still verifies over the pruned events.
    let report = audit
        .reader
        .verify("1", VerifyOptions::default())
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!((report.verified, report.pruned), (22, 10));

    // Nothing more is due: a second run prunes and records nothing.
    assert_eq!(
        audit
            .recorder
            .prune("1", policy(), now, false)
            .await
            .unwrap(),
        vec![]
    );
    assert_eq!(ok_json(&app, "/apps/1/audit/stats").await["total"], 12);
}
