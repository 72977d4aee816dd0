//! The SQLite read side: a pool of read-only connections serving lists, single events,
//! statistics and export scans. Each list or stats request runs in one read transaction so
//! that its count, rows and breakdowns describe the same snapshot.

use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::SqliteTarget;
use super::sql::{self, RECORD_COLUMNS, SUMMARY_COLUMNS, Selection, SeqRange};
use crate::error::StoreError;
use crate::event::{EventRecord, EventSummary};
use crate::query::page::Cursor;
use crate::query::{Direction, EventFilter, PageRequest};
use crate::stats::{
    self, ActionCount, ChannelCount, ModelCount, Range, Stats, StatsRequest, UserCount,
};
use crate::store::{EventPage, ReadStore};
use crate::timefmt::{self, MICROS_PER_DAY};

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
/// events consecutively and rows cannot be deleted (schema triggers), so `seq`s are dense.
/// That turns the most common count, "all events", from a scan of the whole index
/// (~50 ms at a million events) into two index probes. Retention that deletes arbitrary
/// rows must replace this with a maintained counter.
fn count(
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
        return Ok((hi - lo + 1).max(0) as u64);
    }
    count_rows(conn, sel)
}

fn count_rows(conn: &Connection, sel: &Selection) -> Result<u64, StoreError> {
    let sql = format!("SELECT count(*) {}", sel.sql());
    let n: i64 = conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(sel.params.iter()), |r| r.get(0))?;
    Ok(n as u64)
}

fn page(
    conn: &Connection,
    mut sel: Selection,
    page: &PageRequest,
) -> Result<(Vec<EventSummary>, Option<String>), StoreError> {
    let order = match page.direction {
        Direction::Asc => "ASC",
        Direction::Desc => "DESC",
    };
    if let Some(after) = page.after {
        sel.push_seq(
            if page.direction == Direction::Asc {
                ">"
            } else {
                "<"
            },
            after,
        );
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

/// `SELECT column, count(*)` over a selection, largest first, nulls left out.
fn breakdown(
    conn: &Connection,
    sel: &Selection,
    column: &str,
    top: usize,
) -> Result<Vec<(String, u64)>, StoreError> {
    let sql = format!(
        "SELECT {column}, count(*) AS n {} AND {column} IS NOT NULL
         GROUP BY {column} ORDER BY n DESC, {column} LIMIT {top}",
        sel.sql()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(sel.params.iter()), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn channel_breakdown(
    conn: &Connection,
    app: &str,
    filter: &EventFilter,
    range: SeqRange,
    top: usize,
) -> Result<Vec<(String, u64)>, StoreError> {
    let plain = Selection::new(app, filter, range);
    if plain.unfiltered {
        // Only the app and a seq range: the channel table's primary key answers alone.
        let sql = format!(
            "SELECT c.channel, count(*) AS n FROM event_channels c WHERE c.app_id = ?1 {} {}
             GROUP BY c.channel ORDER BY n DESC, c.channel LIMIT {top}",
            if range.lo.is_some() {
                "AND c.seq >= ?2"
            } else {
                "AND ?2 IS NULL"
            },
            if range.hi.is_some() {
                "AND c.seq <= ?3"
            } else {
                "AND ?3 IS NULL"
            },
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(params![app, range.lo, range.hi], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<Result<_, _>>()?;
        return Ok(rows);
    }
    let from = if filter.channel.is_some() {
        "event_channels c JOIN events e ON e.app_id = c.app_id AND e.seq = c.seq \
         JOIN event_channels ch ON ch.app_id = e.app_id AND ch.seq = e.seq"
    } else {
        "events e JOIN event_channels ch ON ch.app_id = e.app_id AND ch.seq = e.seq"
    };
    let sql = format!(
        "SELECT ch.channel, count(*) AS n {} GROUP BY ch.channel ORDER BY n DESC, ch.channel LIMIT {top}",
        plain.clone().with_from(from).sql()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(plain.params.iter()), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn per_day(conn: &Connection, sel: &Selection) -> Result<Vec<(i64, u64)>, StoreError> {
    let sql = format!(
        "SELECT e.received_at / {MICROS_PER_DAY} AS d, count(*) {} GROUP BY d ORDER BY d",
        sel.sql()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(sel.params.iter()), |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
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

impl ReadStore for SqliteReader {
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
                format!("SELECT {RECORD_COLUMNS} FROM events e WHERE e.app_id = ?1 AND e.seq = ?2");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(params![app, seq], sql::record_from_row)
                .optional()?)
        })
    }

    fn stats(&self, app: &str, request: &StatsRequest) -> Result<Stats, StoreError> {
        self.snapshot(|conn| {
            let filter = &request.filter;
            let unranged = EventFilter {
                from: None,
                to: None,
                ..filter.clone()
            };
            let now = request.now_micros;
            let total = count(
                conn,
                app,
                &Selection::new(app, &unranged, SeqRange::default()),
                SeqRange::default(),
            )?;
            let today = count_since(conn, app, &unranged, request.today_start())?;
            let last_7_days = count_since(conn, app, &unranged, now - 7 * MICROS_PER_DAY)?;
            let last_30_days = count_since(conn, app, &unranged, now - 30 * MICROS_PER_DAY)?;
            // `days=N` has no `to`: its series runs up to today.
            let series_end = filter.to.or(filter.from.map(|_| now + 1));
            let range_out = Range {
                from: filter.from.map(timefmt::format_micros),
                to: filter.to.map(timefmt::format_micros),
                count: 0,
            };
            let Some(range) = sql::seq_range(conn, app, filter.from, filter.to)? else {
                return Ok(Stats {
                    total,
                    today,
                    last_7_days,
                    last_30_days,
                    range: range_out,
                    by_action: Vec::new(),
                    by_model: Vec::new(),
                    by_user: Vec::new(),
                    by_channel: Vec::new(),
                    per_day: stats::per_day_series(&[], filter.from, series_end),
                    recent: Vec::new(),
                });
            };
            let sel = Selection::new(app, filter, range);
            let top = request.top;
            let by_action = breakdown(conn, &sel, "e.action", top)?
                .into_iter()
                .map(|(action, count)| ActionCount { action, count })
                .collect();
            let by_model = breakdown(conn, &sel, "e.model", top)?
                .into_iter()
                .map(|(model, count)| ModelCount { model, count })
                .collect();
            let by_user = breakdown(conn, &sel, "e.user", top)?
                .into_iter()
                .map(|(user, count)| UserCount { user, count })
                .collect();
            let by_channel = channel_breakdown(conn, app, filter, range, top)?
                .into_iter()
                .map(|(channel, count)| ChannelCount { channel, count })
                .collect();
            let per_day = stats::per_day_series(&per_day(conn, &sel)?, filter.from, series_end);
            let range_count = count(conn, app, &sel, range)?;
            let recent = if request.recent == 0 {
                Vec::new()
            } else {
                page(
                    conn,
                    sel,
                    &PageRequest {
                        direction: Direction::Desc,
                        limit: request.recent,
                        after: None,
                    },
                )?
                .0
            };
            Ok(Stats {
                total,
                today,
                last_7_days,
                last_30_days,
                range: Range {
                    count: range_count,
                    ..range_out
                },
                by_action,
                by_model,
                by_user,
                by_channel,
                per_day,
                recent,
            })
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
