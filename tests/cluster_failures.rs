//! Cluster nodes and Redis failing under real clients: a node killed with SIGKILL (its
//! members and counts removed by the survivors), and Redis killed and restarted under the
//! nodes (local delivery continues, state is rebuilt).

mod common;

use std::time::Duration;

use common::redis::*;
use common::*;
use serde_json::{Value, json};

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
    // /ready is unauthenticated: it must not name the Redis host, port or user.
    let text = reason["reason"].as_str().unwrap();
    assert!(
        !text.contains("127.0.0.1") && !text.contains("redis://"),
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
