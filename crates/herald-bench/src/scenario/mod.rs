//! The scenarios, one module each, and what they share: paced connection setup with a cap on
//! handshakes in flight, waiting for conditions, and stopping every connection task.

pub mod connections;
pub mod fanout;
pub mod presence;
pub mod triggers;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::args::{BenchArgs, Scenario};
use crate::client::ws::{Connection, Connector, WsStream};
use crate::pacing::Pacer;
use crate::report::{Report, Section, Value};
use crate::target::Target;

/// Handshakes in flight at once. Above the server's accept backlog, extra SYNs would be
/// dropped and retried after a second, which measures the kernel rather than the server.
const MAX_PENDING_HANDSHAKES: usize = 512;
/// How long stopped connection tasks get to send their close frames.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the chosen scenario against `target`.
pub async fn run(args: &BenchArgs, target: &Target) -> anyhow::Result<Report> {
    let progress = !args.output.quiet;
    let mut report = match &args.scenario {
        Scenario::Fanout(a) => fanout::run(a, target, progress).await?,
        Scenario::Connections(a) => connections::run(a, target, progress).await?,
        Scenario::Triggers(a) => triggers::run(a, target, progress).await?,
        Scenario::Presence(a) => presence::run(a, target, progress).await?,
    };
    report.target = target_section(target);
    Ok(report)
}

fn target_section(target: &Target) -> Section {
    let mut s = Section::default();
    s.push("http", "HTTP API", Value::Text(target.http_base.clone()));
    s.push(
        "websocket",
        "WebSocket",
        Value::Text(target.ws_endpoint.clone()),
    );
    s.push("app_id", "app id", Value::Text(target.app_id.clone()));
    s
}

/// Connects with at most [`MAX_PENDING_HANDSHAKES`] handshakes in flight and a timeout.
pub(crate) async fn connect_limited(
    connector: &Connector,
    pending: &Semaphore,
    timeout: Duration,
) -> Result<Connection, (&'static str, String)> {
    let _permit = pending
        .acquire()
        .await
        .map_err(|_| ("internal", "semaphore closed".to_owned()))?;
    match tokio::time::timeout(timeout, connector.connect()).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err((e.kind(), e.to_string())),
        Err(_) => Err((
            "timeout",
            format!("no connection_established within {timeout:?}"),
        )),
    }
}

/// A semaphore for [`connect_limited`].
pub(crate) fn handshake_limit() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES))
}

/// Spawns `task(i)` for `i in 0..count` at `rate` per second.
pub(crate) async fn spawn_paced<F, Fut>(tasks: &mut JoinSet<()>, count: usize, rate: f64, task: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut pacer = Pacer::new(rate);
    for _ in 0..count {
        let i = pacer.tick().await as usize;
        tasks.spawn(task(i));
    }
}

/// Polls `done` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub(crate) async fn wait_until(timeout: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Tells every task to stop, gives them [`SHUTDOWN_GRACE`] to close their sockets, then
/// aborts the rest.
pub(crate) async fn stop_all(stop: &CancellationToken, mut tasks: JoinSet<()>) {
    stop.cancel();
    let joined = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if joined.is_err() {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

/// Sends a close frame, without waiting long for it to go out.
pub(crate) async fn close_quietly(mut ws: WsStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
}

/// How long setup may take for `count` connections at `rate`, before giving up on stragglers.
pub(crate) fn setup_timeout(count: usize, rate: f64, per_connection: Duration) -> Duration {
    Duration::from_secs_f64(count as f64 / rate) + per_connection * 2 + Duration::from_secs(5)
}
