//! Several herald nodes joined through a real `redis-server` (started by each test on a
//! free port): fan-out across nodes, cluster-wide counts and presence, watchlists and
//! terminate across nodes, per-channel subscriptions, a node killed with SIGKILL, and Redis
//! killed and restarted under the nodes.

mod common;

use std::time::Duration;

use common::redis::*;
use common::*;
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(400);

async fn connect(node: &TestServer) -> (Client, String) {
    node.connect_established().await
}

async fn sub(c: &mut Client, channel: &str) {
    c.send(json!({"event":"pusher:subscribe","data":{"auth":"","channel":channel}}))
        .await;
    recv_event(c, "pusher_internal:subscription_succeeded").await;
}

/// Waits until `channel`'s cluster-wide subscription count, asked of `node`, is `n`.
async fn wait_count(node: &TestServer, channel: &str, n: u64) {
    let api = node.http();
    let path = format!("/apps/1/channels/{channel}");
    let ok = eventually(PROPAGATION, || {
        let (api, path) = (&api, &path);
        async move {
            let v = api.get_json(path, &[("info", "subscription_count")]).await;
            v["subscription_count"].as_u64().unwrap_or(0) == n
        }
    })
    .await;
    assert!(ok, "{channel} never had {n} subscribers on {}", node.addr);
}

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

#[tokio::test]
async fn a_killed_node_s_members_and_counts_are_removed_by_the_survivors() {
    let redis = RedisServer::start().await;
    let survivor = TestServer::start(node_config(&redis.url(), "survivor")).await;
    wait_ready(&survivor.http().base, true).await;
    let mut doomed = HeraldProcess::start(&redis.url(), "doomed").await;

    let (mut observer, obs_id) = connect(&survivor).await;
    join_presence(&mut observer, &obs_id, "presence-lobby", "stays").await;
    let mut victim = Client::connect(&doomed.ws_url()).await;
    let victim_id = established(&mut victim).await;
    join_presence(&mut victim, &victim_id, "presence-lobby", "goes").await;
    sign_in(&mut victim, &victim_id, "goes", &[]).await;
    let mut plain = Client::connect(&doomed.ws_url()).await;
    established(&mut plain).await;
    sub(&mut plain, "news").await;
    recv_event(&mut observer, "pusher_internal:member_added").await;
    wait_count(&survivor, "presence-lobby", 2).await;
    wait_count(&survivor, "news", 1).await;

    let (mut watcher, w_id) = connect(&survivor).await;
    sign_in(&mut watcher, &w_id, "w", &["goes"]).await;
    let online = recv_event(&mut watcher, "pusher_internal:watchlist_events").await;
    assert_eq!(data_of(&online)["events"][0]["name"], "online");

    let killed_at = tokio::time::Instant::now();
    doomed.kill9();
    // node_timeout (3 s) + heartbeat (1 s), with slack for a loaded machine.
    let removed = {
        let deadline = Duration::from_secs(12);
        tokio::time::timeout(
            deadline,
            recv_event_forever(&mut observer, "pusher_internal:member_removed"),
        )
        .await
        .expect("member_removed within the bound")
    };
    assert_eq!(data_of(&removed)["user_id"], "goes");
    let took = killed_at.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "reaped before the timeout: {took:?}"
    );
    let offline = recv_event(&mut watcher, "pusher_internal:watchlist_events").await;
    assert_eq!(data_of(&offline)["events"][0]["name"], "offline");

    let api = survivor.http();
    let users = api
        .get_json("/apps/1/channels/presence-lobby/users", &[])
        .await;
    assert_eq!(users, json!({"users":[{"id":"stays"}]}));
    wait_count(&survivor, "presence-lobby", 1).await;
    wait_count(&survivor, "news", 0).await;
    let channels = api.get_json("/apps/1/channels", &[]).await;
    assert_eq!(channels, json!({"channels":{"presence-lobby":{}}}));
    survivor.stop().await;
}

/// Like `recv_event`, without its own deadline (the caller sets one).
async fn recv_event_forever(c: &mut Client, event: &str) -> Value {
    loop {
        if let Some(tokio_tungstenite::tungstenite::Message::Text(t)) =
            c.next_message(Duration::from_secs(3600)).await
        {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["event"] == event {
                return v;
            }
        }
    }
}

#[tokio::test]
async fn redis_killed_and_restarted_under_the_nodes() {
    let mut redis = RedisServer::start().await;
    let nodes = start_nodes(&redis, 2).await;
    let (mut a, _) = connect(&nodes[0]).await;
    sub(&mut a, "audit-channel").await;
    let (mut b, b_id) = connect(&nodes[1]).await;
    sub(&mut b, "audit-channel").await;
    join_presence(&mut b, &b_id, "presence-ops", "u-b").await;
    wait_count(&nodes[0], "audit-channel", 2).await;

    redis.kill().await;
    for node in &nodes {
        wait_ready(&node.http().base, false).await;
    }
    let (status, body) = reqwest::get(format!("{}/ready", nodes[0].http().base))
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(status, 503);
    let reason: Value = body.json().await.unwrap();
    assert!(
        reason["reason"].as_str().unwrap().contains("Redis"),
        "{reason}"
    );

    // Local delivery keeps working while Redis is down, and the trigger still answers.
    let (status, _) = nodes[0]
        .http()
        .trigger(&["audit-channel"], "while-down", "1")
        .await;
    assert_eq!(status, 200);
    assert_eq!(recv_event(&mut a, "while-down").await["data"], "1");

    // A fresh, empty Redis on the same port: nodes reconnect and rebuild their state.
    redis.restart().await;
    for node in &nodes {
        wait_ready(&node.http().base, true).await;
    }
    wait_count(&nodes[0], "audit-channel", 2).await;
    let users = nodes[0]
        .http()
        .get_json("/apps/1/channels/presence-ops/users", &[])
        .await;
    assert_eq!(users, json!({"users":[{"id":"u-b"}]}));

    let (status, _) = nodes[0]
        .http()
        .trigger(&["audit-channel"], "after", "2")
        .await;
    assert_eq!(status, 200);
    assert_eq!(recv_event(&mut b, "after").await["data"], "2");
    assert_eq!(recv_event(&mut a, "after").await["data"], "2");
    a.expect_silence(QUIET).await;

    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn clusters_with_different_prefixes_share_one_redis_without_seeing_each_other() {
    let redis = RedisServer::start().await;
    let mut blue = node_config(&redis.url(), "blue-0");
    blue.redis_prefix = "blue".to_owned();
    let mut green = node_config(&redis.url(), "green-0");
    green.redis_prefix = "green".to_owned();
    let blue = TestServer::start(blue).await;
    let green = TestServer::start(green).await;
    wait_ready(&blue.http().base, true).await;
    wait_ready(&green.http().base, true).await;

    let (mut on_green, _) = connect(&green).await;
    sub(&mut on_green, "audit-channel").await;
    let (mut on_blue, _) = connect(&blue).await;
    sub(&mut on_blue, "audit-channel").await;
    let (status, _) = blue
        .http()
        .trigger(&["audit-channel"], "blue-only", "1")
        .await;
    assert_eq!(status, 200);
    recv_event(&mut on_blue, "blue-only").await;
    on_green.expect_silence(QUIET).await;
    let counted = blue
        .http()
        .get_json(
            "/apps/1/channels/audit-channel",
            &[("info", "subscription_count")],
        )
        .await;
    assert_eq!(
        counted["subscription_count"], 1,
        "green's subscriber counted by blue"
    );
    blue.stop().await;
    green.stop().await;
}

#[tokio::test]
async fn max_connections_holds_across_nodes() {
    let redis = RedisServer::start().await;
    let mut nodes = Vec::new();
    for i in 0..2 {
        let mut config = node_config(&redis.url(), &format!("quota-{i}"));
        config.apps[0].max_connections = Some(2);
        let node = TestServer::start(config).await;
        wait_ready(&node.http().base, true).await;
        nodes.push(node);
    }
    let (_a, _) = connect(&nodes[0]).await;
    let (b, _) = connect(&nodes[1]).await;
    // Each node alone is under its quota; together they are at it.
    let mut refused = nodes[0].connect().await;
    let err = refused.recv().await;
    assert_eq!(err["event"], "pusher:error", "{err}");
    assert_eq!(err["data"]["code"], 4004);
    assert_eq!(refused.close_code().await, Some(4004));

    drop(b);
    let admitted = eventually(PROPAGATION, || async {
        let mut c = nodes[0].connect().await;
        c.recv().await["event"] == "pusher:connection_established"
    })
    .await;
    assert!(
        admitted,
        "a slot freed on node 1 was never usable on node 0"
    );
    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn max_presence_members_holds_across_nodes() {
    let redis = RedisServer::start().await;
    let mut nodes = Vec::new();
    for i in 0..2 {
        let mut config = node_config(&redis.url(), &format!("members-{i}"));
        config.apps[0].max_presence_members = 2;
        let node = TestServer::start(config).await;
        wait_ready(&node.http().base, true).await;
        nodes.push(node);
    }
    let (mut a, a_id) = connect(&nodes[0]).await;
    join_presence(&mut a, &a_id, "presence-room", "u1").await;
    let (mut b, b_id) = connect(&nodes[1]).await;
    join_presence(&mut b, &b_id, "presence-room", "u2").await;
    let added = recv_event(&mut a, "pusher_internal:member_added").await;
    assert_eq!(data_of(&added)["user_id"], "u2");

    // Each node alone has one member; together the channel is full.
    let (mut c, c_id) = connect(&nodes[0]).await;
    let channel_data = json!({"user_id": "u3"}).to_string();
    let auth = herald_protocol::signature::auth_string(
        KEY,
        SECRET,
        &herald_protocol::signature::presence_string_to_sign(&c_id, "presence-room", &channel_data),
    );
    c.send(json!({"event":"pusher:subscribe","data":{"auth":auth,"channel_data":channel_data,"channel":"presence-room"}}))
        .await;
    let err = recv_event(&mut c, "pusher:error").await;
    assert_eq!(err["data"]["code"], 4100, "{err}");
    assert!(
        err["data"]["message"]
            .as_str()
            .unwrap()
            .contains("maximum of 2 members")
    );
    let scoped = recv_event(&mut c, "pusher:subscription_error").await;
    assert_eq!(scoped["data"]["status"], 403);

    // A member already present may add sockets on any node.
    let (mut a2, a2_id) = connect(&nodes[1]).await;
    join_presence(&mut a2, &a2_id, "presence-room", "u1").await;

    // The refused socket left no trace: two users, three subscriptions, from either node.
    wait_count(&nodes[0], "presence-room", 3).await;
    for node in &nodes {
        let users = node
            .http()
            .get_json("/apps/1/channels/presence-room/users", &[])
            .await;
        assert_eq!(users, json!({"users":[{"id":"u1"},{"id":"u2"}]}));
    }
    // Nobody saw u3 come or go.
    a.expect_silence(QUIET).await;
    b.expect_silence(QUIET).await;
    for node in nodes {
        node.stop().await;
    }
}
