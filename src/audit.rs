//! The trigger API's side of the audit recorder: handing over accepted events
//! (`herald_audit::NewEvent`s) and turning a recorder failure into an HTTP answer. The recorder itself (store, single
//! writer, query API, export) is the `herald-audit` crate; it never touches sockets.

use std::sync::Arc;

use herald_audit::{AuditRecorder, NewEvent, RecordError, UnavailablePolicy};

use crate::http::ApiError;
use crate::hub::AppHub;
use crate::metrics::METRICS;

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

    /// Records `events` and resolves once the recorder has committed them. Returns, per
    /// event, whether it is new: false for an idempotent retry, which must not be delivered
    /// again. A recorder failure is a 503 (nothing is delivered), unless the operator chose
    /// to deliver unrecorded events.
    pub async fn record(
        &self,
        app: &Arc<AppHub>,
        events: Vec<NewEvent>,
    ) -> Result<Vec<bool>, ApiError> {
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
                            app = %app.config.id,
                            count,
                            %error,
                        );
                        Ok(vec![true; count])
                    }
                    UnavailablePolicy::RecordOrReject => Err(refusal(&error)),
                }
            }
        }
    }
}

fn refusal(error: &RecordError) -> ApiError {
    ApiError::unavailable(format!(
        "Event not accepted: the {error}. Nothing was delivered; retry the request."
    ))
}
