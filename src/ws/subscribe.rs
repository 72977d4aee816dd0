//! `pusher:subscribe` and `pusher:unsubscribe`: channel-name checks, channel auth
//! (private, encrypted, presence, server-to-user), presence membership, cache replay and
//! subscription counts.

use std::sync::Arc;

use herald_protocol::channel::is_cache_channel;
use herald_protocol::frame::{self, Subscribe};
use herald_protocol::signature::{self, AuthError};
use herald_protocol::{ChannelKind, ChannelName, CloseCode, SERVER_TO_USER_PREFIX};
use serde_json::value::RawValue;

use super::outbox::Outbox;
use super::session::Session;
use crate::hub::{Frame, PresenceMember};
use crate::limits::{self, Limit};
use crate::webhooks::WebhookEvent;

/// Longest presence user id Pusher accepts.
const MAX_USER_ID_LEN: usize = 128;

impl Session {
    pub(super) async fn subscribe(&mut self, req: Subscribe, out: &mut Outbox) {
        let name = match ChannelName::parse(&req.channel, self.state.config.max_channel_name_len) {
            Ok(n) => n,
            Err(e) => return out.subscription_error(&req.channel, 400, &e.to_string()),
        };
        let channel = name.as_str();
        let kind = name.kind();
        let member = match self.authorize(kind, &req, out) {
            Ok(member) => member,
            Err(()) => return,
        };
        if self.channels.contains_key(channel) {
            // Already subscribed: acknowledge again, change nothing. The roster is the
            // cluster's, as in the first acknowledgement.
            let data = if kind == ChannelKind::Presence {
                self.state.adapter.presence_data(&self.app, channel).await
            } else {
                "{}".to_owned()
            };
            out.push(frame::subscription_succeeded(channel, &data));
            return;
        }

        let max_channels = self.app.config.max_channels;
        if self.app.channel_count() >= max_channels && !self.app.has_channel(channel) {
            limits::refused(Limit::ChannelsPerApp);
            return out.subscription_error(
                channel,
                429,
                &format!(
                    "Cannot subscribe to {channel}: the app already has the maximum of {max_channels} channels on this server (max_channels)"
                ),
            );
        }
        let cap = self.state.config.max_subscriptions_per_connection;
        if self.channels.len() >= cap {
            limits::refused(Limit::SubscriptionsPerConnection);
            return out.subscription_error(
                channel,
                429,
                &format!(
                    "Cannot subscribe to {channel}: this connection already has the maximum of {cap} subscriptions (HERALD_MAX_SUBSCRIPTIONS_PER_CONNECTION); unsubscribe from one first"
                ),
            );
        }
        let subscribed = self.app.subscribe(channel, &self.handle, member.clone());
        if subscribed.presence_full {
            return self.refuse_full_presence(channel, out);
        }
        if kind.requires_auth() || kind == ChannelKind::ServerToUser {
            self.authorized = true;
        }
        self.channels.insert(
            channel.to_owned(),
            member
                .as_ref()
                .map(|m| Arc::<str>::from(m.user_id.as_str())),
        );
        let adapter = &self.state.adapter;
        let subscriptions = adapter
            .subscribed(&self.app, channel, self.socket_id())
            .await;
        let webhooks = &self.state.webhooks;
        let app_id = &self.app.config.id;
        webhooks.occupancy(app_id, channel, &subscriptions.occupancy);

        let data = match &member {
            Some(member) => {
                let join = adapter
                    .presence_joined(
                        &self.app,
                        channel,
                        member,
                        self.socket_id(),
                        subscribed.member_added,
                    )
                    .await;
                if join.full {
                    // Members on other nodes filled the channel first: undo the local join.
                    self.unsubscribe(channel).await;
                    return self.refuse_full_presence(channel, out);
                }
                webhooks.membership(app_id, channel, &member.user_id, &join.webhook);
                if join.member_added {
                    let frame = frame::member_added(
                        channel,
                        &member.user_id,
                        member.user_info.as_deref().map(|r| r.get()),
                    );
                    adapter
                        .publish(
                            &self.app,
                            channel,
                            Frame::from(frame),
                            Some(self.socket_id()),
                        )
                        .await;
                }
                join.presence_data
            }
            None => "{}".to_owned(),
        };
        out.push(frame::subscription_succeeded(channel, &data));

        if is_cache_channel(channel) {
            match self.state.adapter.cache_get(&self.app, channel).await {
                Some(cached) => out.push(frame::event(
                    &cached.event,
                    Some(channel),
                    Some(&cached.data),
                    None,
                )),
                None => {
                    out.push(frame::cache_miss(channel));
                    webhooks.emit(
                        app_id,
                        WebhookEvent::CacheMiss {
                            channel: Arc::from(channel),
                        },
                    );
                }
            }
        }
        self.announce_subscription_count(channel, subscriptions.count)
            .await;
    }

    fn refuse_full_presence(&self, channel: &str, out: &mut Outbox) {
        let msg = format!(
            "Cannot join {channel}: the presence channel already has the maximum of {} members",
            self.app.config.max_presence_members
        );
        out.push(frame::error(Some(CloseCode::OverCapacity.code()), &msg));
        out.push(frame::subscription_error(
            channel,
            "LimitReached",
            &msg,
            403,
        ));
    }

    /// Checks the auth a channel kind requires. Returns the presence member to join as.
    fn authorize(
        &self,
        kind: ChannelKind,
        req: &Subscribe,
        out: &mut Outbox,
    ) -> Result<Option<PresenceMember>, ()> {
        let channel = req.channel.as_str();
        let key = &self.app.config.key;
        let secret = &self.app.config.secret;
        let auth = req.auth.as_deref().unwrap_or("");
        let refuse = |out: &mut Outbox, msg: String| {
            out.subscription_error(channel, 401, &msg);
            Err(())
        };
        let verify = |string_to_sign: &str| -> Result<(), String> {
            signature::verify_auth(auth, key, secret, string_to_sign).map_err(|e| match e {
                AuthError::Missing => format!("Auth info required to subscribe to {channel}"),
                other => other.to_string(),
            })
        };
        match kind {
            ChannelKind::Public => Ok(None),
            ChannelKind::Private | ChannelKind::PrivateEncrypted => {
                match verify(&signature::channel_string_to_sign(&self.socket_id, channel)) {
                    Ok(()) => Ok(None),
                    Err(msg) => refuse(out, msg),
                }
            }
            ChannelKind::ServerToUser => {
                let wanted = &channel[SERVER_TO_USER_PREFIX.len()..];
                match &self.user {
                    Some(user) if user.id == wanted => Ok(None),
                    _ => refuse(
                        out,
                        format!(
                            "Cannot subscribe to {channel}: the connection is not signed in as user {wanted}"
                        ),
                    ),
                }
            }
            ChannelKind::Presence => match req.channel_data.as_deref() {
                Some(channel_data) => {
                    let to_sign =
                        signature::presence_string_to_sign(&self.socket_id, channel, channel_data);
                    if let Err(msg) = verify(&to_sign) {
                        return refuse(out, msg);
                    }
                    match self.parse_channel_data(channel_data) {
                        Ok(member) => Ok(Some(member)),
                        Err(msg) => {
                            out.subscription_error(channel, 400, &msg);
                            Err(())
                        }
                    }
                }
                None => {
                    // pusher-js may omit channel_data once the socket has signed in.
                    let Some(user) = &self.user else {
                        return refuse(
                            out,
                            format!(
                                "Presence channel {channel} requires channel_data (or a signed-in connection)"
                            ),
                        );
                    };
                    if let Err(msg) =
                        verify(&signature::channel_string_to_sign(&self.socket_id, channel))
                    {
                        return refuse(out, msg);
                    }
                    Ok(Some(PresenceMember {
                        user_id: user.id.clone(),
                        user_info: user.info.clone(),
                    }))
                }
            },
        }
    }

    /// Reads `{"user_id": string|number, "user_info"?: any}` from presence channel_data.
    fn parse_channel_data(&self, channel_data: &str) -> Result<PresenceMember, String> {
        #[derive(serde::Deserialize)]
        struct ChannelData<'a> {
            #[serde(borrow)]
            user_id: Option<&'a RawValue>,
            user_info: Option<Box<RawValue>>,
        }
        // serde would also read the struct from an array (`[1,2]`): only an object will do.
        if !channel_data.trim_start().starts_with('{') {
            return Err("Invalid channel_data: expected a JSON object with user_id".into());
        }
        let parsed: ChannelData = serde_json::from_str(channel_data)
            .map_err(|e| format!("Invalid channel_data: not a JSON object ({e})"))?;
        let raw_id = parsed
            .user_id
            .ok_or("Invalid channel_data: user_id is required")?;
        let user_id = match serde_json::from_str::<serde_json::Value>(raw_id.get()) {
            Ok(serde_json::Value::String(s)) if !s.is_empty() => s,
            // The number as written: re-printing it would round ids above 2^64 (parsed as
            // floats) and turn 10 digits into an exponent.
            Ok(serde_json::Value::Number(_)) => raw_id.get().trim().to_owned(),
            _ => {
                return Err(
                    "Invalid channel_data: user_id must be a non-empty string or a number".into(),
                );
            }
        };
        if user_id.chars().count() > MAX_USER_ID_LEN {
            return Err(format!(
                "Invalid channel_data: user_id is longer than {MAX_USER_ID_LEN} characters"
            ));
        }
        let info = parsed.user_info.filter(|r| r.get() != "null");
        if let Some(info) = &info {
            let max = self.app.config.max_user_info_bytes;
            if info.get().len() > max {
                return Err(format!(
                    "Invalid channel_data: user_info is {} bytes, more than the limit of {max}",
                    info.get().len()
                ));
            }
        }
        Ok(PresenceMember {
            user_id,
            user_info: info,
        })
    }

    pub(super) async fn unsubscribe(&mut self, channel: &str) {
        let Some(user_id) = self.channels.remove(channel) else {
            return;
        };
        let socket = self.socket_id();
        let out = self.app.unsubscribe(channel, socket);
        if !out.was_subscribed {
            return;
        }
        let adapter = &self.state.adapter;
        let webhooks = &self.state.webhooks;
        let app_id = &self.app.config.id;
        let subscriptions = adapter.unsubscribed(&self.app, channel, socket).await;
        if let Some(user_id) = user_id {
            let last_local = out.member_removed.is_some();
            let leave = adapter
                .presence_left(&self.app, channel, &user_id, socket, last_local)
                .await;
            // member_removed before channel_vacated, as the receiver would expect.
            webhooks.membership(app_id, channel, &user_id, &leave.webhook);
            if leave.member_removed {
                let frame = frame::member_removed(channel, &user_id);
                adapter
                    .publish(&self.app, channel, Frame::from(frame), None)
                    .await;
            }
        }
        webhooks.occupancy(app_id, channel, &subscriptions.occupancy);
        self.announce_subscription_count(channel, subscriptions.count)
            .await;
    }
}
