//! Statistics over the SQLite store.
//!
//! A breakdown of a filtered selection (one user, one model, a search) is counted from the
//! matching rows, driven by the filter's index. A breakdown of *everything* in a range
//! would have to read every row in it (seconds at a million events), so the writer keeps
//! per-day counts by action, model, user and channel in `daily_counts`, in the same
//! transaction as the events; whole days come from there, and only the partial days at
//! the ends of a range are counted from rows. The two agree exactly because both use the
//! recorded `received_at`.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, params, params_from_iter};

use super::read::{count, page};
use super::sql::{self, Selection, SeqRange};
use crate::error::StoreError;
use crate::query::{Direction, EventFilter, PageRequest};
use crate::stats::{
    self, ActionCount, ChannelCount, ModelCount, Range, Stats, StatsRequest, UserCount,
};
use crate::timefmt::{self, MICROS_PER_DAY};

/// Counts by value for each breakdown, and by day.
#[derive(Debug, Default)]
struct Tally {
    action: HashMap<String, u64>,
    model: HashMap<String, u64>,
    user: HashMap<String, u64>,
    channel: HashMap<String, u64>,
    per_day: BTreeMap<i64, u64>,
}

impl Tally {
    fn dim(&mut self, dim: &str) -> Option<&mut HashMap<String, u64>> {
        match dim {
            "action" => Some(&mut self.action),
            "model" => Some(&mut self.model),
            "user" => Some(&mut self.user),
            "channel" => Some(&mut self.channel),
            _ => None,
        }
    }

    fn merge(&mut self, other: Tally) {
        for (dim, map) in [
            ("action", other.action),
            ("model", other.model),
            ("user", other.user),
            ("channel", other.channel),
        ] {
            if let Some(mine) = self.dim(dim) {
                for (k, v) in map {
                    *mine.entry(k).or_default() += v;
                }
            }
        }
        for (d, v) in other.per_day {
            *self.per_day.entry(d).or_default() += v;
        }
    }
}

/// Largest first, ties by name, at most `top`.
fn top(map: HashMap<String, u64>, top: usize) -> Vec<(String, u64)> {
    let mut rows: Vec<(String, u64)> = map.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(top);
    rows
}

fn pairs<K: rusqlite::types::FromSql>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<(K, u64)>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(params, |r| {
            Ok((r.get::<_, K>(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Counts a selection from its rows. The unary `+` keeps SQLite from walking the grouped
/// column's index (every row of the app) instead of the filter's (only matching rows).
fn row_tally(conn: &Connection, sel: &Selection) -> Result<Tally, StoreError> {
    let mut tally = Tally::default();
    for (dim, column) in [
        ("action", "e.action"),
        ("model", "e.model"),
        ("user", "e.user"),
    ] {
        let sql = format!(
            "SELECT +{column}, count(*) {} AND +{column} IS NOT NULL GROUP BY 1",
            sel.sql()
        );
        let map = tally.dim(dim).expect("known dimension");
        map.extend(pairs::<String>(
            conn,
            &sql,
            params_from_iter(sel.params.iter()),
        )?);
    }
    let channels = sel.clone().joining("json_each(e.channels) j");
    let sql = format!("SELECT j.value, count(*) {} GROUP BY 1", channels.sql());
    tally.channel.extend(pairs::<String>(
        conn,
        &sql,
        params_from_iter(channels.params.iter()),
    )?);
    let sql = format!(
        "SELECT e.received_at / {MICROS_PER_DAY}, count(*) {} GROUP BY 1",
        sel.sql()
    );
    tally.per_day.extend(pairs::<i64>(
        conn,
        &sql,
        params_from_iter(sel.params.iter()),
    )?);
    Ok(tally)
}

/// Counts every event of whole days `[day_lo, day_hi)` from the rollups.
fn rollup_tally(
    conn: &Connection,
    app: &str,
    day_lo: i64,
    day_hi: i64,
) -> Result<Tally, StoreError> {
    let mut tally = Tally::default();
    let mut stmt = conn.prepare_cached(
        "SELECT dim, value, sum(count) FROM daily_counts
         WHERE app_id = ?1 AND day >= ?2 AND day < ?3 AND dim <> '' GROUP BY dim, value",
    )?;
    let mut rows = stmt.query(params![app, day_lo, day_hi])?;
    while let Some(r) = rows.next()? {
        let dim: String = r.get(0)?;
        if let Some(map) = tally.dim(&dim) {
            map.insert(r.get(1)?, r.get::<_, i64>(2)? as u64);
        }
    }
    tally.per_day.extend(pairs::<i64>(
        conn,
        "SELECT day, count FROM daily_counts
         WHERE app_id = ?1 AND day >= ?2 AND day < ?3 AND dim = '' AND value = ''",
        params![app, day_lo, day_hi],
    )?);
    Ok(tally)
}

/// Every event received in `[from, to)`, counted from rows (a range under two days).
fn edge_tally(conn: &Connection, app: &str, from: i64, to: i64) -> Result<Tally, StoreError> {
    match sql::seq_range(conn, app, Some(from), Some(to))? {
        None => Ok(Tally::default()),
        Some(range) => row_tally(conn, &Selection::new(app, &EventFilter::default(), range)),
    }
}

/// Every event of the app in `[from, to)`: rollups for whole days, rows for the ends.
fn unfiltered_tally(
    conn: &Connection,
    app: &str,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Tally, StoreError> {
    let day_lo = from.map_or(i64::MIN, |f| {
        f.div_euclid(MICROS_PER_DAY) + i64::from(f.rem_euclid(MICROS_PER_DAY) != 0)
    });
    let day_hi = to.map_or(i64::MAX, |t| t.div_euclid(MICROS_PER_DAY));
    if day_lo >= day_hi {
        // No whole day inside: the range is short, count its rows.
        let (Some(from), Some(to)) = (from, to) else {
            return Ok(Tally::default());
        };
        return edge_tally(conn, app, from, to);
    }
    let mut tally = rollup_tally(conn, app, day_lo, day_hi)?;
    if let Some(from) = from.filter(|f| *f < day_lo * MICROS_PER_DAY) {
        tally.merge(edge_tally(conn, app, from, day_lo * MICROS_PER_DAY)?);
    }
    if let Some(to) = to.filter(|t| *t > day_hi * MICROS_PER_DAY) {
        tally.merge(edge_tally(conn, app, day_hi * MICROS_PER_DAY, to)?);
    }
    Ok(tally)
}

/// Count of `filter` (ignoring its own range) since `from`.
fn count_since(
    conn: &Connection,
    app: &str,
    filter: &EventFilter,
    from: i64,
) -> Result<u64, StoreError> {
    match sql::seq_range(conn, app, Some(from), None)? {
        None => Ok(0),
        Some(range) => count(conn, app, &Selection::new(app, filter, range), range),
    }
}

pub fn stats(conn: &Connection, app: &str, request: &StatsRequest) -> Result<Stats, StoreError> {
    let filter = &request.filter;
    let now = request.now_micros;
    let unranged = EventFilter {
        from: None,
        to: None,
        ..filter.clone()
    };
    let all = SeqRange::default();
    let total = count(conn, app, &Selection::new(app, &unranged, all), all)?;
    let today = count_since(conn, app, &unranged, request.today_start())?;
    let last_7_days = count_since(conn, app, &unranged, now - 7 * MICROS_PER_DAY)?;
    let last_30_days = count_since(conn, app, &unranged, now - 30 * MICROS_PER_DAY)?;

    let (tally, range_count, recent) = match sql::seq_range(conn, app, filter.from, filter.to)? {
        None => (Tally::default(), 0, Vec::new()),
        Some(range) => {
            let sel = Selection::new(app, filter, range);
            let tally = if sel.unfiltered {
                unfiltered_tally(conn, app, filter.from, filter.to)?
            } else {
                row_tally(conn, &sel)?
            };
            let range_count = count(conn, app, &sel, range)?;
            let recent = if request.recent == 0 {
                Vec::new()
            } else {
                let newest = PageRequest {
                    direction: Direction::Desc,
                    limit: request.recent,
                    after: None,
                };
                page(conn, sel, &newest)?.0
            };
            (tally, range_count, recent)
        }
    };
    // `days=N` has no `to`: its series runs up to today.
    let series_end = filter.to.or(filter.from.map(|_| now + 1));
    let per_day: Vec<(i64, u64)> = tally.per_day.into_iter().collect();
    Ok(Stats {
        total,
        today,
        last_7_days,
        last_30_days,
        range: Range {
            from: filter.from.map(timefmt::format_micros),
            to: filter.to.map(timefmt::format_micros),
            count: range_count,
        },
        by_action: top(tally.action, request.top)
            .into_iter()
            .map(|(action, count)| ActionCount { action, count })
            .collect(),
        by_model: top(tally.model, request.top)
            .into_iter()
            .map(|(model, count)| ModelCount { model, count })
            .collect(),
        by_user: top(tally.user, request.top)
            .into_iter()
            .map(|(user, count)| UserCount { user, count })
            .collect(),
        by_channel: top(tally.channel, request.top)
            .into_iter()
            .map(|(channel, count)| ChannelCount { channel, count })
            .collect(),
        per_day: stats::per_day_series(&per_day, filter.from, series_end),
        recent,
    })
}
