//! The trigger's side of the audit recorder: handing over accepted events
//! (`herald_audit::NewEvent`s), waiting for the commit, and applying the operator's policy
//! when the recorder fails. The recorder itself (store, single writer, query API, export) is
//! the `herald-audit` crate; it never touches sockets. This module knows no HTTP either:
//! `http/error.rs` decides how a refusal is answered.

use herald_audit::{AuditRecorder, NewEvent, RecordError, UnavailablePolicy};

use crate::metrics::METRICS;

/// The recorder could not record the events and the policy is to refuse them: nothing may
/// be delivered.
#[derive(Debug, thiserror::Error)]
#[error("Event not accepted: the {0}. Nothing was delivered; retry the request.")]
pub struct NotRecorded(#[from] pub RecordError);

/// Where accepted events go before they are published.
#[derive(Clone, Default)]
pub struct AuditSink {
    recorder: Option<AuditRecorder>,
}

impl std::fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSink")
            .field("recording", &self.recorder.is_some())
            .finish()
    }
}

impl AuditSink {
    /// No audit trail: every event counts as new.
    pub fn off() -> Self {
        Self { recorder: None }
    }

    pub fn recording(recorder: AuditRecorder) -> Self {
        Self {
            recorder: Some(recorder),
        }
    }

    /// Records `events` of app `app_id` and resolves once the recorder has committed them.
    /// Returns, per event, whether it is new: false for an idempotent retry, which must not
    /// be delivered again. A recorder failure refuses the events ([`NotRecorded`]), unless
    /// the operator chose to deliver unrecorded events.
    pub async fn record(
        &self,
        app_id: &str,
        events: Vec<NewEvent>,
    ) -> Result<Vec<bool>, NotRecorded> {
        let Some(recorder) = &self.recorder else {
            return Ok(vec![true; events.len()]);
        };
        let count = events.len();
        match recorder.record(events).await {
            Ok(recorded) => {
                METRICS.audit_records.add(count as u64);
                Ok(recorded.iter().map(|r| !r.duplicate).collect())
            }
            Err(error) => {
                METRICS.audit_failures.inc();
                match recorder.on_unavailable() {
                    UnavailablePolicy::DeliverAndRecord => {
                        tracing::error!(
                            message = "Delivering events the audit trail could not record.",
                            app = %app_id,
                            count,
                            %error,
                        );
                        Ok(vec![true; count])
                    }
                    UnavailablePolicy::RecordOrReject => Err(NotRecorded(error)),
                }
            }
        }
    }
}
