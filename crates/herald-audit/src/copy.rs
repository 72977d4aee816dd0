//! `herald audit copy --from sqlite://… --to postgres://…`: moves a node's history into a
//! cluster's shared store, every event keeping its `seq` and receive time.
//!
//! Resumable and safe to re-run: for each app the copy starts after the last `seq` the
//! target already holds, after checking that the target's last event is the source's event
//! with that `seq` (so a target that recorded other events for the app is refused rather
//! than mixed). Each chunk is one transaction that continues the app's trail exactly
//! (checked under the head row lock), so an interrupted copy leaves a clean prefix.
//! Progress goes to stderr on a terminal; in a pipe only the summary is printed.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use clap::Args;

use crate::config::{DEFAULT_PG_SCHEMA, Durability, StoreLocation, redact_url};
use crate::error::StoreError;
use crate::event::{EventRecord, NewEvent, PreparedEvent};
use crate::extract::AuditFields;
use crate::reader::AuditReader;
use crate::store::postgres::{Numbered, PgTarget, PgWriter};

/// Events per transaction on the target.
const CHUNK: usize = 2000;

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The store to copy from (sqlite://PATH or postgres://…).
    #[arg(long)]
    pub from: String,
    /// The PostgreSQL store to copy into (created and migrated if needed).
    #[arg(long)]
    pub to: String,
    /// Schema of the PostgreSQL store(s).
    #[arg(long, env = "HERALD_AUDIT_PG_SCHEMA", default_value = DEFAULT_PG_SCHEMA)]
    pub pg_schema: String,
    /// Copy only this app (repeatable); every app by default.
    #[arg(long = "app")]
    pub apps: Vec<String>,
}

pub async fn run(args: CopyArgs) -> anyhow::Result<()> {
    let StoreLocation::Postgres(to) = StoreLocation::parse(&args.to)? else {
        bail!("--to must be a postgres:// URL (the store a cluster shares)");
    };
    let source = AuditReader::open_existing(&args.from, &args.pg_schema)
        .await
        .with_context(|| format!("cannot read {}", redact_url(&args.from)))?;
    let target = PgTarget::new(&to, &args.pg_schema)?;
    let rt = tokio::runtime::Handle::current();
    let writer = tokio::task::spawn_blocking({
        let rt = rt.clone();
        move || {
            target.migrate(&rt)?;
            PgWriter::open(target, rt, Durability::Durable)
        }
    })
    .await?
    .with_context(|| format!("cannot open {}", redact_url(&to)))?;
    let target_reader = AuditReader::open_existing(&to, &args.pg_schema).await?;
    let writer = Arc::new(Mutex::new(writer));
    let apps = if args.apps.is_empty() {
        source.apps().await?
    } else {
        args.apps.clone()
    };
    let progress = std::io::stderr().is_terminal();
    let mut total = 0u64;
    for app in apps {
        let done = {
            let writer = Arc::clone(&writer);
            let app = app.clone();
            tokio::task::spawn_blocking(move || lock(&writer).last_seq(&app)).await??
        };
        if done > 0 {
            let theirs = target_reader.get(&app, done).await?;
            let ours = source.get(&app, done).await?;
            if theirs.is_none() || theirs != ours {
                bail!(
                    "app {app:?}: the target's event {done} is not the source's; it holds other \
                     events for this app, so copying would mix two trails (copy into an empty \
                     store or another schema)"
                );
            }
        }
        let copied = Arc::new(Mutex::new(0u64));
        let sink = {
            let writer = Arc::clone(&writer);
            let copied = Arc::clone(&copied);
            let app = app.clone();
            move |records: Vec<EventRecord>| -> Result<(), StoreError> {
                let prepared: Vec<(i64, i64, PreparedEvent)> = records
                    .into_iter()
                    .map(|r| prepare(r, &app))
                    .collect::<Result<_, _>>()?;
                let numbered: Vec<Numbered<'_>> = prepared
                    .iter()
                    .map(|(seq, received_at, event)| Numbered {
                        seq: *seq,
                        received_at: *received_at,
                        event,
                    })
                    .collect();
                lock(&writer).import_numbered(&numbered)?;
                let mut n = lock(&copied);
                *n += numbered.len() as u64;
                if progress {
                    eprint!(
                        "\r{app}: {} events copied (up to seq {})",
                        *n,
                        prepared.last().map_or(0, |p| p.0)
                    );
                }
                Ok(())
            }
        };
        source.scan_after(&app, done, CHUNK, sink).await?;
        let n = *lock(&copied);
        if progress {
            eprintln!();
        }
        println!("{app}: copied {n} events (the target already had {done})");
        total += n;
    }
    println!("copied {total} events");
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A recorded event as the writer takes it, with its `seq`, receive time and the audit
/// fields the source extracted (not extracted again: the source may have used an app's
/// own field keys).
fn prepare(r: EventRecord, app: &str) -> Result<(i64, i64, PreparedEvent), StoreError> {
    let received_at = r.summary.received_at_micros().ok_or_else(|| {
        StoreError::Corrupt(format!(
            "app {app:?} seq {}: unreadable receive time {:?}",
            r.summary.seq, r.summary.received_at
        ))
    })?;
    let s = r.summary;
    let channels_json = serde_json::to_string(&s.channels)
        .map_err(|e| StoreError::Corrupt(format!("app {app:?} seq {}: {e}", s.seq)))?;
    let changes_json = s
        .changes
        .as_ref()
        .and_then(|c| serde_json::to_string(c).ok());
    let fields = AuditFields {
        action: s.action,
        model: s.model,
        object_id: s.object_id,
        object_repr: s.object_repr,
        user: s.user,
        timestamp: s.timestamp,
        severity: s.severity,
        status: s.status,
        error: s.error,
        ip: s.ip,
        changes: s.changes,
    };
    let event = NewEvent {
        app_id: r.app_id,
        received_at_micros: received_at,
        name: s.name,
        channels: s.channels,
        data: r.data,
        socket_id: r.socket_id,
        client_ip: r.client_ip,
        user_agent: r.user_agent,
        library: r.library,
        auth_key: r.auth_key,
        idempotency_key: r.idempotency_key,
    };
    let prepared = PreparedEvent {
        event,
        channels_json,
        fields,
        changes_json,
    };
    Ok((s.seq, received_at, prepared))
}
