//! Configuration of the audit recorder, and parsing of the store URL.
//!
//! The URL decides which store backs the recorder: `sqlite://path` and `sqlite::memory:`
//! (one node), `postgres://…` / `postgresql://…` (one store shared by every node of a
//! cluster; see [`crate::store::postgres`]).

use std::path::PathBuf;
use std::time::Duration;

use crate::error::OpenError;
use crate::live::LiveSettings;

/// The store used when nothing is configured: an embedded SQLite file under `./data/`.
pub const DEFAULT_URL: &str = "sqlite://./data/herald-audit.db";

/// The PostgreSQL schema used when none is configured.
pub const DEFAULT_PG_SCHEMA: &str = "herald";

/// How the audit recorder is set up. Build it with `AuditConfig { url, ..Default::default() }`.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// `sqlite://PATH` (relative or absolute), `sqlite::memory:` for tests.
    pub url: String,
    /// When `record` resolves relative to the disk (see the crate docs).
    pub durability: Durability,
    /// How many `record` calls may wait for the writer before new ones are refused with
    /// [`crate::RecordError::Saturated`]. Counted in calls, not events.
    pub queue_capacity: usize,
    /// The most events committed in one transaction (a single larger call is still
    /// committed whole, on its own).
    pub max_batch: usize,
    /// What the trigger API should do when the recorder cannot record; the recorder only
    /// reports it ([`crate::AuditRecorder::on_unavailable`]), the server applies it.
    pub on_unavailable: UnavailablePolicy,
    /// How long a store operation waits for a lock held by another process before the
    /// store is reported unavailable.
    pub busy_timeout: Duration,
    /// How many queries may run at once (one read connection each).
    pub read_connections: usize,
    /// The Ed25519 key file that signs checkpoints (`HERALD_AUDIT_SIGNING_KEY`). `None`:
    /// `herald-audit-signing.pem` beside the store, generated on first start; an in-memory
    /// store gets a key that is never written.
    pub signing_key: Option<PathBuf>,
    /// Sign a checkpoint after this many new events of an app.
    pub checkpoint_every: u64,
    /// … or this long after an app's first unsigned event, whichever comes first.
    pub checkpoint_interval: Duration,
    /// The live stream's buffer, heartbeat and polling.
    pub live: LiveSettings,
    /// The PostgreSQL schema holding herald's tables (created if missing). Ignored by
    /// SQLite.
    pub pg_schema: String,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.to_owned(),
            durability: Durability::Durable,
            queue_capacity: 4096,
            max_batch: 2048,
            on_unavailable: UnavailablePolicy::RecordOrReject,
            busy_timeout: Duration::from_secs(5),
            read_connections: 4,
            signing_key: None,
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(60),
            live: LiveSettings::default(),
            pg_schema: DEFAULT_PG_SCHEMA.to_owned(),
        }
    }
}

/// When an acknowledged event is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `record` resolves after the transaction is committed and fsynced: the event survives
    /// `kill -9` of the process and a crash or power loss of the machine.
    #[default]
    Durable,
    /// `record` resolves after the transaction is committed to the WAL without fsync: the
    /// event survives `kill -9` of the process, but a crash of the operating system or a
    /// power loss may lose the last moments of events.
    Async,
}

/// What the trigger API does when an event cannot be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnavailablePolicy {
    /// Refuse the trigger with 503: nothing is delivered that is not recorded.
    #[default]
    RecordOrReject,
    /// Deliver the event anyway and log that it was not recorded.
    DeliverAndRecord,
}

/// Where a store lives, parsed from [`AuditConfig::url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite database file.
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database (lost when the recorder stops).
    SqliteMemory,
    /// A PostgreSQL database, by its `postgres://` URL (checked, `sslmode` understood).
    Postgres(String),
}

impl StoreLocation {
    /// Parses a store URL, naming what is wrong with it.
    pub fn parse(url: &str) -> Result<Self, OpenError> {
        let url = url.trim();
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            return Ok(Self::SqliteMemory);
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(OpenError::InvalidUrl {
                    url: url.to_owned(),
                    reason: "the SQLite URL has no path (expected sqlite://./data/herald-audit.db)"
                        .into(),
                });
            }
            // Query options such as `?mode=rwc` are accepted by other tools; herald sets its
            // own, so they are dropped rather than becoming part of the file name.
            let path = path.split('?').next().unwrap_or(path);
            return Ok(Self::SqliteFile(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            crate::store::postgres::PgTarget::check_url(url)?;
            return Ok(Self::Postgres(url.to_owned()));
        }
        Err(OpenError::InvalidUrl {
            url: redact_url(url),
            reason:
                "expected sqlite://PATH, sqlite::memory: or postgres://USER:PASSWORD@HOST:PORT/DB"
                    .into(),
        })
    }
}

/// `url` with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Checks a PostgreSQL schema name: herald creates and names it in SQL, so it is limited to
/// plain lower-case identifiers that need no quoting.
pub fn check_pg_schema(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if !first_ok
        || name.len() > 63
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!(
            "expected a lower-case identifier ([a-z_][a-z0-9_]*, at most 63 characters), got {name:?}"
        ));
    }
    if name.starts_with("pg_") {
        return Err(format!(
            "{name:?}: names starting with pg_ are reserved by PostgreSQL"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sqlite_urls() {
        assert_eq!(
            StoreLocation::parse(DEFAULT_URL).unwrap(),
            StoreLocation::SqliteFile("./data/herald-audit.db".into())
        );
        assert_eq!(
            StoreLocation::parse("sqlite:///var/lib/herald/a.db?mode=rwc").unwrap(),
            StoreLocation::SqliteFile("/var/lib/herald/a.db".into())
        );
        assert_eq!(
            StoreLocation::parse("sqlite::memory:").unwrap(),
            StoreLocation::SqliteMemory
        );
    }

    #[test]
    fn refuses_other_urls_with_a_reason() {
        let err = StoreLocation::parse("mysql://x").unwrap_err().to_string();
        assert!(err.contains("mysql://x"), "{err}");
        assert!(StoreLocation::parse("sqlite://").is_err());
    }

    #[test]
    fn parses_postgres_urls_and_refuses_tls_it_cannot_do() {
        for url in [
            "postgres://u:p@127.0.0.1:5432/herald",
            "postgresql://u@db.internal/herald?sslmode=disable",
            "postgres://u@db/herald?sslmode=prefer&application_name=x",
        ] {
            assert_eq!(
                StoreLocation::parse(url).unwrap(),
                StoreLocation::Postgres(url.to_owned())
            );
        }
        for mode in ["require", "verify-ca", "verify-full"] {
            let err = StoreLocation::parse(&format!("postgres://u:secret@db/x?sslmode={mode}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("sslmode"), "{err}");
            assert!(!err.contains("secret"), "the password leaked: {err}");
        }
        let err = StoreLocation::parse("postgres://u:secret@db/x?sslmode=sometimes")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sometimes") && !err.contains("secret"),
            "{err}"
        );
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:pa@ss@h:5432/db?x=1"),
            "postgres://u:***@h:5432/db?x=1"
        );
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_pg_schema("herald").is_ok());
        assert!(check_pg_schema("audit_2").is_ok());
        for bad in ["", "Herald", "a-b", "1x", "x\"; drop", "pg_audit"] {
            assert!(check_pg_schema(bad).is_err(), "{bad}");
        }
    }
}
