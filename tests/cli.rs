//! The `herald` binary as an operator runs it: refusing bad configuration before binding,
//! warning about default credentials, serving, and exiting on SIGTERM.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn herald() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_herald"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HERALD_HOST", "127.0.0.1")
        .env("HERALD_AUDIT_MODE", "off");
    c
}

#[test]
fn invalid_configuration_is_refused_before_binding() {
    let port = free_port();
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("HERALD_PORT", "sixty")], "port (HERALD_PORT)"),
        (&[("HERALD_ACTIVITY_TIMEOUT", "0")], "activity_timeout"),
        (&[("HERALD_REDIS_URL", "localhost")], "HERALD_REDIS_URL"),
        (
            &[("HERALD_CONFIG", "/definitely/missing.toml")],
            "cannot read config file",
        ),
    ];
    for (env, expected) in cases {
        let out = herald()
            .env("HERALD_PORT", port.to_string())
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{env:?} must be refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("Invalid configuration"), "{stderr}");
        assert!(stderr.contains(expected), "{stderr} should name {expected}");
    }
    // Nothing was bound.
    assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
}

#[test]
fn default_secret_is_refused_beyond_loopback() {
    let port = free_port();
    let out = herald()
        .env("HERALD_HOST", "0.0.0.0")
        .env("HERALD_PORT", port.to_string())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "Invalid configuration: host (HERALD_HOST): refusing to listen on 0.0.0.0 with the default app secret"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("HERALD_APP_SECRET"), "{stderr}");
    // Nothing was bound, on any interface.
    assert!(TcpListener::bind(("0.0.0.0", port)).is_ok());
}

#[test]
fn serves_with_defaults_warns_and_stops_on_sigterm() {
    let port = free_port();
    let metrics = free_port();
    // No HERALD_HOST: the zero-config command listens on loopback.
    let mut child = herald()
        .env_remove("HERALD_HOST")
        .env("HERALD_PORT", port.to_string())
        .env("HERALD_METRICS_PORT", metrics.to_string())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        if let Ok(body) = http_get(port, "/ready") {
            break body;
        }
        assert!(Instant::now() < deadline, "server did not become ready");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(body.contains("\"ready\":true"), "{body}");
    let m = http_get(metrics, "/metrics").unwrap();
    assert!(m.contains("herald_connections 0"), "{m}");
    assert!(
        m.contains("# TYPE herald_frames_delivered_total counter"),
        "{m}"
    );

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "herald did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    let mut stderr = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("USING THE DEFAULT APP CREDENTIALS"),
        "{stderr}"
    );
    assert!(stderr.contains("Shutdown complete"), "{stderr}");
}

/// A minimal HTTP/1.0 GET, so this test needs no client library.
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}
