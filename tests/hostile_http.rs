//! Hostile HTTP API clients: requests are authenticated from the query string before any
//! body byte is read, bodies are capped near the largest legal trigger, only JSON is
//! accepted, and timestamps at the ends of the integer range cannot wrap into the window.

mod common;

use std::time::Duration;

use common::{TestServer, now};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends only a request head (announcing `length` body bytes that are never sent) and
/// returns the status line of the answer, which must come without the body.
async fn status_before_body(server: &TestServer, target: &str, length: usize) -> String {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn unauthenticated_posts_are_refused_before_their_body_is_sent() {
    let server = TestServer::default().await;
    // No signature at all.
    let line = status_before_body(&server, "/apps/1/events", 1_000_000).await;
    assert!(line.contains(" 401 "), "{line}");
    // A signature made with the wrong secret, for a body announced but never sent.
    let forged = server
        .http()
        .with_credentials("app-key", "not-the-secret")
        .signed_url("POST", "/apps/1/events", b"{}", &[], now());
    let target = forged.trim_start_matches(&format!("http://{}", server.addr));
    let line = status_before_body(&server, target, 1_000_000).await;
    assert!(line.contains(" 401 "), "{line}");
    // Wrong app key for the app in the path.
    let line = status_before_body(
        &server,
        "/apps/1/batch_events?auth_key=someone-else&auth_timestamp=1&auth_version=1.0&auth_signature=x",
        1_000_000,
    )
    .await;
    assert!(line.contains(" 401 "), "{line}");
    server.stop().await;
}

#[tokio::test]
async fn authenticated_bodies_larger_than_any_legal_trigger_are_refused_unread() {
    let server = TestServer::default().await;
    let api = server.http();
    // The signature covers body_md5, so the announced size is refused after authentication
    // but before the megabyte is read.
    let url = api.signed_url("POST", "/apps/1/events", b"{}", &[], now());
    let target = url.trim_start_matches(&format!("http://{}", server.addr));
    let line = status_before_body(&server, target, 1_000_000).await;
    assert!(line.contains(" 413 "), "{line}");

    // A body under the cap is read and its MD5 checked as before.
    let (status, body) = api.trigger(&["c"], "e", "x").await;
    assert_eq!(status, 200, "{body}");
    let big = "y".repeat(300 * 1024);
    let raw = serde_json::json!({"name": "e", "channels": ["c"], "data": big}).to_string();
    let url = api.signed_url("POST", "/apps/1/events", raw.as_bytes(), &[], now());
    let (status, body) = api.send_post(&url, raw).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("HERALD_MAX_REQUEST_BODY_BYTES"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn trigger_bodies_must_be_json() {
    let server = TestServer::default().await;
    let api = server.http();
    let raw = r#"{"name":"e","channels":["c"],"data":"x"}"#;
    let url = api.signed_url("POST", "/apps/1/events", raw.as_bytes(), &[], now());
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let r = reqwest::Client::new()
            .post(&url)
            .header("content-type", content_type)
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415);
        let body = r.text().await.unwrap();
        assert!(body.contains("expected application/json"), "{body}");
    }
    let r = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json; charset=utf-8")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn timestamps_that_would_overflow_are_expired() {
    let server = TestServer::default().await;
    let api = server.http();
    let raw = r#"{"name":"e","channels":["c"],"data":"x"}"#;
    let url = api.signed_url(
        "POST",
        "/apps/1/events",
        raw.as_bytes(),
        &[],
        now().wrapping_sub(i64::MIN),
    );
    let (status, body) = api.send_post(&url, raw.into()).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.starts_with("Timestamp expired"), "{body}");
    server.stop().await;
}
