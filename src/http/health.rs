//! `GET /` (alive) and `GET /ready` (503 while draining, while the adapter's backing
//! store is unreachable, or while the audit store cannot be written and unrecorded events
//! are refused), for load balancers and orchestrators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

pub async fn alive() -> Json<Value> {
    Json(json!({ "ok": true }))
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if state.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": "draining: the server is shutting down" })),
        );
    }
    if !state.adapter.is_healthy() {
        let reason = state
            .adapter
            .health_reason()
            .unwrap_or_else(|| "the cluster adapter cannot reach its backing store".to_owned());
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": reason })),
        );
    }
    if let Some(reason) = state.guards.descriptors.reason() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": reason })),
        );
    }
    if let Some(reason) = state.audit.not_ready_reason() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": reason })),
        );
    }
    (StatusCode::OK, Json(json!({ "ready": true })))
}
