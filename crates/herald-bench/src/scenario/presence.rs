//! Presence churn: clients connect once, then repeatedly join a presence channel (signing
//! the auth themselves with the app secret, as an app's auth endpoint would), stay for
//! `--hold`, leave, pause, and join again, for `--duration`.
//!
//! Measures joins/s, join latency (subscribe to `subscription_succeeded`), and counts the
//! `member_added` / `member_removed` events the other members saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use herald_protocol::frame;
use herald_protocol::signature::{auth_string, presence_string_to_sign};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::{
    close_quietly, connect_limited, handshake_limit, setup_timeout, spawn_paced, stop_all,
    wait_until,
};
use crate::args::PresenceArgs;
use crate::client::ws::{self, Connector, Incoming, WsStream};
use crate::progress;
use crate::report::{Report, Value};
use crate::stats::{Clock, Counter, Failures, RateMeter, Recorder, per_second};
use crate::target::Target;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

struct Shared {
    clock: Clock,
    key: String,
    secret: String,
    connected: Counter,
    connect_failures: Failures,
    joins: Recorder,
    join_failures: Failures,
    leaves: Counter,
    members_added: Counter,
    members_removed: Counter,
    /// Largest member count a `subscription_succeeded` reported.
    largest_channel: AtomicU64,
    disconnects: Counter,
}

/// Per-client settings.
#[derive(Clone, Copy)]
struct Churn {
    channels: usize,
    hold: Duration,
    pause: Duration,
}

pub async fn run(a: &PresenceArgs, target: &Target, show_progress: bool) -> anyhow::Result<Report> {
    let channels = a.clients.div_ceil(a.members_per_channel);
    let shared = Arc::new(Shared {
        clock: Clock::start(),
        key: target.key.clone(),
        secret: target.secret.clone(),
        connected: Counter::default(),
        connect_failures: Failures::default(),
        joins: Recorder::new(),
        join_failures: Failures::default(),
        leaves: Counter::default(),
        members_added: Counter::default(),
        members_removed: Counter::default(),
        largest_channel: AtomicU64::new(0),
        disconnects: Counter::default(),
    });
    let churn = Churn {
        channels,
        hold: a.hold,
        pause: a.pause,
    };
    let connector = Arc::new(Connector::new(target, a.clients));
    let stop = CancellationToken::new();
    // Cancelled when every client is connected: the churn starts together.
    let go = CancellationToken::new();
    let mut tasks = JoinSet::new();

    let setup_start = Instant::now();
    let pending = handshake_limit();
    spawn_paced(&mut tasks, a.clients, a.connect_rate, |i| {
        client(
            i,
            connector.clone(),
            pending.clone(),
            shared.clone(),
            churn,
            go.clone(),
            stop.clone(),
        )
    })
    .await;
    let n = a.clients as u64;
    wait_until(
        setup_timeout(a.clients, a.connect_rate, HANDSHAKE_TIMEOUT),
        || shared.connected.get() + shared.connect_failures.total() >= n,
    )
    .await;
    let setup_time = setup_start.elapsed();
    if shared.connected.get() == 0 {
        stop_all(&stop, tasks).await;
        anyhow::bail!(
            "no client could connect: {}",
            shared.connect_failures.warnings("connections").join("; ")
        );
    }

    let bar = {
        let shared = shared.clone();
        let mut meter = RateMeter::default();
        progress::spawn(show_progress, stop.child_token(), move |dt| {
            let joins = shared.joins.count();
            format!(
                "joins {joins} ({:.0}/s), leaves {}, join failures {}, member events {}",
                meter.rate(joins, dt),
                shared.leaves.get(),
                shared.join_failures.total(),
                shared.members_added.get() + shared.members_removed.get()
            )
        })
    };
    let started = Instant::now();
    go.cancel();
    tokio::time::sleep(a.duration).await;
    let elapsed = started.elapsed();
    bar.abort();
    let disconnects = shared.disconnects.get();
    stop_all(&stop, tasks).await;

    let joins = shared.joins.count();
    let mut r = Report::new("presence");
    let p = &mut r.parameters;
    p.push("clients", "clients", Value::Count(n));
    p.push(
        "channels",
        "presence channels",
        Value::Count(channels as u64),
    );
    p.push(
        "duration_s",
        "duration",
        Value::Secs(a.duration.as_secs_f64()),
    );
    p.push(
        "hold_ms",
        "hold per join",
        Value::Millis(a.hold.as_secs_f64() * 1000.0),
    );
    p.push(
        "pause_ms",
        "pause between joins",
        Value::Millis(a.pause.as_secs_f64() * 1000.0),
    );

    let s = &mut r.results;
    s.push(
        "connected",
        "connected",
        Value::Count(shared.connected.get()),
    );
    s.push(
        "connect_failures",
        "connect failures",
        Value::Count(shared.connect_failures.total()),
    );
    s.push(
        "setup_s",
        "setup time",
        Value::Secs(setup_time.as_secs_f64()),
    );
    s.push("joins", "joins", Value::Count(joins));
    s.push(
        "join_failures",
        "join failures",
        Value::Count(shared.join_failures.total()),
    );
    s.push("leaves", "leaves", Value::Count(shared.leaves.get()));
    s.push(
        "joins_per_s",
        "joins/s",
        Value::Rate(per_second(joins, elapsed)),
    );
    s.push(
        "members_added",
        "member_added received",
        Value::Count(shared.members_added.get()),
    );
    s.push(
        "members_removed",
        "member_removed received",
        Value::Count(shared.members_removed.get()),
    );
    s.push(
        "largest_channel",
        "largest member count seen",
        Value::Count(shared.largest_channel.load(Ordering::Relaxed)),
    );
    s.push(
        "disconnects",
        "clients disconnected",
        Value::Count(disconnects),
    );
    r.latency("join", "join (until succeeded)", shared.joins.summary());
    r.warnings
        .extend(shared.connect_failures.warnings("connections"));
    r.warnings.extend(shared.join_failures.warnings("joins"));
    Ok(r)
}

async fn client(
    index: usize,
    connector: Arc<Connector>,
    pending: Arc<Semaphore>,
    shared: Arc<Shared>,
    churn: Churn,
    go: CancellationToken,
    stop: CancellationToken,
) {
    let conn = match connect_limited(&connector, &pending, HANDSHAKE_TIMEOUT).await {
        Ok(c) => c,
        Err((kind, msg)) => return shared.connect_failures.record(kind, || msg),
    };
    shared.connected.incr();
    let mut ws = conn.ws;
    tokio::select! {
        _ = stop.cancelled() => return close_quietly(ws).await,
        _ = go.cancelled() => {}
    }
    let channel = format!("presence-bench-{}", index % churn.channels);
    let channel_data =
        format!(r#"{{"user_id":"bench-{index}","user_info":{{"name":"bench {index}"}}}}"#);
    let auth = auth_string(
        &shared.key,
        &shared.secret,
        &presence_string_to_sign(&conn.socket_id, &channel, &channel_data),
    );
    let result = tokio::select! {
        _ = stop.cancelled() => Ok(()),
        r = churn_loop(index, &mut ws, &shared, churn, &channel, &auth, &channel_data) => r,
    };
    if result.is_err() && !stop.is_cancelled() {
        shared.disconnects.incr();
    }
    close_quietly(ws).await;
}

/// Join, hold, leave, pause, forever (the caller stops it). Errors mean the socket is gone.
async fn churn_loop(
    index: usize,
    ws: &mut WsStream,
    shared: &Shared,
    churn: Churn,
    channel: &str,
    auth: &str,
    channel_data: &str,
) -> Result<(), String> {
    loop {
        let start = shared.clock.now_us();
        match ws::subscribe(
            ws,
            channel,
            Some(auth),
            Some(channel_data),
            HANDSHAKE_TIMEOUT,
        )
        .await
        {
            Ok(data) => {
                shared.joins.record(index, shared.clock.now_us() - start);
                let count = data
                    .as_ref()
                    .and_then(|d| d.pointer("/presence/count")?.as_u64())
                    .unwrap_or(0);
                shared.largest_channel.fetch_max(count, Ordering::Relaxed);
            }
            Err(msg) => {
                shared.join_failures.record("subscribe", || msg.clone());
                if msg.starts_with("closed") {
                    return Err(msg);
                }
            }
        }
        read_for(ws, shared, churn.hold).await?;
        ws::send_text(ws, frame::unsubscribe(channel)).await?;
        shared.leaves.incr();
        read_for(ws, shared, churn.pause).await?;
    }
}

/// Reads frames for `period`, counting presence events and answering pings.
async fn read_for(ws: &mut WsStream, shared: &Shared, period: Duration) -> Result<(), String> {
    let deadline = Instant::now() + period;
    loop {
        let msg = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Ok(()),
            Ok(m) => m,
        };
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(c))) => return Err(format!("closed: {c:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("closed".into()),
        };
        let bytes = text.as_bytes();
        if ws::classify(bytes) == Incoming::Ping {
            ws::send_pong(ws).await?;
        } else if memchr::memmem::find(bytes, b"pusher_internal:member_added").is_some() {
            shared.members_added.incr();
        } else if memchr::memmem::find(bytes, b"pusher_internal:member_removed").is_some() {
            shared.members_removed.incr();
        }
    }
}
