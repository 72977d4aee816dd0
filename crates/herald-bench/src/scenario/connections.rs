//! Connections: open N idle connections at a fixed rate, measure handshake latency (TCP
//! connect to `pusher:connection_established`) and, given the server's PID, its resident
//! memory per connection.
//!
//! RSS is read before the first connection and again a third of the way into the hold, once
//! the server has settled; the difference divided by the established connections is the
//! per-connection cost (including whatever the allocator keeps for them).

use std::sync::Arc;

use futures_util::StreamExt as _;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::{
    close_quietly, connect_limited, handshake_limit, setup_timeout, spawn_paced, stop_all,
    wait_until,
};
use crate::args::ConnectionsArgs;
use crate::client::ws::{self, Connector, Incoming, WsStream};
use crate::progress;
use crate::report::{Report, Value};
use crate::stats::{Counter, Failures, RateMeter, Recorder, per_second};
use crate::sysinfo::rss_bytes;
use crate::target::Target;

struct Shared {
    handshakes: Recorder,
    failures: Failures,
    /// Established connections that closed before the end of the run.
    dropped: Counter,
    pings: Counter,
}

pub async fn run(
    a: &ConnectionsArgs,
    target: &Target,
    show_progress: bool,
) -> anyhow::Result<Report> {
    let shared = Arc::new(Shared {
        handshakes: Recorder::new(),
        failures: Failures::default(),
        dropped: Counter::default(),
        pings: Counter::default(),
    });
    let connector = Arc::new(Connector::new(target, a.connections));
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let read_rss = |pid: u32| {
        rss_bytes(pid).map_err(|e| anyhow::anyhow!("reading RSS of --server-pid {pid}: {e}"))
    };
    let rss_before = target.server_pid.map(read_rss).transpose()?;

    let started = Instant::now();
    let bar = {
        let shared = shared.clone();
        let n = a.connections;
        let mut meter = RateMeter::default();
        progress::spawn(show_progress, stop.child_token(), move |dt| {
            let done = shared.handshakes.count();
            format!(
                "connected {done}/{n} ({:.0}/s), failed {}, dropped {}",
                meter.rate(done, dt),
                shared.failures.total(),
                shared.dropped.get()
            )
        })
    };
    let pending = handshake_limit();
    spawn_paced(&mut tasks, a.connections, a.rate, |i| {
        idle_connection(
            i,
            connector.clone(),
            pending.clone(),
            shared.clone(),
            stop.clone(),
            a.handshake_timeout,
        )
    })
    .await;
    let n = a.connections as u64;
    wait_until(
        setup_timeout(a.connections, a.rate, a.handshake_timeout),
        || shared.handshakes.count() + shared.failures.total() >= n,
    )
    .await;
    let connect_time = started.elapsed();
    let established = shared.handshakes.count();

    tokio::time::sleep(a.hold / 3).await;
    let rss_after = target.server_pid.map(read_rss).transpose()?;
    tokio::time::sleep(a.hold - a.hold / 3).await;
    let dropped = shared.dropped.get();
    let pings = shared.pings.get();
    bar.abort();
    stop_all(&stop, tasks).await;

    let mut r = Report::new("connections");
    let p = &mut r.parameters;
    p.push("connections", "connections", Value::Count(n));
    p.push("rate", "target connects/s", Value::Rate(a.rate));
    p.push("hold_s", "hold", Value::Secs(a.hold.as_secs_f64()));
    p.push(
        "source_addresses",
        "own source addresses (0: kernel)",
        Value::Count(connector.source_count() as u64),
    );

    let s = &mut r.results;
    s.push("established", "established", Value::Count(established));
    s.push("failed", "failed", Value::Count(shared.failures.total()));
    s.push("dropped", "dropped while idle", Value::Count(dropped));
    s.push(
        "open_at_end",
        "still open at end",
        Value::Count(established.saturating_sub(dropped)),
    );
    s.push(
        "connect_s",
        "time to connect all",
        Value::Secs(connect_time.as_secs_f64()),
    );
    s.push(
        "connects_per_s",
        "connects/s",
        Value::Rate(per_second(established, connect_time)),
    );
    s.push("server_pings", "server pings answered", Value::Count(pings));
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        s.push(
            "server_rss_before_bytes",
            "server RSS before",
            Value::Bytes(before),
        );
        s.push(
            "server_rss_after_bytes",
            "server RSS with connections",
            Value::Bytes(after),
        );
        if let Some(per) = after.saturating_sub(before).checked_div(established) {
            s.push(
                "server_rss_per_connection_bytes",
                "server RSS per connection",
                Value::Bytes(per),
            );
        }
    }
    r.latency("handshake", "handshake", shared.handshakes.summary());
    r.warnings.extend(shared.failures.warnings("connections"));
    if target.server_pid.is_none() {
        r.warnings
            .push("no --server-pid given: server memory per connection not measured".into());
    }
    Ok(r)
}

/// Connects, records the handshake latency, then idles (answering pings) until stopped.
async fn idle_connection(
    index: usize,
    connector: Arc<Connector>,
    pending: Arc<Semaphore>,
    shared: Arc<Shared>,
    stop: CancellationToken,
    timeout: std::time::Duration,
) {
    let conn = match connect_limited(&connector, &pending, timeout).await {
        Ok(c) => c,
        Err((kind, msg)) => return shared.failures.record(kind, || msg),
    };
    // Measured inside the connector, so time spent waiting for a handshake slot (our own
    // queue) is not counted as the server's.
    let handshake_us = u64::try_from(conn.handshake.as_micros()).unwrap_or(u64::MAX);
    shared.handshakes.record(index, handshake_us);
    idle(conn.ws, &shared, &stop).await;
}

async fn idle(mut ws: WsStream, shared: &Shared, stop: &CancellationToken) {
    loop {
        let msg = tokio::select! {
            biased;
            _ = stop.cancelled() => return close_quietly(ws).await,
            msg = ws.next() => msg,
        };
        match msg {
            Some(Ok(Message::Text(t))) if ws::classify(t.as_bytes()) == Incoming::Ping => {
                shared.pings.incr();
                if ws::send_pong(&mut ws).await.is_err() {
                    break;
                }
            }
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
            Some(Ok(_)) => {}
        }
    }
    if !stop.is_cancelled() {
        shared.dropped.incr();
    }
}
