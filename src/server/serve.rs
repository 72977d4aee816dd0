//! The HTTP accept loop, written out instead of `axum::serve` for three protections it does
//! not offer: hyper's header-read timer (a socket that never sends a complete request head —
//! at connect or idle in keep-alive — is closed), a backoff when `accept` runs out of file
//! descriptors (existing connections keep being served, `/ready` says why new ones wait), and
//! a count of both in `/metrics`. Shutdown stops accepting and lets every connection finish
//! its request (hyper's graceful shutdown).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::limits::{self, Limit};
use crate::state::AppState;

/// First and longest wait before retrying `accept` after descriptor exhaustion. Short enough
/// to pick up again soon after connections close; long enough not to spin on a full table.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Accepts and serves connections until `stop` is cancelled, then waits for the connections'
/// in-flight requests (the caller bounds that wait with the grace period).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    state: AppState,
    stop: CancellationToken,
) {
    let connections = TaskTracker::new();
    let header_timeout = state.config.http_header_timeout;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = FIRST_BACKOFF;
                if state.guards.descriptors.recovered() {
                    tracing::info!(
                        message = "Accepting connections again: file descriptors available."
                    );
                }
                connections.spawn(serve_connection(
                    stream,
                    peer,
                    router.clone(),
                    header_timeout,
                    stop.clone(),
                ));
            }
            Err(error) if is_resource_exhaustion(&error) => {
                limits::refused(Limit::FileDescriptors);
                if state.guards.descriptors.exhausted(&error) {
                    tracing::error!(
                        message = "Cannot accept connections: out of file descriptors. Serving open connections; retrying with backoff. Raise the hard RLIMIT_NOFILE (LimitNOFILE= in systemd, ulimit -n) or lower the per-IP and per-app connection limits.",
                        %error,
                    );
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            // The peer gave up before we accepted (ECONNABORTED and the like): nothing to do.
            Err(error) => tracing::debug!(message = "Accept failed.", %error),
        }
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// `EMFILE`/`ENFILE` (descriptor tables full) and `ENOBUFS`/`ENOMEM`: retrying at once
/// would spin, so the loop backs off.
fn is_resource_exhaustion(error: &io::Error) -> bool {
    use rustix::io::Errno;
    Errno::from_io_error(error)
        .is_some_and(|e| [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM].contains(&e))
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    header_timeout: Duration,
    stop: CancellationToken,
) {
    let service = router.map_request(move |mut request: axum::http::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The header timer starts when hyper waits for a request head: at connect and after each
    // response, so it also ends idle keep-alive connections.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connection = builder
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        if error.is_timeout() {
            limits::refused(Limit::HeaderTimeout);
        }
        tracing::debug!(message = "HTTP connection ended with an error.", %peer, %error);
    }
}
