//! The task that owns one WebSocket: handshake, the read/write loop, keep-alive pings,
//! close handling and cleanup. One task per connection; it is the only code that touches
//! the socket.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::SinkExt;
use herald_protocol::{CloseCode, frame};
use tokio::time::{Instant, sleep_until};

use super::outbox::Outbox;
use super::session::Session;
use crate::config::origins;
use crate::hub::{AppHub, ConnectionInbox};
use crate::limits::{self, Limit};
use crate::metrics::METRICS;
use crate::state::AppState;

/// Most frames written per flush: batching keeps syscalls down under fan-out load.
const MAX_FRAMES_PER_FLUSH: usize = 64;

/// What the client asked for in the URL.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    pub key: String,
    pub protocol: Option<String>,
    /// The `Origin` header; browsers always send it, other clients usually do not.
    pub origin: Option<String>,
}

/// Runs one connection from handshake to cleanup.
pub async fn run(mut socket: WebSocket, state: AppState, request: ConnectRequest) {
    let app = match admit(&state, &request) {
        Ok(app) => app,
        Err((code, message)) => {
            METRICS.connections_refused.inc();
            return refuse(socket, code, &message).await;
        }
    };
    let quota_message = || {
        format!(
            "Application is over connection quota ({} connections)",
            app.config.max_connections.unwrap_or(0)
        )
    };
    let Some((handle, mut inbox)) = app.connect(state.config.connection_queue_capacity) else {
        METRICS.connections_refused.inc();
        return refuse(socket, CloseCode::OverConnectionQuota, &quota_message()).await;
    };
    // The hub checked this node's count; the adapter checks the cluster's.
    if !state.adapter.connection_opened(&app).await {
        app.disconnect(handle.socket_id());
        state.adapter.connection_closed(&app).await;
        METRICS.connections_refused.inc();
        return refuse(socket, CloseCode::OverConnectionQuota, &quota_message()).await;
    }
    METRICS.connections_opened.inc();
    let established = frame::connection_established(
        &handle.socket_id().to_string(),
        state.config.activity_timeout.as_secs(),
    );
    let mut session = Session::new(state.clone(), app, handle);
    if socket.send(Message::Text(established.into())).await.is_ok() {
        let reason = serve(&mut socket, &mut session, &mut inbox, &state).await;
        tracing::debug!(message = "Connection closed.", socket_id = %session.socket_id(), reason);
    }
    session.cleanup().await;
}

/// Checks the app key, app state and protocol version.
fn admit(state: &AppState, request: &ConnectRequest) -> Result<Arc<AppHub>, (CloseCode, String)> {
    let Some(app) = state.hub.app_by_key(&request.key) else {
        return Err((
            CloseCode::AppNotFound,
            format!("App key {} does not exist", request.key),
        ));
    };
    if !app.config.enabled {
        return Err((CloseCode::AppDisabled, "Application disabled".to_owned()));
    }
    // The allow-list stops other sites' pages from using the app key in a visitor's browser;
    // a client without an `Origin` is not a browser and could send any value, so it passes.
    if let Some(origin) = &request.origin
        && !origins::allowed(&app.config.allowed_origins, origin)
    {
        return Err((
            CloseCode::Unauthorized,
            format!("Connection not authorized: origin {origin} is not allowed for this app"),
        ));
    }
    if let Some(raw) = &request.protocol {
        match raw.parse::<u8>() {
            Ok(4..=7) => {}
            _ => {
                return Err((
                    CloseCode::UnsupportedProtocol,
                    format!("Unsupported protocol version {raw:?}: herald speaks 4 to 7"),
                ));
            }
        }
    }
    if state.is_draining() {
        return Err((
            CloseCode::ReconnectImmediately,
            "Server is shutting down; reconnect".to_owned(),
        ));
    }
    Ok(app.clone())
}

/// Sends `pusher:error` with the code and then closes with the same code.
pub async fn refuse(mut socket: WebSocket, code: CloseCode, message: &str) {
    let _ = socket
        .send(Message::Text(
            frame::error(Some(code.code()), message).into(),
        ))
        .await;
    close(&mut socket, code, message).await;
}

async fn close(socket: &mut WebSocket, code: CloseCode, reason: &str) {
    // WebSocket close reasons are limited to 123 bytes.
    let mut reason = reason.to_owned();
    while reason.len() > 123 {
        reason.pop();
    }
    let frame = CloseFrame {
        code: code.code(),
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        socket.send(Message::Close(Some(frame))),
    )
    .await;
}

/// The read/write loop. Returns why it ended.
async fn serve(
    socket: &mut WebSocket,
    session: &mut Session,
    inbox: &mut ConnectionInbox,
    state: &AppState,
) -> &'static str {
    let config = &state.config;
    let mut last_heard = Instant::now();
    let mut ping_sent: Option<Instant> = None;
    let auth_deadline = session
        .app
        .config
        .authorized_connections_timeout()
        .map(|t| Instant::now() + t);
    let mut out = Outbox::default();
    // Every future the loop waits on is created once and pinned here, not per iteration:
    // a connection wakes once per delivered frame, and re-registering a timer, a
    // cancellation waiter (shared by all connections) and a notify waiter on every wake
    // costs more than writing the frame.
    let shutdown = state.shutdown.cancelled();
    let close_request = inbox.close.requested();
    let keepalive = sleep_until(last_heard + config.activity_timeout);
    let authorization = sleep_until(auth_deadline.unwrap_or_else(Instant::now));
    tokio::pin!(shutdown, close_request, keepalive, authorization);
    loop {
        let keepalive_deadline = match ping_sent {
            None => last_heard + config.activity_timeout,
            Some(at) => at + config.pong_timeout,
        };
        if keepalive.deadline() != keepalive_deadline {
            keepalive.as_mut().reset(keepalive_deadline);
        }
        tokio::select! {
            biased;
            _ = &mut shutdown => {
                close(socket, CloseCode::ReconnectImmediately, "Server shutting down").await;
                return "server shutdown";
            }
            request = &mut close_request => {
                close(socket, request.code, request.reason).await;
                return request.reason;
            }
            message = socket.recv() => {
                let message = match message {
                    Some(Ok(message)) => message,
                    Some(Err(error)) => {
                        if let Some((code, reason)) = protocol_violation(error) {
                            limits::refused(Limit::WebSocketFrame);
                            close(socket, code, reason).await;
                            return reason;
                        }
                        return "read error";
                    }
                    None => return "end of stream",
                };
                last_heard = Instant::now();
                ping_sent = None;
                METRICS.ws_messages_received.inc();
                let counted = matches!(
                    message,
                    Message::Text(_) | Message::Binary(_) | Message::Ping(_)
                );
                match message {
                    // Over the frame rate: dropped unread (the session told the client).
                    _ if counted && !session.admit_frame(&mut out) => {}
                    Message::Text(text) => {
                        if text.len() > config.max_ws_message_bytes {
                            out.error(None, &format!(
                                "Message too large: {} bytes, the limit is {}",
                                text.len(),
                                config.max_ws_message_bytes
                            ));
                        } else {
                            session.handle_text(text.as_str(), &mut out).await;
                        }
                    }
                    Message::Binary(_) => out.error(
                        None,
                        "Binary frames are not supported: send JSON text frames",
                    ),
                    Message::Close(_) => return "client closed",
                    // Pings are answered by the WebSocket layer; any frame counts as activity.
                    Message::Ping(_) | Message::Pong(_) => {}
                }
                if !send_outbox(socket, &mut out, config.pong_timeout).await {
                    return "write failed";
                }
                if let Some((code, reason)) = out.close.take() {
                    close(socket, code, reason).await;
                    return reason;
                }
            }
            Some(frame) = inbox.frames.recv() => {
                out.frames.push(frame);
                while out.frames.len() < MAX_FRAMES_PER_FLUSH {
                    match inbox.frames.try_recv() {
                        Ok(frame) => out.frames.push(frame),
                        Err(_) => break,
                    }
                }
                // A client that stops reading must not keep this task (and its queue) alive.
                let sent = tokio::select! {
                    ok = send_outbox(socket, &mut out, config.pong_timeout) => ok,
                    _ = &mut close_request => false,
                    _ = &mut shutdown => false,
                };
                if !sent {
                    return "write failed, timed out or interrupted";
                }
            }
            _ = &mut keepalive => {
                if ping_sent.is_some() {
                    close(socket, CloseCode::PongNotReceived, "Pong reply not received").await;
                    return "pong not received";
                }
                ping_sent = Some(Instant::now());
                if socket.send(Message::Text(frame::ping().into())).await.is_err() {
                    return "write failed";
                }
            }
            _ = &mut authorization, if auth_deadline.is_some() && !session.is_authorized() => {
                let _ = socket
                    .send(Message::Text(frame::error(
                        Some(CloseCode::Unauthorized.code()),
                        "Connection not authorized within timeout.",
                    ).into()))
                    .await;
                close(socket, CloseCode::Unauthorized, "Connection not authorized within timeout.").await;
                return "not authorized within timeout";
            }
        }
    }
}

/// The close code for a frame the WebSocket layer refused: 1007 for a text frame that is
/// not UTF-8, 1009 for a message over the hard size limit. Other read errors (resets, EOF)
/// just end the connection.
fn protocol_violation(error: axum::Error) -> Option<(CloseCode, &'static str)> {
    let error = error.into_inner();
    match error.downcast_ref::<tungstenite::Error>()? {
        tungstenite::Error::Utf8(_) => Some((
            CloseCode::InvalidFramePayload,
            "Invalid frame payload: text frames must be UTF-8",
        )),
        tungstenite::Error::Capacity(_) => Some((
            CloseCode::MessageTooBig,
            "Message too big: over 4 x HERALD_MAX_WS_MESSAGE_BYTES",
        )),
        _ => None,
    }
}

/// Writes all queued frames with one flush, within `timeout`.
async fn send_outbox(socket: &mut WebSocket, out: &mut Outbox, timeout: Duration) -> bool {
    if out.frames.is_empty() {
        return true;
    }
    let write = async {
        for frame in out.frames.drain(..) {
            socket.feed(Message::Text(frame)).await?;
        }
        socket.flush().await
    };
    matches!(tokio::time::timeout(timeout, write).await, Ok(Ok(())))
}
