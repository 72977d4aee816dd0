//! Webhook settings: per app, where to POST, which event types, which channels, extra
//! headers; per node, the outbox and its limits. The per-app shape is soketi's (`url`, `event_types`, `filter.channel_name_starts_with` /
//! `channel_name_ends_with`, `headers`), so `SOKETI_DEFAULT_APP_WEBHOOKS` values work as is.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Node-wide webhook settings (per-receiver settings are in each app's `webhooks`).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    /// The outbox file (created only when some app has webhooks).
    pub store: PathBuf,
    /// How long a batch is retried before it is given up (and logged as such).
    pub give_up: Duration,
    /// Events queued in memory per app between the emitter and the outbox writer.
    pub queue_capacity: usize,
}

/// One `[[apps.webhooks]]` entry, as written by the operator (validated by [`validate`]).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// Names of the event types this receiver wants (`channel_occupied`, …).
    pub event_types: Vec<String>,
    #[serde(default)]
    pub filter: ChannelFilter,
    /// Extra request headers (e.g. an authorization token of the receiver).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Only channels whose name starts and/or ends with these strings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChannelFilter {
    #[serde(default)]
    pub channel_name_starts_with: Option<String>,
    #[serde(default)]
    pub channel_name_ends_with: Option<String>,
}

impl ChannelFilter {
    pub fn matches(&self, channel: &str) -> bool {
        self.channel_name_starts_with
            .as_deref()
            .is_none_or(|p| channel.starts_with(p))
            && self
                .channel_name_ends_with
                .as_deref()
                .is_none_or(|s| channel.ends_with(s))
    }
}

/// The webhook event types Pusher sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    ChannelOccupied,
    ChannelVacated,
    MemberAdded,
    MemberRemoved,
    ClientEvent,
    CacheMiss,
    SubscriptionCount,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::ChannelOccupied,
        EventType::ChannelVacated,
        EventType::MemberAdded,
        EventType::MemberRemoved,
        EventType::ClientEvent,
        EventType::CacheMiss,
        EventType::SubscriptionCount,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ChannelOccupied => "channel_occupied",
            EventType::ChannelVacated => "channel_vacated",
            EventType::MemberAdded => "member_added",
            EventType::MemberRemoved => "member_removed",
            EventType::ClientEvent => "client_event",
            EventType::CacheMiss => "cache_miss",
            EventType::SubscriptionCount => "subscription_count",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// A bit for [`EventTypes`].
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of event types, as one byte (checked once per emitted event and receiver).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventTypes(u8);

impl EventTypes {
    pub fn insert(&mut self, t: EventType) {
        self.0 |= t.bit();
    }

    pub fn contains(self, t: EventType) -> bool {
        self.0 & t.bit() != 0
    }
}

/// Checks one app's webhooks; errors are `(field, reason)` with the field relative to the
/// app (`webhooks[0].url`), so the caller can prefix where the app came from.
pub fn validate(hooks: &[WebhookConfig]) -> Result<(), (String, String)> {
    for (i, hook) in hooks.iter().enumerate() {
        let at = |field: &str| format!("webhooks[{i}].{field}");
        check_url(&hook.url).map_err(|reason| (at("url"), reason))?;
        if hook.event_types.is_empty() {
            return Err((
                at("event_types"),
                format!("must list at least one of {}", names()),
            ));
        }
        for name in &hook.event_types {
            if EventType::parse(name).is_none() {
                return Err((
                    at("event_types"),
                    format!("unknown event type {name:?} (expected one of {})", names()),
                ));
            }
        }
        for (name, value) in &hook.headers {
            let valid_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !valid_name {
                return Err((
                    at("headers"),
                    format!("{name:?} is not a valid header name"),
                ));
            }
            if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
                return Err((
                    at("headers"),
                    format!("the value of {name:?} contains control characters"),
                ));
            }
            // These are what the receiver's Pusher library checks: they are herald's to set.
            let lower = name.to_ascii_lowercase();
            if ["content-type", "x-pusher-key", "x-pusher-signature"].contains(&lower.as_str()) {
                return Err((at("headers"), format!("{name} is set by herald itself")));
            }
        }
    }
    Ok(())
}

fn check_url(raw: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL ({e})"))?;
    match url.scheme() {
        "http" => {}
        // The HTTP client is built without TLS (no TLS stack in the dependency tree yet):
        // refusing here beats failing every delivery later.
        "https" => {
            return Err(format!(
                "{raw:?}: https receivers are not supported by this build; use http:// on a private network or a TLS-terminating proxy"
            ));
        }
        other => {
            return Err(format!(
                "{raw:?}: expected an http:// URL, got scheme {other:?}"
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{raw:?} has no host"));
    }
    Ok(())
}

fn names() -> String {
    EventType::ALL.map(EventType::as_str).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(url: &str, types: &[&str]) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            event_types: types.iter().map(|s| s.to_string()).collect(),
            filter: ChannelFilter::default(),
            headers: BTreeMap::new(),
        }
    }

    #[test]
    fn refusals_name_the_field_and_say_why() {
        let err = validate(&[
            hook("http://h/x", &["channel_occupied"]),
            hook("nope", &["cache_miss"]),
        ])
        .unwrap_err();
        assert_eq!(err.0, "webhooks[1].url");
        assert!(err.1.contains("not a URL"), "{}", err.1);
        let err = validate(&[hook("http://h/x", &["channel_occupid"])]).unwrap_err();
        assert_eq!(err.0, "webhooks[0].event_types");
        assert!(err.1.contains("\"channel_occupid\""), "{}", err.1);
        let err = validate(&[hook("ftp://h/x", &["cache_miss"])]).unwrap_err();
        assert!(err.1.contains("ftp"), "{}", err.1);
        let err = validate(&[hook("http://h/x", &[])]).unwrap_err();
        assert!(err.1.contains("at least one"), "{}", err.1);
        let mut with_header = hook("http://h/x", &["cache_miss"]);
        with_header
            .headers
            .insert("X-Pusher-Signature".into(), "x".into());
        assert!(validate(&[with_header]).is_err());
        assert!(validate(&[hook("http://127.0.0.1:9/hook", &["client_event"])]).is_ok());
    }

    #[test]
    fn filters_combine_prefix_and_suffix() {
        let f = ChannelFilter {
            channel_name_starts_with: Some("presence-".into()),
            channel_name_ends_with: Some("-room".into()),
        };
        assert!(f.matches("presence-chat-room"));
        assert!(!f.matches("presence-chat"));
        assert!(!f.matches("private-chat-room"));
        assert!(ChannelFilter::default().matches("anything"));
    }

    #[test]
    fn event_type_names_round_trip() {
        let mut set = EventTypes::default();
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert!(!set.contains(t));
            set.insert(t);
            assert!(set.contains(t));
        }
    }
}
