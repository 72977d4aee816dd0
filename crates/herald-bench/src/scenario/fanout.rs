//! Fan-out: N subscribers on M channels, triggers at a fixed rate through the signed HTTP
//! API, end-to-end latency from the send timestamp in the payload, and losses (expected
//! minus received deliveries).
//!
//! Phases: connect and subscribe everyone (paced), trigger for `--duration` (or
//! `--triggers`), wait for the trigger responses, drain outstanding deliveries for up to
//! `--drain`, then close. A trigger's deliveries are expected only once the server accepted
//! it, counted against the subscribers its channel had after setup.

use std::sync::Arc;
use std::time::Duration;

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
use crate::args::FanoutArgs;
use crate::client::http::TriggerClient;
use crate::client::ws::{self, Connector, Incoming, WsStream};
use crate::pacing::Pacer;
use crate::payload::{AuditPayload, trigger_body};
use crate::progress;
use crate::report::{Report, Value};
use crate::stats::{Clock, Counter, Failures, RateMeter, Recorder, per_second};
use crate::target::Target;

const EVENT: &str = "model-change";
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Schedule lag above which the report warns that the offered rate was not held.
const LAG_WARNING: Duration = Duration::from_millis(100);

/// State shared by the subscriber tasks and the orchestrator.
struct Shared {
    clock: Clock,
    deliveries: Recorder,
    subscribed: Counter,
    /// Subscribers per channel (index = channel number).
    per_channel: Vec<Counter>,
    setup_failures: Failures,
    /// Subscribers whose socket closed before the end of the run.
    disconnects: Counter,
    pings: Counter,
}

pub async fn run(a: &FanoutArgs, target: &Target, show_progress: bool) -> anyhow::Result<Report> {
    let channels: Arc<Vec<String>> = Arc::new(
        (0..a.channels)
            .map(|c| format!("bench-fanout-{c}"))
            .collect(),
    );
    let shared = Arc::new(Shared {
        clock: Clock::start(),
        deliveries: Recorder::new(),
        subscribed: Counter::default(),
        per_channel: (0..a.channels).map(|_| Counter::default()).collect(),
        setup_failures: Failures::default(),
        disconnects: Counter::default(),
        pings: Counter::default(),
    });
    let connector = Arc::new(Connector::new(target, a.subscribers));
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();

    // Setup: connect and subscribe everyone.
    let setup_start = Instant::now();
    let setup_progress = {
        let shared = shared.clone();
        let n = a.subscribers;
        progress::spawn(show_progress, stop.child_token(), move |_| {
            format!(
                "setup: subscribed {}/{n}, failed {}",
                shared.subscribed.get(),
                shared.setup_failures.total()
            )
        })
    };
    let pending = handshake_limit();
    spawn_paced(&mut tasks, a.subscribers, a.connect_rate, |i| {
        subscriber(
            i,
            connector.clone(),
            pending.clone(),
            channels.clone(),
            shared.clone(),
            stop.clone(),
        )
    })
    .await;
    let n = a.subscribers as u64;
    wait_until(
        setup_timeout(a.subscribers, a.connect_rate, HANDSHAKE_TIMEOUT),
        || shared.subscribed.get() + shared.setup_failures.total() >= n,
    )
    .await;
    let setup_time = setup_start.elapsed();
    setup_progress.abort();
    let subscribed = shared.subscribed.get();
    if subscribed == 0 {
        stop_all(&stop, tasks).await;
        anyhow::bail!(
            "no subscriber could connect and subscribe: {}",
            shared.setup_failures.warnings("subscribers").join("; ")
        );
    }

    // Trigger phase.
    let client = TriggerClient::new(target, a.concurrency)?;
    let payload = AuditPayload {
        pad_to: a.payload_size,
    };
    let accepted = Arc::new(Counter::default());
    let expected = Arc::new(Counter::default());
    let trigger_failures = Arc::new(Failures::default());
    let http_latency = Arc::new(Recorder::new());
    let in_flight = Arc::new(Semaphore::new(a.concurrency));
    let trigger_progress = {
        let (shared, accepted, expected) = (shared.clone(), accepted.clone(), expected.clone());
        let (mut trig_rate, mut del_rate) = (RateMeter::default(), RateMeter::default());
        progress::spawn(show_progress, stop.child_token(), move |dt| {
            let (acc, del) = (accepted.get(), shared.deliveries.count());
            format!(
                "triggers {acc} ({:.0}/s) | deliveries {del}/{} ({:.0}/s) | p99 {:.2} ms",
                trig_rate.rate(acc, dt),
                expected.get(),
                del_rate.rate(del, dt),
                shared.deliveries.summary().p99_ms,
            )
        })
    };
    let first_send_us = shared.clock.now_us();
    let mut pacer = Pacer::new(a.rate);
    let deadline = pacer.next_due() + a.duration;
    let max_triggers = a.triggers.unwrap_or(u64::MAX);
    let mut triggers = JoinSet::new();
    while pacer.issued() < max_triggers && pacer.next_due() < deadline {
        let index = pacer.tick().await;
        let permit = in_flight.clone().acquire_owned().await?;
        let channel_no = (index % a.channels as u64) as usize;
        let (client, shared, channels) = (client.clone(), shared.clone(), channels.clone());
        let (accepted, expected, failures, http_latency) = (
            accepted.clone(),
            expected.clone(),
            trigger_failures.clone(),
            http_latency.clone(),
        );
        triggers.spawn(async move {
            let recipients = shared.per_channel[channel_no].get();
            let sent = shared.clock.now_us();
            let data = payload.data(index, Some(sent));
            let body = trigger_body(EVENT, &[channels[channel_no].as_str()], &data);
            match client.trigger(body).await {
                Ok(()) => {
                    accepted.incr();
                    expected.add(recipients);
                    http_latency.record(index as usize, shared.clock.now_us() - sent);
                }
                Err(e) => failures.record(&e.kind(), || e.message()),
            }
            drop(permit);
        });
        // Reap finished requests so the set does not grow with the run.
        while triggers.try_join_next().is_some() {}
    }
    while triggers.join_next().await.is_some() {}
    let sent_triggers = pacer.issued();
    // From the first send to the last answer: longer than --duration when the server (or
    // the pool) could not keep up and the pacer fell behind.
    let trigger_window = Duration::from_micros(shared.clock.now_us() - first_send_us);

    // Drain: wait for deliveries still on their way.
    let drained = wait_until(a.drain, || shared.deliveries.count() >= expected.get()).await;
    trigger_progress.abort();
    let pings = shared.pings.get();
    let disconnects = shared.disconnects.get();
    stop_all(&stop, tasks).await;

    let received = shared.deliveries.count();
    let expected_total = expected.get();
    let delivery_window =
        Duration::from_micros(shared.deliveries.last_at().saturating_sub(first_send_us));

    let mut r = Report::new("fanout");
    let p = &mut r.parameters;
    p.push("subscribers", "subscribers", Value::Count(n));
    p.push("channels", "channels", Value::Count(a.channels as u64));
    p.push("rate", "target triggers/s", Value::Rate(a.rate));
    p.push(
        "duration_s",
        "duration",
        Value::Secs(a.duration.as_secs_f64()),
    );
    if let Some(t) = a.triggers {
        p.push("max_triggers", "max triggers", Value::Count(t));
    }
    p.push(
        "concurrency",
        "trigger concurrency",
        Value::Count(a.concurrency as u64),
    );
    p.push(
        "payload_bytes",
        "event data size",
        Value::Bytes(payload.data(0, Some(0)).len() as u64),
    );
    p.push(
        "source_addresses",
        "own source addresses (0: kernel)",
        Value::Count(connector.source_count() as u64),
    );

    let s = &mut r.results;
    s.push("subscribed", "subscribed", Value::Count(subscribed));
    s.push(
        "subscribe_failures",
        "subscribe failures",
        Value::Count(shared.setup_failures.total()),
    );
    s.push(
        "setup_s",
        "setup time",
        Value::Secs(setup_time.as_secs_f64()),
    );
    s.push(
        "triggers_sent",
        "triggers sent",
        Value::Count(sent_triggers),
    );
    s.push(
        "triggers_accepted",
        "triggers accepted",
        Value::Count(accepted.get()),
    );
    s.push(
        "triggers_failed",
        "triggers failed",
        Value::Count(trigger_failures.total()),
    );
    s.push(
        "triggers_per_s",
        "triggers accepted/s",
        Value::Rate(per_second(accepted.get(), trigger_window)),
    );
    s.push(
        "deliveries_expected",
        "deliveries expected",
        Value::Count(expected_total),
    );
    s.push(
        "deliveries_received",
        "deliveries received",
        Value::Count(received),
    );
    s.push(
        "deliveries_lost",
        "deliveries lost",
        Value::Count(expected_total.saturating_sub(received)),
    );
    s.push(
        "deliveries_per_s",
        "deliveries/s",
        Value::Rate(per_second(received, delivery_window)),
    );
    s.push(
        "disconnects",
        "subscribers disconnected",
        Value::Count(disconnects),
    );
    s.push("server_pings", "server pings answered", Value::Count(pings));
    s.push(
        "schedule_lag_max_ms",
        "max schedule lag",
        Value::Millis(pacer.max_lag().as_secs_f64() * 1000.0),
    );
    r.latency(
        "end_to_end",
        "end-to-end delivery",
        shared.deliveries.summary(),
    );
    r.latency(
        "trigger_http",
        "trigger HTTP response",
        http_latency.summary(),
    );

    r.warnings
        .extend(shared.setup_failures.warnings("subscriptions"));
    r.warnings.extend(trigger_failures.warnings("triggers"));
    if !drained {
        r.warnings.push(format!(
            "{} deliveries still missing {:?} after the last trigger",
            expected_total.saturating_sub(received),
            a.drain
        ));
    }
    if received > expected_total {
        r.warnings.push(format!(
            "{} more deliveries than expected (duplicates, or subscribers counted twice)",
            received - expected_total
        ));
    }
    if pacer.max_lag() > LAG_WARNING {
        r.warnings.push(format!(
            "triggers fell up to {:?} behind schedule (server slow to answer, or --concurrency \
             too low for --rate): the offered rate was not held evenly",
            pacer.max_lag()
        ));
    }
    Ok(r)
}

/// One subscriber: connect, subscribe, then receive until told to stop.
async fn subscriber(
    index: usize,
    connector: Arc<Connector>,
    pending: Arc<Semaphore>,
    channels: Arc<Vec<String>>,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    let channel_no = index % channels.len();
    let mut conn = match connect_limited(&connector, &pending, HANDSHAKE_TIMEOUT).await {
        Ok(c) => c,
        Err((kind, msg)) => return shared.setup_failures.record(kind, || msg),
    };
    if let Err(msg) = ws::subscribe(
        &mut conn.ws,
        &channels[channel_no],
        None,
        None,
        HANDSHAKE_TIMEOUT,
    )
    .await
    {
        return shared.setup_failures.record("subscribe", || msg);
    }
    shared.per_channel[channel_no].incr();
    shared.subscribed.incr();
    receive(index, conn.ws, &shared, &stop).await;
}

/// The hot path: classify each frame with a byte scan, record latency, answer pings.
async fn receive(index: usize, mut ws: WsStream, shared: &Shared, stop: &CancellationToken) {
    loop {
        let msg = tokio::select! {
            biased;
            _ = stop.cancelled() => return close_quietly(ws).await,
            msg = ws.next() => msg,
        };
        match msg {
            Some(Ok(Message::Text(text))) => match ws::classify(text.as_bytes()) {
                Incoming::Delivery(sent) => {
                    let now = shared.clock.now_us();
                    shared
                        .deliveries
                        .record_at(index, now, now.saturating_sub(sent));
                }
                Incoming::Ping => {
                    shared.pings.incr();
                    if ws::send_pong(&mut ws).await.is_err() {
                        break;
                    }
                }
                Incoming::Other => {}
            },
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
            Some(Ok(_)) => {}
        }
    }
    if !stop.is_cancelled() {
        shared.disconnects.incr();
    }
}
