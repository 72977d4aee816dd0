//! Frames a client sends: parsing them on the server, and encoding them the way pusher-js
//! does (for the load generator and tests).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A frame as it arrives from a client, before interpretation.
#[derive(Debug, Deserialize)]
struct RawClientFrame {
    event: Option<Value>,
    #[serde(default)]
    channel: Option<Value>,
    #[serde(default)]
    data: Option<Value>,
}

/// A `pusher:subscribe` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub channel: String,
    pub auth: Option<String>,
    /// Exactly as received: the presence signature covers these bytes.
    pub channel_data: Option<String>,
}

/// What a client asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    Ping,
    Pong,
    Subscribe(Subscribe),
    Unsubscribe {
        channel: String,
    },
    Signin {
        auth: String,
        user_data: String,
    },
    /// A `client-*` event; `data` is already a JSON string (objects are serialised once here).
    ClientEvent {
        event: String,
        channel: String,
        data: String,
    },
    /// Any other `pusher:*` event, or a non-`client-` event name.
    Unknown {
        event: String,
    },
}

/// Why a frame could not be understood. Sent back as `pusher:error` with code null.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("Invalid message: not valid JSON ({0})")]
    NotJson(String),
    #[error("Invalid message: the 'event' field is missing or not a string")]
    MissingEvent,
    #[error("Invalid message: {event} requires '{field}' as a {expected}")]
    BadField {
        event: String,
        field: &'static str,
        expected: &'static str,
    },
}

impl ClientMessage {
    /// Parses one text frame.
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let raw: RawClientFrame =
            serde_json::from_str(text).map_err(|e| FrameError::NotJson(e.to_string()))?;
        let event = match raw.event {
            Some(Value::String(s)) => s,
            _ => return Err(FrameError::MissingEvent),
        };
        let bad = |field, expected| FrameError::BadField {
            event: event.clone(),
            field,
            expected,
        };
        match event.as_str() {
            "pusher:ping" => Ok(Self::Ping),
            "pusher:pong" => Ok(Self::Pong),
            "pusher:subscribe" => {
                let data = raw.data.as_ref();
                // pusher-js puts `channel` inside `data`; some clients put it at top level.
                let channel = str_field(data, "channel")
                    .or_else(|| raw.channel.as_ref().and_then(Value::as_str))
                    .ok_or_else(|| bad("data.channel", "string"))?;
                let auth = match data.and_then(|d| d.get("auth")) {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(_) => return Err(bad("data.auth", "string")),
                };
                let channel_data = match data.and_then(|d| d.get("channel_data")) {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    // Not signable byte-for-byte, so refuse rather than guess.
                    Some(_) => return Err(bad("data.channel_data", "JSON-encoded string")),
                };
                Ok(Self::Subscribe(Subscribe {
                    channel: channel.to_owned(),
                    auth,
                    channel_data,
                }))
            }
            "pusher:unsubscribe" => {
                let channel = str_field(raw.data.as_ref(), "channel")
                    .or_else(|| raw.channel.as_ref().and_then(Value::as_str))
                    .ok_or_else(|| bad("data.channel", "string"))?;
                Ok(Self::Unsubscribe {
                    channel: channel.to_owned(),
                })
            }
            "pusher:signin" => {
                let data = raw.data.as_ref();
                let auth = str_field(data, "auth").ok_or_else(|| bad("data.auth", "string"))?;
                let user_data = str_field(data, "user_data")
                    .ok_or_else(|| bad("data.user_data", "JSON-encoded string"))?;
                Ok(Self::Signin {
                    auth: auth.to_owned(),
                    user_data: user_data.to_owned(),
                })
            }
            name if name.starts_with("client-") => {
                let channel = match raw.channel {
                    Some(Value::String(s)) => s,
                    _ => return Err(bad("channel", "string")),
                };
                let data = match raw.data {
                    Some(Value::String(s)) => s,
                    Some(other) => other.to_string(),
                    None => "{}".to_owned(),
                };
                Ok(Self::ClientEvent {
                    event,
                    channel,
                    data,
                })
            }
            _ => Ok(Self::Unknown { event }),
        }
    }
}

fn str_field<'a>(data: Option<&'a Value>, field: &str) -> Option<&'a str> {
    data?.get(field)?.as_str()
}

/// `pusher:subscribe` as pusher-js sends it (what a client sends; used by the load
/// generator and tests). `channel_data` is sent as the exact string that was signed.
pub fn subscribe(channel: &str, auth: Option<&str>, channel_data: Option<&str>) -> String {
    #[derive(Serialize)]
    struct Data<'a> {
        auth: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        channel_data: Option<&'a str>,
        channel: &'a str,
    }
    #[derive(Serialize)]
    struct Frame<'a> {
        event: &'static str,
        data: Data<'a>,
    }
    serde_json::to_string(&Frame {
        event: "pusher:subscribe",
        data: Data {
            auth: auth.unwrap_or(""),
            channel_data,
            channel,
        },
    })
    .expect("serialising strings cannot fail")
}

/// `pusher:unsubscribe` as pusher-js sends it.
pub fn unsubscribe(channel: &str) -> String {
    serde_json::json!({"event": "pusher:unsubscribe", "data": {"channel": channel}}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pusher_js_subscribe_frames() {
        let m = ClientMessage::parse(
            r#"{"event":"pusher:subscribe","data":{"auth":"","channel":"my-channel"}}"#,
        )
        .unwrap();
        assert_eq!(
            m,
            ClientMessage::Subscribe(Subscribe {
                channel: "my-channel".into(),
                auth: Some(String::new()),
                channel_data: None
            })
        );
        let raw_cd = r#"{\"user_id\":10,\"user_info\":{\"name\":\"Mr. Pusher\"}}"#;
        let frame = format!(
            r#"{{"event":"pusher:subscribe","data":{{"auth":"k:s","channel_data":"{raw_cd}","channel":"presence-foobar"}}}}"#
        );
        match ClientMessage::parse(&frame).unwrap() {
            ClientMessage::Subscribe(s) => assert_eq!(
                s.channel_data.as_deref(),
                Some(r#"{"user_id":10,"user_info":{"name":"Mr. Pusher"}}"#)
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn client_event_object_data_is_serialised_once() {
        let m = ClientMessage::parse(
            r#"{"event":"client-typing","data":{"x":1},"channel":"private-chat"}"#,
        )
        .unwrap();
        assert_eq!(
            m,
            ClientMessage::ClientEvent {
                event: "client-typing".into(),
                channel: "private-chat".into(),
                data: r#"{"x":1}"#.into()
            }
        );
    }

    #[test]
    fn malformed_frames_say_what_is_wrong() {
        assert!(matches!(
            ClientMessage::parse("not json"),
            Err(FrameError::NotJson(_))
        ));
        assert_eq!(
            ClientMessage::parse(r#"{"data":{}}"#),
            Err(FrameError::MissingEvent)
        );
        assert!(ClientMessage::parse(r#"[1,2]"#).is_err());
        let err = ClientMessage::parse(r#"{"event":"pusher:subscribe","data":{}}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid message: pusher:subscribe requires 'data.channel' as a string"
        );
    }

    #[test]
    fn client_frames_match_pusher_js_and_parse_back() {
        assert_eq!(
            subscribe("my-channel", None, None),
            r#"{"event":"pusher:subscribe","data":{"auth":"","channel":"my-channel"}}"#
        );
        let cd = r#"{"user_id":10,"user_info":{"name":"Mr. Pusher"}}"#;
        let frame = subscribe("presence-foobar", Some("k:s"), Some(cd));
        assert_eq!(
            ClientMessage::parse(&frame).unwrap(),
            ClientMessage::Subscribe(Subscribe {
                channel: "presence-foobar".into(),
                auth: Some("k:s".into()),
                channel_data: Some(cd.into())
            })
        );
        assert_eq!(
            ClientMessage::parse(&unsubscribe("presence-foobar")).unwrap(),
            ClientMessage::Unsubscribe {
                channel: "presence-foobar".into()
            }
        );
    }
}
