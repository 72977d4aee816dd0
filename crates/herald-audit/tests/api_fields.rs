//! The field shapes of `audit-context.md` beyond the brief's payload (event-logger and
//! activity-tracker backends) recorded and queried by every field they map to, including
//! the `error` and `ip` columns, through the API, stats and export.

#[macro_use]
mod common;

use common::*;
use herald_audit::NewEvent;
use serde_json::json;

fn from_ip(mut e: NewEvent, ip: Option<&str>) -> NewEvent {
    e.client_ip = ip.map(str::to_owned);
    e
}

async fn fixture(store: &TestStore) -> (herald_audit::Audit, axum::Router) {
    let audit = store.open().await;
    let logger = json!({
        "event_code": "permit_create", "content_type": "permit", "object_id": 12,
        "object_description": "Permit #12", "username": "alice", "level": "warning",
        "status": "failed", "error_message": "quota exceeded", "ip_address": "10.1.2.3",
    });
    let tracker = json!({
        "action_code": "login", "resource_type": "session",
        "user": {"id": 7, "email": "bob@example.com", "username": "bob"},
    });
    let actor = json!({"action": "exported", "model": "invoice", "actor": "carol"});
    audit
        .recorder
        .record(vec![
            from_ip(
                event("1", JAN_7, "log", &["audit-channel"], &logger.to_string()),
                Some("192.0.2.1"),
            ),
            from_ip(
                event(
                    "1",
                    JAN_7 + MINUTE,
                    "activity",
                    &["audit-channel"],
                    &tracker.to_string(),
                ),
                Some("192.0.2.9"),
            ),
            from_ip(
                event(
                    "1",
                    JAN_7 + 2 * MINUTE,
                    "activity",
                    &["audit-channel"],
                    &actor.to_string(),
                ),
                None,
            ),
        ])
        .await
        .unwrap();
    let api = api(&audit);
    (audit, api)
}

store_tests! {
async fn every_mapped_field_is_returned_and_filterable(store) {
    let (_audit, api) = fixture(&store).await;
    let one = ok_json(&api, "/apps/1/audit/events/1").await;
    assert_eq!(one["action"], "permit_create");
    assert_eq!(one["model"], "permit");
    assert_eq!(one["object_repr"], "Permit #12");
    assert_eq!(one["user"], "alice");
    assert_eq!(one["severity"], "warning");
    assert_eq!(one["error"], "quota exceeded");
    // The payload's address wins over the trigger's.
    assert_eq!(one["ip"], "10.1.2.3");
    assert_eq!(one["client_ip"], "192.0.2.1");
    let two = ok_json(&api, "/apps/1/audit/events/2").await;
    assert_eq!(two["user"], "bob@example.com");
    assert_eq!(two["ip"], "192.0.2.9");
    assert_eq!(two["error"], json!(null));
    let three = ok_json(&api, "/apps/1/audit/events/3").await;
    assert_eq!(three["user"], "carol");
    assert_eq!(three["ip"], json!(null));

    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("action=permit_create", vec![1]),
        ("event_code=login", vec![2]),
        ("model=session", vec![2]),
        ("user=bob@example.com", vec![2]),
        ("user=carol", vec![3]),
        ("severity=warning", vec![1]),
        ("error=quota%20exceeded", vec![1]),
        ("error=quota", vec![]),
        ("ip=10.1.2.3", vec![1]),
        ("ip_address=192.0.2.9", vec![2]),
        ("ip=192.0.2.1", vec![]),
        ("status=failed&error=quota%20exceeded&ip=10.1.2.3", vec![1]),
    ];
    for (query, want) in cases {
        let page = ok_json(&api, &format!("/apps/1/audit/events?{query}")).await;
        assert_eq!(seqs(&page), want, "{query}");
    }
    let (status, body) = get_json(&api, "/apps/1/audit/events?ip=1.1.1.1&ip_address=2.2.2.2").await;
    assert_eq!(status, 400, "{body}");
}
}

store_tests! {
async fn stats_and_export_see_the_new_fields(store) {
    let (_audit, api) = fixture(&store).await;
    let stats = ok_json(&api, "/apps/1/audit/stats?ip=10.1.2.3").await;
    assert_eq!(stats["total"], 1);
    assert_eq!(
        stats["by_action"],
        json!([{"action": "permit_create", "count": 1}])
    );
    let stats = ok_json(&api, "/apps/1/audit/stats?error=quota%20exceeded").await;
    assert_eq!(stats["by_user"], json!([{"user": "alice", "count": 1}]));

    let (status, _, body) = get(&api, "/apps/1/audit/export?format=csv&ip=10.1.2.3").await;
    assert_eq!(status, 200);
    let csv = String::from_utf8(body).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row = lines.next().unwrap();
    assert!(lines.next().is_none(), "{csv}");
    let error = header.iter().position(|c| *c == "error").unwrap();
    let ip = header.iter().position(|c| *c == "ip").unwrap();
    // The row's first cells hold no commas or quotes, so splitting up to `ip` is exact.
    let cells: Vec<&str> = row.splitn(ip + 2, ',').collect();
    assert_eq!(cells[error], "quota exceeded");
    assert_eq!(cells[ip], "10.1.2.3");

    let (_, _, body) = get(
        &api,
        "/apps/1/audit/export?format=ndjson&user=bob@example.com",
    )
    .await;
    let line: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(line["ip"], "192.0.2.9");
    assert_eq!(line["action"], "login");
}
}
