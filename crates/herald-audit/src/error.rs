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
            // Class 22 is "data exception" (a value the column cannot hold), 23 "integrity
            // constraint violation", 54 "program limit exceeded" (a row too big).
            Self::Postgres(e) => e.code().is_some_and(|c| {
                ["22", "23", "54"]
                    .iter()
                    .any(|class| c.code().starts_with(class))
            }),
            _ => false,
        }
    }

    /// The failure as it may be shown to API clients and on `/ready`: what kind of
    /// failure, never a host, a user or a path.
    pub fn public_reason(&self) -> String {
        match self {
            Self::Postgres(e) => match e.as_db_error() {
                Some(db) => format!(
                    "PostgreSQL refused the write (SQLSTATE {})",
                    db.code().code()
                ),
                None => "PostgreSQL is unreachable; reconnecting".to_owned(),
            },
            Self::Unreachable(_) => "PostgreSQL is unreachable; reconnecting".to_owned(),
            Self::Sqlite(e) => e.to_string(),
            Self::Io(e) => e.to_string(),
            Self::Schema(_) | Self::Corrupt(_) => {
                "the audit store is in an unexpected state (see the server log)".to_owned()
            }
            Self::Cancelled => "the reader went away".to_owned(),
            Self::Unsupported(why) => why.clone(),
        }
    }

    /// True when the store could not be reached at all (refused, timed out, connection
    /// lost) rather than answering with an error.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Self::Postgres(e) => e.as_db_error().is_none(),
            Self::Unreachable(_) => true,
            _ => false,
        }
    }
}

/// A failure inside a store implementation.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {}", describe_pg(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// The store cannot be reached now; the text says why without naming hosts or users.
    #[error("{0}")]
    Unreachable(String),
    /// The store is fine but its schema is not one this herald can use.
    #[error("{0}")]
    Schema(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A stored value could not be decoded (a corrupted or foreign database).
    #[error("corrupt audit row: {0}")]
    Corrupt(String),
    /// The reading side was dropped (for example an export whose client went away).
    #[error("the reader went away")]
    Cancelled,
    /// The store does not offer this operation (yet); the text says which and what to do.
    #[error("{0}")]
    Unsupported(String),
}

/// A PostgreSQL error as one line: the server's message and SQLSTATE when it answered,
/// otherwise the driver's description (which never carries the password).
fn describe_pg(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}
