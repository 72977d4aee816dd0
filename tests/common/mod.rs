//! Test harness: a real herald server on a loopback port, a raw WebSocket client that
//! speaks the Pusher protocol, and a signed HTTP client.

#![allow(dead_code)]

pub mod redis;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use herald::Config;
use herald_protocol::request_signature::sign_query;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const KEY: &str = "app-key";
pub const SECRET: &str = "app-secret";

/// A herald server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(herald::run(config, listener, async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub async fn default() -> Self {
        Self::start(test_config()).await
    }

    /// Signals shutdown and waits for `run` to return.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("server stops within its grace period")
                .unwrap()
                .unwrap();
        }
    }

    pub fn ws_url(&self, key: &str) -> String {
        format!(
            "ws://{}/app/{key}?protocol=7&client=js&version=8.4.0&flash=false",
            self.addr
        )
    }

    pub async fn connect(&self) -> Client {
        Client::connect(&self.ws_url(KEY)).await
    }

    /// Connects and reads the handshake; returns the client and its socket id.
    pub async fn connect_established(&self) -> (Client, String) {
        let mut c = self.connect().await;
        let msg = c.recv().await;
        assert_eq!(msg["event"], "pusher:connection_established", "{msg}");
        let data: Value = serde_json::from_str(msg["data"].as_str().unwrap()).unwrap();
        (c, data["socket_id"].as_str().unwrap().to_owned())
    }

    /// Starts a signed trigger whose body never finishes arriving (100 bytes announced, 4
    /// sent). It is signed so that it gets past authentication to the body read.
    pub async fn stuck_trigger(&self) -> TcpStream {
        use tokio::io::AsyncWriteExt;
        let body = [b'x'; 100];
        let url = self
            .http()
            .signed_url("POST", "/apps/1/events", &body, &[], now());
        let target = url.trim_start_matches(&format!("http://{}", self.addr));
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        let head = format!(
            "POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"na"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream
    }

    pub fn http(&self) -> Api {
        Api {
            base: format!("http://{}", self.addr),
            key: KEY.into(),
            secret: SECRET.into(),
            client: reqwest::Client::new(),
        }
    }
}

/// The zero-config defaults, on loopback, with short keep-alive timers for tests.
pub fn test_config() -> Config {
    let mut c = Config::default_single_app();
    c.shutdown_grace = Duration::from_secs(5);
    c.audit_url = format!("sqlite://{}", temp_path("audit.db").display());
    c
}

/// A fresh path in the system temp directory, unique to this process and call.
pub fn temp_path(name: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("herald-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A raw Pusher-protocol client.
pub struct Client {
    pub ws: Ws,
}

impl Client {
    pub async fn connect(url: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Self { ws }
    }

    /// Connects with an `Origin` header, as a browser on that page would.
    pub async fn connect_with_origin(url: &str, origin: &str) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Self { ws }
    }

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, m: Message) {
        self.ws.send(m).await.unwrap();
    }

    /// The next text frame as JSON (5 s timeout).
    pub async fn recv(&mut self) -> Value {
        match self.next_message(Duration::from_secs(5)).await {
            Some(Message::Text(t)) => serde_json::from_str(&t).unwrap(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The next frame of any kind, or None on timeout / end of stream.
    pub async fn next_message(&mut self, wait: Duration) -> Option<Message> {
        loop {
            match tokio::time::timeout(wait, self.ws.next()).await {
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(Some(Ok(m))) => return Some(m),
                _ => return None,
            }
        }
    }

    /// Waits for the close frame and returns its code.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match self.next_message(Duration::from_secs(10)).await {
                Some(Message::Close(Some(f))) => return Some(f.code.into()),
                Some(Message::Close(None)) | None => return None,
                Some(_) => continue,
            }
        }
    }

    /// Asserts nothing arrives within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Some(m) = self.next_message(wait).await {
            panic!("expected nothing, got {m:?}");
        }
    }

    pub async fn subscribe(&mut self, channel: &str) -> Value {
        self.send(
            serde_json::json!({"event":"pusher:subscribe","data":{"auth":"","channel":channel}}),
        )
        .await;
        self.recv().await
    }
}

/// A client of the signed HTTP API.
pub struct Api {
    pub base: String,
    pub key: String,
    pub secret: String,
    pub client: reqwest::Client,
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Api {
    pub fn with_credentials(mut self, key: &str, secret: &str) -> Self {
        self.key = key.into();
        self.secret = secret.into();
        self
    }

    pub fn signed_url(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        extra: &[(&str, &str)],
        ts: i64,
    ) -> String {
        let qs = sign_query(method, path, &self.key, &self.secret, ts, body, extra);
        format!("{}{path}?{qs}", self.base)
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, String) {
        let raw = body.to_string();
        let url = self.signed_url("POST", path, raw.as_bytes(), &[], now());
        self.send_post(&url, raw).await
    }

    pub async fn send_post(&self, url: &str, body: String) -> (u16, String) {
        let r = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn get(&self, path: &str, extra: &[(&str, &str)]) -> (u16, String) {
        let url = self.signed_url("GET", path, b"", extra, now());
        let r = self.client.get(url).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn get_json(&self, path: &str, extra: &[(&str, &str)]) -> Value {
        let (status, body) = self.get(path, extra).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    pub async fn trigger(&self, channels: &[&str], name: &str, data: &str) -> (u16, String) {
        self.post(
            "/apps/1/events",
            &serde_json::json!({"name": name, "channels": channels, "data": data}),
        )
        .await
    }
}

/// Polls `check` until it returns true or `wait` passes.
pub async fn eventually<F, Fut>(wait: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
