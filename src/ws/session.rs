//! One connection's protocol state — its subscriptions, signed-in user and rate limit — and
//! the dispatch of each client message to its handler. No socket I/O happens here: replies
//! go to an [`Outbox`], broadcasts go through the adapter.

use std::collections::HashMap;
use std::sync::Arc;

use herald_protocol::frame::FrameError;
use herald_protocol::frame::{self, ClientMessage};

use herald_protocol::CloseCode;
use tokio::time::{Duration, Instant};

use super::outbox::Outbox;
use super::rate_limit::RateLimiter;
use crate::hub::{AppHub, ConnectionHandle, Frame, SocketId};
use crate::limits::{self, Limit};
use crate::state::AppState;
use crate::webhooks::{EventType, WebhookEvent};

/// A user this socket signed in as.
#[derive(Debug, Clone)]
pub struct SignedInUser {
    pub id: String,
    /// `user_info` from `user_data`, used for presence channels joined without channel_data.
    pub info: Option<Box<serde_json::value::RawValue>>,
    pub watchlist: Vec<String>,
}

/// Protocol state of one connection.
#[derive(Debug)]
pub struct Session {
    pub(super) state: AppState,
    pub(super) app: Arc<AppHub>,
    pub(super) handle: ConnectionHandle,
    /// `socket_id` as clients see it, formatted once.
    pub(super) socket_id: String,
    /// Subscribed channels → the presence user id this socket joined as.
    pub(super) channels: HashMap<String, Option<Arc<str>>>,
    pub(super) user: Option<SignedInUser>,
    pub(super) client_event_limit: RateLimiter,
    /// Every frame the client sends, whatever its kind.
    frame_limit: RateLimiter,
    /// When the client was last told that its frames are being dropped (once per second).
    frame_limit_told: Option<Instant>,
    /// Signed in or subscribed to an authenticated channel (for the 4009 timeout).
    pub(super) authorized: bool,
}

impl Session {
    pub fn new(state: AppState, app: Arc<AppHub>, handle: ConnectionHandle) -> Self {
        let rate = app.config.client_events_per_second;
        Self {
            frame_limit: RateLimiter::new(state.config.max_client_frames_per_second),
            frame_limit_told: None,
            socket_id: handle.socket_id().to_string(),
            state,
            app,
            handle,
            channels: HashMap::new(),
            user: None,
            client_event_limit: RateLimiter::new(rate),
            authorized: false,
        }
    }

    pub fn socket_id(&self) -> SocketId {
        self.handle.socket_id()
    }

    pub fn is_authorized(&self) -> bool {
        self.authorized
    }

    /// Counts one frame from the client against `max_client_frames_per_second`. A frame over
    /// the rate is dropped unread; the client hears why once per second (4301, so pusher-js
    /// keeps the connection), which bounds the replies a flood can draw.
    pub fn admit_frame(&mut self, out: &mut Outbox) -> bool {
        if self.frame_limit.try_acquire() {
            return true;
        }
        limits::refused(Limit::ClientFrameRate);
        let now = Instant::now();
        if self
            .frame_limit_told
            .is_none_or(|told| now.duration_since(told) >= Duration::from_secs(1))
        {
            self.frame_limit_told = Some(now);
            out.error(
                Some(CloseCode::ClientEventRateLimit),
                &format!(
                    "Rate limit exceeded: more than {} frames per second from this connection; frames are being dropped (HERALD_MAX_CLIENT_FRAMES_PER_SECOND)",
                    self.state.config.max_client_frames_per_second
                ),
            );
        }
        false
    }

    /// Handles one text frame.
    pub async fn handle_text(&mut self, text: &str, out: &mut Outbox) {
        let message = match ClientMessage::parse(text) {
            Ok(m) => m,
            Err(e) => return self.malformed(e, out),
        };
        match message {
            ClientMessage::Ping => out.push(frame::pong()),
            ClientMessage::Pong => {}
            ClientMessage::Subscribe(req) => self.subscribe(req, out).await,
            ClientMessage::Unsubscribe { channel } => self.unsubscribe(&channel).await,
            ClientMessage::Signin { auth, user_data } => self.sign_in(&auth, &user_data, out).await,
            ClientMessage::ClientEvent {
                event,
                channel,
                data,
            } => self.client_event(&event, &channel, data, out).await,
            ClientMessage::Unknown { event } => out.error(
                None,
                &format!("Unsupported event {event:?}: clients may send pusher:subscribe, pusher:unsubscribe, pusher:ping, pusher:pong, pusher:signin and client-* events"),
            ),
        }
    }

    fn malformed(&self, error: FrameError, out: &mut Outbox) {
        tracing::debug!(message = "Malformed frame.", socket_id = %self.socket_id, %error);
        out.error(None, &error.to_string());
    }

    /// Removes every trace of the connection: subscriptions (with `member_removed` where
    /// due), sign-in and watchlist, and the hub's registration.
    pub async fn cleanup(&mut self) {
        let channels: Vec<String> = self.channels.keys().cloned().collect();
        for channel in channels {
            self.unsubscribe(&channel).await;
        }
        self.sign_out().await;
        self.app.disconnect(self.socket_id());
        self.state.adapter.connection_closed(&self.app).await;
    }

    fn subscription_count_webhook(&self, channel: &str, count: usize) {
        let webhooks = &self.state.webhooks;
        if webhooks.wants(&self.app.config.id, EventType::SubscriptionCount) {
            webhooks.emit(
                &self.app.config.id,
                WebhookEvent::SubscriptionCount {
                    channel: Arc::from(channel),
                    count,
                },
            );
        }
    }

    /// Publishes `pusher_internal:subscription_count` when the app opted in, and the
    /// `subscription_count` webhook when a receiver wants it.
    pub(super) async fn announce_subscription_count(&self, channel: &str, count: usize) {
        if herald_protocol::ChannelKind::of(channel) == herald_protocol::ChannelKind::Presence {
            return;
        }
        self.subscription_count_webhook(channel, count);
        if !self.app.config.subscription_count {
            return;
        }
        let frame = frame::subscription_count(channel, count);
        self.state
            .adapter
            .publish(&self.app, channel, Frame::from(frame), None)
            .await;
    }
}
