//! The server under test: its HTTP and WebSocket endpoints, resolved once, and the
//! loopback-only guard.
//!
//! Load tests must only ever hit servers the user runs. Unless `--allow-remote` is given,
//! every address the target names must be a loopback address.

use std::net::{IpAddr, SocketAddr};

use anyhow::{Context as _, bail};
use reqwest::Url;

use crate::args::TargetArgs;

/// The client name and version sent in the WebSocket URL, like pusher-js sends `client=js`.
const CLIENT_QUERY: &str = concat!(
    "protocol=7&client=herald-bench&version=",
    env!("CARGO_PKG_VERSION"),
    "&flash=false"
);

#[derive(Debug, Clone)]
pub struct Target {
    /// `http://host:port` without a trailing slash.
    pub http_base: String,
    /// Full WebSocket URL: `ws://host:port/app/{key}?protocol=7&…`.
    pub ws_endpoint: String,
    /// Where the WebSocket endpoint listens, resolved once so that 50k connects do not
    /// resolve 50k times.
    pub ws_addr: SocketAddr,
    pub app_id: String,
    pub key: String,
    pub secret: String,
    /// `--source-addresses`, if given.
    pub source_addresses: Option<u8>,
    /// `--server-pid`, if given.
    pub server_pid: Option<u32>,
}

impl Target {
    /// Parses and resolves the target, refusing non-loopback addresses unless allowed.
    pub async fn resolve(args: &TargetArgs) -> anyhow::Result<Self> {
        let http =
            Url::parse(&args.url).with_context(|| format!("Invalid --url '{}'", args.url))?;
        if http.scheme() != "http" {
            bail!(
                "Invalid --url '{}': only http:// is supported (herald-bench measures the server, not TLS)",
                args.url
            );
        }
        let ws_base = match &args.ws_url {
            Some(w) => Url::parse(w).with_context(|| format!("Invalid --ws-url '{w}'"))?,
            None => {
                let mut u = http.clone();
                u.set_scheme("ws")
                    .expect("http → ws is a valid scheme change");
                u
            }
        };
        if ws_base.scheme() != "ws" {
            bail!("Invalid --ws-url '{ws_base}': only ws:// is supported");
        }

        let http_addrs = resolve_url(&http).await?;
        let ws_addrs = resolve_url(&ws_base).await?;
        if !args.allow_remote {
            for addr in http_addrs.iter().chain(&ws_addrs) {
                if !addr.ip().is_loopback() {
                    bail!(
                        "Refusing to load {addr}: not a loopback address. Pass --allow-remote to \
                         load a server you run elsewhere."
                    );
                }
            }
        }

        let http_base = http.as_str().trim_end_matches('/').to_owned();
        let ws_path = ws_base.path().trim_end_matches('/');
        let ws_endpoint = format!(
            "ws://{}{}/app/{}?{}",
            host_port(&ws_base)?,
            ws_path,
            args.key,
            CLIENT_QUERY
        );
        Ok(Self {
            http_base,
            ws_endpoint,
            ws_addr: ws_addrs[0],
            app_id: args.app_id.clone(),
            key: args.key.clone(),
            secret: args.secret.clone(),
            source_addresses: args.source_addresses,
            server_pid: args.server_pid,
        })
    }

    /// Path of the trigger endpoint (what the signature covers).
    pub fn events_path(&self) -> String {
        format!("/apps/{}/events", self.app_id)
    }

    /// Whether the WebSocket endpoint is IPv4 loopback, where any 127.0.0.0/8 source works.
    pub fn is_ipv4_loopback(&self) -> bool {
        matches!(self.ws_addr.ip(), IpAddr::V4(v4) if v4.is_loopback())
    }
}

fn host_port(url: &Url) -> anyhow::Result<String> {
    let host = url
        .host_str()
        .with_context(|| format!("'{url}' has no host"))?;
    let port = url
        .port_or_known_default()
        .with_context(|| format!("'{url}' has no port"))?;
    Ok(format!("{host}:{port}"))
}

async fn resolve_url(url: &Url) -> anyhow::Result<Vec<SocketAddr>> {
    let hp = host_port(url)?;
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(&hp)
        .await
        .with_context(|| format!("cannot resolve {hp}"))?
        .collect();
    if addrs.is_empty() {
        bail!("{hp} resolves to no address");
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: &str, ws: Option<&str>, allow_remote: bool) -> TargetArgs {
        TargetArgs {
            url: url.into(),
            ws_url: ws.map(Into::into),
            app_id: "1".into(),
            key: "app-key".into(),
            secret: "app-secret".into(),
            allow_remote,
            source_addresses: None,
            server_pid: None,
        }
    }

    #[tokio::test]
    async fn ws_endpoint_is_derived_from_the_http_url() {
        let t = Target::resolve(&args("http://127.0.0.1:6001/", None, false))
            .await
            .unwrap();
        assert_eq!(t.http_base, "http://127.0.0.1:6001");
        assert!(
            t.ws_endpoint
                .starts_with("ws://127.0.0.1:6001/app/app-key?protocol=7&client=herald-bench"),
            "{}",
            t.ws_endpoint
        );
        assert_eq!(t.events_path(), "/apps/1/events");
        assert!(t.is_ipv4_loopback());
    }

    #[tokio::test]
    async fn ws_override_keeps_its_path_prefix() {
        let t = Target::resolve(&args(
            "http://localhost:6001",
            Some("ws://127.0.0.1:7001/pusher"),
            false,
        ))
        .await
        .unwrap();
        assert!(
            t.ws_endpoint
                .starts_with("ws://127.0.0.1:7001/pusher/app/app-key?")
        );
    }

    #[tokio::test]
    async fn remote_targets_need_explicit_permission() {
        let err = Target::resolve(&args("http://10.1.2.3:6001", None, false))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("--allow-remote"), "{err}");
        let err = Target::resolve(&args(
            "http://127.0.0.1:6001",
            Some("ws://192.168.1.1:1"),
            false,
        ))
        .await
        .unwrap_err();
        assert!(err.to_string().contains("not a loopback"), "{err}");
        assert!(
            Target::resolve(&args("https://127.0.0.1:6001", None, false))
                .await
                .is_err()
        );
    }
}
