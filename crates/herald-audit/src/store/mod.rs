//! The boundary between the recorder and a concrete database. The writer task drives a
//! [`WriteStore`]; queries, stats and export go through a [`ReadStore`]. Both are blocking
//! traits, called from blocking threads: SQLite is synchronous, and a PostgreSQL store can
//! implement them with the synchronous `postgres` client (or by blocking on an async one)
//! without changing the writer, the query API or the CLI.
//!
//! A store owns sequence numbering and the hash chain: inside `append`'s transaction it
//! reads each app's head row `(last_seq, last_hash, last_received_at)`, gives each event
//! `seq = last_seq + 1`, `content_hash` and `hash` ([`crate::chain`]), and writes the head
//! back before committing. That keeps seqs dense and the chain whole even when several
//! writers share a store (PostgreSQL: `SELECT … FOR UPDATE` on the head row).
//!
//! The query logic both stores share lives here too: [`timeline`] turns a time range into
//! a `seq` range, [`stats`] assembles statistics from a store's counting primitives.

pub mod postgres;
pub mod sqlite;
pub(crate) mod stats;
pub(crate) mod timeline;

use crate::chain::{ChainHead, ChainRow, Checkpoint};
use crate::error::StoreError;
use crate::event::{EventRecord, EventSummary, PreparedEvent, Recorded};
use crate::query::{Direction, EventFilter, PageRequest};
use crate::retention::{PruneStep, RetentionPolicy};
use crate::stats::{Stats, StatsRequest};

/// The single writer's view of the store.
pub trait WriteStore: Send + 'static {
    /// Records `batch` in one transaction, in order, and returns one [`Recorded`] per
    /// event. Either all of the batch is committed or none of it is (an error).
    fn append(&mut self, batch: &[&PreparedEvent]) -> Result<Vec<Recorded>, StoreError>;

    /// Every app's chain head, as committed.
    fn chain_heads(&mut self) -> Result<Vec<ChainHead>, StoreError>;

    /// Each app's latest signed checkpoint.
    fn latest_checkpoints(&mut self) -> Result<Vec<Checkpoint>, StoreError>;

    /// Stores a signed checkpoint (a second one for the same app and seq is ignored).
    fn add_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<(), StoreError>;

    /// One bounded step of a retention prune of `app`: examines up to `limit` unpruned
    /// events with `seq > after`, oldest first, and prunes those past their rule's time
    /// (or only counts them, with `dry_run`), in one transaction. See [`crate::retention`].
    fn prune_step(
        &mut self,
        app: &str,
        policy: &RetentionPolicy,
        now: i64,
        after: i64,
        limit: usize,
        dry_run: bool,
    ) -> Result<PruneStep, StoreError>;

    /// Called once when the writer stops, after the last batch.
    fn close(&mut self) {}

    /// Checks that the store can be written, reconnecting if it was lost. The writer calls
    /// it while idle after a failure, so that readiness recovers without traffic.
    fn probe(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// One page of a selection, as the list endpoints return it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EventPage {
    /// Every event matching the filter, across all pages.
    pub count: u64,
    /// Cursor for the following page; `None` on the last one.
    pub next: Option<String>,
    pub results: Vec<EventSummary>,
}

/// The read side. Implementations are shared between threads and keep their own
/// connections.
pub trait ReadStore: Send + Sync + 'static {
    fn list(
        &self,
        app: &str,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> Result<EventPage, StoreError>;

    fn get(&self, app: &str, seq: i64) -> Result<Option<EventRecord>, StoreError>;

    /// Every app with recorded events.
    fn apps(&self) -> Result<Vec<String>, StoreError>;

    fn stats(&self, app: &str, request: &StatsRequest) -> Result<Stats, StoreError>;

    /// The highest `seq` recorded for `app`, `None` before its first event. The live
    /// stream starts here when a reader gives no position.
    fn last_seq(&self, app: &str) -> Result<Option<i64>, StoreError> {
        let page = PageRequest {
            direction: Direction::Desc,
            limit: 1,
            after: None,
        };
        let newest = self.list(app, &EventFilter::default(), &page)?;
        Ok(newest.results.first().map(|e| e.seq))
    }

    /// Up to `limit` events matching `filter` with `seq > after`, oldest first, in full. The
    /// live stream reads with it twice: a reader's catch-up from its position, and each
    /// app's tail (unfiltered) after every commit. The default goes through `list` and
    /// `get`; stores should answer it with one indexed range read.
    fn follow(
        &self,
        app: &str,
        filter: &EventFilter,
        after: i64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let page = PageRequest {
            direction: Direction::Asc,
            limit,
            after: Some(after),
        };
        let mut records = Vec::new();
        for summary in self.list(app, filter, &page)?.results {
            if let Some(record) = self.get(app, summary.seq)? {
                records.push(record);
            }
        }
        Ok(records)
    }

    /// Feeds every matching event, in `direction`, to `sink` in chunks of at most
    /// `chunk` records. Events recorded after the scan starts are not included, so an
    /// export is a consistent cut even while the recorder keeps writing. Stops early when
    /// `sink` returns an error, and returns that error.
    /// Up to `limit` events of `app` with `from <= seq <= to`, in seq order, as the chain
    /// sees them (every canonical field, the stored hashes, pruned or not).
    fn chain_rows(
        &self,
        app: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<ChainRow>, StoreError>;

    /// The app's chain head, if it has recorded anything.
    fn chain_head(&self, app: &str) -> Result<Option<ChainHead>, StoreError>;

    /// Up to `limit` signed checkpoints of `app` with `seq > after`, oldest first.
    fn checkpoints(
        &self,
        app: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Checkpoint>, StoreError>;

    fn scan(
        &self,
        app: &str,
        filter: &EventFilter,
        direction: Direction,
        chunk: usize,
        sink: &mut dyn FnMut(Vec<EventRecord>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}
