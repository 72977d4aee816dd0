//! One task per app moving events from its in-memory queue into the outbox: each event
//! becomes one row per receiver that wants it, written in one transaction per burst, and
//! the receivers concerned are woken. At shutdown the queue is drained before the task
//! ends, so nothing emitted during the connections' cleanup is lost.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::store::{LiveChange, NewPending, Store};
use super::{HOLD, Queued, Receiver, WebhookEvent};
use crate::metrics::METRICS;

/// Most events written in one transaction.
const BURST: usize = 512;
/// Above this many subscribers, `subscription_count` is sent at most every
/// [`BUSY_COUNT_INTERVAL`] (Pusher's rule).
const BUSY_CHANNEL: usize = 100;
const BUSY_COUNT_INTERVAL: Duration = Duration::from_secs(5);

pub(crate) async fn run(
    app_id: Arc<str>,
    mut queue: mpsc::Receiver<Queued>,
    receivers: Arc<Vec<Arc<Receiver>>>,
    store: Store,
    track_live: bool,
    token: CancellationToken,
) {
    let mut burst = Vec::with_capacity(BURST);
    loop {
        let first = tokio::select! {
            biased;
            got = queue.recv() => got,
            _ = token.cancelled() => None,
        };
        match first {
            Some(q) => burst.push(q),
            None => {
                // Shutting down (or every emitter is gone): write what is still queued.
                while let Ok(q) = queue.try_recv() {
                    burst.push(q);
                }
                if !burst.is_empty() {
                    write(&app_id, &mut burst, &receivers, &store, track_live).await;
                }
                return;
            }
        }
        while burst.len() < BURST {
            match queue.try_recv() {
                Ok(q) => burst.push(q),
                Err(_) => break,
            }
        }
        write(&app_id, &mut burst, &receivers, &store, track_live).await;
    }
}

async fn write(
    app_id: &Arc<str>,
    burst: &mut Vec<Queued>,
    receivers: &[Arc<Receiver>],
    store: &Store,
    track_live: bool,
) {
    let mut rows = Vec::with_capacity(burst.len());
    let mut live = Vec::new();
    let mut woken = vec![false; receivers.len()];
    for q in burst.drain(..) {
        if let Some((now_live, user)) = q.event.live_change().filter(|_| track_live) {
            live.push(LiveChange {
                app_id: app_id.clone(),
                channel: Arc::from(q.event.channel()),
                user_id: user.map(Arc::from),
                live: now_live,
            });
        }
        let json: Arc<str> = Arc::from(q.event.to_json());
        let channel: Arc<str> = Arc::from(q.event.channel());
        let user_id: Option<Arc<str>> = q.event.member().map(Arc::from);
        let delay = match &q.event {
            e if e.is_held() => HOLD,
            // Large channels: at most one count per 5 s, the latest (rows coalesce).
            WebhookEvent::SubscriptionCount { count, .. } if *count > BUSY_CHANNEL => {
                BUSY_COUNT_INTERVAL
            }
            _ => Duration::ZERO,
        }
        .as_millis() as i64;
        let coalesce = matches!(q.event, WebhookEvent::SubscriptionCount { .. });
        for (i, receiver) in receivers.iter().enumerate() {
            if !receiver.wants(&q.event) {
                continue;
            }
            woken[i] = true;
            rows.push(NewPending {
                app_id: app_id.clone(),
                url: receiver.url.clone(),
                name: q.event.kind().as_str(),
                channel: channel.clone(),
                user_id: user_id.clone(),
                event_json: json.clone(),
                created_ms: q.created_ms,
                due_ms: q.created_ms + delay,
                claim: q.claim.clone(),
                cancels: cancelled_by(&q.event),
                coalesce,
            });
        }
    }
    let offered = rows.len();
    match store.insert(rows, live).await {
        Ok(change) => METRICS.webhook_outbox_pending.add(change),
        Err(error) => {
            METRICS.webhook_events_dropped.add(offered as u64);
            tracing::error!(
                message = "Cannot write webhook events to the outbox; they are lost.",
                %app_id,
                events = offered,
                %error,
            );
        }
    }
    for (receiver, woken) in receivers.iter().zip(woken) {
        if woken {
            receiver.wake.notify_one();
        }
    }
}

/// The held event that `event` cancels when it arrives within the hold.
fn cancelled_by(event: &WebhookEvent) -> Option<&'static str> {
    match event {
        WebhookEvent::ChannelOccupied { .. } => Some("channel_vacated"),
        WebhookEvent::MemberAdded { .. } => Some("member_removed"),
        _ => None,
    }
}
