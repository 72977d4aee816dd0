//! Hostile addresses: one client IP may hold a bounded number of WebSocket connections and
//! open them at a bounded rate; behind a trusted proxy the IP is the forwarded one.

mod common;

use std::time::Duration;

use common::{Client, KEY, TestServer, test_config};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Connects with `X-Forwarded-For: ip` and returns the first frame as text.
async fn connect_as(
    server: &TestServer,
    ip: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = server.ws_url(KEY).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("x-forwarded-for", ip.parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws
}

async fn first_event(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> serde_json::Value {
    match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str(&t).unwrap(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

#[tokio::test]
async fn one_address_may_hold_a_bounded_number_of_connections() {
    let mut config = test_config();
    config.max_connections_per_ip = Some(3);
    let server = TestServer::start(config).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(server.connect_established().await.0);
    }
    // The attack: many more from the same address. Each is refused with 4100 and a reason.
    for _ in 0..20 {
        let mut c = server.connect().await;
        let error = c.recv().await;
        assert_eq!(error["event"], "pusher:error", "{error}");
        assert_eq!(error["data"]["code"], 4100);
        assert!(
            error["data"]["message"]
                .as_str()
                .unwrap()
                .contains("HERALD_MAX_CONNECTIONS_PER_IP"),
            "{error}"
        );
        assert_eq!(c.close_code().await, Some(4100));
    }
    // Closing one frees a slot.
    let closing: Client = open.pop().unwrap();
    drop(closing);
    let mut admitted = false;
    for _ in 0..50 {
        let mut c = server.connect().await;
        if c.recv().await["event"] == "pusher:connection_established" {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(admitted, "a freed slot is usable again");
    server.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_limited() {
    let mut config = test_config();
    config.max_connections_per_ip = Some(2);
    config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let server = TestServer::start(config).await;
    let mut held = Vec::new();
    for ip in ["203.0.113.1", "203.0.113.1", "203.0.113.2", "203.0.113.2"] {
        let mut ws = connect_as(&server, ip).await;
        let first = first_event(&mut ws).await;
        assert_eq!(
            first["event"], "pusher:connection_established",
            "{ip}: {first}"
        );
        held.push(ws);
    }
    let mut ws = connect_as(&server, "203.0.113.1").await;
    let refused = first_event(&mut ws).await;
    assert_eq!(refused["data"]["code"], 4100, "{refused}");
    server.stop().await;
}

#[tokio::test]
async fn one_address_may_open_a_bounded_number_of_connections_per_second() {
    let mut config = test_config();
    config.max_connections_per_ip_per_second = Some(2);
    let server = TestServer::start(config).await;
    let mut refused = 0;
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut c = server.connect().await;
        let first = c.recv().await;
        if first["event"] == "pusher:error" {
            assert_eq!(first["data"]["code"], 4100);
            refused += 1;
        }
        held.push(c);
    }
    assert!(refused > 0, "20 connections were all admitted");
    server.stop().await;
}
