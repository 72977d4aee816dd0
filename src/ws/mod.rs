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
use std::net::{IpAddr, SocketAddr};

use axum::Extension;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use herald_protocol::CloseCode;
use serde::Deserialize;

pub use connection::ConnectRequest;

use crate::limits::{self, IpPermit, IpRefusal, Limit};
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
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    let request = ConnectRequest {
        key,
        protocol: query.protocol,
        // A header that is not text cannot match any allowed origin.
        origin: headers
            .get(header::ORIGIN)
            .map(|v| v.to_str().unwrap_or("(not text)").to_owned()),
    };
    // Messages over our own limit get a `pusher:error`; tungstenite's hard limit sits well
    // above it so that only abusive frames tear the connection down.
    let hard_limit = state.config.max_ws_message_bytes.saturating_mul(4);
    let ws = configure(ws, hard_limit);
    // The permit lives as long as the connection task.
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    let permit = match admit_address(&state, peer, &headers) {
        Ok(permit) => permit,
        Err(refusal) => {
            limits::refused(Limit::ConnectionsPerIp);
            crate::metrics::METRICS.connections_refused.inc();
            let message = refusal.to_string();
            return ws.on_upgrade(move |socket| async move {
                connection::refuse(socket, CloseCode::OverCapacity, &message).await;
            });
        }
    };
    let tasks = state.tasks.clone();
    ws.on_upgrade(move |socket| {
        tasks.track_future(async move {
            connection::run(socket, state, request).await;
            drop(permit);
        })
    })
}

/// Applies the per-address limits (when set) to the caller's address.
fn admit_address(
    state: &AppState,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
) -> Result<Option<IpPermit>, IpRefusal> {
    let per_ip = &state.guards.per_ip;
    if !per_ip.enabled() {
        return Ok(None);
    }
    match limits::client_ip(peer, headers, &state.config.trusted_proxies) {
        Some(ip) => per_ip.admit(ip).map(Some),
        None => Ok(None),
    }
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
