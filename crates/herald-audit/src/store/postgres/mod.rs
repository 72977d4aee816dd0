//! The PostgreSQL store: one audit trail shared by every node of a cluster.
//!
//! # Driver
//!
//! `tokio-postgres` with a `deadpool-postgres` pool for the readers: both are maintained,
//! pure Rust, and `tokio-postgres` pipelines several statements on one connection (the
//! writer sends a batch's inserts without waiting for each answer). The store traits are
//! blocking and called from blocking threads, so each call drives its future with the
//! runtime's [`Handle::block_on`]; the connections' I/O tasks run on the server's runtime.
//! (The synchronous `postgres` crate would start a runtime per connection instead.)
//! This build has no TLS for PostgreSQL: `sslmode=disable`/`allow`/`prefer` connect in the
//! clear, `require`/`verify-*` are refused at startup with a message saying so.
//!
//! # Order across nodes
//!
//! Each app has a row in `chain_heads (app_id, last_seq, last_hash, last_received_at)`. A
//! node's group commit locks the heads of the apps in its batch (`SELECT … FOR UPDATE`, in
//! app order so that two nodes cannot deadlock), numbers and hash-chains its events from
//! the head exactly as the SQLite store does ([`crate::chain`]: `content_hash`, then
//! `hash = SHA-256(last_hash ‖ content_hash)`), inserts them and moves the heads, all in
//! one transaction. The lock is held until COMMIT, so a second
//! node's batch for the same app waits, then numbers after the first one's events: `seq`
//! has no gaps (a rolled-back batch moves nothing) and increases in commit order. A reader
//! paging with a cursor therefore never misses an event: anything committed later has a
//! higher `seq` than everything it has already seen. The same lock serialises idempotency
//! checks, so a key retried on another node finds the first node's row (and the unique
//! index `(app_id, idempotency_key)` backs it up).
//!
//! # Durability
//!
//! The writer's connection runs with `synchronous_commit = on` in durable mode (`off` in
//! async mode): a trigger's `200` comes after PostgreSQL has flushed the commit to its WAL.

mod chain;
mod read;
mod schema;
mod sql;
mod stats;
mod write;

use std::time::Duration;

use tokio::runtime::Handle;
use tokio_postgres::NoTls;

pub use read::PgReader;
pub use write::{Numbered, PgWriter};

use crate::config::{check_pg_schema, redact_url};
use crate::error::{OpenError, StoreError};

/// How long a connection attempt may take before the store counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach one PostgreSQL database and which schema to use in it.
#[derive(Clone)]
pub struct PgTarget {
    config: tokio_postgres::Config,
    schema: String,
    /// The URL with its password hidden, for logs and errors.
    redacted: String,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("url", &self.redacted)
            .field("schema", &self.schema)
            .finish()
    }
}

impl PgTarget {
    /// Checks a `postgres://` / `postgresql://` URL: parseable, and no TLS demanded.
    pub fn check_url(url: &str) -> Result<(), OpenError> {
        Self::parse(url).map(|_| ())
    }

    fn parse(url: &str) -> Result<tokio_postgres::Config, OpenError> {
        let invalid = |reason: String| OpenError::InvalidUrl {
            url: redact_url(url),
            reason,
        };
        if let Some(query) = url.split_once('?').map(|(_, q)| q) {
            for (key, value) in form_urlencoded::parse(query.as_bytes()) {
                if key != "sslmode" {
                    continue;
                }
                match value.as_ref() {
                    "disable" | "allow" | "prefer" => {}
                    "require" | "verify-ca" | "verify-full" => {
                        return Err(invalid(format!(
                            "sslmode={value} needs TLS, which this build does not have for \
                             PostgreSQL; use sslmode=disable on a private network or a TLS tunnel"
                        )));
                    }
                    other => {
                        return Err(invalid(format!(
                            "sslmode must be disable, allow, prefer, require, verify-ca or \
                             verify-full, got {other:?}"
                        )));
                    }
                }
            }
        }
        // tokio-postgres does not know `allow`; without TLS it means the same as `disable`.
        let normalised = url.replace("sslmode=allow", "sslmode=disable");
        let mut config: tokio_postgres::Config = normalised
            .parse()
            .map_err(|e: tokio_postgres::Error| invalid(e.to_string()))?;
        if config.get_dbname().is_none() {
            return Err(invalid(
                "the URL names no database (expected postgres://USER:PASSWORD@HOST:PORT/DB)".into(),
            ));
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        config.keepalives_idle(Duration::from_secs(30));
        config.application_name("herald");
        Ok(config)
    }

    pub fn new(url: &str, schema: &str) -> Result<Self, OpenError> {
        check_pg_schema(schema).map_err(|reason| {
            OpenError::InvalidConfig(format!(
                "PostgreSQL schema (HERALD_AUDIT_PG_SCHEMA): {reason}"
            ))
        })?;
        Ok(Self {
            config: Self::parse(url)?,
            schema: schema.to_owned(),
            redacted: redact_url(url),
        })
    }

    /// The URL without its password.
    pub fn describe(&self) -> String {
        format!("{} (schema {})", self.redacted, self.schema)
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The connection settings with `search_path` set to the schema and the given extra
    /// session settings (sent at connection start-up, so every pooled connection has them).
    fn session_config(&self, settings: &[(&str, &str)]) -> tokio_postgres::Config {
        let mut config = self.config.clone();
        let mut options = config.get_options().unwrap_or_default().to_owned();
        options.push_str(&format!(" -c search_path={},public", self.schema));
        for (name, value) in settings {
            options.push_str(&format!(" -c {name}={value}"));
        }
        config.options(options.trim());
        config
    }

    /// Opens one connection with [`Self::session_config`]; its I/O task runs on `rt`.
    async fn connect(
        &self,
        rt: &Handle,
        settings: &[(&str, &str)],
    ) -> Result<tokio_postgres::Client, StoreError> {
        let (client, connection) = self.session_config(settings).connect(NoTls).await?;
        rt.spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(message = "PostgreSQL connection ended.", %error);
            }
        });
        Ok(client)
    }

    /// Creates the schema or brings it to this herald's version (refusing a newer one).
    pub fn migrate(&self, rt: &Handle) -> Result<(), StoreError> {
        rt.block_on(async {
            let mut client = self.connect(rt, &[]).await?;
            schema::migrate(&mut client, &self.schema).await
        })
    }

    /// Checks that the schema exists and is one this herald can read (the CLI must not
    /// create an empty store).
    pub fn check_readable(&self, rt: &Handle) -> Result<(), StoreError> {
        rt.block_on(async {
            let client = self.connect(rt, &[]).await?;
            schema::check_version(&client, &self.schema).await
        })
    }
}
