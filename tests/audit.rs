//! The audit recorder through herald's own HTTP layer: triggers are recorded before they
//! are delivered, queried with a Pusher signature or a bearer token, retried idempotent
//! triggers record and deliver once, and a failing store refuses triggers with 503.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const AUDIT: &str = r#"{"action": "created", "model": "service", "object_id": 53, "user": "test@example.com", "timestamp": "2025-01-07T12:04:26.123456Z", "changes": {"name": {"old": null, "new": "Test Service"}, "price": {"old": null, "new": "100.00"}}}"#;

fn config_with_token() -> herald::Config {
    let mut c = test_config();
    c.apps[0].audit_token = Some("secret-token".into());
    c
}

#[tokio::test]
async fn triggered_events_are_recorded_and_queryable() {
    let server = TestServer::start(config_with_token()).await;
    let api = server.http();
    let (status, _) = api
        .trigger(
            &["audit-channel", "model-service", "user-test@example.com"],
            "model-change",
            AUDIT,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = api
        .post(
            "/apps/1/batch_events",
            &json!({"batch":[
                {"name":"change","channel":"model-invoice","data":"{\"action\":\"deleted\",\"model_name\":\"invoice\",\"user_email\":\"b@example.com\",\"object_id\":\"7\"}"},
                {"name":"plain","channel":"misc","data":"not json at all"}
            ]}),
        )
        .await;
    assert_eq!(status, 200);

    // Signed like the libraries' generic `get`.
    let page = api.get_json("/apps/1/audit/events", &[]).await;
    assert_eq!(page["count"], 3);
    let results = page["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["seq"], 3, "newest first");
    let first = &results[2];
    assert_eq!(first["name"], "model-change");
    assert_eq!(first["action"], "created");
    assert_eq!(first["model"], "service");
    assert_eq!(first["object_id"], "53");
    assert_eq!(first["user"], "test@example.com");
    assert_eq!(
        first["channels"],
        json!(["audit-channel", "model-service", "user-test@example.com"])
    );
    assert_eq!(results[1]["model"], "invoice");
    assert_eq!(results[1]["user"], "b@example.com");

    // Filters and full-text search.
    let deleted = api
        .get_json("/apps/1/audit/events", &[("action", "deleted")])
        .await;
    assert_eq!(deleted["count"], 1);
    let search = api
        .get_json("/apps/1/audit/events", &[("q", "Test Service")])
        .await;
    assert_eq!(search["count"], 1);
    assert_eq!(search["results"][0]["seq"], 1);

    // Detail, with the raw data and request details.
    let detail = api.get_json("/apps/1/audit/events/1", &[]).await;
    assert_eq!(detail["data"], AUDIT);
    assert_eq!(detail["auth_key"], KEY);
    assert_eq!(detail["client_ip"], "127.0.0.1");
    assert_eq!(
        detail["changes"]["price"],
        json!({"old": null, "new": "100.00"})
    );

    // Bearer token, for the dashboard and curl.
    let client = reqwest::Client::new();
    let url = format!("http://{}/apps/1/audit/stats", server.addr);
    let r = client
        .get(&url)
        .bearer_auth("secret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let stats: Value = r.json().await.unwrap();
    assert_eq!(stats["total"], 3);
    let r = client.get(&url).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // Another app's credentials see nothing of this app.
    let (status, _) = api.get("/apps/2/audit/events", &[]).await;
    assert_eq!(status, 404);

    // Bad filters name the parameter.
    let (status, body) = api.get("/apps/1/audit/events", &[("limit", "lots")]).await;
    assert_eq!(status, 400);
    assert!(body.contains("limit"), "{body}");

    // Export, streamed as CSV.
    let r = client
        .get(format!(
            "http://{}/apps/1/audit/export?format=csv",
            server.addr
        ))
        .bearer_auth("secret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csv = r.text().await.unwrap();
    assert_eq!(csv.lines().count(), 4, "header + 3 rows:\n{csv}");
    server.stop().await;
}

#[tokio::test]
async fn retried_idempotent_triggers_record_and_deliver_once() {
    let server = TestServer::default().await;
    let (mut c, _) = server.connect_established().await;
    c.subscribe("audit-channel").await;
    let api = server.http();
    let body = json!({"name":"e","channels":["audit-channel"],"data":"once"}).to_string();
    for _ in 0..3 {
        let url = api.signed_url("POST", "/apps/1/events", body.as_bytes(), &[], now());
        let r = api
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("idempotency-key", "order-42")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(c.recv().await["data"], "once");
    c.expect_silence(Duration::from_millis(300)).await;
    let page = api.get_json("/apps/1/audit/events", &[]).await;
    assert_eq!(page["count"], 1);
    server.stop().await;
}

#[tokio::test]
async fn an_unwritable_store_refuses_triggers_with_503_and_delivers_nothing() {
    let mut config = test_config();
    let path = temp_path("audit.db");
    config.audit_url = format!("sqlite://{}", path.display());
    let server = TestServer::start(config).await;
    let (mut c, _) = server.connect_established().await;
    c.subscribe("audit-channel").await;
    let api = server.http();
    assert_eq!(api.trigger(&["audit-channel"], "e", "1").await.0, 200);
    assert_eq!(c.recv().await["data"], "1");
    // Make the store fail: lock it exclusively from another connection.
    let mut blocker = rusqlite_lock(&path);
    let (status, body) = api.trigger(&["audit-channel"], "e", "2").await;
    blocker.kill().unwrap();
    blocker.wait().unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("audit"), "{body}");
    c.expect_silence(Duration::from_millis(300)).await;
    server.stop().await;
}

#[tokio::test]
async fn with_the_deliver_policy_an_unwritable_store_still_delivers() {
    let mut config = test_config();
    let path = temp_path("audit.db");
    config.audit_url = format!("sqlite://{}", path.display());
    config.audit_on_unavailable = herald_audit::UnavailablePolicy::DeliverAndRecord;
    let server = TestServer::start(config).await;
    let (mut c, _) = server.connect_established().await;
    c.subscribe("audit-channel").await;
    let api = server.http();
    assert_eq!(api.trigger(&["audit-channel"], "e", "1").await.0, 200);
    assert_eq!(c.recv().await["data"], "1");
    let mut blocker = rusqlite_lock(&path);
    let (status, body) = api.trigger(&["audit-channel"], "e", "2").await;
    blocker.kill().unwrap();
    blocker.wait().unwrap();
    // The operator chose availability over the trail: the event is delivered anyway.
    assert_eq!(status, 200, "{body}");
    assert_eq!(c.recv().await["data"], "2");
    // And the trail does not pretend to hold it.
    let page = api.get_json("/apps/1/audit/events", &[]).await;
    assert_eq!(page["count"], 1, "only the first event is recorded: {page}");
    server.stop().await;
}

/// Holds an exclusive lock on the database file (the writer then times out).
fn rusqlite_lock(path: &std::path::Path) -> std::process::Child {
    let script = format!(
        "import sqlite3,time\nc=sqlite3.connect(r'{}',timeout=0,isolation_level=None)\nc.execute('BEGIN EXCLUSIVE')\nprint('locked',flush=True)\ntime.sleep(30)\n",
        path.display()
    );
    let mut child = std::process::Command::new("python3")
        .args(["-c", &script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed for this test");
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    child
}
