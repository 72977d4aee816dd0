//! Driving a prune over any [`WriteStore`]: bounded steps (so the writer can record events
//! between them), totals per rule, and the events that record the run in the trail.

use crate::error::StoreError;
use crate::event::{NewEvent, PreparedEvent};
use crate::rules::AuditRules;
use crate::store::WriteStore;

use super::{PruneStep, RetentionPolicy, RulePruned};

/// Events examined per step: a step holds the writer for a few milliseconds.
pub const STEP: usize = 2000;

/// The name of the event that records a prune run.
pub const PRUNE_EVENT: &str = "herald:audit-pruned";

/// Totals per rule over the steps of one run.
#[derive(Debug, Default)]
pub struct Totals(Vec<Option<(u64, i64, i64)>>);

impl Totals {
    pub fn add(&mut self, step: &PruneStep) {
        for &(rule, n, first, last) in &step.pruned {
            if self.0.len() <= rule {
                self.0.resize(rule + 1, None);
            }
            let slot = &mut self.0[rule];
            *slot = Some(match *slot {
                None => (n, first, last),
                Some((c, f, l)) => (c + n, f.min(first), l.max(last)),
            });
        }
    }

    pub fn finish(self, policy: &RetentionPolicy) -> Vec<RulePruned> {
        self.0
            .into_iter()
            .enumerate()
            .filter_map(|(i, t)| {
                t.map(|(count, first_seq, last_seq)| RulePruned {
                    rule: policy.rules()[i].describe(),
                    count,
                    first_seq,
                    last_seq,
                })
            })
            .collect()
    }
}

/// The events recording a run, one per rule that pruned something.
pub fn record_events(app: &str, now: i64, pruned: &[RulePruned]) -> Vec<NewEvent> {
    pruned
        .iter()
        .map(|p| NewEvent {
            app_id: app.to_owned(),
            received_at_micros: now,
            name: PRUNE_EVENT.to_owned(),
            channels: Vec::new(),
            data: serde_json::json!({
                "action": "pruned",
                "rule": p.rule,
                "count": p.count,
                "first_seq": p.first_seq,
                "last_seq": p.last_seq,
            })
            .to_string(),
            socket_id: None,
            client_ip: None,
            user_agent: None,
            library: None,
            auth_key: "herald-retention".to_owned(),
            idempotency_key: None,
        })
        .collect()
}

/// A whole run on a store this thread owns (the CLI): every step, then the record events
/// (unless `dry_run`).
pub fn prune_blocking(
    store: &mut dyn WriteStore,
    app: &str,
    policy: &RetentionPolicy,
    now: i64,
    dry_run: bool,
) -> Result<Vec<RulePruned>, StoreError> {
    let mut totals = Totals::default();
    let mut after = 0;
    loop {
        let step = store.prune_step(app, policy, now, after, STEP, dry_run)?;
        totals.add(&step);
        match step.resume_after {
            Some(next) => after = next,
            None => break,
        }
    }
    let pruned = totals.finish(policy);
    if !dry_run && !pruned.is_empty() {
        let events: Vec<PreparedEvent> = record_events(app, now, &pruned)
            .into_iter()
            // herald's own record: no app rules apply (nothing in it to redact).
            .map(|e| PreparedEvent::new(e, &AuditRules::default()))
            .collect();
        store.append(&events.iter().collect::<Vec<_>>())?;
    }
    Ok(pruned)
}
