//! Retention's prune on SQLite: one bounded step at a time, in one transaction each. A
//! pruned row keeps `id`, `app_id`, `seq`, `received_at`, `content_hash` and `hash` (the
//! schema's update trigger allows nothing else) and loses every other field; its
//! `event_channels` rows, its full-text entry and its share of `daily_counts` go too.

use std::collections::HashMap;

use rusqlite::{Connection, TransactionBehavior, params};

use crate::error::StoreError;
use crate::retention::{PruneStep, RetentionPolicy, cutoff};
use crate::timefmt;

struct Candidate {
    id: i64,
    seq: i64,
    received_at: i64,
    channels: Vec<String>,
    model: Option<String>,
    action: Option<String>,
    user: Option<String>,
}

fn candidates(
    tx: &rusqlite::Transaction<'_>,
    app: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<Candidate>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, seq, received_at, channels, model, action, user FROM events
         WHERE app_id = ?1 AND seq > ?2 AND pruned_at IS NULL ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(
            params![app, after, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                let channels: String = r.get(3)?;
                Ok(Candidate {
                    id: r.get(0)?,
                    seq: r.get(1)?,
                    received_at: r.get(2)?,
                    channels: serde_json::from_str(&channels).unwrap_or_default(),
                    model: r.get(4)?,
                    action: r.get(5)?,
                    user: r.get(6)?,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Removes everything of one event but its identity and hashes.
fn prune_row(
    tx: &rusqlite::Transaction<'_>,
    app: &str,
    row: &Candidate,
    now: i64,
) -> Result<(), StoreError> {
    // First the row (the channel rows may only be deleted once their event is pruned).
    tx.prepare_cached(
        "UPDATE events SET pruned_at = ?2, name = '', channels = '[]', data = '',
             socket_id = NULL, client_ip = NULL, user_agent = NULL, library = NULL,
             auth_key = '', idempotency_key = NULL, action = NULL, model = NULL,
             object_id = NULL, object_repr = NULL, user = NULL, timestamp = NULL,
             severity = NULL, status = NULL, changes = NULL, error = NULL, ip = NULL
         WHERE id = ?1",
    )?
    .execute(params![row.id, now])?;
    tx.prepare_cached("DELETE FROM event_channels WHERE app_id = ?1 AND seq = ?2")?
        .execute(params![app, row.seq])?;
    tx.prepare_cached("DELETE FROM events_fts WHERE rowid = ?1")?
        .execute(params![row.id])?;
    Ok(())
}

pub fn step(
    conn: &mut Connection,
    app: &str,
    policy: &RetentionPolicy,
    (now, after, limit): (i64, i64, usize),
    dry_run: bool,
) -> Result<PruneStep, StoreError> {
    let Some(earliest) = policy.earliest_cutoff(now) else {
        return Ok(PruneStep::default());
    };
    let tx = conn.transaction_with_behavior(if dry_run {
        TransactionBehavior::Deferred
    } else {
        TransactionBehavior::Immediate
    })?;
    let rows = candidates(&tx, app, after, limit)?;
    let mut per_rule: HashMap<usize, (u64, i64, i64)> = HashMap::new();
    let mut rollup: HashMap<(i64, &'static str, String), i64> = HashMap::new();
    let mut reached_recent = false;
    for row in &rows {
        // Receive times never decrease along seq: from here on nothing is old enough.
        if row.received_at >= earliest {
            reached_recent = true;
            break;
        }
        let Some(rule) = policy.rule_for(row.model.as_deref(), &row.channels) else {
            continue;
        };
        if row.received_at >= cutoff(now, policy.rules()[rule].days) {
            continue;
        }
        let t = per_rule.entry(rule).or_insert((0, row.seq, row.seq));
        t.0 += 1;
        t.2 = row.seq;
        if dry_run {
            continue;
        }
        prune_row(&tx, app, row, now)?;
        let day = timefmt::day_index(row.received_at);
        *rollup.entry((day, "", String::new())).or_default() += 1;
        for (dim, value) in [
            ("action", &row.action),
            ("model", &row.model),
            ("user", &row.user),
        ] {
            if let Some(v) = value {
                *rollup.entry((day, dim, v.clone())).or_default() += 1;
            }
        }
        for channel in &row.channels {
            *rollup.entry((day, "channel", channel.clone())).or_default() += 1;
        }
    }
    if !rollup.is_empty() {
        let mut dec = tx.prepare_cached(
            "UPDATE daily_counts SET count = count - ?5
             WHERE app_id = ?1 AND day = ?2 AND dim = ?3 AND value = ?4",
        )?;
        for ((day, dim, value), n) in &rollup {
            dec.execute(params![app, day, dim, value, n])?;
        }
        drop(dec);
        tx.execute(
            "DELETE FROM daily_counts WHERE app_id = ?1 AND count <= 0",
            params![app],
        )?;
    }
    tx.commit()?;
    let mut pruned: Vec<(usize, u64, i64, i64)> = per_rule
        .into_iter()
        .map(|(rule, (n, first, last))| (rule, n, first, last))
        .collect();
    pruned.sort_unstable();
    Ok(PruneStep {
        pruned,
        resume_after: match rows.last() {
            Some(last) if !reached_recent && rows.len() == limit => Some(last.seq),
            _ => None,
        },
    })
}
