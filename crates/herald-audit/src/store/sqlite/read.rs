//! The SQLite read side: a pool of read-only connections serving lists, single events,
//! statistics and export scans. Each list or stats request runs in one read transaction so
//! that its count, rows and breakdowns describe the same snapshot.

use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::sql::{self, RECORD_COLUMNS, SUMMARY_COLUMNS, Selection, SeqRange};
use super::{SqliteTarget, chain};
use crate::chain::{ChainHead, ChainRow, Checkpoint};
use crate::error::StoreError;
use crate::event::{EventRecord, EventSummary};
use crate::query::page::Cursor;
use crate::query::{Direction, EventFilter, PageRequest};
use crate::stats::{Stats, StatsRequest};
use crate::store::{EventPage, ReadStore};

pub struct SqliteReader {
    target: SqliteTarget,
    /// Idle connections. A std Mutex: it is only held to push or pop, on a blocking
    /// thread, never across a query or an `.await`.
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl SqliteReader {
    pub fn new(target: SqliteTarget, max_idle: usize) -> Self {
        Self {
            target,
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// Opens a reader on an existing store only (the CLI must not create an empty one).
    pub fn open_existing(target: SqliteTarget, max_idle: usize) -> Result<Self, StoreError> {
        let reader = Self::new(target, max_idle);
        let conn = reader.target.open_reader()?;
        if !super::schema::is_initialised(&conn)? {
            return Err(StoreError::Corrupt(format!(
                "{} holds no herald audit data",
                reader.target.describe()
            )));
        }
        reader.give_back(conn);
        Ok(reader)
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => self.target.open_reader()?,
        };
        let result = f(&conn);
        self.give_back(conn);
        result
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    /// Runs `f` inside a read transaction: one snapshot for all its statements.
    fn snapshot<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_conn(|conn| {
            conn.execute_batch("BEGIN DEFERRED")?;
            let result = f(conn);
            // A read transaction has nothing to keep; ending it releases the snapshot.
            let _ = conn.execute_batch("COMMIT");
            result
        })
    }
}

/// How many events a selection matches.
///
/// With no filter but a `seq` range the answer is arithmetic: the writer numbers an app's
/// events consecutively and rows are never deleted (retention prunes in place), so `seq`s are
/// dense, less the pruned ones, which a partial index counts. That turns the most common
/// count, "all events", from a scan of the whole index (~50 ms at a million events) into
/// index probes.
pub(super) fn count(
    conn: &Connection,
    app: &str,
    sel: &Selection,
    range: SeqRange,
) -> Result<u64, StoreError> {
    if sel.unfiltered {
        let Some((first, last)) = sql::seq_bounds(conn, app)? else {
            return Ok(0);
        };
        let lo = range.lo.map_or(first, |lo| lo.max(first));
        let hi = range.hi.map_or(last, |hi| hi.min(last));
        if hi < lo {
            return Ok(0);
        }
        // Retention leaves pruned rows in place; their partial index counts them.
        let pruned: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM events
                 WHERE app_id = ?1 AND seq BETWEEN ?2 AND ?3 AND pruned_at IS NOT NULL",
            )?
            .query_row(params![app, lo, hi], |r| r.get(0))?;
        return Ok((hi - lo + 1 - pruned).max(0) as u64);
    }
    count_rows(conn, sel)
}

fn count_rows(conn: &Connection, sel: &Selection) -> Result<u64, StoreError> {
    // A channel or a search alone is counted from its own index, without visiting events.
    let from = sel.driver_sql().unwrap_or_else(|| sel.sql());
    let sql = format!("SELECT count(*) {from}");
    let n: i64 = conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(sel.params.iter()), |r| r.get(0))?;
    Ok(n as u64)
}

pub(super) fn page(
    conn: &Connection,
    mut sel: Selection,
    page: &PageRequest,
) -> Result<(Vec<EventSummary>, Option<String>), StoreError> {
    let order = page.order_sql();
    if let Some((op, after)) = page.seq_bound() {
        sel.push_seq(op, after);
    }
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} {} ORDER BY {} {order} LIMIT {}",
        sel.sql(),
        sel.seq,
        page.limit + 1
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows: Vec<EventSummary> = stmt
        .query_map(params_from_iter(sel.params.iter()), sql::summary_from_row)?
        .collect::<Result<_, _>>()?;
    let next = if rows.len() > page.limit {
        rows.truncate(page.limit);
        rows.last().map(|last| {
            Cursor {
                direction: page.direction,
                seq: last.seq,
            }
            .encode()
        })
    } else {
        None
    };
    Ok((rows, next))
}

impl ReadStore for SqliteReader {
    fn chain_rows(
        &self,
        app: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<ChainRow>, StoreError> {
        self.with_conn(|conn| chain::rows(conn, app, from, to, limit))
    }

    fn chain_head(&self, app: &str) -> Result<Option<ChainHead>, StoreError> {
        self.with_conn(|conn| chain::head(conn, app))
    }

    fn checkpoints(
        &self,
        app: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        self.with_conn(|conn| chain::checkpoints(conn, app, after, limit))
    }

    fn list(
        &self,
        app: &str,
        filter: &EventFilter,
        request: &PageRequest,
    ) -> Result<EventPage, StoreError> {
        self.snapshot(|conn| {
            let Some(range) = sql::seq_range(conn, app, filter.from, filter.to)? else {
                return Ok(EventPage {
                    count: 0,
                    next: None,
                    results: Vec::new(),
                });
            };
            let sel = Selection::new(app, filter, range);
            let count = count(conn, app, &sel, range)?;
            let (results, next) = page(conn, sel, request)?;
            Ok(EventPage {
                count,
                next,
                results,
            })
        })
    }

    fn get(&self, app: &str, seq: i64) -> Result<Option<EventRecord>, StoreError> {
        self.with_conn(|conn| {
            let sql =
                format!("SELECT {RECORD_COLUMNS} FROM events e WHERE e.app_id = ?1 AND e.seq = ?2 AND e.pruned_at IS NULL");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(params![app, seq], sql::record_from_row)
                .optional()?)
        })
    }

    fn apps(&self) -> Result<Vec<String>, StoreError> {
        self.with_conn(|conn| {
            // One index probe per app (a DISTINCT would read every row).
            let mut apps = Vec::new();
            let mut next = conn.prepare_cached(
                "SELECT app_id FROM events WHERE app_id > ?1 ORDER BY app_id LIMIT 1",
            )?;
            let mut after = String::new();
            while let Some(app) = next
                .query_row(params![after], |r| r.get::<_, String>(0))
                .optional()?
            {
                apps.push(app.clone());
                after = app;
            }
            Ok(apps)
        })
    }

    fn stats(&self, app: &str, request: &StatsRequest) -> Result<Stats, StoreError> {
        self.snapshot(|conn| super::stats::stats(conn, app, request))
    }

    fn last_seq(&self, app: &str) -> Result<Option<i64>, StoreError> {
        self.with_conn(|conn| {
            Ok(conn
                .prepare_cached("SELECT max(seq) FROM events WHERE app_id = ?1")?
                .query_row(params![app], |r| r.get(0))?)
        })
    }

    fn follow(
        &self,
        app: &str,
        filter: &EventFilter,
        after: i64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        self.with_conn(|conn| {
            let Some(range) = sql::seq_range(conn, app, filter.from, filter.to)? else {
                return Ok(Vec::new());
            };
            let mut sel = Selection::new(app, filter, range);
            // Seqs start at 1; a text-driven bound looks the seq up, and 0 has no row.
            if after > 0 {
                sel.push_seq(">", after);
            }
            let sql = format!(
                "SELECT {RECORD_COLUMNS} {} ORDER BY {} ASC LIMIT {limit}",
                sel.sql(),
                sel.seq
            );
            let rows = conn
                .prepare_cached(&sql)?
                .query_map(params_from_iter(sel.params.iter()), sql::record_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
    }

    fn scan(
        &self,
        app: &str,
        filter: &EventFilter,
        direction: Direction,
        chunk: usize,
        sink: &mut dyn FnMut(Vec<EventRecord>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.with_conn(|conn| {
            let Some(mut range) = sql::seq_range(conn, app, filter.from, filter.to)? else {
                return Ok(());
            };
            // Fix the upper end now: events recorded during a long export are not chased.
            let max: Option<i64> = conn
                .prepare_cached("SELECT max(seq) FROM events WHERE app_id = ?1")?
                .query_row(params![app], |r| r.get(0))?;
            let Some(max) = max else { return Ok(()) };
            range.hi = Some(range.hi.map_or(max, |hi| hi.min(max)));
            let order = if direction == Direction::Asc {
                "ASC"
            } else {
                "DESC"
            };
            let mut after: Option<i64> = None;
            loop {
                let mut sel = Selection::new(app, filter, range);
                if let Some(after) = after {
                    sel.push_seq(
                        if direction == Direction::Asc {
                            ">"
                        } else {
                            "<"
                        },
                        after,
                    );
                }
                let sql = format!(
                    "SELECT {RECORD_COLUMNS} {} ORDER BY {} {order} LIMIT {chunk}",
                    sel.sql(),
                    sel.seq
                );
                // Each chunk is its own statement, so a slow export client never holds a
                // read snapshot open (which would stop WAL checkpoints and grow the WAL).
                let rows: Vec<EventRecord> = conn
                    .prepare_cached(&sql)?
                    .query_map(params_from_iter(sel.params.iter()), sql::record_from_row)?
                    .collect::<Result<_, _>>()?;
                let done = rows.len() < chunk;
                after = rows.last().map(|r| r.summary.seq);
                if !rows.is_empty() {
                    sink(rows)?;
                }
                if done {
                    return Ok(());
                }
            }
        })
    }
}
