//! The trigger's side of the audit recorder: handing over accepted events
//! (`herald_audit::NewEvent`s) with their app's [`AuditRules`] (field keys, redaction),
//! waiting for the commit, and applying the operator's policy when the recorder fails; and
//! redacting delivered payloads for apps that set `redact_delivery`. The recorder itself (store, single writer, query API, export) is
//! the `herald-audit` crate; it never touches sockets. This module knows no HTTP either:
//! `http/error.rs` decides how a refusal is answered.

use std::collections::HashMap;
use std::sync::Arc;

use herald_audit::{AuditRecorder, AuditRules, NewEvent, RecordError, UnavailablePolicy};

use crate::config::{AppConfig, ConfigError};
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
    /// Each app's rules, compiled once from its configuration, keyed by app id.
    apps: Arc<HashMap<String, AppRules>>,
}

/// What the sink applies to one app's events.
#[derive(Debug)]
struct AppRules {
    rules: AuditRules,
    redact_delivery: bool,
}

impl std::fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSink")
            .field("recording", &self.recorder.is_some())
            .finish()
    }
}

impl AuditSink {
    /// Records with `recorder`, or nothing when it is `None` (every event then counts as
    /// new). `apps` give each app's field keys and redaction; a bad rule is refused naming
    /// its setting (configuration validation has normally refused it already).
    pub fn new(recorder: Option<AuditRecorder>, apps: &[AppConfig]) -> Result<Self, ConfigError> {
        let mut compiled = HashMap::new();
        for (i, app) in apps.iter().enumerate() {
            let rules = app.audit_rules().map_err(|(setting, reason)| {
                ConfigError::invalid(format!("apps[{i}].{setting}"), reason)
            })?;
            compiled.insert(
                app.id.clone(),
                AppRules {
                    rules,
                    redact_delivery: app.redact_delivery,
                },
            );
        }
        Ok(Self {
            recorder,
            apps: Arc::new(compiled),
        })
    }

    /// The payload subscribers of `app_id` receive: redacted when the app sets
    /// `redact_delivery` and a rule matches (`None`: deliver `data` as triggered). What is
    /// stored is redacted by the recorder either way.
    pub fn redact_for_delivery(
        &self,
        app_id: &str,
        channels: &[String],
        data: &str,
    ) -> Option<String> {
        let app = self.apps.get(app_id).filter(|a| a.redact_delivery)?;
        app.rules.redact(channels, data)
    }

    /// Why events cannot be recorded right now, when the recorder's store is failing and
    /// the policy refuses unrecorded events (so the node should not take traffic).
    pub fn not_ready_reason(&self) -> Option<String> {
        let recorder = self.recorder.as_ref()?;
        if recorder.on_unavailable() == UnavailablePolicy::DeliverAndRecord {
            return None;
        }
        recorder
            .unavailable_reason()
            .map(|reason| format!("audit store unavailable: {reason}"))
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
        let recorded = match self.apps.get(app_id) {
            Some(app) => recorder.record_with(&app.rules, events).await,
            None => recorder.record(events).await,
        };
        match recorded {
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
