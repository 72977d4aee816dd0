//! Hostile TCP clients: sockets that never send a request (or trickle one in) are closed
//! after the header timeout while normal clients are served, and running out of file
//! descriptors makes herald back off and recover instead of stopping — with its soft limit
//! raised to the hard one at startup.

mod common;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestServer, test_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Waits (bounded) for the peer to close `stream`; true when it did.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    match tokio::time::timeout(within, stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) => closed_by_server_after_data(stream, within).await,
        Err(_) => false,
    }
}

async fn closed_by_server_after_data(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn idle_and_trickling_sockets_are_closed_while_normal_clients_are_served() {
    let mut config = test_config();
    config.http_header_timeout = Duration::from_secs(1);
    let server = TestServer::start(config).await;

    let mut silent = Vec::new();
    for _ in 0..50 {
        silent.push(TcpStream::connect(server.addr).await.unwrap());
    }
    let mut trickling = Vec::new();
    for _ in 0..10 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        trickling.push(s);
    }
    // A keep-alive client that made one request and then went quiet.
    let mut keep_alive = TcpStream::connect(server.addr).await.unwrap();
    keep_alive
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 512];
    let n = keep_alive.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));

    // Meanwhile normal clients are served: an API call and a WebSocket that stays open well
    // past the header timeout (the timeout ends with the upgrade).
    let (mut ws, _) = server.connect_established().await;
    let (status, body) = server.http().trigger(&["c"], "e", "x").await;
    assert_eq!(status, 200, "{body}");

    for (i, s) in silent.iter_mut().enumerate() {
        assert!(
            closed_by_server(s, Duration::from_secs(5)).await,
            "silent socket {i} still open"
        );
    }
    for (i, s) in trickling.iter_mut().enumerate() {
        // Another header line, too late to save it.
        let _ = s.write_all(b"X-Slow: 1\r\n").await;
        assert!(
            closed_by_server(s, Duration::from_secs(5)).await,
            "trickling socket {i} still open"
        );
    }
    assert!(closed_by_server(&mut keep_alive, Duration::from_secs(5)).await);

    ws.send(serde_json::json!({"event": "pusher:ping", "data": {}}))
        .await;
    let pong = ws.recv().await;
    assert_eq!(pong["event"], "pusher:pong", "{pong}");
    server.stop().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The release of the child even when an assertion fails.
struct Herald(Child);

impl Drop for Herald {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary under `prlimit --nofile=SOFT:HARD` (util-linux).
fn herald_with_nofile(soft: u64, hard: u64, port: u16) -> Herald {
    let child = Command::new("prlimit")
        .arg(format!("--nofile={soft}:{hard}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_herald"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HERALD_HOST", "127.0.0.1")
        .env("HERALD_PORT", port.to_string())
        .env("HERALD_AUDIT_MODE", "off")
        .env("HERALD_HTTP_HEADER_TIMEOUT", "30")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let herald = Herald(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(port, "/").is_err() {
        assert!(Instant::now() < deadline, "herald did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    herald
}

/// One GET on a fresh connection.
fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// One GET on an existing keep-alive connection; returns the response (headers and body).
fn get_on(s: &mut std::net::TcpStream, path: &str) -> String {
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = vec![0u8; 4096];
    let mut out = String::new();
    // /ready answers are small JSON bodies: read until the closing brace.
    while !out.ends_with('}') {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed: {out}");
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    out
}

#[test]
fn soft_open_file_limit_is_raised_to_the_hard_limit() {
    let port = free_port();
    let herald = herald_with_nofile(256, 4096, port);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", herald.0.id())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers, ["4096", "4096"], "{line}");
}

#[test]
fn descriptor_exhaustion_backs_off_keeps_serving_and_recovers() {
    let port = free_port();
    // Soft = hard, so herald cannot raise it: about 50 sockets fill the table.
    let _herald = herald_with_nofile(64, 64, port);
    let mut existing = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    existing
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(get_on(&mut existing, "/ready").contains("\"ready\":true"));

    // The kernel completes these handshakes into the backlog; herald accepts until it is
    // out of descriptors.
    let flood: Vec<_> = (0..100)
        .filter_map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    assert!(flood.len() > 64, "only {} connections", flood.len());

    // The existing connection is still served, and /ready says why new ones wait.
    let deadline = Instant::now() + Duration::from_secs(10);
    let reason = loop {
        let answer = get_on(&mut existing, "/ready");
        if answer.starts_with("HTTP/1.1 503") {
            break answer;
        }
        assert!(Instant::now() < deadline, "never reported: {answer}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(reason.contains("cannot accept new connections"), "{reason}");
    // A new connection is not served meanwhile.
    assert!(get(port, "/").is_err());

    // The flood leaves; herald accepts again without a restart.
    drop(flood);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if get(port, "/ready").is_ok_and(|a| a.contains("\"ready\":true")) {
            break;
        }
        assert!(Instant::now() < deadline, "herald did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(get_on(&mut existing, "/ready").contains("\"ready\":true"));
}
