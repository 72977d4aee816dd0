//! Property tests over every parser that reads bytes from the network: client frames,
//! channel names, request signatures. Whatever arrives, each parser either accepts it or
//! refuses it with an error that says what was wrong — it never panics.

use herald_protocol::frame::ClientMessage;
use herald_protocol::request_signature::SignedRequest;
use herald_protocol::signature::verify_auth;
use herald_protocol::{ChannelKind, ChannelName};
use proptest::prelude::*;

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
        if let Err(e) = ClientMessage::parse(&text) {
            prop_assert!(!e.to_string().is_empty());
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
        match ChannelName::parse(&name, 200) {
            Ok(n) => {
                let _ = ChannelKind::of(n.as_str());
                prop_assert!(name.chars().count() <= 200);
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
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
        // Random input is essentially never correctly signed; it must be refused with a reason.
        if let Err(e) = req.verify("secret", now) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn channel_auth_never_panics(auth in "\\PC{0,100}", signed in "\\PC{0,100}") {
        let _ = verify_auth(&auth, "key", "secret", &signed);
    }
}
