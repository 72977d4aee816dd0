//! WebSocket protocol behaviour over real sockets: handshake, refusals with close codes,
//! ping/pong, malformed input, keep-alive timeouts and cleanup of vanished clients.

mod common;

use std::time::Duration;

use common::*;
use herald::config::AppConfig;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn handshake_has_socket_id_and_activity_timeout() {
    let server = TestServer::default().await;
    let mut c = server.connect().await;
    let msg = c.recv().await;
    assert_eq!(msg["event"], "pusher:connection_established");
    // `data` is a JSON *string* (double encoding).
    let data: serde_json::Value = serde_json::from_str(msg["data"].as_str().unwrap()).unwrap();
    let id = data["socket_id"].as_str().unwrap();
    let (a, b) = id.split_once('.').unwrap();
    assert!(a.chars().all(|c| c.is_ascii_digit()) && b.chars().all(|c| c.is_ascii_digit()));
    assert_eq!(data["activity_timeout"], 120);
    let (_, other) = server.connect_established().await;
    assert_ne!(id, other, "socket ids are unique");
    server.stop().await;
}

#[tokio::test]
async fn refusals_use_pusher_close_codes() {
    let mut config = test_config();
    let mut disabled = AppConfig::new("2", "disabled-key", "s");
    disabled.enabled = false;
    config.apps.push(disabled);
    let server = TestServer::start(config).await;

    let mut c = Client::connect(&server.ws_url("nope")).await;
    let err = c.recv().await;
    assert_eq!(err["event"], "pusher:error");
    assert_eq!(err["data"]["code"], 4001);
    assert_eq!(c.close_code().await, Some(4001));

    let mut c = Client::connect(&server.ws_url("disabled-key")).await;
    assert_eq!(c.recv().await["data"]["code"], 4003);
    assert_eq!(c.close_code().await, Some(4003));

    let url = format!("ws://{}/app/{KEY}?protocol=3", server.addr);
    let mut c = Client::connect(&url).await;
    assert_eq!(c.recv().await["data"]["code"], 4007);
    assert_eq!(c.close_code().await, Some(4007));

    for v in ["4", "5", "6", "7"] {
        let url = format!("ws://{}/app/{KEY}?protocol={v}", server.addr);
        let mut c = Client::connect(&url).await;
        assert_eq!(c.recv().await["event"], "pusher:connection_established");
    }

    let mut c = Client::connect(&format!("ws://{}/somewhere/else", server.addr)).await;
    assert_eq!(c.recv().await["data"]["code"], 4005);
    assert_eq!(c.close_code().await, Some(4005));
    server.stop().await;
}

#[tokio::test]
async fn origin_allow_list_admits_listed_and_wildcard_origins_and_refuses_others() {
    let mut config = test_config();
    config.apps[0].allowed_origins = vec![
        "https://app.example.com".into(),
        "https://*.example.com".into(),
    ];
    let mut open = AppConfig::new("2", "open-key", "s");
    open.allowed_origins = Vec::new();
    config.apps.push(open);
    let server = TestServer::start(config).await;
    let url = server.ws_url(KEY);

    for origin in [
        "https://app.example.com",
        "https://eu.app.example.com",
        "https://other.example.com:443",
    ] {
        let mut c = Client::connect_with_origin(&url, origin).await;
        assert_eq!(
            c.recv().await["event"],
            "pusher:connection_established",
            "{origin}"
        );
    }
    // Not a browser: no Origin header to check.
    let mut c = server.connect().await;
    assert_eq!(c.recv().await["event"], "pusher:connection_established");

    for origin in [
        "https://evil.test",
        "http://app.example.com",
        "https://example.com",
        "https://app.example.com.evil.test",
        "null",
    ] {
        let mut c = Client::connect_with_origin(&url, origin).await;
        let err = c.recv().await;
        assert_eq!(err["event"], "pusher:error", "{origin}");
        assert_eq!(err["data"]["code"], 4009, "{origin}");
        let message = err["data"]["message"].as_str().unwrap();
        assert!(
            message.contains("not authorized") && message.contains(origin),
            "{message}"
        );
        assert_eq!(c.close_code().await, Some(4009), "{origin}");
    }

    // An app with an empty list still admits every origin.
    let mut c = Client::connect_with_origin(&server.ws_url("open-key"), "https://evil.test").await;
    assert_eq!(c.recv().await["event"], "pusher:connection_established");
    server.stop().await;
}

#[tokio::test]
async fn answers_json_and_protocol_pings() {
    let server = TestServer::default().await;
    let (mut c, _) = server.connect_established().await;
    c.send(json!({"event":"pusher:ping","data":{}})).await;
    assert_eq!(c.recv().await, json!({"event":"pusher:pong","data":{}}));
    c.send_raw(Message::Ping(b"hi".to_vec().into())).await;
    let pong = tokio::time::timeout(Duration::from_secs(5), async {
        use futures_util::StreamExt;
        loop {
            if let Some(Ok(Message::Pong(p))) = c.ws.next().await {
                return p;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(&pong[..], b"hi");
    server.stop().await;
}

#[tokio::test]
async fn malformed_frames_get_errors_and_the_connection_survives() {
    let server = TestServer::default().await;
    let (mut c, _) = server.connect_established().await;
    let cases = [
        (Message::Text("not json".into()), "not valid JSON"),
        (Message::Text(r#"{"data":{}}"#.into()), "'event' field"),
        (
            Message::Text(r#"{"event":"pusher:subscribe","data":{}}"#.into()),
            "data.channel",
        ),
        (Message::Binary(vec![1, 2, 3].into()), "Binary frames"),
        (
            Message::Text(
                json!({"event":"pusher:subscribe","data":{"channel":"x".repeat(70_000)}})
                    .to_string()
                    .into(),
            ),
            "Message too large",
        ),
        (
            Message::Text(r#"{"event":"pusher:subscribe","data":{"channel":"bad name"}}"#.into()),
            "Invalid channel name",
        ),
        (
            Message::Text(r#"{"event":"whatever"}"#.into()),
            "Unsupported event",
        ),
    ];
    for (frame, expected) in cases {
        c.send_raw(frame).await;
        let err = c.recv().await;
        assert_eq!(err["event"], "pusher:error", "{err}");
        let message = err["data"]["message"].as_str().unwrap();
        assert!(
            message.contains(expected),
            "{message:?} should mention {expected:?}"
        );
        if expected == "Invalid channel name" {
            let scoped = c.recv().await;
            assert_eq!(scoped["event"], "pusher:subscription_error");
            assert_eq!(scoped["data"]["status"], 400);
        }
    }
    // Still connected and working.
    assert_eq!(
        c.subscribe("audit-channel").await["event"],
        "pusher_internal:subscription_succeeded"
    );
    server.stop().await;
}

#[tokio::test]
async fn silent_client_is_pinged_then_closed_with_4201() {
    let mut config = test_config();
    config.activity_timeout = Duration::from_secs(1);
    config.pong_timeout = Duration::from_secs(1);
    let server = TestServer::start(config).await;
    let (mut c, _) = server.connect_established().await;
    c.subscribe("audit-channel").await;
    // The server pings after the activity timeout…
    let ping = c.recv().await;
    assert_eq!(ping["event"], "pusher:ping");
    // …and, with no reply, closes with 4201 and forgets the subscription.
    assert_eq!(c.close_code().await, Some(4201));
    let api = server.http();
    assert!(
        eventually(Duration::from_secs(3), || async {
            api.get_json("/apps/1/channels", &[]).await["channels"] == json!({})
        })
        .await
    );
    server.stop().await;
}

#[tokio::test]
async fn answering_pings_keeps_the_connection_open() {
    let mut config = test_config();
    config.activity_timeout = Duration::from_secs(1);
    config.pong_timeout = Duration::from_secs(1);
    let server = TestServer::start(config).await;
    let (mut c, _) = server.connect_established().await;
    for _ in 0..3 {
        let ping = c.recv().await;
        assert_eq!(ping["event"], "pusher:ping");
        c.send(json!({"event":"pusher:pong","data":{}})).await;
    }
    c.send(json!({"event":"pusher:ping","data":{}})).await;
    assert_eq!(c.recv().await["event"], "pusher:pong");
    server.stop().await;
}

#[tokio::test]
async fn vanished_clients_are_removed_from_every_channel() {
    let server = TestServer::default().await;
    let api = server.http();
    let mut clients = Vec::new();
    for _ in 0..5 {
        let (mut c, _) = server.connect_established().await;
        for ch in ["audit-channel", "model-service", "user-test@example.com"] {
            assert_eq!(
                c.subscribe(ch).await["event"],
                "pusher_internal:subscription_succeeded"
            );
        }
        clients.push(c);
    }
    let info = api
        .get_json(
            "/apps/1/channels/audit-channel",
            &[("info", "subscription_count")],
        )
        .await;
    assert_eq!(info, json!({"occupied": true, "subscription_count": 5}));
    // Drop the TCP connections without a close frame (as a reset client would).
    for c in clients {
        drop(c.ws.into_inner());
    }
    assert!(
        eventually(Duration::from_secs(5), || async {
            api.get_json("/apps/1/channels", &[]).await["channels"] == json!({})
        })
        .await,
        "every channel is vacated"
    );
    let info = api
        .get_json(
            "/apps/1/channels/audit-channel",
            &[("info", "subscription_count")],
        )
        .await;
    assert_eq!(info, json!({"occupied": false, "subscription_count": 0}));
    server.stop().await;
}

#[tokio::test]
async fn shutdown_sends_4200_and_ready_reports_draining() {
    let server = TestServer::default().await;
    let (mut c, _) = server.connect_established().await;
    let addr = server.addr;
    let ready = reqwest::get(format!("http://{addr}/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let stop = tokio::spawn(server.stop());
    assert_eq!(c.close_code().await, Some(4200));
    stop.await.unwrap();
}

#[tokio::test]
async fn a_stuck_http_request_does_not_hold_shutdown_past_the_grace_period() {
    let mut config = test_config();
    config.shutdown_grace = Duration::from_secs(1);
    let server = TestServer::start(config).await;
    let stuck = server.stuck_trigger().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Without the grace period on HTTP requests `run` would wait for this body forever
    // (`stop` fails the test after 15 s). With it, shutdown waits the grace period for the
    // request — not less, and not much more.
    let started = std::time::Instant::now();
    server.stop().await;
    let took = started.elapsed();
    drop(stuck);
    assert!(
        took >= Duration::from_secs(1),
        "gave up after {took:?}, before the 1 s grace"
    );
    assert!(
        took < Duration::from_secs(6),
        "took {took:?} with a 1 s grace"
    );
}
