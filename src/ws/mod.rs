//! The WebSocket side of herald: `GET /app/{key}` upgrades, per-connection tasks and the
//! Pusher client protocol. This layer never touches storage.

mod client_event;
mod connection;
mod outbox;
mod rate_limit;
mod session;
mod signin;
mod subscribe;

use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use herald_protocol::CloseCode;
use serde::Deserialize;

pub use connection::ConnectRequest;

use crate::state::AppState;

/// Per-connection socket buffers. tungstenite's defaults (128 KiB read buffer allocated up
/// front) would cost more than the rest of a connection together; Pusher frames are small.
const READ_BUFFER_BYTES: usize = 4 * 1024;
const WRITE_BUFFER_BYTES: usize = 8 * 1024;
/// Upper bound on unsent bytes per socket; the bounded frame queue is the real back-pressure.
const MAX_WRITE_BUFFER_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Deserialize)]
pub struct ConnectQuery {
    protocol: Option<String>,
}

/// `GET /app/{key}?protocol=7&client=js&version=…`
pub async fn upgrade(
    ws: WebSocketUpgrade,
    Path(key): Path<String>,
    Query(query): Query<ConnectQuery>,
    State(state): State<AppState>,
) -> Response {
    let request = ConnectRequest {
        key,
        protocol: query.protocol,
    };
    // Messages over our own limit get a `pusher:error`; tungstenite's hard limit sits well
    // above it so that only abusive frames tear the connection down.
    let hard_limit = state.config.max_ws_message_bytes.saturating_mul(4);
    let tasks = state.tasks.clone();
    configure(ws, hard_limit)
        .on_upgrade(move |socket| tasks.track_future(connection::run(socket, state, request)))
}

fn configure(ws: WebSocketUpgrade, max_message: usize) -> WebSocketUpgrade {
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_message_size(max_message)
        .max_frame_size(max_message)
}

/// Any other path: a WebSocket client is told 4005, anything else gets a plain 404.
pub async fn fallback(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    uri: Uri,
) -> Response {
    match ws {
        Ok(ws) => configure(ws, 64 * 1024).on_upgrade(move |socket| async move {
            let message = format!("Path not found: {}", uri.path());
            connection::refuse(socket, CloseCode::PathNotFound, &message).await;
        }),
        Err(_) => (StatusCode::NOT_FOUND, format!("Not found: {}", uri.path())).into_response(),
    }
}
