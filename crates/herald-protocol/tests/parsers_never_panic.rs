//! Property tests over every parser that reads bytes from the network: client frames,
//! channel names, request signatures. Whatever arrives, each parser either accepts it or
//! refuses it with the error that names what was wrong (checked against a model of the
//! rules, not just for a non-empty message) — it never panics.

use herald_protocol::frame::{ClientMessage, FrameError};
use herald_protocol::request_signature::{RequestAuthError, SignedRequest};
use herald_protocol::signature::verify_auth;
use herald_protocol::{ChannelKind, ChannelName, ChannelNameError};
use proptest::prelude::*;
use serde_json::Value;

const NOW: i64 = 1_700_000_000;

/// `Ok(offset)` for a timestamp `NOW + offset`, `Err(text)` for one that is not a number.
fn timestamp() -> impl Strategy<Value = Result<i64, String>> {
    prop_oneof![(-1000i64..1000).prop_map(Ok), "[a-z.-]{0,4}".prop_map(Err),]
}

/// JSON-ish text: mostly the characters frames are made of, so the parser is driven deep.
fn jsonish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just(":".to_owned()),
            Just(",".to_owned()),
            Just("\"event\"".to_owned()),
            Just("\"data\"".to_owned()),
            Just("\"channel\"".to_owned()),
            Just("\"pusher:subscribe\"".to_owned()),
            Just("\"pusher:signin\"".to_owned()),
            Just("\"client-x\"".to_owned()),
            Just("\"auth\"".to_owned()),
            Just("\"channel_data\"".to_owned()),
            Just("null".to_owned()),
            Just("1".to_owned()),
            Just("\"\\u0000\"".to_owned()),
            "[ -~]{0,8}".prop_map(|s| s),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn client_frames_parse_or_explain(text in jsonish()) {
        let Err(e) = ClientMessage::parse(&text) else {
            return Ok(());
        };
        prop_assert!(!e.to_string().is_empty());
        match serde_json::from_str::<Value>(&text) {
            Err(_) => prop_assert!(matches!(e, FrameError::NotJson(_)), "{e:?}"),
            // A duplicated field is refused by the frame's own parser: NotJson too.
            Ok(Value::Object(o)) => match o.get("event") {
                Some(Value::String(name)) => prop_assert!(
                    matches!(&e, FrameError::BadField { event, .. } if event == name)
                        || matches!(e, FrameError::NotJson(_)),
                    "{e:?}"
                ),
                _ => prop_assert!(
                    matches!(e, FrameError::MissingEvent | FrameError::NotJson(_)),
                    "{e:?}"
                ),
            },
            Ok(_) => {}
        }
    }

    #[test]
    fn arbitrary_unicode_frames_never_panic(text in "\\PC{0,200}") {
        let _ = ClientMessage::parse(&text);
    }

    #[test]
    fn well_formed_subscribes_round_trip(channel in "[-a-zA-Z0-9_=@,.;]{1,200}") {
        let frame = serde_json::json!({"event":"pusher:subscribe","data":{"auth":"","channel":channel}}).to_string();
        match ClientMessage::parse(&frame).unwrap() {
            ClientMessage::Subscribe(s) => prop_assert_eq!(s.channel, channel.clone()),
            other => prop_assert!(false, "{:?}", other),
        }
        prop_assert!(ChannelName::parse(&channel, 200).is_ok());
    }

    #[test]
    fn channel_names_validate_or_explain(name in "\\PC{0,250}") {
        let len = name.chars().count();
        let body = name.strip_prefix("#server-to-user-").unwrap_or(&name);
        let allowed = !body.is_empty()
            && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_=@,.;".contains(&b));
        match ChannelName::parse(&name, 200) {
            Ok(n) => {
                let _ = ChannelKind::of(n.as_str());
                prop_assert!(len <= 200 && allowed);
            }
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
                match e {
                    ChannelNameError::Empty => prop_assert!(name.is_empty()),
                    ChannelNameError::TooLong { len: l, max } => {
                        prop_assert_eq!((l, max), (len, 200));
                        prop_assert!(len > 200);
                    }
                    ChannelNameError::InvalidCharacters(n) => {
                        prop_assert_eq!(n, name.clone());
                        prop_assert!(!name.is_empty() && len <= 200 && !allowed);
                    }
                }
            }
        }
    }

    #[test]
    fn request_verification_never_panics(
        method in "[A-Z]{0,7}",
        path in "\\PC{0,40}",
        query in prop::collection::vec(("[a-z_]{0,16}", "\\PC{0,24}"), 0..8),
        body in prop::collection::vec(any::<u8>(), 0..64),
        now in any::<i64>(),
    ) {
        let query: Vec<(String, String)> = query;
        let req = SignedRequest { method: &method, path: &path, query: &query, body: &body };
        if let Err(e) = req.verify("secret", now) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    /// Each auth parameter present or not, right or wrong: the refusal names the first
    /// problem in the order the signature is checked.
    #[test]
    fn request_verification_names_the_first_problem(
        key in prop::option::of("[a-z0-9]{1,8}"),
        signature in prop::option::of("[0-9a-f]{0,64}"),
        version in prop::option::of(prop_oneof![Just("1.0".to_owned()), "[0-9.]{0,4}"]),
        ts in prop::option::of(timestamp()),
        md5 in prop::option::of(prop_oneof![Just(None), "[0-9a-f]{32}".prop_map(Some)]),
        body in prop::collection::vec(any::<u8>(), 0..16),
        extra in prop::collection::vec(("x[a-z_]{0,8}", "\\PC{0,12}"), 0..4),
    ) {
        let body_md5 = herald_protocol::request_signature::body_md5_hex(&body);
        let mut query: Vec<(String, String)> = extra;
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                query.push((k.to_owned(), v));
            }
        };
        put("auth_key", key.clone());
        put("auth_signature", signature.clone());
        put("auth_version", version.clone());
        put("auth_timestamp", ts.clone().map(|t| match t {
            Ok(offset) => (NOW + offset).to_string(),
            Err(text) => text,
        }));
        // Some(None): the body's real MD5; Some(Some(x)): a wrong one (almost surely).
        put("body_md5", md5.clone().map(|m| m.unwrap_or_else(|| body_md5.clone())));
        let req = SignedRequest { method: "POST", path: "/apps/1/events", query: &query, body: &body };
        let err = req.verify("secret", NOW).expect_err("random signatures do not verify");
        prop_assert!(!err.to_string().is_empty());
        use RequestAuthError as E;
        let expected_ok = match (&key, &signature, &version, &ts) {
            (None, ..) => matches!(err, E::MissingParameter("auth_key")),
            (_, None, ..) => matches!(err, E::MissingParameter("auth_signature")),
            (_, _, None, _) => matches!(err, E::MissingParameter("auth_version")),
            (_, _, Some(v), _) if v != "1.0" => matches!(err, E::UnsupportedVersion(_)),
            (.., None) => matches!(err, E::MissingParameter("auth_timestamp")),
            (.., Some(Err(text))) if text.parse::<i64>().is_err() => matches!(err, E::BadTimestamp(_)),
            (.., Some(Ok(offset))) if offset.abs() >= 600 => matches!(err, E::TimestampExpired { .. }),
            // The signature is checked before the body (the body is read only for a
            // signed request), and random signatures never verify: body_md5 problems are
            // only reachable with a valid signature, which the unit tests cover.
            _ => matches!(err, E::WrongSignature { .. }),
        };
        prop_assert!(expected_ok, "{err:?}");
    }

    #[test]
    fn channel_auth_never_panics(auth in "\\PC{0,100}", signed in "\\PC{0,100}") {
        let _ = verify_auth(&auth, "key", "secret", &signed);
    }
}
