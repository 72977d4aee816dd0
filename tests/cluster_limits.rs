//! Cluster-wide limits and isolation: key prefixes keep clusters sharing one Redis apart,
//! and `max_connections` and `max_presence_members` hold across nodes.

mod common;

use common::redis::*;
use common::*;
use serde_json::json;

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
