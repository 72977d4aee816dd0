//! Helpers shared by the integration tests: opening a store, making audit events the way
//! backends publish them, and calling the query API in-process.
//!
//! Tests that hold for every store are written once inside [`store_tests!`], which runs
//! each body against SQLite and against PostgreSQL (a fresh database per test, see
//! [`TestStore`]).

#![allow(dead_code)]

pub mod pg;

#[allow(unused_imports)]
pub use pg::TestStore;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use herald_audit::{Audit, AuditConfig, NewEvent};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// 2025-01-07T00:00:00Z in µs.
pub const JAN_7: i64 = 1_736_208_000_000_000;
pub const MINUTE: i64 = 60_000_000;
pub const DAY: i64 = 86_400_000_000;

/// Runs each test body once per store: `mod NAME { fn sqlite(); fn postgres(); }`.
#[macro_export]
macro_rules! store_tests {
    ($( $(#[doc = $doc:literal])* async fn $name:ident($store:ident) $body:block )*) => {$(
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($store: $crate::common::TestStore) $body

            #[tokio::test]
            async fn sqlite() {
                run($crate::common::TestStore::sqlite()).await
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(store) = $crate::common::TestStore::postgres().await {
                    run(store).await
                }
            }
        }
    )*};
}

pub async fn open_memory() -> Audit {
    open_with(AuditConfig {
        url: "sqlite::memory:".into(),
        ..AuditConfig::default()
    })
    .await
}

pub async fn open_with(config: AuditConfig) -> Audit {
    herald_audit::open(config, CancellationToken::new())
        .await
        .expect("open audit store")
}

/// A plain event with `data` as given.
pub fn event(app: &str, at: i64, name: &str, channels: &[&str], data: &str) -> NewEvent {
    NewEvent {
        app_id: app.to_owned(),
        received_at_micros: at,
        name: name.to_owned(),
        channels: channels.iter().map(|c| (*c).to_owned()).collect(),
        data: data.to_owned(),
        socket_id: None,
        client_ip: Some("127.0.0.1".into()),
        user_agent: Some("pusher-http-python 3.3.2".into()),
        library: Some("pusher-http-python 3.3.2".into()),
        auth_key: "app-key".into(),
        idempotency_key: None,
    }
}

/// A model-change event as the backends in the brief publish it, to `audit-channel`,
/// `model-{model}` and `user-{user}`.
pub fn audit_event(
    app: &str,
    at: i64,
    action: &str,
    model: &str,
    object_id: i64,
    user: &str,
    name: &str,
) -> NewEvent {
    let data = json!({
        "action": action,
        "model": model,
        "object_id": object_id,
        "user": user,
        "timestamp": "2025-01-07T12:04:26.123456Z",
        "changes": {"name": {"old": null, "new": name}},
    })
    .to_string();
    let model_channel = format!("model-{model}");
    let user_channel = format!("user-{user}");
    event(
        app,
        at,
        "model-change",
        &["audit-channel", &model_channel, &user_channel],
        &data,
    )
}

/// The API as the server mounts it.
pub fn api(audit: &Audit) -> Router {
    Router::new().nest(
        "/apps/{app_id}/audit",
        herald_audit::router(audit.reader.clone()),
    )
}

pub async fn get(app: &Router, uri: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

pub async fn get_json(app: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, _, body) = get(app, uri).await;
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, value)
}

/// GET that must succeed; returns the JSON.
pub async fn ok_json(app: &Router, uri: &str) -> Value {
    let (status, value) = get_json(app, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {value}");
    value
}

/// The `seq`s of a list response's results.
pub fn seqs(page: &Value) -> Vec<i64> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_i64().unwrap())
        .collect()
}
