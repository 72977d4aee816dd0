//! The PostgreSQL read side: a `deadpool-postgres` pool of read-only connections serving
//! lists, single events, statistics and export scans. A list or stats request runs in one
//! `REPEATABLE READ READ ONLY` transaction, so its count, rows and breakdowns describe the
//! same snapshot.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::runtime::Handle;
use tokio_postgres::IsolationLevel;

use super::PgTarget;
use super::sql::{self, Db, Param, RECORD_COLUMNS, SUMMARY_COLUMNS, Selection};
use crate::chain::{ChainHead, ChainRow, Checkpoint};
use crate::error::StoreError;
use crate::event::{EventRecord, EventSummary};
use crate::query::page::Cursor;
use crate::query::{Direction, EventFilter, PageRequest};
use crate::stats::{Stats, StatsRequest};
use crate::store::timeline::SeqRange;
use crate::store::{EventPage, ReadStore};

/// How long a query waits for a free connection, or for a new one, before failing.
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

pub struct PgReader {
    pool: Pool,
    rt: Handle,
}

impl PgReader {
    pub fn new(target: &PgTarget, rt: Handle, size: usize) -> Result<Self, StoreError> {
        let config = target.session_config(&[("default_transaction_read_only", "on")]);
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| {
                StoreError::Unreachable(format!("cannot build the connection pool: {e}"))
            })?;
        Ok(Self { pool, rt })
    }

    /// Runs `f` in one read-only snapshot.
    fn snapshot<T>(
        &self,
        f: impl FnOnce(&Db<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self.rt.block_on(self.pool.get()).map_err(pool_error)?;
        let tx = self.rt.block_on(
            client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start(),
        )?;
        let result = f(&Db {
            rt: &self.rt,
            tx: &tx,
        });
        // Nothing to keep: ending the transaction releases the snapshot.
        let _ = self.rt.block_on(tx.rollback());
        result
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => StoreError::Postgres(e),
        other => StoreError::Unreachable(format!("PostgreSQL connection pool: {other}")),
    }
}

/// How many events a selection matches. With no filter but a `seq` range the answer is
/// arithmetic: `seq`s are dense (see the SQLite store's `count` for the reasoning).
pub(super) fn count(
    db: &Db<'_, '_>,
    app: &str,
    sel: &Selection,
    range: SeqRange,
) -> Result<u64, StoreError> {
    if sel.unfiltered {
        let Some(row) = db.query_opt(
            "SELECT min(seq), max(seq) FROM events WHERE app_id = $1",
            &[Param::Text(app.to_owned())],
        )?
        else {
            return Ok(0);
        };
        let (Some(first), Some(last)): (Option<i64>, Option<i64>) = (row.get(0), row.get(1)) else {
            return Ok(0);
        };
        let lo = range.lo.map_or(first, |lo| lo.max(first));
        let hi = range.hi.map_or(last, |hi| hi.min(last));
        return Ok((hi - lo + 1).max(0) as u64);
    }
    let from = sel.driver_sql().unwrap_or_else(|| sel.sql());
    let row = db.query(&format!("SELECT count(*) {from}"), &sel.params)?;
    Ok(row.first().map_or(0, |r| r.get::<_, i64>(0)) as u64)
}

pub(super) fn page(
    db: &Db<'_, '_>,
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
    let mut rows: Vec<EventSummary> = db
        .query(&sql, &sel.params)?
        .iter()
        .map(sql::summary_from_row)
        .collect();
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

impl ReadStore for PgReader {
    fn list(
        &self,
        app: &str,
        filter: &EventFilter,
        request: &PageRequest,
    ) -> Result<EventPage, StoreError> {
        self.snapshot(|db| {
            let Some(range) = db.seq_range(app, filter.from, filter.to)? else {
                return Ok(EventPage {
                    count: 0,
                    next: None,
                    results: Vec::new(),
                });
            };
            let sel = Selection::new(app, filter, range);
            let count = count(db, app, &sel, range)?;
            let (results, next) = page(db, sel, request)?;
            Ok(EventPage {
                count,
                next,
                results,
            })
        })
    }

    fn get(&self, app: &str, seq: i64) -> Result<Option<EventRecord>, StoreError> {
        self.snapshot(|db| {
            let sql =
                format!("SELECT {RECORD_COLUMNS} FROM events e WHERE e.app_id = $1 AND e.seq = $2");
            Ok(db
                .query_opt(&sql, &[Param::Text(app.to_owned()), Param::Int(seq)])?
                .map(|r| sql::record_from_row(&r)))
        })
    }

    fn apps(&self) -> Result<Vec<String>, StoreError> {
        self.snapshot(|db| {
            Ok(db
                .query(
                    "SELECT app_id FROM app_heads WHERE last_seq > 0 ORDER BY app_id",
                    &[],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn chain_rows(
        &self,
        app: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<ChainRow>, StoreError> {
        self.snapshot(|db| super::chain::rows(db, app, from, to, limit))
    }

    fn chain_head(&self, app: &str) -> Result<Option<ChainHead>, StoreError> {
        self.snapshot(|db| super::chain::head(db, app))
    }

    fn checkpoints(
        &self,
        app: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        self.snapshot(|db| super::chain::checkpoints(db, app, after, limit))
    }

    fn stats(&self, app: &str, request: &StatsRequest) -> Result<Stats, StoreError> {
        self.snapshot(|db| super::stats::stats(db, app, request))
    }

    fn scan(
        &self,
        app: &str,
        filter: &EventFilter,
        direction: Direction,
        chunk: usize,
        sink: &mut dyn FnMut(Vec<EventRecord>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // Bounds first, in their own snapshot; then each chunk is its own short transaction,
        // so a slow export client never holds a snapshot (and old row versions) open.
        let bounds = self.snapshot(|db| {
            let Some(mut range) = db.seq_range(app, filter.from, filter.to)? else {
                return Ok(None);
            };
            // Fix the upper end now: events recorded during a long export are not chased.
            let max: Option<i64> = db
                .query_opt(
                    "SELECT max(seq) FROM events WHERE app_id = $1",
                    &[Param::Text(app.to_owned())],
                )?
                .and_then(|r| r.get(0));
            let Some(max) = max else { return Ok(None) };
            range.hi = Some(range.hi.map_or(max, |hi| hi.min(max)));
            Ok(Some(range))
        })?;
        let Some(range) = bounds else { return Ok(()) };
        let order = if direction == Direction::Asc {
            "ASC"
        } else {
            "DESC"
        };
        let mut after: Option<i64> = None;
        loop {
            let rows = self.snapshot(|db| {
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
                Ok(db
                    .query(&sql, &sel.params)?
                    .iter()
                    .map(sql::record_from_row)
                    .collect::<Vec<_>>())
            })?;
            let done = rows.len() < chunk;
            after = rows.last().map(|r| r.summary.seq);
            if !rows.is_empty() {
                sink(rows)?;
            }
            if done {
                return Ok(());
            }
        }
    }
}
