//! Several herald nodes joined through a real `redis-server` (started by each test on a
//! free port): fan-out across nodes, cluster-wide counts and presence, watchlists and
//! terminate across nodes, per-channel subscriptions and cache channels.

mod common;

use common::redis::*;
use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_trigger_reaches_every_node_once_and_socket_exclusion_holds_across_nodes() {
    let redis = RedisServer::start().await;
    let nodes = start_nodes(&redis, 3).await;
    let mut clients = Vec::new();
    for node in &nodes {
        let (mut c, id) = connect(node).await;
        sub(&mut c, "audit-channel").await;
        clients.push((c, id));
    }
    wait_count(&nodes[0], "audit-channel", 3).await;

    let api = nodes[0].http();
    let (status, _) = api
        .trigger(&["audit-channel"], "model-change", "{\"n\":1}")
        .await;
    assert_eq!(status, 200);
    for (c, _) in &mut clients {
        let msg = recv_event(c, "model-change").await;
        assert_eq!(msg["data"], "{\"n\":1}");
        assert_eq!(msg["channel"], "audit-channel");
    }
    for (c, _) in &mut clients {
        c.expect_silence(QUIET).await;
    }

    // The socket on node 1 triggered it: everyone but that socket gets it.
    let excluded = clients[1].1.clone();
    let body = json!({"name":"e2","channels":["audit-channel"],"data":"x","socket_id":excluded});
    assert_eq!(api.post("/apps/1/events", &body).await.0, 200);
    recv_event(&mut clients[0].0, "e2").await;
    recv_event(&mut clients[2].0, "e2").await;
    clients[1].0.expect_silence(QUIET).await;

    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn client_events_and_server_to_user_cross_nodes() {
    let redis = RedisServer::start().await;
    let nodes = start_nodes(&redis, 2).await;
    let (mut a, a_id) = connect(&nodes[0]).await;
    let (mut b, b_id) = connect(&nodes[1]).await;
    subscribe_private(&mut a, &a_id, "private-chat").await;
    subscribe_private(&mut b, &b_id, "private-chat").await;
    wait_count(&nodes[0], "private-chat", 2).await;

    a.send(json!({"event":"client-typing","data":{"who":"a"},"channel":"private-chat"}))
        .await;
    let got = recv_event(&mut b, "client-typing").await;
    assert_eq!(got["channel"], "private-chat");
    assert_eq!(data_of(&got), json!({"who":"a"}));
    a.expect_silence(QUIET).await;

    sign_in(&mut b, &b_id, "u-b", &[]).await;
    sub(&mut b, "#server-to-user-u-b").await;
    let (status, _) = nodes[0]
        .http()
        .trigger(&["#server-to-user-u-b"], "notice", "hello")
        .await;
    assert_eq!(status, 200);
    assert_eq!(recv_event(&mut b, "notice").await["data"], "hello");

    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn channel_queries_are_identical_from_every_node() {
    let redis = RedisServer::start().await;
    let nodes = start_nodes(&redis, 3).await;
    let mut keep = Vec::new();
    // 2 subscribers of "news" on node 0, 1 on node 2; presence: u1 on nodes 0 and 1, u2 on 2.
    for (node, channel) in [(0, "news"), (0, "news"), (2, "news"), (1, "sports")] {
        let (mut c, _) = connect(&nodes[node]).await;
        sub(&mut c, channel).await;
        keep.push(c);
    }
    for (node, user) in [(0, "u1"), (1, "u1"), (2, "u2")] {
        let (mut c, id) = connect(&nodes[node]).await;
        join_presence(&mut c, &id, "presence-room", user).await;
        keep.push(c);
    }
    wait_count(&nodes[1], "presence-room", 3).await;

    let mut answers = Vec::new();
    for node in &nodes {
        let api = node.http();
        let all = api
            .get_json("/apps/1/channels", &[("info", "subscription_count")])
            .await;
        let presence = api
            .get_json(
                "/apps/1/channels",
                &[("filter_by_prefix", "presence-"), ("info", "user_count")],
            )
            .await;
        let news = api
            .get_json("/apps/1/channels/news", &[("info", "subscription_count")])
            .await;
        let room = api
            .get_json(
                "/apps/1/channels/presence-room",
                &[("info", "user_count,subscription_count")],
            )
            .await;
        let users = api
            .get_json("/apps/1/channels/presence-room/users", &[])
            .await;
        let trigger: Value = {
            let body = json!({"name":"e","channels":["presence-room"],"data":"{}","info":"user_count,subscription_count"});
            serde_json::from_str(&api.post("/apps/1/events", &body).await.1).unwrap()
        };
        answers.push((all, presence, news, room, users, trigger));
    }
    let (all, presence, news, room, users, trigger) = &answers[0];
    assert_eq!(
        all,
        &json!({"channels":{"news":{"subscription_count":3},"sports":{"subscription_count":1},"presence-room":{"subscription_count":3}}})
    );
    assert_eq!(
        presence,
        &json!({"channels":{"presence-room":{"user_count":2}}})
    );
    assert_eq!(news, &json!({"occupied":true,"subscription_count":3}));
    assert_eq!(
        room,
        &json!({"occupied":true,"user_count":2,"subscription_count":3})
    );
    assert_eq!(users, &json!({"users":[{"id":"u1"},{"id":"u2"}]}));
    assert_eq!(
        trigger,
        &json!({"channels":{"presence-room":{"user_count":2,"subscription_count":3}}})
    );
    for other in &answers[1..] {
        assert_eq!(other, &answers[0]);
    }

    drop(keep);
    wait_count(&nodes[0], "news", 0).await;
    let empty = nodes[2].http().get_json("/apps/1/channels", &[]).await;
    assert_eq!(empty, json!({"channels":{}}));
    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn presence_member_events_happen_once_cluster_wide() {
    let redis = RedisServer::start().await;
    let nodes = start_nodes(&redis, 3).await;
    let (mut observer, obs_id) = connect(&nodes[2]).await;
    join_presence(&mut observer, &obs_id, "presence-x", "watcher").await;

    let (mut a, a_id) = connect(&nodes[0]).await;
    let ok = join_presence(&mut a, &a_id, "presence-x", "u1").await;
    let roster = data_of(&ok);
    assert_eq!(roster["presence"]["count"], 2, "{roster}");
    let added = recv_event(&mut observer, "pusher_internal:member_added").await;
    assert_eq!(data_of(&added)["user_id"], "u1");
    assert_eq!(data_of(&added)["user_info"], json!({"name":"u1"}));

    // Same user on another node: no second member_added anywhere.
    let (mut b, b_id) = connect(&nodes[1]).await;
    let ok = join_presence(&mut b, &b_id, "presence-x", "u1").await;
    assert_eq!(data_of(&ok)["presence"]["count"], 2);
    observer.expect_silence(QUIET).await;
    a.expect_silence(QUIET).await;

    // One of u1's sockets leaves: u1 is still present.
    drop(a);
    wait_count(&nodes[2], "presence-x", 2).await;
    observer.expect_silence(QUIET).await;
    // The last one leaves: exactly one member_removed.
    drop(b);
    let removed = recv_event(&mut observer, "pusher_internal:member_removed").await;
    assert_eq!(data_of(&removed)["user_id"], "u1");
    observer.expect_silence(QUIET).await;

    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn a_repeated_presence_subscribe_lists_the_cluster_roster() {
    let redis = RedisServer::start().await;
    let nodes = start_nodes(&redis, 2).await;
    let (mut a, a_id) = connect(&nodes[0]).await;
    join_presence(&mut a, &a_id, "presence-again", "u1").await;
    let (mut b, b_id) = connect(&nodes[1]).await;
    let first = data_of(&join_presence(&mut b, &b_id, "presence-again", "u2").await);
    assert_eq!(first["presence"]["count"], 2, "{first}");
    recv_event(&mut a, "pusher_internal:member_added").await;

    // pusher-js re-sends pusher:subscribe after a reconnect race; the socket is already
    // subscribed, and the answer must still be the cluster's roster, not node 1's alone.
    let again = data_of(&join_presence(&mut b, &b_id, "presence-again", "u2").await);
    assert_eq!(again["presence"]["count"], 2, "{again}");
    assert_eq!(
        again["presence"]["hash"]["u1"],
        json!({"name":"u1"}),
        "{again}"
    );
    assert_eq!(again, first);
    // Still nothing changed: no member events for the repeat.
    a.expect_silence(QUIET).await;

    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn watchlist_and_terminate_reach_other_nodes() {
    let redis = RedisServer::start().await;
    let nodes = start_nodes(&redis, 2).await;
    let (mut watcher, w_id) = connect(&nodes[0]).await;
    sign_in(&mut watcher, &w_id, "w", &["u9"]).await;

    let (mut u, u_id) = connect(&nodes[1]).await;
    sign_in(&mut u, &u_id, "u9", &[]).await;
    let online = recv_event(&mut watcher, "pusher_internal:watchlist_events").await;
    assert_eq!(
        data_of(&online),
        json!({"events":[{"name":"online","user_ids":["u9"]}]})
    );

    // A second watcher signing in on node 1 is told u9 is already online.
    let (mut late, late_id) = connect(&nodes[0]).await;
    late.send(json!({"event":"pusher:signin","data":{
        "auth": herald_protocol::signature::auth_string(KEY, SECRET, &herald_protocol::signature::user_string_to_sign(&late_id, r#"{"id":"w2","watchlist":["u9"]}"#)),
        "user_data": r#"{"id":"w2","watchlist":["u9"]}"#}}))
        .await;
    let initial = recv_event(&mut late, "pusher_internal:watchlist_events").await;
    assert_eq!(
        data_of(&initial),
        json!({"events":[{"name":"online","user_ids":["u9"]}]})
    );

    // Terminate through node 0; the socket lives on node 1.
    let (status, _) = nodes[0]
        .http()
        .post("/apps/1/users/u9/terminate_connections", &json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(u.close_code().await, Some(4009));
    let offline = recv_event(&mut watcher, "pusher_internal:watchlist_events").await;
    assert_eq!(
        data_of(&offline),
        json!({"events":[{"name":"offline","user_ids":["u9"]}]})
    );

    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn a_node_subscribes_to_a_channel_only_while_it_has_local_subscribers() {
    let redis = RedisServer::start().await;
    let nodes = start_nodes(&redis, 2).await;
    let topic = "herald-test:1:ch:only-here";
    assert_eq!(redis.shard_subscribers(topic).await, 0);

    let (mut a, _) = connect(&nodes[0]).await;
    sub(&mut a, "only-here").await;
    // One subscriber: node 0's subscription connection. Node 1 gets no traffic for it.
    assert_eq!(redis.shard_subscribers(topic).await, 1);
    let (mut a2, _) = connect(&nodes[0]).await;
    sub(&mut a2, "only-here").await;
    assert_eq!(redis.shard_subscribers(topic).await, 1);

    let (mut b, _) = connect(&nodes[1]).await;
    sub(&mut b, "only-here").await;
    assert_eq!(redis.shard_subscribers(topic).await, 2);

    b.send(json!({"event":"pusher:unsubscribe","data":{"channel":"only-here"}}))
        .await;
    let gone = eventually(PROPAGATION, || async {
        redis.shard_subscribers(topic).await == 1
    })
    .await;
    assert!(
        gone,
        "node 1 kept its subscription after its last subscriber left"
    );
    drop((a, a2));
    let gone = eventually(PROPAGATION, || async {
        redis.shard_subscribers(topic).await == 0
    })
    .await;
    assert!(
        gone,
        "node 0 kept its subscription after its last subscriber left"
    );

    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn cache_channels_replay_across_nodes() {
    let redis = RedisServer::start().await;
    let nodes = start_nodes(&redis, 2).await;
    let (status, _) = nodes[0]
        .http()
        .trigger(&["cache-prices"], "price", "{\"eur\":1}")
        .await;
    assert_eq!(status, 200);
    let (mut b, _) = connect(&nodes[1]).await;
    sub(&mut b, "cache-prices").await;
    let replay = recv_event(&mut b, "price").await;
    assert_eq!(replay["data"], "{\"eur\":1}");
    let info = nodes[1]
        .http()
        .get_json("/apps/1/channels/cache-prices", &[("info", "cache")])
        .await;
    assert_eq!(info["cache"]["event"], "price");
    for node in nodes {
        node.stop().await;
    }
}
