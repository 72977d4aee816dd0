//! Private, presence, encrypted and cache channels, client events, user sign-in, watchlist
//! and terminate_connections, over real sockets with signatures made like the libraries do.

mod common;

use std::time::Duration;

use common::*;
use herald_protocol::signature::{
    auth_string, channel_string_to_sign, presence_string_to_sign, user_string_to_sign,
};
use serde_json::{Value, json};

fn private_auth(socket_id: &str, channel: &str) -> String {
    auth_string(KEY, SECRET, &channel_string_to_sign(socket_id, channel))
}

async fn subscribe_private(c: &mut Client, socket_id: &str, channel: &str) -> Value {
    c.send(json!({"event":"pusher:subscribe","data":{"auth":private_auth(socket_id, channel),"channel":channel}}))
        .await;
    c.recv().await
}

async fn join_presence(
    c: &mut Client,
    socket_id: &str,
    channel: &str,
    channel_data: &str,
) -> Value {
    let auth = auth_string(
        KEY,
        SECRET,
        &presence_string_to_sign(socket_id, channel, channel_data),
    );
    c.send(json!({"event":"pusher:subscribe","data":{"auth":auth,"channel_data":channel_data,"channel":channel}}))
        .await;
    c.recv().await
}

fn data_of(msg: &Value) -> Value {
    serde_json::from_str(msg["data"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn private_channels_verify_auth() {
    let server = TestServer::default().await;
    let (mut c, id) = server.connect_established().await;
    let ok = subscribe_private(&mut c, &id, "private-orders").await;
    assert_eq!(ok["event"], "pusher_internal:subscription_succeeded");
    assert_eq!(ok["channel"], "private-orders");

    // Missing auth.
    let err = c.subscribe("private-x").await;
    assert_eq!(
        err["data"]["message"],
        "Auth info required to subscribe to private-x"
    );
    assert_eq!(err["data"]["code"], Value::Null);
    let scoped = c.recv().await;
    assert_eq!(scoped["event"], "pusher:subscription_error");
    assert_eq!(scoped["channel"], "private-x");
    assert_eq!(scoped["data"]["status"], 401);

    // Wrong key, wrong signature (signed for another socket).
    c.send(json!({"event":"pusher:subscribe","data":{"auth":"nope:abc","channel":"private-x"}}))
        .await;
    assert_eq!(
        c.recv().await["data"]["message"],
        "Invalid key in subscription auth data: 'nope'"
    );
    c.recv().await;
    let forged = private_auth("1.1", "private-x");
    c.send(json!({"event":"pusher:subscribe","data":{"auth":forged,"channel":"private-x"}}))
        .await;
    let msg = c.recv().await["data"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        msg.starts_with(&format!(
            "Invalid signature: Expected HMAC SHA256 hex digest of {id}:private-x"
        )),
        "{msg}"
    );
    c.recv().await;

    // Encrypted channels use private auth; their payload passes through untouched.
    let enc = subscribe_private(&mut c, &id, "private-encrypted-x").await;
    assert_eq!(enc["event"], "pusher_internal:subscription_succeeded");
    let payload = r#"{"nonce":"bm9uY2U=","ciphertext":"Y2lwaGVy"}"#;
    server
        .http()
        .trigger(&["private-encrypted-x"], "secret", payload)
        .await;
    assert_eq!(c.recv().await["data"], payload);
    server.stop().await;
}

#[tokio::test]
async fn presence_members_count_users_once() {
    let server = TestServer::default().await;
    let ch = "presence-room";
    let (mut a, a_id) = server.connect_established().await;
    let (mut a2, a2_id) = server.connect_established().await;
    let (mut b, b_id) = server.connect_established().await;

    let ok = join_presence(
        &mut a,
        &a_id,
        ch,
        r#"{"user_id":10,"user_info":{"name":"Mr. Pusher"}}"#,
    )
    .await;
    assert_eq!(ok["event"], "pusher_internal:subscription_succeeded");
    assert_eq!(
        data_of(&ok),
        json!({"presence":{"ids":["10"],"hash":{"10":{"name":"Mr. Pusher"}},"count":1}})
    );
    let ok = join_presence(&mut b, &b_id, ch, r#"{"user_id":"b"}"#).await;
    assert_eq!(data_of(&ok)["presence"]["count"], 2);
    let added = a.recv().await;
    assert_eq!(added["event"], "pusher_internal:member_added");
    assert_eq!(data_of(&added), json!({"user_id":"b","user_info":null}));

    // A second socket of user 10: no member_added for anyone.
    let ok = join_presence(
        &mut a2,
        &a2_id,
        ch,
        r#"{"user_id":10,"user_info":{"name":"Mr. Pusher"}}"#,
    )
    .await;
    assert_eq!(data_of(&ok)["presence"]["count"], 2);
    b.expect_silence(Duration::from_millis(200)).await;

    let api = server.http();
    assert_eq!(
        api.get_json(&format!("/apps/1/channels/{ch}/users"), &[])
            .await,
        json!({"users":[{"id":"10"},{"id":"b"}]})
    );
    assert_eq!(
        api.get_json(
            &format!("/apps/1/channels/{ch}"),
            &[("info", "user_count,subscription_count")]
        )
        .await,
        json!({"occupied":true,"user_count":2,"subscription_count":3})
    );
    assert_eq!(
        api.get_json(
            "/apps/1/channels",
            &[("filter_by_prefix", "presence-"), ("info", "user_count")]
        )
        .await,
        json!({"channels":{"presence-room":{"user_count":2}}})
    );

    // The first socket of user 10 leaves: still present through a2.
    a.send(json!({"event":"pusher:unsubscribe","data":{"channel":ch}}))
        .await;
    b.expect_silence(Duration::from_millis(200)).await;
    // The last one disconnects: member_removed.
    drop(a2);
    let removed = b.recv().await;
    assert_eq!(removed["event"], "pusher_internal:member_removed");
    assert_eq!(data_of(&removed), json!({"user_id":"10"}));

    // A bad signature over channel_data (signed for different bytes) is refused.
    let auth = auth_string(
        KEY,
        SECRET,
        &presence_string_to_sign(&a_id, ch, r#"{"user_id":"x"}"#),
    );
    a.send(json!({"event":"pusher:subscribe","data":{"auth":auth,"channel_data":"{\"user_id\": \"x\"}","channel":ch}})).await;
    let err = a.recv().await;
    assert!(
        err["data"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid signature"),
        "{err}"
    );
    server.stop().await;
}

#[tokio::test]
async fn presence_limits_are_enforced() {
    let mut config = test_config();
    config.apps[0].max_presence_members = 1;
    config.apps[0].max_user_info_bytes = 10;
    let server = TestServer::start(config).await;
    let (mut a, a_id) = server.connect_established().await;
    let (mut b, b_id) = server.connect_established().await;
    let big = join_presence(
        &mut a,
        &a_id,
        "presence-x",
        r#"{"user_id":"1","user_info":{"name":"far too long"}}"#,
    )
    .await;
    assert!(
        big["data"]["message"]
            .as_str()
            .unwrap()
            .contains("user_info"),
        "{big}"
    );
    a.recv().await;
    let ok = join_presence(&mut a, &a_id, "presence-x", r#"{"user_id":"1"}"#).await;
    assert_eq!(ok["event"], "pusher_internal:subscription_succeeded");
    let full = join_presence(&mut b, &b_id, "presence-x", r#"{"user_id":"2"}"#).await;
    assert!(
        full["data"]["message"]
            .as_str()
            .unwrap()
            .contains("maximum of 1 members"),
        "{full}"
    );
    server.stop().await;
}

#[tokio::test]
async fn cache_channels_replay_the_last_event() {
    let server = TestServer::default().await;
    let (mut a, _) = server.connect_established().await;
    let ok = a.subscribe("cache-prices").await;
    assert_eq!(ok["event"], "pusher_internal:subscription_succeeded");
    assert_eq!(
        a.recv().await,
        json!({"event":"pusher:cache_miss","channel":"cache-prices"})
    );
    let api = server.http();
    api.trigger(&["cache-prices"], "price", "1").await;
    api.trigger(&["cache-prices"], "price", "2").await;
    assert_eq!(a.recv().await["data"], "1");
    assert_eq!(a.recv().await["data"], "2");
    let (mut b, _) = server.connect_established().await;
    assert_eq!(
        b.subscribe("cache-prices").await["event"],
        "pusher_internal:subscription_succeeded"
    );
    assert_eq!(
        b.recv().await,
        json!({"event":"price","channel":"cache-prices","data":"2"})
    );
    let info = api
        .get_json("/apps/1/channels/cache-prices", &[("info", "cache")])
        .await;
    assert_eq!(info["cache"]["data"], "2");
    assert!(info["cache"]["ttl"].as_u64().unwrap() > 1700);
    server.stop().await;
}

#[tokio::test]
async fn client_events_are_relayed_not_echoed_and_rate_limited() {
    let mut config = test_config();
    config.apps[0].client_events = true;
    let server = TestServer::start(config).await;
    let (mut a, a_id) = server.connect_established().await;
    let (mut b, b_id) = server.connect_established().await;
    subscribe_private(&mut a, &a_id, "private-chat").await;
    subscribe_private(&mut b, &b_id, "private-chat").await;
    a.send(json!({"event":"client-typing","data":{"x":1},"channel":"private-chat"}))
        .await;
    assert_eq!(
        b.recv().await,
        json!({"event":"client-typing","channel":"private-chat","data":"{\"x\":1}"})
    );
    a.expect_silence(Duration::from_millis(200)).await;

    // On presence channels the sender's user_id is added.
    join_presence(&mut a, &a_id, "presence-chat", r#"{"user_id":"141"}"#).await;
    join_presence(&mut b, &b_id, "presence-chat", r#"{"user_id":"142"}"#).await;
    a.recv().await; // member_added for 142
    a.send(json!({"event":"client-wave","data":"hi","channel":"presence-chat"}))
        .await;
    let m = b.recv().await;
    assert_eq!(m["user_id"], "141");
    assert_eq!(m["data"], "hi");

    // Public channels, unsubscribed channels: refused with a reason.
    a.subscribe("public").await;
    a.send(json!({"event":"client-x","data":{},"channel":"public"}))
        .await;
    assert!(
        a.recv().await["data"]["message"]
            .as_str()
            .unwrap()
            .contains("not a private or presence")
    );
    a.send(json!({"event":"client-x","data":{},"channel":"private-other"}))
        .await;
    assert!(
        a.recv().await["data"]["message"]
            .as_str()
            .unwrap()
            .contains("not subscribed")
    );

    // Over 10 per second: 4301 as an error, never a close.
    for i in 0..12 {
        a.send(json!({"event":"client-n","data":{"i":i},"channel":"private-chat"}))
            .await;
    }
    let mut relayed = 0;
    while let Some(tokio_tungstenite::tungstenite::Message::Text(t)) =
        b.next_message(Duration::from_millis(300)).await
    {
        let v: Value = serde_json::from_str(&t).unwrap();
        if v["event"] == "client-n" {
            relayed += 1;
        }
    }
    assert!(relayed <= 10, "{relayed}");
    let mut saw_4301 = false;
    while let Some(tokio_tungstenite::tungstenite::Message::Text(t)) =
        a.next_message(Duration::from_millis(300)).await
    {
        let v: Value = serde_json::from_str(&t).unwrap();
        if v["data"]["code"] == 4301 {
            saw_4301 = true;
        }
    }
    assert!(saw_4301);
    a.send(json!({"event":"pusher:ping","data":{}})).await;
    assert_eq!(a.recv().await["event"], "pusher:pong", "still connected");
    server.stop().await;
}

#[tokio::test]
async fn client_events_need_the_app_switch() {
    let server = TestServer::default().await;
    let (mut a, a_id) = server.connect_established().await;
    subscribe_private(&mut a, &a_id, "private-chat").await;
    a.send(json!({"event":"client-typing","data":{},"channel":"private-chat"}))
        .await;
    let err = a.recv().await;
    assert_eq!(
        err["data"]["message"],
        "To send client events, you must enable this feature in the Settings page of your dashboard."
    );
    server.stop().await;
}

async fn sign_in(c: &mut Client, socket_id: &str, user_data: &str) -> Value {
    let auth = auth_string(KEY, SECRET, &user_string_to_sign(socket_id, user_data));
    c.send(json!({"event":"pusher:signin","data":{"auth":auth,"user_data":user_data}}))
        .await;
    c.recv().await
}

#[tokio::test]
async fn sign_in_server_to_user_and_terminate() {
    let server = TestServer::default().await;
    let (mut a, a_id) = server.connect_established().await;
    let user_data = r#"{"id":"u1","user_info":{"name":"Ann"}}"#;
    let ok = sign_in(&mut a, &a_id, user_data).await;
    assert_eq!(
        ok,
        json!({"event":"pusher:signin_success","data":{"user_data":user_data}})
    );
    assert_eq!(
        a.subscribe("#server-to-user-u1").await["event"],
        "pusher_internal:subscription_succeeded"
    );
    let err = a.subscribe("#server-to-user-u2").await;
    assert_eq!(err["event"], "pusher:error");
    a.recv().await;

    let api = server.http();
    api.trigger(&["#server-to-user-u1"], "notice", "hello")
        .await;
    assert_eq!(a.recv().await["data"], "hello");

    // Presence without channel_data uses the signed-in identity.
    let auth = private_auth(&a_id, "presence-team");
    a.send(json!({"event":"pusher:subscribe","data":{"auth":auth,"channel":"presence-team"}}))
        .await;
    let ok = a.recv().await;
    assert_eq!(
        data_of(&ok)["presence"]["hash"]["u1"],
        json!({"name":"Ann"})
    );

    // A bad sign-in: error 4009 and close 4009 (pusher-js then does not retry).
    let (mut bad, bad_id) = server.connect_established().await;
    let forged = auth_string(KEY, "wrong", &user_string_to_sign(&bad_id, user_data));
    bad.send(json!({"event":"pusher:signin","data":{"auth":forged,"user_data":user_data}}))
        .await;
    assert_eq!(bad.recv().await["data"]["code"], 4009);
    assert_eq!(bad.close_code().await, Some(4009));

    let (status, body) = api
        .post("/apps/1/users/u1/terminate_connections", &json!({}))
        .await;
    assert_eq!((status, body.as_str()), (200, "{}"));
    assert_eq!(a.close_code().await, Some(4009));
    server.stop().await;
}

#[tokio::test]
async fn python_style_terminate_path_identifies_the_app_by_key() {
    let server = TestServer::default().await;
    let (mut a, a_id) = server.connect_established().await;
    sign_in(&mut a, &a_id, r#"{"id":"u9"}"#).await;
    let (status, _) = server
        .http()
        .post("/users/u9/terminate_connections", &json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(a.close_code().await, Some(4009));
    server.stop().await;
}

#[tokio::test]
async fn watchlist_reports_online_and_offline() {
    let server = TestServer::default().await;
    let (mut w, w_id) = server.connect_established().await;
    let (mut x, x_id) = server.connect_established().await;
    sign_in(&mut x, &x_id, r#"{"id":"x"}"#).await;
    let ok = sign_in(&mut w, &w_id, r#"{"id":"w","watchlist":["x","y"]}"#).await;
    assert_eq!(ok["event"], "pusher:signin_success");
    let online = w.recv().await;
    assert_eq!(online["event"], "pusher_internal:watchlist_events");
    assert_eq!(
        data_of(&online),
        json!({"events":[{"name":"online","user_ids":["x"]}]})
    );

    let (mut y, y_id) = server.connect_established().await;
    sign_in(&mut y, &y_id, r#"{"id":"y"}"#).await;
    assert_eq!(
        data_of(&w.recv().await),
        json!({"events":[{"name":"online","user_ids":["y"]}]})
    );
    // A second socket of y changes nothing; losing the last one is "offline".
    let (mut y2, y2_id) = server.connect_established().await;
    sign_in(&mut y2, &y2_id, r#"{"id":"y"}"#).await;
    drop(y);
    w.expect_silence(Duration::from_millis(300)).await;
    drop(y2);
    assert_eq!(
        data_of(&w.recv().await),
        json!({"events":[{"name":"offline","user_ids":["y"]}]})
    );

    // More than 100 watched ids: accepted, with a 4302 error.
    let (mut big, big_id) = server.connect_established().await;
    let ids: Vec<String> = (0..101).map(|i| i.to_string()).collect();
    let user_data = json!({"id":"big","watchlist":ids}).to_string();
    assert_eq!(
        sign_in(&mut big, &big_id, &user_data).await["event"],
        "pusher:signin_success"
    );
    assert_eq!(big.recv().await["data"]["code"], 4302);
    server.stop().await;
}

#[tokio::test]
async fn subscription_count_events_for_opted_in_apps() {
    let mut config = test_config();
    config.apps[0].subscription_count = true;
    let server = TestServer::start(config).await;
    let (mut a, _) = server.connect_established().await;
    a.subscribe("counted").await;
    let m = a.recv().await;
    assert_eq!(m["event"], "pusher_internal:subscription_count");
    assert_eq!(data_of(&m), json!({"subscription_count":1}));
    let (mut b, _) = server.connect_established().await;
    b.subscribe("counted").await;
    assert_eq!(data_of(&a.recv().await), json!({"subscription_count":2}));
    assert_eq!(data_of(&b.recv().await), json!({"subscription_count":2}));
    drop(b);
    assert_eq!(data_of(&a.recv().await), json!({"subscription_count":1}));
    server.stop().await;
}

#[tokio::test]
async fn authorized_connections_timeout_closes_with_4009() {
    let mut config = test_config();
    config.apps[0].authorized_connections_timeout_secs = 1;
    let server = TestServer::start(config).await;
    let (mut idle, _) = server.connect_established().await;
    let (mut good, good_id) = server.connect_established().await;
    subscribe_private(&mut good, &good_id, "private-ok").await;
    let err = idle.recv().await;
    assert_eq!(err["data"]["code"], 4009);
    assert_eq!(idle.close_code().await, Some(4009));
    good.send(json!({"event":"pusher:ping","data":{}})).await;
    assert_eq!(good.recv().await["event"], "pusher:pong");
    server.stop().await;
}
