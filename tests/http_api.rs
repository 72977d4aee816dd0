//! The Pusher HTTP API over real sockets: triggers reach subscribers, counts are right, and
//! bad requests get the status and message Pusher would give.

mod common;

use std::time::Duration;

use common::*;
use herald::config::AppConfig;
use serde_json::{Value, json};

const AUDIT: &str = r#"{"action": "created", "model": "service", "object_id": 53, "user": "test@example.com", "timestamp": "2025-01-07T12:04:26.123456Z", "changes": {"name": {"old": null, "new": "Test Service"}}}"#;

#[tokio::test]
async fn trigger_reaches_subscribers_of_every_channel_once() {
    let server = TestServer::default().await;
    let (mut a, _) = server.connect_established().await;
    let (mut b, _) = server.connect_established().await;
    a.subscribe("audit-channel").await;
    a.subscribe("model-service").await;
    b.subscribe("user-test@example.com").await;
    let (status, body) = server
        .http()
        .trigger(
            &["audit-channel", "model-service", "user-test@example.com"],
            "model-change",
            AUDIT,
        )
        .await;
    assert_eq!((status, body.as_str()), (200, "{}"));
    let mut got = vec![a.recv().await, a.recv().await];
    got.sort_by_key(|m| m["channel"].as_str().unwrap().to_owned());
    assert_eq!(got[0]["channel"], "audit-channel");
    assert_eq!(got[1]["channel"], "model-service");
    for m in &got {
        assert_eq!(m["event"], "model-change");
        assert_eq!(m["data"], AUDIT, "data arrives byte for byte");
    }
    let m = b.recv().await;
    assert_eq!(m["channel"], "user-test@example.com");
    a.expect_silence(Duration::from_millis(200)).await;
    server.stop().await;
}

#[tokio::test]
async fn socket_id_excludes_the_sender_and_info_reports_counts() {
    let server = TestServer::default().await;
    let (mut a, a_id) = server.connect_established().await;
    let (mut b, _) = server.connect_established().await;
    a.subscribe("audit-channel").await;
    b.subscribe("audit-channel").await;
    let (status, body) = server
        .http()
        .post(
            "/apps/1/events",
            &json!({"name":"e","channels":["audit-channel","empty"],"data":"x","socket_id":a_id,"info":"subscription_count,user_count"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        json!({"channels":{"audit-channel":{"subscription_count":2},"empty":{"subscription_count":0}}})
    );
    assert_eq!(b.recv().await["data"], "x");
    a.expect_silence(Duration::from_millis(200)).await;
    server.stop().await;
}

#[tokio::test]
async fn batch_events_are_all_or_nothing_and_report_info() {
    let server = TestServer::default().await;
    let (mut a, _) = server.connect_established().await;
    a.subscribe("audit-channel").await;
    let api = server.http();
    let (status, body) = api
        .post(
            "/apps/1/batch_events",
            &json!({"batch":[
                {"name":"one","channel":"audit-channel","data":"1","info":"subscription_count"},
                {"name":"two","channel":"model-service","data":"2"}
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"batch":[{"subscription_count":1},{}]})
    );
    assert_eq!(a.recv().await["event"], "one");
    // One bad event refuses the whole batch, so nothing is delivered.
    let (status, body) = api
        .post(
            "/apps/1/batch_events",
            &json!({"batch":[
                {"name":"three","channel":"audit-channel","data":"3"},
                {"name":"pusher:bad","channel":"audit-channel","data":"4"}
            ]}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("batch[1]"), "{body}");
    a.expect_silence(Duration::from_millis(200)).await;
    let batch: Vec<Value> = (0..11)
        .map(|i| json!({"name":"e","channel":"c","data":i.to_string()}))
        .collect();
    let (status, body) = api
        .post("/apps/1/batch_events", &json!({ "batch": batch }))
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("limit 10"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn channel_queries() {
    let server = TestServer::default().await;
    let (mut a, _) = server.connect_established().await;
    let (mut b, _) = server.connect_established().await;
    a.subscribe("audit-channel").await;
    b.subscribe("audit-channel").await;
    b.subscribe("model-service").await;
    let api = server.http();
    assert_eq!(
        api.get_json("/apps/1/channels", &[]).await,
        json!({"channels":{"audit-channel":{},"model-service":{}}})
    );
    assert_eq!(
        api.get_json(
            "/apps/1/channels",
            &[
                ("filter_by_prefix", "model-"),
                ("info", "subscription_count")
            ]
        )
        .await,
        json!({"channels":{"model-service":{"subscription_count":1}}})
    );
    let (status, body) = api.get("/apps/1/channels", &[("info", "user_count")]).await;
    assert_eq!(status, 400);
    assert!(body.contains("presence"), "{body}");
    assert_eq!(
        api.get_json(
            "/apps/1/channels/audit-channel",
            &[("info", "subscription_count")]
        )
        .await,
        json!({"occupied":true,"subscription_count":2})
    );
    assert_eq!(
        api.get_json("/apps/1/channels/nobody", &[]).await,
        json!({"occupied":false})
    );
    let (status, _) = api
        .get("/apps/1/channels/audit-channel", &[("info", "user_count")])
        .await;
    assert_eq!(status, 400);
    let (status, _) = api.get("/apps/1/channels/audit-channel/users", &[]).await;
    assert_eq!(status, 400);
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_are_refused_with_reasons() {
    let mut config = test_config();
    config
        .apps
        .push(AppConfig::new("app-id", "other-key", "other-secret"));
    let server = TestServer::start(config).await;
    let (mut a, _) = server.connect_established().await;
    a.subscribe("audit-channel").await;
    let api = server.http();
    let event = json!({"name":"e","channels":["audit-channel"],"data":"x"});

    // Wrong secret.
    let wrong = server.http().with_credentials(KEY, "not-the-secret");
    let (status, body) = wrong.post("/apps/1/events", &event).await;
    assert_eq!(status, 401);
    assert!(body.starts_with("Invalid signature: you should have sent HmacSHA256Hex(\"POST\\n/apps/1/events\\nauth_key=app-key&auth_timestamp="), "{body}");

    // Stale timestamp.
    let raw = event.to_string();
    let url = api.signed_url("POST", "/apps/1/events", raw.as_bytes(), &[], now() - 700);
    let (status, body) = api.send_post(&url, raw.clone()).await;
    assert_eq!(status, 401);
    assert!(body.starts_with("Timestamp expired"), "{body}");

    // Tampered body: signed for one body, sent with another.
    let url = api.signed_url("POST", "/apps/1/events", raw.as_bytes(), &[], now());
    let (status, body) = api.send_post(&url, raw.replace("\"x\"", "\"y\"")).await;
    assert_eq!(status, 401);
    assert!(body.contains("body_md5"), "{body}");

    // Oversized payload.
    let (status, body) = api
        .post(
            "/apps/1/events",
            &json!({"name":"e","channels":["audit-channel"],"data":"x".repeat(10_241)}),
        )
        .await;
    assert_eq!(status, 413);
    assert!(body.contains("10240 bytes"), "{body}");

    // Unknown app, and a key that belongs to another app.
    let (status, _) = api.post("/apps/999/events", &event).await;
    assert_eq!(status, 404);
    let other = server.http().with_credentials("other-key", "other-secret");
    let (status, body) = other.post("/apps/1/events", &event).await;
    assert_eq!(status, 401);
    assert!(body.contains("other-key"), "{body}");
    // …while the non-numeric app itself works.
    let (status, _) = other.post("/apps/app-id/events", &event).await;
    assert_eq!(status, 200);

    // Reserved names, bad JSON, missing fields.
    let (status, _) = api
        .post(
            "/apps/1/events",
            &json!({"name":"pusher_internal:x","channels":["a"],"data":"x"}),
        )
        .await;
    assert_eq!(status, 400);
    let url = api.signed_url("POST", "/apps/1/events", b"{nope", &[], now());
    let (status, body) = api.send_post(&url, "{nope".into()).await;
    assert_eq!(status, 400);
    assert!(body.starts_with("Invalid JSON body"), "{body}");
    let (status, body) = api
        .post("/apps/1/events", &json!({"name":"e","data":"x"}))
        .await;
    assert_eq!(
        (status, body.as_str()),
        (400, "Missing parameter: channels (or channel)")
    );

    // Unsigned.
    let r = reqwest::Client::new()
        .post(format!("http://{}/apps/1/events", server.addr))
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.text().await.unwrap(), "Missing parameter: auth_key");

    // Nothing of the refused requests was delivered (only the other app's event, elsewhere).
    a.expect_silence(Duration::from_millis(200)).await;
    server.stop().await;
}

#[tokio::test]
async fn a_slow_client_is_dropped_without_slowing_the_others() {
    let mut config = test_config();
    config.connection_queue_capacity = 16;
    let server = TestServer::start(config).await;
    // The slow client has a tiny receive buffer, subscribes, then never reads again.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(
        server.ws_url(KEY),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .unwrap();
    let mut slow = Client { ws };
    assert_eq!(slow.recv().await["event"], "pusher:connection_established");
    slow.subscribe("audit-channel").await;
    let (mut fast, _) = server.connect_established().await;
    fast.subscribe("audit-channel").await;

    const REQUESTS: usize = 150;
    const TOTAL: usize = REQUESTS * 10;
    let api = server.http();
    let payload = "y".repeat(10_000);
    let batch: Vec<Value> = (0..10)
        .map(|_| json!({"name":"e","channel":"audit-channel","data":payload}))
        .collect();
    // The fast client reads each batch before the next is sent, so it never has more than
    // one batch outstanding, however loaded the machine is; the slow one reads nothing.
    for _ in 0..REQUESTS {
        let (status, body) = api
            .post("/apps/1/batch_events", &json!({ "batch": batch }))
            .await;
        assert_eq!(status, 200, "{body}");
        for _ in 0..10 {
            assert_eq!(fast.recv().await["event"], "e");
        }
    }
    assert_eq!(
        api.get_json(
            "/apps/1/channels/audit-channel",
            &[("info", "subscription_count")]
        )
        .await["subscription_count"],
        1,
        "the slow client was unsubscribed while the fast one stays"
    );
    // The slow client sees fewer than all events, then the end of its connection (a 4100
    // close frame when there was room to write it).
    let mut received = 0;
    let end = loop {
        match slow.next_message(Duration::from_secs(5)).await {
            Some(tokio_tungstenite::tungstenite::Message::Text(_)) => received += 1,
            other => break other,
        }
    };
    assert!(received < TOTAL, "{received}");
    match end {
        None => {}
        Some(tokio_tungstenite::tungstenite::Message::Close(Some(f))) => {
            assert_eq!(u16::from(f.code), 4100)
        }
        other => panic!("unexpected {other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn a_request_whose_body_never_arrives_gets_408() {
    use tokio::io::AsyncReadExt;
    let mut config = test_config();
    config.http_request_timeout = Duration::from_secs(1);
    let server = TestServer::start(config).await;
    let mut stuck = server.stuck_trigger().await;
    // Read until the reason has arrived (headers and body may come in separate segments).
    let mut answer = String::new();
    let mut buf = vec![0u8; 1024];
    while !answer.contains("Request timed out") {
        let n = tokio::time::timeout(Duration::from_secs(10), stuck.read(&mut buf))
            .await
            .expect("herald answers instead of waiting forever")
            .unwrap();
        if n == 0 {
            break;
        }
        answer.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("Request timed out"), "{answer}");
    server.stop().await;
}
