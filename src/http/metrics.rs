//! `/metrics` on the metrics port: the counters of `crate::metrics` plus gauges read from
//! the node's state, in Prometheus's text exposition format.

use std::fmt::Write;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::limits::{self, Limit};
use crate::metrics::METRICS;
use crate::state::AppState;

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

/// One labelled counter per protective limit.
fn limit_refusals(out: &mut String) {
    let name = "herald_limit_refusals_total";
    let _ = writeln!(
        out,
        "# HELP {name} Requests, frames and connections refused by a protective limit.\n# TYPE {name} counter"
    );
    for limit in Limit::ALL {
        let _ = writeln!(
            out,
            "{name}{{limit=\"{}\"}} {}",
            limit.label(),
            limits::refusals(limit)
        );
    }
}

/// Renders the exposition text.
pub fn render(state: &AppState) -> String {
    let m = &METRICS;
    let mut out = String::new();
    counter(
        &mut out,
        "herald_connections_opened_total",
        "WebSocket connections accepted.",
        m.connections_opened.get(),
    );
    counter(
        &mut out,
        "herald_connections_refused_total",
        "WebSocket connections refused (unknown app, disabled, quota, protocol).",
        m.connections_refused.get(),
    );
    counter(
        &mut out,
        "herald_slow_connections_closed_total",
        "Connections closed with 4100 because their outgoing queue was full.",
        m.slow_connections_closed.get(),
    );
    counter(
        &mut out,
        "herald_ws_messages_received_total",
        "Frames received from clients.",
        m.ws_messages_received.get(),
    );
    counter(
        &mut out,
        "herald_broadcasts_total",
        "Channel broadcasts fanned out on this node.",
        m.broadcasts.get(),
    );
    counter(
        &mut out,
        "herald_frames_delivered_total",
        "Frames queued to local connections by broadcasts.",
        m.frames_delivered.get(),
    );
    counter(
        &mut out,
        "herald_client_events_total",
        "Client events relayed.",
        m.client_events.get(),
    );
    counter(
        &mut out,
        "herald_http_events_triggered_total",
        "Events accepted by the trigger API.",
        m.http_events_triggered.get(),
    );
    counter(
        &mut out,
        "herald_http_requests_rejected_total",
        "API requests answered with an error status.",
        m.http_requests_rejected.get(),
    );
    counter(
        &mut out,
        "herald_audit_records_total",
        "Events recorded in the audit trail.",
        m.audit_records.get(),
    );
    counter(
        &mut out,
        "herald_audit_failures_total",
        "Trigger requests refused because the audit recorder failed.",
        m.audit_failures.get(),
    );
    limit_refusals(&mut out);
    webhooks(&mut out, state);
    gauge(
        &mut out,
        "herald_connections",
        "Open WebSocket connections on this node.",
        state.hub.connection_count() as u64,
    );
    let channels: usize = state.hub.apps().map(|a| a.channel_count()).sum();
    gauge(
        &mut out,
        "herald_channels",
        "Occupied channels on this node.",
        channels as u64,
    );
    gauge(
        &mut out,
        "herald_ready",
        "1 when the node accepts traffic, 0 while draining or degraded.",
        u64::from(!state.is_draining() && state.adapter.is_healthy()),
    );
    out
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        render(&state),
    )
}

/// The metrics port's router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

fn webhooks(out: &mut String, state: &AppState) {
    let m = &METRICS;
    for (name, help, value) in [
        (
            "herald_webhook_events_queued_total",
            "Webhook events accepted into an app's queue.",
            &m.webhook_events_queued,
        ),
        (
            "herald_webhook_events_dropped_total",
            "Webhook events dropped because the app's queue was full or the outbox failed.",
            &m.webhook_events_dropped,
        ),
        (
            "herald_webhook_batches_sent_total",
            "Webhook POSTs answered with 2xx.",
            &m.webhook_batches_sent,
        ),
        (
            "herald_webhook_events_sent_total",
            "Webhook events delivered (in 2xx-answered POSTs).",
            &m.webhook_events_sent,
        ),
        (
            "herald_webhook_attempts_failed_total",
            "Webhook POSTs that failed (non-2xx, timeout, connection error).",
            &m.webhook_attempts_failed,
        ),
        (
            "herald_webhook_retries_total",
            "Failed webhook POSTs scheduled for another attempt.",
            &m.webhook_retries,
        ),
        (
            "herald_webhook_batches_given_up_total",
            "Webhook batches abandoned after the give-up time.",
            &m.webhook_batches_given_up,
        ),
        (
            "herald_webhook_events_given_up_total",
            "Webhook events in abandoned batches.",
            &m.webhook_events_given_up,
        ),
    ] {
        counter(out, name, help, value.get());
    }
    gauge(
        out,
        "herald_webhook_queue_depth",
        "Webhook events waiting: in the apps' memory queues plus the outbox.",
        (state.webhooks.queued() as i64 + m.webhook_outbox_pending.get()).max(0) as u64,
    );
    let t = &m.webhook_request_latency;
    let _ = writeln!(
        out,
        "# HELP herald_webhook_request_seconds Time until a receiver answered a webhook POST.\n# TYPE herald_webhook_request_seconds summary\nherald_webhook_request_seconds_sum {}\nherald_webhook_request_seconds_count {}",
        t.sum_seconds(),
        t.count(),
    );
}
