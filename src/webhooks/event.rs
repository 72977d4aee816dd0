//! The events a webhook carries, and their JSON objects exactly as Pusher writes them
//! (`{"name":"channel_occupied","channel":"c"}`, …).

use std::sync::Arc;

use serde_json::json;

use crate::config::webhooks::EventType;

/// Something a receiver may want to hear about, as decided by the hub or the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    ChannelOccupied {
        channel: Arc<str>,
    },
    ChannelVacated {
        channel: Arc<str>,
    },
    MemberAdded {
        channel: Arc<str>,
        user_id: Arc<str>,
    },
    MemberRemoved {
        channel: Arc<str>,
        user_id: Arc<str>,
    },
    ClientEvent {
        channel: Arc<str>,
        event: String,
        data: String,
        socket_id: String,
        /// Only on presence channels.
        user_id: Option<Arc<str>>,
    },
    CacheMiss {
        channel: Arc<str>,
    },
    SubscriptionCount {
        channel: Arc<str>,
        count: usize,
    },
}

impl WebhookEvent {
    pub fn kind(&self) -> EventType {
        match self {
            Self::ChannelOccupied { .. } => EventType::ChannelOccupied,
            Self::ChannelVacated { .. } => EventType::ChannelVacated,
            Self::MemberAdded { .. } => EventType::MemberAdded,
            Self::MemberRemoved { .. } => EventType::MemberRemoved,
            Self::ClientEvent { .. } => EventType::ClientEvent,
            Self::CacheMiss { .. } => EventType::CacheMiss,
            Self::SubscriptionCount { .. } => EventType::SubscriptionCount,
        }
    }

    pub fn channel(&self) -> &str {
        match self {
            Self::ChannelOccupied { channel }
            | Self::ChannelVacated { channel }
            | Self::MemberAdded { channel, .. }
            | Self::MemberRemoved { channel, .. }
            | Self::ClientEvent { channel, .. }
            | Self::CacheMiss { channel }
            | Self::SubscriptionCount { channel, .. } => channel,
        }
    }

    /// The presence user the event is about (member events only): the debounce key.
    pub fn member(&self) -> Option<&str> {
        match self {
            Self::MemberAdded { user_id, .. } | Self::MemberRemoved { user_id, .. } => {
                Some(user_id)
            }
            _ => None,
        }
    }

    /// For occupancy and membership events: whether the channel (or member) is live after
    /// it, with the member's user id.
    pub fn live_change(&self) -> Option<(bool, Option<&str>)> {
        match self {
            Self::ChannelOccupied { .. } => Some((true, None)),
            Self::ChannelVacated { .. } => Some((false, None)),
            Self::MemberAdded { user_id, .. } => Some((true, Some(user_id))),
            Self::MemberRemoved { user_id, .. } => Some((false, Some(user_id))),
            _ => None,
        }
    }

    /// Whether Pusher holds it back briefly (about 3 s) so that a quick return cancels it.
    pub fn is_held(&self) -> bool {
        matches!(
            self,
            Self::ChannelVacated { .. } | Self::MemberRemoved { .. }
        )
    }

    /// The event object inside a webhook body.
    pub fn to_json(&self) -> String {
        let name = self.kind().as_str();
        let value = match self {
            Self::ChannelOccupied { channel }
            | Self::ChannelVacated { channel }
            | Self::CacheMiss { channel } => json!({ "name": name, "channel": &**channel }),
            Self::MemberAdded { channel, user_id } | Self::MemberRemoved { channel, user_id } => {
                json!({ "name": name, "channel": &**channel, "user_id": &**user_id })
            }
            Self::ClientEvent {
                channel,
                event,
                data,
                socket_id,
                user_id,
            } => {
                let mut v = json!({
                    "name": name,
                    "channel": &**channel,
                    "event": event,
                    "data": data,
                    "socket_id": socket_id,
                });
                if let Some(user_id) = user_id {
                    v["user_id"] = json!(&**user_id);
                }
                v
            }
            Self::SubscriptionCount { channel, count } => json!({
                "name": name,
                "channel": &**channel,
                "subscription_count": count,
            }),
        };
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_have_pushers_fields() {
        let c: Arc<str> = Arc::from("presence-c");
        assert_eq!(
            WebhookEvent::MemberAdded {
                channel: c.clone(),
                user_id: Arc::from("u")
            }
            .to_json(),
            r#"{"channel":"presence-c","name":"member_added","user_id":"u"}"#
        );
        let e = WebhookEvent::ClientEvent {
            channel: Arc::from("private-c"),
            event: "client-x".into(),
            data: "{\"a\":1}".into(),
            socket_id: "1.2".into(),
            user_id: None,
        };
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["data"], "{\"a\":1}");
        assert!(v.get("user_id").is_none());
        let v: serde_json::Value = serde_json::from_str(
            &WebhookEvent::SubscriptionCount {
                channel: Arc::from("c"),
                count: 3,
            }
            .to_json(),
        )
        .unwrap();
        assert_eq!(v["subscription_count"], 3);
        assert!(WebhookEvent::ChannelVacated { channel: c.clone() }.is_held());
        assert!(!WebhookEvent::ChannelOccupied { channel: c }.is_held());
    }
}
