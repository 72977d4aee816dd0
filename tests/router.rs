//! The router without a socket: `herald::http::router` answered through `tower`'s `oneshot`.
//! Health, readiness while draining, unknown paths, and refusals decided before any handler
//! (unsigned, stale or tampered API requests) — each with the status and message Pusher
//! would give.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use herald::http::router;
use herald::server::build_state;
use herald_protocol::request_signature::sign_query;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

async fn answer(app: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn health_readiness_and_unknown_paths() {
    let node = build_state(test_config(), CancellationToken::new())
        .await
        .unwrap();
    let app = router(node.state.clone());
    assert_eq!(
        answer(&app, get("/")).await,
        (StatusCode::OK, r#"{"ok":true}"#.into())
    );
    assert_eq!(
        answer(&app, get("/ready")).await,
        (StatusCode::OK, r#"{"ready":true}"#.into())
    );
    assert_eq!(
        answer(&app, get("/nothing-here")).await,
        (StatusCode::NOT_FOUND, "Not found: /nothing-here".into())
    );
    node.state.start_draining();
    let (status, body) = answer(&app, get("/ready")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("draining"), "{body}");
    node.finish().await;
}

#[tokio::test]
async fn api_requests_are_refused_before_any_handler_runs() {
    let node = build_state(test_config(), CancellationToken::new())
        .await
        .unwrap();
    let app = router(node.state.clone());
    let body = r#"{"name":"e","channels":["c"],"data":"x"}"#;
    let post = |uri: String, body: &str| {
        Request::post(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };

    let (status, text) = answer(&app, post("/apps/1/events".into(), body)).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::UNAUTHORIZED, "Missing parameter: auth_key")
    );

    // Signed for this body, sent with another: the MD5 gives it away.
    let signed = |ts: i64| {
        let qs = sign_query(
            "POST",
            "/apps/1/events",
            KEY,
            SECRET,
            ts,
            body.as_bytes(),
            &[],
        );
        format!("/apps/1/events?{qs}")
    };
    let (status, text) = answer(&app, post(signed(now()), &body.replace('x', "y"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text.starts_with("Invalid body_md5"), "{text}");

    let (status, text) = answer(&app, post(signed(now() - 700), body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text.starts_with("Timestamp expired"), "{text}");

    // The same request, signed now, is accepted.
    let (status, text) = answer(&app, post(signed(now()), body)).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "{}"));
    node.finish().await;
}
