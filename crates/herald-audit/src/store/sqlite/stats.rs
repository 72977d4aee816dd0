//! Statistics over the SQLite store: the counting primitives of
//! [`crate::store::stats::StatsSource`] (the assembly is shared with every store).

use rusqlite::{Connection, params, params_from_iter};

use super::read::{count, page};
use super::sql::{self, Selection, SeqRange};
use crate::error::StoreError;
use crate::event::EventSummary;
use crate::query::{Direction, EventFilter, PageRequest};
use crate::stats::{Stats, StatsRequest};
use crate::store::stats::{StatsSource, Tally};
use crate::timefmt::MICROS_PER_DAY;

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

struct Source<'c>(&'c Connection);

impl StatsSource for Source<'_> {
    type Selection = Selection;

    fn seq_range(
        &mut self,
        app: &str,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Option<SeqRange>, StoreError> {
        sql::seq_range(self.0, app, from, to)
    }

    fn select(&self, app: &str, filter: &EventFilter, range: SeqRange) -> Selection {
        Selection::new(app, filter, range)
    }

    fn is_unfiltered(selection: &Selection) -> bool {
        selection.unfiltered
    }

    fn count(
        &mut self,
        app: &str,
        selection: &Selection,
        range: SeqRange,
    ) -> Result<u64, StoreError> {
        count(self.0, app, selection, range)
    }

    fn row_tally(&mut self, selection: &Selection) -> Result<Tally, StoreError> {
        row_tally(self.0, selection)
    }

    fn rollup_tally(&mut self, app: &str, day_lo: i64, day_hi: i64) -> Result<Tally, StoreError> {
        rollup_tally(self.0, app, day_lo, day_hi)
    }

    fn newest(
        &mut self,
        selection: Selection,
        limit: usize,
    ) -> Result<Vec<EventSummary>, StoreError> {
        let newest = PageRequest {
            direction: Direction::Desc,
            limit,
            after: None,
        };
        Ok(page(self.0, selection, &newest)?.0)
    }
}

pub fn stats(conn: &Connection, app: &str, request: &StatsRequest) -> Result<Stats, StoreError> {
    crate::store::stats::stats(&mut Source(conn), app, request)
}
