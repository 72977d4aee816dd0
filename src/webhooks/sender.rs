//! One task per receiver URL: confirms held events that are due, gathers due events into a
//! batch (one POST), signs and sends it, and retries the same batch with exponential backoff
//! until the receiver answers 2xx or the give-up time has passed. Batches go out one at a
//! time, oldest events first, so a receiver sees each channel's events in order.
//!
//! The body is `{"time_ms":<now>,"events":[…]}`, stamped at each attempt (the Python library
//! refuses bodies older than 5 minutes); headers are `Content-Type: application/json`
//! exactly, `X-Pusher-Key` and `X-Pusher-Signature` = hex HMAC-SHA256(secret, body).

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_protocol::signature::hmac_sha256_hex;
use tokio_util::sync::CancellationToken;

use super::store::{Batch, Outcome, Store};
use super::{HeldEvents, Receiver, now_ms};
use crate::metrics::METRICS;

/// Pusher's answer deadline: a receiver slower than this is retried.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);
/// Most events in one POST.
pub const MAX_BATCH_EVENTS: usize = 100;
/// How long a new batch waits for more events before it is sent (only when idle: a backlog
/// is sent in full batches at once).
pub const BATCH_WINDOW: Duration = Duration::from_millis(50);
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(60);
/// Pause after an outbox error before trying again.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// The shared HTTP client (connection pool; no TLS in this build, see `config.rs`).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(ATTEMPT_TIMEOUT)
        .timeout(ATTEMPT_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client without TLS always builds")
}

/// Delay before the next attempt after `failures` failed ones: 0.5 s, 1 s, 2 s, … 60 s.
pub fn backoff(failures: u32) -> Duration {
    FIRST_RETRY
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(MAX_RETRY)
}

pub(crate) struct Sender {
    pub app_id: Arc<str>,
    pub key: String,
    pub secret: String,
    pub receiver: Arc<Receiver>,
    pub store: Store,
    pub client: reqwest::Client,
    pub give_up: Duration,
    pub held: Arc<dyn HeldEvents>,
    pub token: CancellationToken,
}

impl Sender {
    pub async fn run(self) {
        let mut backlog = true;
        while !self.token.is_cancelled() {
            match self.step(&mut backlog).await {
                Ok(Some(wait)) => self.sleep(wait).await,
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(
                        message = "Webhook outbox error; retrying.",
                        app_id = %self.app_id,
                        url = %self.receiver.url,
                        %error,
                    );
                    self.sleep(Some(STORE_RETRY)).await;
                }
            }
        }
    }

    /// Sleeps for `wait` (`None`: until woken), or until new events or shutdown.
    async fn sleep(&self, wait: Option<Duration>) {
        let timer = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = timer => {}
            _ = self.receiver.wake.notified() => {}
            _ = self.token.cancelled() => {}
        }
    }

    /// Does the next piece of work; returns how long to wait before the next step (`Some(None)`
    /// waits to be woken), or `None` to go on at once.
    async fn step(
        &self,
        backlog: &mut bool,
    ) -> Result<Option<Option<Duration>>, super::store::StoreError> {
        let (app, url) = (self.app_id.clone(), self.receiver.url.clone());
        let now = now_ms();
        for due in self.store.due_claims(app.clone(), url.clone(), now).await? {
            let confirmed = self.held.confirm_held(&self.app_id, &due.claim).await;
            self.store.settle_claim(due.id, confirmed).await?;
            if !confirmed {
                METRICS.webhook_outbox_pending.add(-1);
            }
        }
        let batch = match self.store.open_batch(app.clone(), url.clone()).await? {
            Some(batch) => batch,
            None => {
                if !*backlog {
                    // Idle until now: give a burst a moment to gather into one POST.
                    tokio::time::sleep(BATCH_WINDOW).await;
                }
                match self
                    .store
                    .start_batch(app.clone(), url.clone(), now_ms(), MAX_BATCH_EVENTS)
                    .await?
                {
                    Some(batch) => {
                        *backlog = batch.events.len() == MAX_BATCH_EVENTS;
                        batch
                    }
                    None => {
                        *backlog = false;
                        let wait = self
                            .store
                            .next_due(app, url)
                            .await?
                            .map(|due| Duration::from_millis((due - now_ms()).max(1) as u64));
                        return Ok(Some(wait));
                    }
                }
            }
        };
        let wait = batch.next_attempt_ms - now_ms();
        if wait > 0 {
            return Ok(Some(Some(Duration::from_millis(wait as u64))));
        }
        let outcome = self.attempt(&batch).await;
        let finished = !matches!(outcome, Outcome::Retry { .. });
        self.store.record(app, batch.id, now_ms(), outcome).await?;
        if finished {
            METRICS
                .webhook_outbox_pending
                .add(-(batch.events.len() as i64));
        }
        Ok(None)
    }

    async fn attempt(&self, batch: &Batch) -> Outcome {
        let body = format!(
            r#"{{"time_ms":{},"events":[{}]}}"#,
            now_ms(),
            batch.events.join(",")
        );
        let signature = hmac_sha256_hex(self.secret.as_bytes(), body.as_bytes());
        let mut request = self
            .client
            .post(&*self.receiver.url)
            .header("Content-Type", "application/json")
            .header("X-Pusher-Key", &self.key)
            .header("X-Pusher-Signature", signature);
        for (name, value) in &self.receiver.headers {
            request = request.header(name, value);
        }
        let started = Instant::now();
        let answer = request.body(body).send().await;
        let failures = batch.attempts + 1;
        let (status, error) = match answer {
            Ok(response) if response.status().is_success() => {
                METRICS.webhook_request_latency.observe(started.elapsed());
                METRICS.webhook_batches_sent.inc();
                METRICS.webhook_events_sent.add(batch.events.len() as u64);
                return Outcome::Delivered {
                    status: response.status().as_u16(),
                };
            }
            Ok(response) => {
                METRICS.webhook_request_latency.observe(started.elapsed());
                let status = response.status().as_u16();
                (Some(status), format!("receiver answered HTTP {status}"))
            }
            Err(e) if e.is_timeout() => (
                None,
                format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()),
            ),
            Err(e) if e.is_connect() => (None, format!("cannot connect: {}", root_cause(&e))),
            Err(e) => (None, root_cause(&e)),
        };
        METRICS.webhook_attempts_failed.inc();
        let age = Duration::from_millis((now_ms() - batch.created_ms).max(0) as u64);
        if age >= self.give_up {
            METRICS.webhook_batches_given_up.inc();
            METRICS
                .webhook_events_given_up
                .add(batch.events.len() as u64);
            tracing::warn!(
                message = "Webhook batch given up: the receiver did not accept it in time.",
                app_id = %self.app_id,
                url = %self.receiver.url,
                batch = batch.id,
                events = batch.events.len(),
                attempts = failures,
                %error,
            );
            return Outcome::GaveUp { status, error };
        }
        METRICS.webhook_retries.inc();
        let delay = backoff(failures);
        tracing::debug!(
            message = "Webhook attempt failed; retrying.",
            app_id = %self.app_id,
            url = %self.receiver.url,
            batch = batch.id,
            attempts = failures,
            retry_in_ms = delay.as_millis() as u64,
            %error,
        );
        Outcome::Retry {
            status,
            error,
            next_attempt_ms: now_ms() + delay.as_millis() as i64,
        }
    }
}

/// The innermost error message (reqwest's outer ones only say "error sending request").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_half_a_second_up_to_a_minute() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(4), Duration::from_secs(4));
        assert_eq!(backoff(8), Duration::from_secs(60));
        assert_eq!(backoff(40), Duration::from_secs(60));
    }
}
