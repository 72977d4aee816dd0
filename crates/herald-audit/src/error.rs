//! Errors of the audit recorder, one enum per concern: recording (what the trigger API
//! maps to 503), opening a store (refused before the server binds), and the store itself.

use thiserror::Error;

/// Why `record` could not record events. The trigger API answers 503 with this message.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum RecordError {
    /// The store could not be written; the message carries the cause.
    #[error("audit store unavailable: {0}")]
    Unavailable(String),
    /// The writer's queue is full: the store is not keeping up with the trigger rate.
    #[error("audit recorder saturated: too many events are waiting to be recorded, retry later")]
    Saturated,
    /// The recorder is shutting down and accepts no new events.
    #[error("audit recorder is shutting down")]
    ShuttingDown,
}

/// Why the audit store could not be opened.
#[derive(Debug, Error)]
pub enum OpenError {
    /// The URL could not be understood.
    #[error("invalid audit store URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The URL names a store this build does not have.
    #[error("unsupported audit store: {0}")]
    Unsupported(String),
    /// A configuration value is out of range.
    #[error("invalid audit configuration: {0}")]
    InvalidConfig(String),
    /// The store exists but could not be opened or prepared.
    #[error("cannot open the audit store at {location}: {source}")]
    Store {
        location: String,
        #[source]
        source: StoreError,
    },
}

impl StoreError {
    /// True when the failure is about what was being written (a constraint, a value too
    /// big) rather than about the store (locked, full, unreadable): only then can writing
    /// the same events in smaller groups succeed.
    pub fn is_about_content(&self) -> bool {
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::ConstraintViolation
                    | rusqlite::ErrorCode::TooBig
                    | rusqlite::ErrorCode::TypeMismatch
            ),
            Self::Sqlite(rusqlite::Error::ToSqlConversionFailure(_)) => true,
            _ => false,
        }
    }
}

/// A failure inside a store implementation.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A stored value could not be decoded (a corrupted or foreign database).
    #[error("corrupt audit row: {0}")]
    Corrupt(String),
    /// The reading side was dropped (for example an export whose client went away).
    #[error("the reader went away")]
    Cancelled,
}
