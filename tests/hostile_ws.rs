//! Hostile WebSocket clients: a capped number of subscriptions per connection, a capped rate
//! of frames of every kind, RFC close codes for frames that are not UTF-8 or too big, no
//! client events on encrypted channels, and presence `channel_data` read exactly.

mod common;

use std::time::Duration;

use common::{Client, KEY, SECRET, TestServer, test_config};
use herald_protocol::signature::{auth_string, channel_string_to_sign, presence_string_to_sign};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn subscriptions_beyond_the_cap_are_refused_and_the_connection_stays_usable() {
    let mut config = test_config();
    config.max_subscriptions_per_connection = 5;
    let server = TestServer::start(config).await;
    let (mut c, _) = server.connect_established().await;
    for i in 0..5 {
        let ack = c.subscribe(&format!("room-{i}")).await;
        assert_eq!(ack["event"], "pusher_internal:subscription_succeeded");
    }
    // The attack: many more subscriptions. Each is refused with a reason.
    for i in 5..50 {
        let error = c.subscribe(&format!("room-{i}")).await;
        assert_eq!(error["event"], "pusher:error", "{error}");
        let refused = c.recv().await;
        assert_eq!(refused["event"], "pusher:subscription_error", "{refused}");
        assert_eq!(refused["channel"], format!("room-{i}"));
        let data = &refused["data"];
        assert_eq!(data["status"], 429);
        assert!(
            data["error"]
                .as_str()
                .unwrap()
                .contains("maximum of 5 subscriptions"),
            "{data}"
        );
    }
    // Only the first five channels exist.
    let channels = server.http().get_json("/apps/1/channels", &[]).await;
    assert_eq!(channels["channels"].as_object().unwrap().len(), 5);
    // Still usable: events arrive, and a freed slot can be used.
    let (status, body) = server.http().trigger(&["room-0"], "e", "x").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(c.recv().await["event"], "e");
    c.send(json!({"event":"pusher:unsubscribe","data":{"channel":"room-0"}}))
        .await;
    let ack = c.subscribe("room-new").await;
    assert_eq!(ack["event"], "pusher_internal:subscription_succeeded");
    server.stop().await;
}

#[tokio::test]
async fn a_ping_flood_is_dropped_beyond_the_frame_rate() {
    let mut config = test_config();
    config.max_client_frames_per_second = 10;
    let server = TestServer::start(config).await;
    let (mut c, _) = server.connect_established().await;
    for _ in 0..300 {
        c.send(json!({"event":"pusher:ping","data":{}})).await;
    }
    let mut pongs = 0;
    let mut errors = Vec::new();
    while let Some(m) = c.next_message(Duration::from_millis(500)).await {
        let v: Value = serde_json::from_str(m.to_text().unwrap()).unwrap();
        match v["event"].as_str().unwrap() {
            "pusher:pong" => pongs += 1,
            "pusher:error" => errors.push(v),
            other => panic!("unexpected {other}"),
        }
    }
    // 300 pings got at most 10 pongs per elapsed second, and a reason, not 300 replies.
    assert!((10..300).contains(&pongs), "{pongs} pongs");
    assert!(!errors.is_empty());
    assert!(
        errors.len() < 10,
        "one error per second, got {}",
        errors.len()
    );
    assert_eq!(errors[0]["data"]["code"], 4301, "{}", errors[0]);
    // The connection survives and is served again in the next second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.send(json!({"event":"pusher:ping","data":{}})).await;
    assert_eq!(c.recv().await["event"], "pusher:pong");
    server.stop().await;
}

/// A WebSocket spoken by hand, so frames the libraries refuse to build can be sent.
struct RawSocket(TcpStream);

impl RawSocket {
    async fn connect(server: &TestServer) -> Self {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        let head = format!(
            "GET /app/{KEY}?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        while !buf.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            s.read_exact(&mut byte).await.unwrap();
            buf.push(byte[0]);
        }
        assert!(buf.starts_with(b"HTTP/1.1 101"));
        let mut raw = Self(s);
        let (opcode, payload) = raw.read_frame().await;
        assert_eq!(opcode, 1);
        assert!(String::from_utf8_lossy(&payload).contains("connection_established"));
        raw
    }

    /// Sends one masked frame announcing `payload.len()` bytes.
    async fn send_frame(&mut self, opcode: u8, payload: &[u8]) {
        let mask = [1u8, 2, 3, 4];
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        // The server may close before reading everything of an oversized frame.
        let _ = self.0.write_all(&frame).await;
    }

    async fn read_frame(&mut self) -> (u8, Vec<u8>) {
        let mut head = [0u8; 2];
        self.0.read_exact(&mut head).await.unwrap();
        let len = match head[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                self.0.read_exact(&mut b).await.unwrap();
                u16::from_be_bytes(b) as usize
            }
            127 => {
                let mut b = [0u8; 8];
                self.0.read_exact(&mut b).await.unwrap();
                u64::from_be_bytes(b) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0u8; len];
        self.0.read_exact(&mut payload).await.unwrap();
        (head[0] & 0x0f, payload)
    }

    /// Reads frames until the close frame; returns its code.
    async fn close_code(&mut self) -> u16 {
        let read = async {
            loop {
                let (opcode, payload) = self.read_frame().await;
                if opcode == 8 {
                    return u16::from_be_bytes([payload[0], payload[1]]);
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("the server closes the socket")
    }
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007_and_oversized_messages_with_1009() {
    let mut config = test_config();
    config.max_ws_message_bytes = 1024;
    let server = TestServer::start(config).await;

    let mut raw = RawSocket::connect(&server).await;
    raw.send_frame(1, b"{\"event\":\"pusher:ping\",\"data\":\"\xff\xfe\"}")
        .await;
    assert_eq!(raw.close_code().await, 1007);

    let mut raw = RawSocket::connect(&server).await;
    raw.send_frame(1, &vec![b'x'; 64 * 1024]).await;
    assert_eq!(raw.close_code().await, 1009);

    // Between the soft and the hard limit: a pusher:error, and the socket stays.
    let (mut c, _) = server.connect_established().await;
    c.send(json!({"event":"pusher:ping","data":"y".repeat(2000)}))
        .await;
    let error = c.recv().await;
    assert_eq!(error["event"], "pusher:error", "{error}");
    c.send(json!({"event":"pusher:ping","data":{}})).await;
    assert_eq!(c.recv().await["event"], "pusher:pong");
    server.stop().await;
}

async fn subscribe_private(c: &mut Client, socket_id: &str, channel: &str) -> Value {
    let auth = auth_string(KEY, SECRET, &channel_string_to_sign(socket_id, channel));
    c.send(json!({"event":"pusher:subscribe","data":{"auth":auth,"channel":channel}}))
        .await;
    c.recv().await
}

#[tokio::test]
async fn client_events_are_refused_on_encrypted_channels() {
    let mut config = test_config();
    config.apps[0].client_events = true;
    let server = TestServer::start(config).await;
    let (mut a, a_id) = server.connect_established().await;
    let (mut b, b_id) = server.connect_established().await;
    for (c, id) in [(&mut a, &a_id), (&mut b, &b_id)] {
        let ack = subscribe_private(c, id, "private-encrypted-x").await;
        assert_eq!(ack["event"], "pusher_internal:subscription_succeeded");
    }
    a.send(json!({"event":"client-typing","channel":"private-encrypted-x","data":{"ciphertext":"AAAA"}}))
        .await;
    let error = a.recv().await;
    assert_eq!(error["event"], "pusher:error", "{error}");
    assert!(
        error["data"]["message"]
            .as_str()
            .unwrap()
            .contains("private-encrypted"),
        "{error}"
    );
    b.expect_silence(Duration::from_millis(200)).await;

    // Still allowed on private channels.
    for (c, id) in [(&mut a, &a_id), (&mut b, &b_id)] {
        subscribe_private(c, id, "private-y").await;
    }
    a.send(json!({"event":"client-typing","channel":"private-y","data":{}}))
        .await;
    assert_eq!(b.recv().await["event"], "client-typing");
    server.stop().await;
}

async fn join_presence(c: &mut Client, socket_id: &str, channel_data: &str) -> Value {
    let channel = "presence-room";
    let auth = auth_string(
        KEY,
        SECRET,
        &presence_string_to_sign(socket_id, channel, channel_data),
    );
    c.send(json!({"event":"pusher:subscribe","data":{"auth":auth,"channel":channel,"channel_data":channel_data}}))
        .await;
    c.recv().await
}

#[tokio::test]
async fn presence_channel_data_must_be_an_object_and_big_ids_keep_every_digit() {
    let server = TestServer::default().await;
    let (mut c, id) = server.connect_established().await;
    let refused = join_presence(&mut c, &id, "[1,2]").await;
    assert_eq!(refused["event"], "pusher:error", "{refused}");
    assert!(
        refused["data"]["message"]
            .as_str()
            .unwrap()
            .contains("expected a JSON object"),
        "{refused}"
    );
    let refused = c.recv().await;
    assert_eq!(refused["event"], "pusher:subscription_error", "{refused}");

    let big = "123456789012345678901234567890";
    let ack = join_presence(&mut c, &id, &format!("{{\"user_id\":{big}}}")).await;
    assert_eq!(
        ack["event"], "pusher_internal:subscription_succeeded",
        "{ack}"
    );
    let data: Value = serde_json::from_str(ack["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["presence"]["ids"], json!([big]), "{data}");
    server.stop().await;
}

#[tokio::test]
async fn an_app_has_a_bounded_number_of_channels() {
    let mut config = test_config();
    config.apps[0].max_channels = 10;
    let server = TestServer::start(config).await;
    let mut clients = Vec::new();
    for i in 0..10 {
        let (mut c, _) = server.connect_established().await;
        let ack = c.subscribe(&format!("ch-{i}")).await;
        assert_eq!(ack["event"], "pusher_internal:subscription_succeeded");
        clients.push(c);
    }
    // A new channel is refused, from any connection; existing channels can still be joined.
    let (mut c, _) = server.connect_established().await;
    for i in 10..30 {
        let error = c.subscribe(&format!("ch-{i}")).await;
        assert_eq!(error["event"], "pusher:error", "{error}");
        let refused = c.recv().await;
        assert_eq!(refused["data"]["status"], 429, "{refused}");
        assert!(
            refused["data"]["error"]
                .as_str()
                .unwrap()
                .contains("maximum of 10 channels"),
            "{refused}"
        );
    }
    let ack = c.subscribe("ch-3").await;
    assert_eq!(ack["event"], "pusher_internal:subscription_succeeded");
    let channels = server.http().get_json("/apps/1/channels", &[]).await;
    assert_eq!(channels["channels"].as_object().unwrap().len(), 10);
    server.stop().await;
}
