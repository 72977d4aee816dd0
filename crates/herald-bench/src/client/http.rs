//! Signed `POST /apps/{id}/events` requests over a keep-alive connection pool.
//!
//! Requests are signed exactly like the official libraries sign them (via
//! `herald_protocol::request_signature::sign_query`), with a fresh `auth_timestamp` each, so
//! long runs never drift out of the server's 600 s window.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use herald_protocol::request_signature::sign_query;

use crate::target::Target;

/// A request that did not get a 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerError {
    /// The server answered with this status and body.
    Status(u16, String),
    /// No answer: connection refused or reset, timeout, …
    Transport(String),
}

impl TriggerError {
    /// A short kind for grouping failures (`http 401`, `transport`).
    pub fn kind(&self) -> String {
        match self {
            Self::Status(code, _) => format!("http {code}"),
            Self::Transport(_) => "transport".to_owned(),
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::Status(code, body) => {
                format!("{code}: {}", body.chars().take(300).collect::<String>())
            }
            Self::Transport(e) => e.clone(),
        }
    }
}

/// Sends signed trigger requests to one app.
#[derive(Debug, Clone)]
pub struct TriggerClient {
    http: reqwest::Client,
    base: String,
    path: String,
    key: String,
    secret: String,
}

impl TriggerClient {
    /// A client whose pool keeps up to `pool_size` idle connections, one per concurrent
    /// request, so steady-state load opens no new connections.
    pub fn new(target: &Target, pool_size: usize) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(pool_size)
            .tcp_nodelay(true)
            // A proxy from the environment must never sit between us and a loopback server.
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            base: target.http_base.clone(),
            path: target.events_path(),
            key: target.key.clone(),
            secret: target.secret.clone(),
        })
    }

    /// Sends one trigger with `body` (a JSON trigger body) and waits for the answer.
    pub async fn trigger(&self, body: Vec<u8>) -> Result<(), TriggerError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let query = sign_query("POST", &self.path, &self.key, &self.secret, now, &body, &[]);
        let url = format!("{}{}?{}", self.base, self.path, query);
        let response = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header(
                "x-pusher-library",
                concat!("herald-bench ", env!("CARGO_PKG_VERSION")),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| TriggerError::Transport(error_chain(&e)))?;
        let status = response.status();
        // Reading the body to the end is what lets the connection go back to the pool.
        let text = response
            .text()
            .await
            .map_err(|e| TriggerError::Transport(error_chain(&e)))?;
        if status.is_success() {
            Ok(())
        } else {
            Err(TriggerError::Status(status.as_u16(), text))
        }
    }
}

/// reqwest's top-level message is often just "error sending request"; the cause says why.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
