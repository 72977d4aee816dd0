//! Validating triggered events: names, channels, data size, `socket_id` and `info`, with
//! messages that say what was wrong. Nothing here records or delivers.

use herald_protocol::ChannelName;
use serde::Deserialize;
use serde_json::Value;

use crate::config::Config;
use crate::hub::SocketId;

/// Why an event (or a batch) was refused before anything was recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("{0}")]
    BadRequest(String),
    /// The event's data is over the size limit.
    #[error("{0}")]
    TooLarge(String),
}

/// One event as the libraries send it.
#[derive(Debug, Deserialize)]
pub struct EventBody {
    name: Option<String>,
    data: Option<Value>,
    channels: Option<Vec<String>>,
    /// The PHP library sends `channel` for a single channel.
    channel: Option<String>,
    socket_id: Option<String>,
    info: Option<String>,
    idempotency_key: Option<String>,
}

/// A validated event, ready to record and publish.
#[derive(Debug)]
pub struct Prepared {
    pub name: String,
    pub channels: Vec<String>,
    pub data: String,
    pub socket_id: Option<SocketId>,
    pub socket_id_raw: Option<String>,
    pub info: Info,
    pub idempotency_key: Option<String>,
}

/// Which counts the caller asked for with `info`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Info {
    pub subscription_count: bool,
    pub user_count: bool,
}

impl Info {
    fn parse(raw: Option<&str>, prefix: &str) -> Result<Self, Invalid> {
        let mut info = Self::default();
        for attr in raw
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            match attr {
                "subscription_count" => info.subscription_count = true,
                "user_count" => info.user_count = true,
                other => {
                    return Err(Invalid::BadRequest(format!(
                        "{prefix}Invalid info attribute {other:?}: expected subscription_count or user_count"
                    )));
                }
            }
        }
        Ok(info)
    }

    pub fn any(self) -> bool {
        self.subscription_count || self.user_count
    }
}

/// Validates one event against Pusher's rules and the configured limits. `prefix` starts
/// every message (`batch[3]: ` names the event of a batch).
pub fn prepare(body: EventBody, config: &Config, prefix: &str) -> Result<Prepared, Invalid> {
    let name = body
        .name
        .ok_or_else(|| Invalid::BadRequest(format!("{prefix}Missing parameter: name")))?;
    if name.is_empty() {
        return Err(Invalid::BadRequest(format!(
            "{prefix}Event name must not be empty"
        )));
    }
    if name.chars().count() > config.max_event_name_len {
        return Err(Invalid::BadRequest(format!(
            "{prefix}Event name is too long: {} characters, limit {}",
            name.chars().count(),
            config.max_event_name_len
        )));
    }
    if name.starts_with("pusher:") || name.starts_with("pusher_internal:") {
        return Err(Invalid::BadRequest(format!(
            "{prefix}Event name {name:?} is reserved: names starting with pusher: or pusher_internal: are sent only by the server"
        )));
    }
    let channels = match (body.channels, body.channel) {
        (Some(list), _) => list,
        (None, Some(one)) => vec![one],
        (None, None) => {
            return Err(Invalid::BadRequest(format!(
                "{prefix}Missing parameter: channels (or channel)"
            )));
        }
    };
    if channels.is_empty() || channels.len() > config.max_channels_per_trigger {
        return Err(Invalid::BadRequest(format!(
            "{prefix}Expected 1 to {} channels, got {}",
            config.max_channels_per_trigger,
            channels.len()
        )));
    }
    for channel in &channels {
        ChannelName::parse(channel, config.max_channel_name_len)
            .map_err(|e| Invalid::BadRequest(format!("{prefix}{e}")))?;
    }
    let data = match body.data {
        Some(Value::String(s)) => s,
        // The libraries always send a string; objects from hand-written clients are
        // serialised once so they still arrive as Pusher's double-encoded `data`.
        Some(other) => other.to_string(),
        None => {
            return Err(Invalid::BadRequest(format!(
                "{prefix}Missing parameter: data"
            )));
        }
    };
    if data.len() > config.max_event_data_bytes {
        return Err(Invalid::TooLarge(format!(
            "{prefix}The data content of this event exceeds the allowed maximum ({} bytes). See http://pusher.com/docs/server_api_guide/server_publishing_events for more info",
            config.max_event_data_bytes
        )));
    }
    let socket_id = match &body.socket_id {
        None => None,
        Some(raw) => Some(
            raw.parse::<SocketId>()
                .map_err(|e| Invalid::BadRequest(format!("{prefix}{e}")))?,
        ),
    };
    Ok(Prepared {
        name,
        channels,
        data,
        socket_id,
        socket_id_raw: body.socket_id,
        info: Info::parse(body.info.as_deref(), prefix)?,
        idempotency_key: body.idempotency_key,
    })
}

/// Validates a batch: at most `max_batch_size` events, each for exactly one channel. A batch
/// is all or nothing, so everything is checked before anything is recorded or delivered.
pub fn prepare_batch(batch: Vec<EventBody>, config: &Config) -> Result<Vec<Prepared>, Invalid> {
    if batch.len() > config.max_batch_size {
        return Err(Invalid::BadRequest(format!(
            "Batch too large: {} events, limit {}",
            batch.len(),
            config.max_batch_size
        )));
    }
    let events = batch
        .into_iter()
        .enumerate()
        .map(|(i, e)| prepare(e, config, &format!("batch[{i}]: ")))
        .collect::<Result<Vec<_>, _>>()?;
    if events.iter().any(|e| e.channels.len() != 1) {
        return Err(Invalid::BadRequest(
            "Each batch event must name exactly one channel".into(),
        ));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(v: Value) -> EventBody {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let c = Config::default_single_app();
        let err = prepare(body(json!({"channels":["a"],"data":"x"})), &c, "").unwrap_err();
        assert_eq!(err, Invalid::BadRequest("Missing parameter: name".into()));
        let err = prepare(
            body(json!({"name":"pusher:x","channels":["a"],"data":"x"})),
            &c,
            "",
        )
        .unwrap_err();
        assert!(matches!(err, Invalid::BadRequest(_)), "{err}");
        let big = "x".repeat(10241);
        let err = prepare(
            body(json!({"name":"e","channels":["a"],"data":big})),
            &c,
            "",
        )
        .unwrap_err();
        assert!(matches!(err, Invalid::TooLarge(_)), "{err}");
        assert!(err.to_string().starts_with(
            "The data content of this event exceeds the allowed maximum (10240 bytes)"
        ));
        let ok = "x".repeat(10240);
        assert!(prepare(body(json!({"name":"e","channels":["a"],"data":ok})), &c, "").is_ok());
        let many: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
        assert!(matches!(
            prepare(body(json!({"name":"e","channels":many,"data":"x"})), &c, "").unwrap_err(),
            Invalid::BadRequest(m) if m == "Expected 1 to 100 channels, got 101"
        ));
        let err =
            prepare(body(json!({"name":"e","channel":"a b","data":"x"})), &c, "").unwrap_err();
        assert!(err.to_string().contains("Invalid channel name"), "{err}");
        let err = prepare(
            body(json!({"name":"e","channel":"a","data":"x","socket_id":"nope"})),
            &c,
            "",
        )
        .unwrap_err();
        assert!(err.to_string().contains("Invalid socket_id"), "{err}");
        let err = prepare(
            body(json!({"name":"e","channel":"a","data":"x","info":"bogus"})),
            &c,
            "",
        )
        .unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
        let err = prepare(
            body(json!({"name":"e","channel":"a","data":"x","info":"bogus"})),
            &c,
            "batch[2]: ",
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("batch[2]: Invalid info"),
            "{err}"
        );
    }

    #[test]
    fn php_style_single_channel_and_object_data_are_accepted() {
        let c = Config::default_single_app();
        let p = prepare(
            body(json!({"name":"e","channel":"audit-channel","data":{"a":1}})),
            &c,
            "",
        )
        .unwrap();
        assert_eq!(p.channels, vec!["audit-channel"]);
        assert_eq!(p.data, r#"{"a":1}"#);
    }

    #[test]
    fn a_batch_is_checked_whole() {
        let c = Config::default_single_app();
        let ok = json!({"name":"e","channel":"a","data":"x"});
        let two = json!({"name":"e","channels":["a","b"],"data":"x"});
        let bad = json!({"name":"","channel":"a","data":"x"});
        assert_eq!(
            prepare_batch(vec![body(ok.clone()), body(ok.clone())], &c)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            prepare_batch(vec![body(ok.clone()), body(two)], &c).unwrap_err(),
            Invalid::BadRequest("Each batch event must name exactly one channel".into())
        );
        assert_eq!(
            prepare_batch(vec![body(ok.clone()), body(bad)], &c).unwrap_err(),
            Invalid::BadRequest("batch[1]: Event name must not be empty".into())
        );
        let eleven = (0..11).map(|_| body(ok.clone())).collect();
        assert_eq!(
            prepare_batch(eleven, &c).unwrap_err(),
            Invalid::BadRequest("Batch too large: 11 events, limit 10".into())
        );
    }
}
