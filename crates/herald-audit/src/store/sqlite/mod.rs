//! The embedded SQLite store: one write connection owned by the writer, and a small pool
//! of read connections. WAL mode lets readers run while the writer commits.
//!
//! `sqlite::memory:` uses SQLite's `memdb` VFS under a name unique to this store, so the
//! writer's and the readers' connections see one database (a plain `:memory:` would give
//! each connection its own, empty one).

mod chain;
mod prune;
mod read;
mod schema;
mod sql;
mod stats;
mod upgrade;
mod write;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use read::SqliteReader;
pub use write::SqliteWriter;

use crate::config::{Durability, StoreLocation};
use crate::error::StoreError;

/// How to reach one SQLite database, for every connection opened on it.
#[derive(Debug, Clone)]
pub struct SqliteTarget {
    /// File path, or `file:/…?vfs=memdb` URI.
    name: String,
    memory: bool,
    busy_timeout: Duration,
}

impl SqliteTarget {
    pub fn new(location: &StoreLocation, busy_timeout: Duration) -> Self {
        match location {
            StoreLocation::SqliteFile(path) => Self {
                name: path.to_string_lossy().into_owned(),
                memory: false,
                busy_timeout,
            },
            // A PostgreSQL location never reaches here (`open` routes it to its own store).
            StoreLocation::SqliteMemory | StoreLocation::Postgres(_) => {
                static NEXT: AtomicU64 = AtomicU64::new(0);
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                Self {
                    name: format!("file:/herald-audit-{}-{n}?vfs=memdb", std::process::id()),
                    memory: true,
                    busy_timeout,
                }
            }
        }
    }

    /// Human-readable location for error messages.
    pub fn describe(&self) -> String {
        if self.memory {
            "sqlite::memory:".to_owned()
        } else {
            self.name.clone()
        }
    }

    /// Opens the write connection, creating the file, its directory and the schema.
    pub fn open_writer(&self, durability: Durability) -> Result<Connection, StoreError> {
        if !self.memory {
            if let Some(dir) = Path::new(&self.name)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)?;
            }
        }
        let conn = self.open(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)?;
        if !self.memory {
            // WAL: readers never block the writer nor the writer them.
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Corrupt(format!(
                    "could not switch the database to WAL mode (it stays in {mode})"
                )));
            }
        }
        // A checkpoint copies every page changed since the last one into the database file.
        // Index pages are rewritten by many consecutive batches, so checkpointing every
        // ~200 MB of WAL instead of SQLite's default 4 MB copies each page once instead of
        // many times (measured at 300k events: 15.8 KB written per event instead of 19.3 at
        // 40 MB, and far more at 4 MB). The cost is a WAL file of up to ~200 MB and, after a
        // crash, reading it back once at open.
        //
        // FULL fsyncs the WAL at every commit: power-loss durable. NORMAL only writes it to
        // the OS, which survives the process being killed but not the machine crashing.
        let sync = match durability {
            Durability::Durable => "FULL",
            Durability::Async => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {sync};
             PRAGMA cache_size = -65536;
             PRAGMA temp_store = MEMORY;
             PRAGMA wal_autocheckpoint = 50000;"
        ))?;
        schema::migrate(&conn)?;
        Ok(conn)
    }

    /// Opens a read connection on an existing store.
    pub fn open_reader(&self) -> Result<Connection, StoreError> {
        let conn = self.open(OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        // Read-only by intent: nothing read through the query API can write.
        conn.execute_batch(
            "PRAGMA query_only = ON;
             PRAGMA cache_size = -32768;
             PRAGMA temp_store = MEMORY;
             PRAGMA mmap_size = 268435456;",
        )?;
        Ok(conn)
    }

    fn open(&self, flags: OpenFlags) -> Result<Connection, StoreError> {
        let flags = flags | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.name, flags)?;
        conn.busy_timeout(self.busy_timeout)?;
        Ok(conn)
    }

    /// The file path, when the store is a file.
    pub fn path(&self) -> Option<PathBuf> {
        (!self.memory).then(|| PathBuf::from(&self.name))
    }
}
