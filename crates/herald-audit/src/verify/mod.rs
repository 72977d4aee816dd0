//! `verify`: recomputes an app's hash chain from the store and checks every signed
//! checkpoint, naming the first seq where the trail stops being the one herald wrote.
//! Store-agnostic: it reads through [`ReadStore`] only, so every store herald supports is
//! verified by this same code.
//!
//! What it checks, walking seqs in order from `from` (default 1):
//!
//! * seqs are contiguous (a gap is a **missing** event; rows ending before the head row or a
//!   checkpoint says is a **truncated** tail);
//! * each whole event's canonical bytes hash to its stored `content_hash` (else **changed**);
//!   a pruned event keeps only its hashes, which are taken as stored;
//! * each `hash` is `SHA-256(previous hash ‖ content_hash)`; when it is not, the failure is
//!   classified: a row chained after a different event is **reordered**, a row the chain
//!   skips over is **inserted**, anything else **changed**;
//! * every checkpoint in range is signed by the signing key (else **bad_signature**) and
//!   matches the recomputed hash at its seq (else **rechained**: history was rewritten and
//!   every later hash recomputed, which only the signature can reveal).

mod classify;

use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use crate::chain::{Checkpoint, Digest, GENESIS};
use crate::error::StoreError;
use crate::store::ReadStore;

/// Rows read per round.
const CHUNK: usize = 2000;

/// What to verify beyond the store's own data.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// First seq to check (default 1). Starting later trusts the stored hash of `from − 1`.
    pub from: Option<i64>,
    /// Last seq to check (default: the head, or the last checkpoint if that is later).
    pub to: Option<i64>,
    /// The key checkpoints must be signed with. Without it each checkpoint is checked
    /// against the key stored beside it, which proves less (see [`Report::warnings`]).
    pub public_key: Option<VerifyingKey>,
    /// Checkpoints kept outside the store (an auditor's copy); checked like stored ones.
    pub extra_checkpoints: Vec<Checkpoint>,
}

/// What went wrong first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    Changed,
    Missing,
    Reordered,
    Inserted,
    Rechained,
    Truncated,
    BadSignature,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Missing => "missing",
            Self::Reordered => "reordered",
            Self::Inserted => "inserted",
            Self::Rechained => "chain recomputed without the signing key",
            Self::Truncated => "tail truncated",
            Self::BadSignature => "bad checkpoint signature",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The first bad seq.
    pub seq: i64,
    pub kind: ProblemKind,
    pub message: String,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub app_id: String,
    /// True when nothing is wrong.
    pub ok: bool,
    pub from: i64,
    pub to: i64,
    /// Events checked (before the problem, if any).
    pub verified: u64,
    /// Of those, pruned events (checked by their stored hashes only).
    pub pruned: u64,
    /// Signed checkpoints checked.
    pub checkpoints: u64,
    pub problem: Option<Problem>,
    pub warnings: Vec<String>,
}

impl Report {
    /// The one-line summary the CLI prints.
    pub fn summary(&self) -> String {
        match &self.problem {
            None => format!(
                "verified {} events (app {}, seq {}..{}; {} pruned, checked by hash; {} signed checkpoints)",
                self.verified, self.app_id, self.from, self.to, self.pruned, self.checkpoints
            ),
            Some(p) => format!(
                "audit trail of app {} is NOT intact: seq {}: {}: {}",
                self.app_id,
                p.seq,
                p.kind.as_str(),
                p.message
            ),
        }
    }
}

/// Verifies `app` in `store`.
pub fn verify(
    store: &dyn ReadStore,
    app: &str,
    options: &VerifyOptions,
) -> Result<Report, StoreError> {
    let head = store.chain_head(app)?;
    let mut checkpoints = all_checkpoints(store, app)?;
    for extra in &options.extra_checkpoints {
        if extra.app_id == app && !checkpoints.contains(extra) {
            checkpoints.push(extra.clone());
        }
    }
    checkpoints.sort_by_key(|c| c.seq);
    let last_known = head
        .as_ref()
        .map(|h| h.last_seq)
        .into_iter()
        .chain(checkpoints.last().map(|c| c.seq))
        .max()
        .unwrap_or(0);
    let from = options.from.unwrap_or(1).max(1);
    let to = options.to.unwrap_or(last_known);
    let mut report = Report {
        app_id: app.to_owned(),
        ok: true,
        from,
        to,
        verified: 0,
        pruned: 0,
        checkpoints: 0,
        problem: None,
        warnings: Vec::new(),
    };
    if options.public_key.is_none() {
        report.warnings.push(
            "no public key given: checkpoint signatures were checked against the keys stored \
             beside them, which someone able to edit the store could replace; pass the signing \
             key's public key for an independent check"
                .into(),
        );
    }
    if checkpoints.is_empty() && last_known > 0 {
        report.warnings.push(
            "no signed checkpoints: the chain shows the rows agree with each other, but not \
             that they were never rewritten as a whole"
                .into(),
        );
    }
    let in_range: Vec<&Checkpoint> = checkpoints
        .iter()
        .filter(|c| c.seq >= from && c.seq <= to)
        .collect();
    for cp in &in_range {
        let key = match options.public_key {
            Some(key) => Some(key),
            None => VerifyingKey::from_bytes(&cp.public_key).ok(),
        };
        if !key.is_some_and(|k| cp.is_signed_by(&k)) {
            return Ok(report.fail(
                cp.seq,
                ProblemKind::BadSignature,
                format!(
                    "the checkpoint at seq {} is not signed by the audit signing key (forged, edited or re-signed)",
                    cp.seq
                ),
            ));
        }
    }
    if from > to {
        return Ok(report);
    }
    let (mut prev, mut prev_prev) = starting_point(store, app, from)?;
    let mut expected = from;
    let mut cps = in_range.iter().peekable();
    let mut last_matching_cp: Option<i64> = None;
    while expected <= to {
        let mut rows = store.chain_rows(app, expected, to, CHUNK + 1)?;
        if rows.is_empty() {
            break;
        }
        let next_after = (rows.len() > CHUNK).then(|| rows.pop()).flatten();
        for i in 0..rows.len() {
            let row = &rows[i];
            let next = rows.get(i + 1).or(next_after.as_ref());
            if row.seq > expected {
                return Ok(report.fail(
                    expected,
                    ProblemKind::Missing,
                    if row.seq == expected + 1 {
                        format!("the event at seq {expected} was deleted")
                    } else {
                        format!("the events at seq {expected}..{} were deleted", row.seq - 1)
                    },
                ));
            }
            if row.seq < expected {
                return Ok(report.fail(
                    row.seq,
                    ProblemKind::Inserted,
                    format!("a second event claims seq {}", row.seq),
                ));
            }
            let step = classify::Step {
                store,
                app,
                prev: &prev,
                prev_prev: prev_prev.as_ref(),
                row,
                next,
            };
            let hash = match step.check()? {
                Ok(hash) => hash,
                Err(problem) => return Ok(report.fail_with(problem)),
            };
            report.verified += 1;
            if row.fields.is_none() {
                report.pruned += 1;
            }
            while let Some(cp) = cps.next_if(|c| c.seq <= row.seq) {
                report.checkpoints += 1;
                if cp.hash != hash {
                    let since = last_matching_cp
                        .map_or_else(|| "the start".to_owned(), |s| format!("seq {s}"));
                    return Ok(report.fail(
                        cp.seq,
                        ProblemKind::Rechained,
                        format!(
                            "the chain's hash at seq {} differs from the one signed in its checkpoint: events between {since} and seq {} were rewritten and the chain recomputed",
                            cp.seq, cp.seq
                        ),
                    ));
                }
                last_matching_cp = Some(cp.seq);
            }
            prev_prev = Some(prev);
            prev = hash;
            expected = row.seq + 1;
        }
    }
    let end = to.min(last_known);
    if expected <= end {
        let why = match checkpoints.iter().rev().find(|c| c.seq >= expected) {
            Some(cp) => format!("a signed checkpoint covers seq {}", cp.seq),
            None => format!("the chain head says the last event is seq {last_known}"),
        };
        return Ok(report.fail(
            expected,
            ProblemKind::Truncated,
            format!(
                "the trail ends at seq {} but {why}: the events from seq {expected} on were deleted",
                expected - 1
            ),
        ));
    }
    if let Some(head) = head.filter(|h| h.last_seq == expected - 1 && h.last_seq <= to) {
        if head.last_hash != prev && report.verified > 0 {
            return Ok(report.fail(
                head.last_seq,
                ProblemKind::Changed,
                "the chain head's hash differs from the last event's".into(),
            ));
        }
    }
    Ok(report)
}

impl Report {
    fn fail(self, seq: i64, kind: ProblemKind, message: String) -> Self {
        self.fail_with(Problem { seq, kind, message })
    }

    fn fail_with(mut self, problem: Problem) -> Self {
        self.ok = false;
        self.problem = Some(problem);
        self
    }
}

fn all_checkpoints(store: &dyn ReadStore, app: &str) -> Result<Vec<Checkpoint>, StoreError> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store.checkpoints(app, after, CHUNK)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        out.extend(page);
    }
    Ok(out)
}

/// The hash before `from` (and the one before that, for classifying insertions): the
/// genesis value at seq 1, else the stored hashes, which a partial check trusts.
fn starting_point(
    store: &dyn ReadStore,
    app: &str,
    from: i64,
) -> Result<(Digest, Option<Digest>), StoreError> {
    if from <= 1 {
        return Ok((GENESIS, None));
    }
    let rows = store.chain_rows(app, (from - 2).max(1), from - 1, 2)?;
    let hash_at = |seq: i64| {
        if seq == 0 {
            Some(GENESIS)
        } else {
            rows.iter().find(|r| r.seq == seq).and_then(|r| r.hash)
        }
    };
    // With no stored hash to start from, the first link fails and is reported there.
    Ok((hash_at(from - 1).unwrap_or(GENESIS), hash_at(from - 2)))
}
