//! Pusher WebSocket connections: connect (spreading source addresses when there are many),
//! wait for `pusher:connection_established`, subscribe, and classify incoming frames cheaply.
//!
//! Buffers are kept small (4 KiB read, eager writes) because a 128 KiB default read buffer
//! per connection would make 50k connections cost 6 GiB in the generator alone.

use std::fmt;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use herald_protocol::frame;
use serde::Deserialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::source::{self, SourcePool};
use crate::scan;
use crate::target::Target;

pub type WsStream = WebSocketStream<TcpStream>;

/// Above this many connections to an IPv4 loopback target, source addresses and ports are
/// chosen by the generator (see [`SourcePool`]) instead of the kernel.
pub const OWN_SOURCES_ABOVE: usize = 5_000;
/// Read buffer per connection. Server frames in these scenarios are well under 4 KiB; a
/// larger frame still works, the buffer just grows.
const READ_BUFFER: usize = 4096;

/// Why a connection did not get to `connection_established`.
#[derive(Debug)]
pub enum ConnectError {
    /// TCP connect (or bind of the source address) failed.
    Tcp(std::io::Error),
    /// The HTTP upgrade failed.
    Upgrade(String),
    /// The server sent `pusher:error` instead of the handshake.
    Refused(String),
    /// The socket closed, or sent something unexpected, before the handshake.
    Protocol(String),
}

impl ConnectError {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Tcp(_) => "tcp connect",
            Self::Upgrade(_) => "websocket upgrade",
            Self::Refused(_) => "pusher:error",
            Self::Protocol(_) => "handshake",
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(e) => write!(f, "TCP connect failed: {e}"),
            Self::Upgrade(e) => write!(f, "WebSocket upgrade failed: {e}"),
            Self::Refused(m) => write!(f, "server refused the connection: {m}"),
            Self::Protocol(m) => write!(f, "no connection_established: {m}"),
        }
    }
}

/// A connected, handshaken Pusher socket.
pub struct Connection {
    pub ws: WsStream,
    pub socket_id: String,
    /// From the start of the TCP connect to `connection_established`.
    pub handshake: Duration,
}

/// Opens Pusher connections to one target.
#[derive(Debug, Clone)]
pub struct Connector {
    endpoint: String,
    addr: SocketAddr,
    /// Source addresses and ports to bind; `None` lets the kernel choose.
    sources: Option<Arc<SourcePool>>,
    config: WebSocketConfig,
}

impl Connector {
    /// A connector for about `connections` simultaneous connections.
    pub fn new(target: &Target, connections: usize) -> Self {
        let addresses = match target.source_addresses {
            Some(n) => Some(usize::from(n)),
            None if connections > OWN_SOURCES_ABOVE => Some(SourcePool::addresses_for(connections)),
            None => None,
        };
        let sources = addresses
            .filter(|_| target.is_ipv4_loopback())
            .map(|n| Arc::new(SourcePool::new(n)));
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(0)
            .max_message_size(Some(1 << 20))
            .max_frame_size(Some(1 << 20));
        Self {
            endpoint: target.ws_endpoint.clone(),
            addr: target.ws_addr,
            sources,
            config,
        }
    }

    /// How many source addresses connections are spread over (0 when the kernel chooses).
    pub fn source_count(&self) -> usize {
        self.sources.as_ref().map_or(0, |p| p.addresses())
    }

    /// Connects and waits for the handshake.
    pub async fn connect(&self) -> Result<Connection, ConnectError> {
        let started = std::time::Instant::now();
        let stream = match &self.sources {
            None => {
                let socket = match self.addr {
                    SocketAddr::V4(_) => TcpSocket::new_v4(),
                    SocketAddr::V6(_) => TcpSocket::new_v6(),
                }
                .map_err(ConnectError::Tcp)?;
                socket.connect(self.addr).await.map_err(ConnectError::Tcp)?
            }
            Some(pool) => self.connect_from(pool).await?,
        };
        stream.set_nodelay(true).map_err(ConnectError::Tcp)?;
        let (mut ws, _response) = tokio_tungstenite::client_async_with_config(
            self.endpoint.as_str(),
            stream,
            Some(self.config),
        )
        .await
        .map_err(|e| ConnectError::Upgrade(e.to_string()))?;
        loop {
            let text = match ws.next().await {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(other)) => {
                    return Err(ConnectError::Protocol(format!(
                        "unexpected frame {other:?}"
                    )));
                }
                Some(Err(e)) => return Err(ConnectError::Protocol(e.to_string())),
                None => return Err(ConnectError::Protocol("closed".into())),
            };
            let parsed = ServerFrame::parse(&text)
                .ok_or_else(|| ConnectError::Protocol(format!("not a Pusher frame: {text}")))?;
            return match parsed.event.as_str() {
                "pusher:connection_established" => {
                    let socket_id = parsed
                        .data_json()
                        .and_then(|d| d.get("socket_id")?.as_str().map(str::to_owned))
                        .ok_or_else(|| ConnectError::Protocol(format!("no socket_id in {text}")))?;
                    Ok(Connection {
                        ws,
                        socket_id,
                        handshake: started.elapsed(),
                    })
                }
                "pusher:error" => Err(ConnectError::Refused(text.to_string())),
                _ => Err(ConnectError::Protocol(format!("first frame was {text}"))),
            };
        }
    }
}

impl Connector {
    /// Connects from the next free pair of the pool, skipping pairs still in use (by us, by
    /// a listener on 0.0.0.0, or in TIME_WAIT from an earlier run).
    async fn connect_from(&self, pool: &SourcePool) -> Result<TcpStream, ConnectError> {
        let mut last = None;
        for _ in 0..source::MAX_ATTEMPTS {
            let socket = TcpSocket::new_v4().map_err(ConnectError::Tcp)?;
            // Lets us bind a port whose old connections are in TIME_WAIT; connect then only
            // fails if the exact same four-tuple is still waiting.
            socket.set_reuseaddr(true).map_err(ConnectError::Tcp)?;
            if let Err(e) = socket.bind(pool.next()) {
                if e.kind() == ErrorKind::AddrInUse {
                    last = Some(e);
                    continue;
                }
                return Err(ConnectError::Tcp(e));
            }
            match socket.connect(self.addr).await {
                Ok(stream) => return Ok(stream),
                Err(e)
                    if matches!(e.kind(), ErrorKind::AddrInUse | ErrorKind::AddrNotAvailable) =>
                {
                    last = Some(e);
                }
                Err(e) => return Err(ConnectError::Tcp(e)),
            }
        }
        Err(ConnectError::Tcp(last.unwrap_or_else(|| {
            std::io::Error::other("no free source address and port")
        })))
    }
}

/// A server frame, parsed only where it is not the hot path (handshake, subscription
/// replies, presence events).
#[derive(Debug, Deserialize)]
pub struct ServerFrame {
    pub event: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

impl ServerFrame {
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// `data` as JSON, decoding the protocol's double encoding (a JSON string of JSON).
    pub fn data_json(&self) -> Option<serde_json::Value> {
        match self.data.as_ref()? {
            serde_json::Value::String(s) => serde_json::from_str(s).ok(),
            other => Some(other.clone()),
        }
    }
}

/// What an incoming frame is, as far as a subscriber cares; decided without parsing JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming {
    /// A benchmark event carrying its send time (µs on the run's clock).
    Delivery(u64),
    /// `pusher:ping`: must be answered with `pusher:pong` or the server drops us.
    Ping,
    Other,
}

pub fn classify(frame: &[u8]) -> Incoming {
    if let Some(sent) = scan::sent_micros(frame) {
        Incoming::Delivery(sent)
    } else if memchr::memmem::find(frame, b"\"pusher:ping\"").is_some() {
        Incoming::Ping
    } else {
        Incoming::Other
    }
}

/// Sends one text frame.
pub async fn send_text(ws: &mut WsStream, text: String) -> Result<(), String> {
    ws.send(Message::text(text))
        .await
        .map_err(|e| e.to_string())
}

/// Answers a server `pusher:ping`.
pub async fn send_pong(ws: &mut WsStream) -> Result<(), String> {
    send_text(ws, frame::pong()).await
}

/// Subscribes and waits up to `timeout` for `pusher_internal:subscription_succeeded` on
/// `channel`, answering pings meanwhile. Returns the success frame's `data`, decoded.
pub async fn subscribe(
    ws: &mut WsStream,
    channel: &str,
    auth: Option<&str>,
    channel_data: Option<&str>,
    timeout: Duration,
) -> Result<Option<serde_json::Value>, String> {
    send_text(ws, frame::subscribe(channel, auth, channel_data)).await?;
    let wait = async {
        loop {
            let text = match ws.next().await {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Close(c))) => return Err(format!("closed: {c:?}")),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("closed".to_owned()),
            };
            if classify(text.as_bytes()) == Incoming::Ping {
                send_pong(ws).await?;
                continue;
            }
            let Some(f) = ServerFrame::parse(&text) else {
                continue;
            };
            match f.event.as_str() {
                "pusher_internal:subscription_succeeded"
                    if f.channel.as_deref() == Some(channel) =>
                {
                    return Ok(f.data_json());
                }
                "pusher:error" | "pusher:subscription_error" => return Err(text.to_string()),
                // Presence events of other members may arrive first; they are not ours.
                _ => continue,
            }
        }
    };
    tokio::time::timeout(timeout, wait)
        .await
        .map_err(|_| format!("no subscription_succeeded within {timeout:?}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_frames_without_parsing() {
        assert_eq!(
            classify(br#"{"event":"e","channel":"c","data":"{\"bench_sent_us\":5}"}"#),
            Incoming::Delivery(5)
        );
        assert_eq!(
            classify(br#"{"event":"pusher:ping","data":{}}"#),
            Incoming::Ping
        );
        assert_eq!(
            classify(br#"{"event":"pusher:pong","data":{}}"#),
            Incoming::Other
        );
    }

    #[test]
    fn server_frames_decode_double_encoded_data() {
        let f = ServerFrame::parse(
            r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"1.2\",\"activity_timeout\":120}"}"#,
        )
        .unwrap();
        assert_eq!(f.data_json().unwrap()["socket_id"], "1.2");
        let e =
            ServerFrame::parse(r#"{"event":"pusher:error","data":{"code":4001,"message":"x"}}"#)
                .unwrap();
        assert_eq!(e.data_json().unwrap()["code"], 4001);
    }

    #[tokio::test]
    async fn many_connections_spread_over_loopback_sources() {
        let args = crate::args::TargetArgs {
            url: "http://127.0.0.1:6001".into(),
            ws_url: None,
            app_id: "1".into(),
            key: "k".into(),
            secret: "s".into(),
            allow_remote: false,
            source_addresses: None,
            server_pid: None,
        };
        let target = Target::resolve(&args).await.unwrap();
        assert_eq!(Connector::new(&target, 1000).source_count(), 0);
        assert_eq!(Connector::new(&target, 50_000).source_count(), 4);
        let forced = Target {
            source_addresses: Some(3),
            ..target
        };
        assert_eq!(Connector::new(&forced, 10).source_count(), 3);
    }
}
