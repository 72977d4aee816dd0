//! Frames the server sends. Each one is built here and nowhere else, so a single node and a
//! cluster (which re-creates presence and watchlist frames after a reconnect or a dead
//! node's removal) cannot drift apart.
//!
//! Field order follows the spec's examples (`event`, `channel`, `data`); clients parse JSON,
//! so the order is for humans reading captures. `data` is a JSON-encoded *string* for
//! events (the protocol's "double encoding") and an object only for `pusher:error`,
//! `pusher:subscription_error` and `pusher:signin_success`, as the real service sends them.

use serde::Serialize;
use serde_json::{Value, json};

#[derive(Serialize)]
struct EventFrame<'a> {
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
}

/// A frame whose `data` is an object rather than a string.
#[derive(Serialize)]
struct ObjectFrame<'a, D: Serialize> {
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    data: D,
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("serialising strings and JSON values cannot fail")
}

/// Encodes an event with string `data` (the protocol's "double encoding"): triggered events,
/// client events (with `user_id` on presence channels) and replayed cache-channel events.
pub fn event(
    event: &str,
    channel: Option<&str>,
    data: Option<&str>,
    user_id: Option<&str>,
) -> String {
    to_json(&EventFrame {
        event,
        channel,
        data,
        user_id,
    })
}

/// `pusher:connection_established`.
pub fn connection_established(socket_id: &str, activity_timeout_secs: u64) -> String {
    let data = json!({"socket_id": socket_id, "activity_timeout": activity_timeout_secs});
    event(
        "pusher:connection_established",
        None,
        Some(&data.to_string()),
        None,
    )
}

/// `pusher:error` with `data` as an object, as the real service sends it.
pub fn error(code: Option<u16>, message: &str) -> String {
    #[derive(Serialize)]
    struct Data<'a> {
        code: Option<u16>,
        message: &'a str,
    }
    to_json(&ObjectFrame {
        event: "pusher:error",
        channel: None,
        data: Data { code, message },
    })
}

/// `pusher:pong` (answer to a client's `pusher:ping`; pusher-js answers the server's ping
/// with the same bytes).
pub fn pong() -> String {
    r#"{"event":"pusher:pong","data":{}}"#.to_owned()
}

/// `pusher:ping` (sent by the server to an idle client).
pub fn ping() -> String {
    r#"{"event":"pusher:ping","data":{}}"#.to_owned()
}

/// `pusher_internal:subscription_succeeded` with `data` already encoded as a JSON string
/// (`"{}"`, or [`presence_data`] on presence channels).
pub fn subscription_succeeded(channel: &str, data: &str) -> String {
    event(
        "pusher_internal:subscription_succeeded",
        Some(channel),
        Some(data),
        None,
    )
}

/// The `data` of a presence channel's `subscription_succeeded`:
/// `{"presence":{"ids":[…],"hash":{id: info},"count":n}}`. Each member is its user id and
/// its `user_info` as JSON text (`None` or unparsable text become `null`).
pub fn presence_data<'a>(members: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> String {
    let mut ids = Vec::new();
    let mut hash = serde_json::Map::new();
    for (id, info) in members {
        ids.push(Value::String(id.to_owned()));
        hash.insert(id.to_owned(), user_info_value(info));
    }
    let count = ids.len();
    json!({"presence": {"ids": ids, "hash": hash, "count": count}}).to_string()
}

/// `pusher:subscription_error`, channel-scoped, so `channel.bind('pusher:subscription_error')`
/// fires in pusher-js.
pub fn subscription_error(channel: &str, error_type: &str, error: &str, status: u16) -> String {
    #[derive(Serialize)]
    struct Data<'a> {
        #[serde(rename = "type")]
        error_type: &'a str,
        error: &'a str,
        status: u16,
    }
    to_json(&ObjectFrame {
        event: "pusher:subscription_error",
        channel: Some(channel),
        data: Data {
            error_type,
            error,
            status,
        },
    })
}

/// `pusher_internal:member_added`: a user's first socket joined a presence channel.
/// `user_info` is the member's info as JSON text.
pub fn member_added(channel: &str, user_id: &str, user_info: Option<&str>) -> String {
    let data = json!({"user_id": user_id, "user_info": user_info_value(user_info)});
    event(
        "pusher_internal:member_added",
        Some(channel),
        Some(&data.to_string()),
        None,
    )
}

/// `pusher_internal:member_removed`: a user's last socket left a presence channel.
pub fn member_removed(channel: &str, user_id: &str) -> String {
    let data = json!({"user_id": user_id});
    event(
        "pusher_internal:member_removed",
        Some(channel),
        Some(&data.to_string()),
        None,
    )
}

/// `pusher_internal:subscription_count` (per-app opt-in; never on presence channels).
pub fn subscription_count(channel: &str, count: usize) -> String {
    let data = json!({"subscription_count": count});
    event(
        "pusher_internal:subscription_count",
        Some(channel),
        Some(&data.to_string()),
        None,
    )
}

/// `pusher:cache_miss`: a cache channel was subscribed while it held no event.
pub fn cache_miss(channel: &str) -> String {
    event("pusher:cache_miss", Some(channel), None, None)
}

/// `pusher:signin_success`, echoing `user_data` exactly as the client sent it.
pub fn signin_success(user_data: &str) -> String {
    #[derive(Serialize)]
    struct Data<'a> {
        user_data: &'a str,
    }
    to_json(&ObjectFrame {
        event: "pusher:signin_success",
        channel: None,
        data: Data { user_data },
    })
}

/// Whether a watched user came online or went offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    Online,
    Offline,
}

impl Watch {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Offline => "offline",
        }
    }
}

/// `pusher_internal:watchlist_events` with one event for `user_ids` (no channel field).
pub fn watchlist_events(change: Watch, user_ids: &[String]) -> String {
    let data = json!({"events": [{"name": change.as_str(), "user_ids": user_ids}]});
    event(
        "pusher_internal:watchlist_events",
        None,
        Some(&data.to_string()),
        None,
    )
}

/// A member's `user_info` as a JSON value; `null` when absent or not JSON.
fn user_info_value(info: Option<&str>) -> Value {
    info.and_then(|raw| serde_json::from_str(raw).ok())
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    //! Expected strings are the examples of the spec (`pusher-protocol.md`), byte for byte,
    //! except where noted.

    use super::*;

    #[test]
    fn connection_established_double_encodes_its_data() {
        // data keys come out sorted (serde_json's map); pusher-js parses the string.
        assert_eq!(
            connection_established("1.2", 120),
            r#"{"event":"pusher:connection_established","data":"{\"activity_timeout\":120,\"socket_id\":\"1.2\"}"}"#
        );
    }

    #[test]
    fn errors_carry_an_object_with_code_and_message() {
        assert_eq!(
            error(None, "Auth info required to subscribe to private-events"),
            r#"{"event":"pusher:error","data":{"code":null,"message":"Auth info required to subscribe to private-events"}}"#
        );
        assert_eq!(
            error(Some(4302), "x"),
            r#"{"event":"pusher:error","data":{"code":4302,"message":"x"}}"#
        );
    }

    #[test]
    fn pings_and_pongs() {
        assert_eq!(ping(), r#"{"event":"pusher:ping","data":{}}"#);
        assert_eq!(pong(), r#"{"event":"pusher:pong","data":{}}"#);
    }

    #[test]
    fn subscription_succeeded_non_presence() {
        assert_eq!(
            subscription_succeeded("my-channel", "{}"),
            r#"{"event":"pusher_internal:subscription_succeeded","channel":"my-channel","data":"{}"}"#
        );
    }

    #[test]
    fn presence_data_lists_ids_hash_and_count() {
        let data = presence_data(
            [
                ("11814b", Some(r#"{"name":"Phil Leggetter"}"#)),
                ("71dd6a", Some(r#"{"name":"Max Williams"}"#)),
            ]
            .into_iter(),
        );
        let expected = r#"{"presence":{"ids":["11814b","71dd6a"],"hash":{"11814b":{"name":"Phil Leggetter"},"71dd6a":{"name":"Max Williams"}},"count":2}}"#;
        // Same object as the spec's example; serde_json writes the keys sorted.
        assert_eq!(
            serde_json::from_str::<Value>(&data).unwrap(),
            serde_json::from_str::<Value>(expected).unwrap()
        );
        assert_eq!(
            data,
            r#"{"presence":{"count":2,"hash":{"11814b":{"name":"Phil Leggetter"},"71dd6a":{"name":"Max Williams"}},"ids":["11814b","71dd6a"]}}"#
        );
        assert_eq!(
            presence_data([("7", None)].into_iter()),
            r#"{"presence":{"count":1,"hash":{"7":null},"ids":["7"]}}"#
        );
        assert_eq!(
            presence_data(std::iter::empty()),
            r#"{"presence":{"count":0,"hash":{},"ids":[]}}"#
        );
    }

    #[test]
    fn subscription_error_is_channel_scoped() {
        assert_eq!(
            subscription_error("private-x", "AuthError", "bad", 401),
            r#"{"event":"pusher:subscription_error","channel":"private-x","data":{"type":"AuthError","error":"bad","status":401}}"#
        );
    }

    #[test]
    fn member_added_and_removed() {
        assert_eq!(
            member_added(
                "presence-x",
                "11814b...",
                Some(r#"{"name":"Phil Leggetter"}"#)
            ),
            r#"{"event":"pusher_internal:member_added","channel":"presence-x","data":"{\"user_id\":\"11814b...\",\"user_info\":{\"name\":\"Phil Leggetter\"}}"}"#
        );
        assert_eq!(
            member_added("presence-x", "7", None),
            r#"{"event":"pusher_internal:member_added","channel":"presence-x","data":"{\"user_id\":\"7\",\"user_info\":null}"}"#
        );
        assert_eq!(
            member_removed("presence-x", "11814b..."),
            r#"{"event":"pusher_internal:member_removed","channel":"presence-x","data":"{\"user_id\":\"11814b...\"}"}"#
        );
    }

    #[test]
    fn subscription_count_and_cache_miss() {
        assert_eq!(
            subscription_count("x", 3),
            r#"{"event":"pusher_internal:subscription_count","channel":"x","data":"{\"subscription_count\":3}"}"#
        );
        assert_eq!(
            cache_miss("cache-x"),
            r#"{"event":"pusher:cache_miss","channel":"cache-x"}"#
        );
        assert_eq!(
            event("e", Some("cache-x"), Some("d"), None),
            r#"{"event":"e","channel":"cache-x","data":"d"}"#
        );
    }

    #[test]
    fn signin_success_echoes_user_data() {
        let user_data = r#"{"id":"12345","user_info":{},"watchlist":["a","b"]}"#;
        assert_eq!(
            signin_success(user_data),
            r#"{"event":"pusher:signin_success","data":{"user_data":"{\"id\":\"12345\",\"user_info\":{},\"watchlist\":[\"a\",\"b\"]}"}}"#
        );
    }

    #[test]
    fn watchlist_events_have_no_channel() {
        assert_eq!(
            watchlist_events(Watch::Online, &["1".to_owned()]),
            r#"{"event":"pusher_internal:watchlist_events","data":"{\"events\":[{\"name\":\"online\",\"user_ids\":[\"1\"]}]}"}"#
        );
        assert_eq!(
            watchlist_events(Watch::Offline, &["2".to_owned(), "3".to_owned()]),
            r#"{"event":"pusher_internal:watchlist_events","data":"{\"events\":[{\"name\":\"offline\",\"user_ids\":[\"2\",\"3\"]}]}"}"#
        );
    }

    #[test]
    fn client_events_carry_user_id_on_presence_channels() {
        assert_eq!(
            event("client-x", Some("presence-c"), Some("{}"), Some("7")),
            r#"{"event":"client-x","channel":"presence-c","data":"{}","user_id":"7"}"#
        );
    }
}
