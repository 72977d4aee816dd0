//! Cluster test harness: a real `redis-server` started on a free loopback port (no
//! persistence) that tests can kill and restart, herald nodes joined through it (in-process
//! or as real `herald` processes), and protocol helpers for presence and sign-in.

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use herald::Config;
use herald_protocol::signature::{
    auth_string, channel_string_to_sign, presence_string_to_sign, user_string_to_sign,
};
use serde_json::{Value, json};

use super::{Client, KEY, SECRET, TestServer, eventually, test_config};

/// How long any cross-node effect may take to show before a test fails.
pub const PROPAGATION: Duration = Duration::from_secs(5);

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `redis-server` owned by one test; killed when dropped.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub async fn start() -> Self {
        let mut server = Self {
            port: free_port(),
            child: None,
        };
        server.spawn().await;
        server
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server)");
        self.child = Some(child);
        let url = self.url();
        assert!(
            eventually(Duration::from_secs(10), || {
                let url = url.clone();
                async move { ping(&url).await }
            })
            .await,
            "redis-server did not start on port {}",
            self.port
        );
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, and wait until the port no longer answers.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a fresh (empty) server on the same port.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }

    /// A plain connection for inspecting the server.
    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Subscribers of a sharded pub/sub channel.
    pub async fn shard_subscribers(&self, topic: &str) -> i64 {
        let (_, n): (String, i64) = redis::cmd("PUBSUB")
            .arg("SHARDNUMSUB")
            .arg(topic)
            .query_async(&mut self.conn().await)
            .await
            .unwrap();
        n
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn ping(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let Ok(Ok(mut c)) = tokio::time::timeout(
        Duration::from_millis(500),
        client.get_multiplexed_async_connection(),
    )
    .await
    else {
        return false;
    };
    redis::cmd("PING")
        .query_async::<String>(&mut c)
        .await
        .is_ok()
}

/// A node's configuration: clustered through `redis_url`, 1 s heartbeats, 3 s timeout,
/// client events on.
pub fn node_config(redis_url: &str, node_id: &str) -> Config {
    let mut c = test_config();
    c.redis_url = Some(redis_url.to_owned());
    c.redis_prefix = "herald-test".to_owned();
    c.node_id = node_id.to_owned();
    c.redis_heartbeat = Duration::from_secs(1);
    c.node_timeout = Duration::from_secs(3);
    c.apps[0].client_events = true;
    c
}

/// `n` in-process nodes sharing one Redis, each ready.
pub async fn start_nodes(redis: &RedisServer, n: usize) -> Vec<TestServer> {
    let mut nodes = Vec::new();
    for i in 0..n {
        let node = TestServer::start(node_config(&redis.url(), &format!("node-{i}"))).await;
        wait_ready(&node.http().base, true).await;
        nodes.push(node);
    }
    nodes
}

/// Polls `GET /ready` until it says `ready` (200) or not (503).
pub async fn wait_ready(base: &str, ready: bool) {
    let url = format!("{base}/ready");
    let client = reqwest::Client::new();
    let ok = eventually(Duration::from_secs(15), || {
        let (client, url) = (client.clone(), url.clone());
        async move {
            match client.get(&url).send().await {
                Ok(r) => (r.status().as_u16() == 200) == ready,
                Err(_) => false,
            }
        }
    })
    .await;
    assert!(ok, "{url} never became ready={ready}");
}

/// A real `herald` process (for kill -9).
pub struct HeraldProcess {
    pub port: u16,
    child: Child,
}

impl HeraldProcess {
    pub async fn start(redis_url: &str, node_id: &str) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HERALD_HOST", "127.0.0.1")
            .env("HERALD_PORT", port.to_string())
            .env("HERALD_NODE_ID", node_id)
            .env("HERALD_REDIS_URL", redis_url)
            .env("HERALD_REDIS_PREFIX", "herald-test")
            .env("HERALD_REDIS_HEARTBEAT", "1")
            .env("HERALD_NODE_TIMEOUT", "3")
            .env("HERALD_AUDIT_MODE", "off")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let process = Self { port, child };
        wait_ready(&process.base(), true).await;
        process
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn ws_url(&self) -> String {
        format!(
            "ws://127.0.0.1:{}/app/{KEY}?protocol=7&client=js&version=8.4.0",
            self.port
        )
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL on Unix
        let _ = self.child.wait();
    }
}

impl Drop for HeraldProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Reads the handshake of a fresh connection; returns the socket id.
pub async fn established(c: &mut Client) -> String {
    let msg = c.recv().await;
    assert_eq!(msg["event"], "pusher:connection_established", "{msg}");
    let data: Value = serde_json::from_str(msg["data"].as_str().unwrap()).unwrap();
    data["socket_id"].as_str().unwrap().to_owned()
}

/// Receives until an event named `event` arrives (other frames are skipped).
pub async fn recv_event(c: &mut Client, event: &str) -> Value {
    let deadline = tokio::time::Instant::now() + PROPAGATION;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match c.next_message(left).await {
            Some(tokio_tungstenite::tungstenite::Message::Text(t)) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["event"] == event {
                    return v;
                }
            }
            Some(_) => {}
            None => panic!("no {event} within {PROPAGATION:?}"),
        }
    }
}

pub fn data_of(msg: &Value) -> Value {
    serde_json::from_str(msg["data"].as_str().unwrap()).unwrap()
}

pub async fn subscribe_private(c: &mut Client, socket_id: &str, channel: &str) -> Value {
    let auth = auth_string(KEY, SECRET, &channel_string_to_sign(socket_id, channel));
    c.send(json!({"event":"pusher:subscribe","data":{"auth":auth,"channel":channel}}))
        .await;
    recv_event(c, "pusher_internal:subscription_succeeded").await
}

pub async fn join_presence(c: &mut Client, socket_id: &str, channel: &str, user_id: &str) -> Value {
    let channel_data = json!({"user_id": user_id, "user_info": {"name": user_id}}).to_string();
    let auth = auth_string(
        KEY,
        SECRET,
        &presence_string_to_sign(socket_id, channel, &channel_data),
    );
    c.send(json!({"event":"pusher:subscribe","data":{"auth":auth,"channel_data":channel_data,"channel":channel}}))
        .await;
    recv_event(c, "pusher_internal:subscription_succeeded").await
}

pub async fn sign_in(c: &mut Client, socket_id: &str, user_id: &str, watchlist: &[&str]) -> Value {
    let user_data = json!({"id": user_id, "watchlist": watchlist}).to_string();
    let auth = auth_string(KEY, SECRET, &user_string_to_sign(socket_id, &user_data));
    c.send(json!({"event":"pusher:signin","data":{"auth":auth,"user_data":user_data}}))
        .await;
    recv_event(c, "pusher:signin_success").await
}

/// How long "nothing arrives" is watched for.
pub const QUIET: Duration = Duration::from_millis(400);

pub async fn connect(node: &TestServer) -> (Client, String) {
    node.connect_established().await
}

pub async fn sub(c: &mut Client, channel: &str) {
    c.send(json!({"event":"pusher:subscribe","data":{"auth":"","channel":channel}}))
        .await;
    recv_event(c, "pusher_internal:subscription_succeeded").await;
}

/// Waits until `channel`'s cluster-wide subscription count, asked of `node`, is `n`.
pub async fn wait_count(node: &TestServer, channel: &str, n: u64) {
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
