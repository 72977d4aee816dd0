//! `client-*` events: sent by one socket, relayed to every other subscriber of a private or
//! presence channel, never echoed back.

use std::sync::Arc;

use herald_protocol::frame;
use herald_protocol::{ChannelKind, CloseCode};

use super::outbox::Outbox;
use super::session::Session;
use crate::hub::Frame;
use crate::webhooks::{EventType, WebhookEvent};

/// The real service's text when client events are disabled for the app.
const DISABLED_MESSAGE: &str =
    "To send client events, you must enable this feature in the Settings page of your dashboard.";

impl Session {
    pub(super) async fn client_event(
        &mut self,
        event: &str,
        channel: &str,
        data: String,
        out: &mut Outbox,
    ) {
        if !self.app.config.client_events {
            return out.error(None, DISABLED_MESSAGE);
        }
        if !ChannelKind::of(channel).allows_client_events() {
            return out.error(
                None,
                &format!("Client event rejected: {channel} is not a private or presence channel (client events are not allowed on public or private-encrypted channels)"),
            );
        }
        let Some(user_id) = self.channels.get(channel) else {
            return out.error(
                None,
                &format!("Client event rejected: the connection is not subscribed to {channel}"),
            );
        };
        let max_name = self.state.config.max_event_name_len;
        if event.chars().count() > max_name {
            return out.error(
                None,
                &format!("Client event rejected: event name is longer than {max_name} characters"),
            );
        }
        let max_data = self.state.config.max_event_data_bytes;
        if data.len() > max_data {
            return out.error(
                None,
                &format!(
                    "Client event rejected: data is {} bytes, more than the limit of {max_data}",
                    data.len()
                ),
            );
        }
        if !self.client_event_limit.try_acquire() {
            return out.error(
                Some(CloseCode::ClientEventRateLimit),
                &format!(
                    "Client event rejected: more than {} client events per second",
                    self.app.config.client_events_per_second
                ),
            );
        }
        crate::metrics::METRICS.client_events.inc();
        let frame = frame::event(event, Some(channel), Some(&data), user_id.as_deref());
        let webhooks = &self.state.webhooks;
        if webhooks.wants(&self.app.config.id, EventType::ClientEvent) {
            webhooks.emit(
                &self.app.config.id,
                WebhookEvent::ClientEvent {
                    channel: Arc::from(channel),
                    event: event.to_owned(),
                    data,
                    socket_id: self.socket_id.clone(),
                    user_id: user_id.clone(),
                },
            );
        }
        self.state
            .adapter
            .publish(
                &self.app,
                channel,
                Frame::from(frame),
                Some(self.socket_id()),
            )
            .await;
    }
}
