//! Redaction end to end: with `redact` rules a secret is stored as `***REDACTED***` — it
//! cannot be found by search, export, detail, stats or the `herald audit` CLI — while
//! subscribers still get the original payload, unless `redact_delivery` is on. Per-app
//! `audit_fields` overrides decide where fields are read from.

mod common;

use std::process::Command;

use common::*;
use serde_json::{Value, json};

const SECRET: &str = "hunter2-very-secret";
const SSN: &str = "123-45-6789";

fn payload() -> String {
    json!({
        "verb": "approved", "model": "invoice", "user": "ann@example.com",
        "password": SECRET,
        "changes": {"ssn": {"old": null, "new": SSN}, "total": {"old": 1, "new": 2}},
        "payment": {"card_number": "4111111111111111"},
    })
    .to_string()
}

fn config(redact_delivery: bool) -> herald::Config {
    let mut c = test_config();
    let app = &mut c.apps[0];
    app.redact = ["password", "changes.ssn", "*.card_number"]
        .map(String::from)
        .to_vec();
    app.redact_delivery = redact_delivery;
    app.audit_fields
        .insert("action".into(), vec!["verb".into()]);
    c
}

/// Subscribes a raw WebSocket client to `audit-channel`, triggers the payload, and
/// returns the `data` the subscriber received.
async fn trigger_and_receive(server: &TestServer) -> Value {
    let (mut ws, _) = server.connect_established().await;
    let ack = ws.subscribe("audit-channel").await;
    assert_eq!(ack["event"], "pusher_internal:subscription_succeeded");
    let (status, body) = server
        .http()
        .trigger(&["audit-channel"], "model-change", &payload())
        .await;
    assert_eq!(status, 200, "{body}");
    let frame = ws.recv().await;
    assert_eq!(frame["event"], "model-change");
    serde_json::from_str(frame["data"].as_str().unwrap()).unwrap()
}

fn cli(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("audit")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "herald audit {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn assert_hidden(what: &str, text: &str) {
    for secret in [SECRET, SSN, "4111111111111111"] {
        assert!(!text.contains(secret), "{what} reveals {secret}: {text}");
    }
}

#[tokio::test]
async fn redacted_values_are_stored_nowhere_and_delivered_as_sent() {
    let c = config(false);
    let url = c.audit_url.clone();
    let server = TestServer::start(c).await;
    let delivered = trigger_and_receive(&server).await;
    // Delivery is untouched by default: herald stays a transparent Pusher.
    assert_eq!(
        delivered,
        serde_json::from_str::<Value>(&payload()).unwrap()
    );

    let api = server.http();
    let detail = api.get_json("/apps/1/audit/events/1", &[]).await;
    assert_hidden("detail", &detail.to_string());
    let data: Value = serde_json::from_str(detail["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["password"], "***REDACTED***");
    assert_eq!(data["payment"]["card_number"], "***REDACTED***");
    assert_eq!(
        data["changes"]["ssn"],
        json!({"old": null, "new": "***REDACTED***"})
    );
    assert_eq!(data["changes"]["total"], json!({"old": 1, "new": 2}));
    assert_eq!(
        detail["changes"]["ssn"],
        json!({"old": null, "new": "***REDACTED***"})
    );
    // The override: `action` is read from `verb`.
    assert_eq!(detail["action"], "approved");
    assert_eq!(
        api.get_json("/apps/1/audit/events", &[("action", "approved")])
            .await["count"],
        1
    );

    for q in [SECRET, "hunter2", SSN, "4111111111111111"] {
        let page = api.get_json("/apps/1/audit/events", &[("q", q)]).await;
        assert_eq!(page["count"], 0, "search for {q} found {page}");
    }
    let page = api
        .get_json("/apps/1/audit/events", &[("q", "REDACTED")])
        .await;
    assert_eq!(page["count"], 1);
    for format in ["csv", "ndjson"] {
        let (status, body) = api.get("/apps/1/audit/export", &[("format", format)]).await;
        assert_eq!(status, 200);
        assert!(body.contains("REDACTED"), "{body}");
        assert_hidden(format, &body);
    }
    server.stop().await;

    // The operator's CLI reads the same store.
    assert_hidden("audit show", &cli(&["show", "--db", &url, "1"]));
    let listed = cli(&["query", "--db", &url, "--json"]);
    assert!(listed.contains("approved"), "{listed}");
    assert_hidden("audit query", &listed);
    assert!(cli(&["query", "--db", &url, "--search", SECRET]).contains("0 of 0"));
    assert_hidden(
        "audit export",
        &cli(&["export", "--db", &url, "--format", "csv"]),
    );
}

#[tokio::test]
async fn redact_delivery_also_redacts_what_subscribers_receive() {
    let server = TestServer::start(config(true)).await;
    let delivered = trigger_and_receive(&server).await;
    assert_eq!(delivered["password"], "***REDACTED***");
    assert_eq!(delivered["changes"]["ssn"]["new"], "***REDACTED***");
    assert_eq!(delivered["verb"], "approved");
    assert_hidden("delivery", &delivered.to_string());
    server.stop().await;
}

#[tokio::test]
async fn encrypted_channel_payloads_are_delivered_and_stored_as_sent() {
    // Ciphertext cannot be redacted; a rule that happens to name one of its keys must not
    // break decryption for subscribers either.
    let mut c = config(true);
    c.apps[0].redact.push("ciphertext".into());
    let server = TestServer::start(c).await;
    let data = r#"{"nonce":"bm9uY2U=","ciphertext":"Y2lwaGVy"}"#;
    let (status, body) = server
        .http()
        .trigger(&["private-encrypted-x"], "e", data)
        .await;
    assert_eq!(status, 200, "{body}");
    let detail = server.http().get_json("/apps/1/audit/events/1", &[]).await;
    assert_eq!(detail["data"], data);
    server.stop().await;
}
