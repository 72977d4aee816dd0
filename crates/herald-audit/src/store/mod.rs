//! The boundary between the recorder and a concrete database. The writer task drives a
//! [`WriteStore`]; queries, stats and export go through a [`ReadStore`]. Both are blocking
//! traits, called from blocking threads: SQLite is synchronous, and a PostgreSQL store can
//! implement them with the synchronous `postgres` client (or by blocking on an async one)
//! without changing the writer, the query API or the CLI.
//!
//! A store owns sequence numbering: it must hand out per-app `seq` values that increase by
//! one with every recorded event, and keep them unique even if several writers share it
//! (the PostgreSQL store will need a row lock on a per-app counter for that).

pub mod sqlite;

use crate::error::StoreError;
use crate::event::{EventRecord, EventSummary, PreparedEvent, Recorded};
use crate::query::{Direction, EventFilter, PageRequest};
use crate::stats::{Stats, StatsRequest};

/// The single writer's view of the store.
pub trait WriteStore: Send + 'static {
    /// Records `batch` in one transaction, in order, and returns one [`Recorded`] per
    /// event. Either all of the batch is committed or none of it is (an error).
    fn append(&mut self, batch: &[&PreparedEvent]) -> Result<Vec<Recorded>, StoreError>;

    /// Called once when the writer stops, after the last batch.
    fn close(&mut self) {}
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

    fn stats(&self, app: &str, request: &StatsRequest) -> Result<Stats, StoreError>;

    /// Feeds every matching event, in `direction`, to `sink` in chunks of at most
    /// `chunk` records. Events recorded after the scan starts are not included, so an
    /// export is a consistent cut even while the recorder keeps writing. Stops early when
    /// `sink` returns an error, and returns that error.
    fn scan(
        &self,
        app: &str,
        filter: &EventFilter,
        direction: Direction,
        chunk: usize,
        sink: &mut dyn FnMut(Vec<EventRecord>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}
