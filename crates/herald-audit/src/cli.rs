//! `herald audit …`: operator commands over the audit store, reading it directly (the server
//! may be running; WAL lets both read at once). Filters are the query API's, validated by
//! the same code, so a filter means the same thing on the command line and over HTTP.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use futures_util::StreamExt;

use crate::chain::{Checkpoint, CheckpointJson};
use crate::config::{DEFAULT_PG_SCHEMA, DEFAULT_URL, StoreLocation};
use crate::event::EventSummary;
use crate::export::ExportFormat;
use crate::query::page::parse_ordering;
use crate::query::{Direction, EventFilter, PageRequest, Params};
use crate::reader::AuditReader;
use crate::stats::StatsRequest;
use crate::timefmt;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List recorded events matching filters, newest first.
    Query(QueryArgs),
    /// Show one recorded event in full.
    Show(ShowArgs),
    /// Export every event matching filters as CSV or NDJSON.
    Export(ExportArgs),
    /// Statistics: totals, breakdowns by action, model, user and channel, events per day.
    Stats(StatsArgs),
    /// Recompute the hash chain and check every signed checkpoint. Exits 0 and prints
    /// `verified N events` when the trail is intact; exits 1 naming the first bad seq.
    Verify(VerifyArgs),
    /// Print the public key of the checkpoint signing key (PEM), for auditors.
    PublicKey(PublicKeyArgs),
    /// Apply the apps' [[apps.retention]] rules now (the server also runs them every
    /// HERALD_AUDIT_PRUNE_INTERVAL). Pruned events keep their seq and hashes.
    Prune(PruneArgs),
    /// Copy every event, with its seq, from one store into a PostgreSQL store (moving a
    /// node's history into a cluster's store). Resumable: a re-run continues where the
    /// last one stopped and copies nothing twice.
    Copy(crate::copy::CopyArgs),
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Audit store URL.
    #[arg(long = "db", env = "HERALD_AUDIT_URL", default_value = DEFAULT_URL)]
    pub db: String,
    /// The server's TOML file, whose [[apps.retention]] rules apply.
    #[arg(long, env = "HERALD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Only this app (default: every app with rules).
    #[arg(long)]
    pub app: Option<String>,
    /// Report what would be pruned; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply the rules as of this time instead of now (a date or RFC 3339), e.g. to see
    /// with --dry-run what next month's runs will remove.
    #[arg(long)]
    pub as_of: Option<String>,
}

/// Where the checkpoint signing key is.
#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    /// The signing key file (default: herald-audit-signing.pem beside the store).
    #[arg(long = "signing-key", env = "HERALD_AUDIT_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
}

impl KeyArgs {
    fn path(&self, db: &str) -> anyhow::Result<PathBuf> {
        Ok(match &self.signing_key {
            Some(p) => p.clone(),
            None => crate::signing::default_key_path(&StoreLocation::parse(db)?),
        })
    }
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// First seq to check (its predecessor's stored hash is trusted).
    #[arg(long)]
    pub from: Option<i64>,
    /// Last seq to check.
    #[arg(long)]
    pub to: Option<i64>,
    /// Checkpoints kept elsewhere (the JSON of GET /apps/{id}/audit/checkpoints, a JSON
    /// array of its entries, or one entry per line), checked as well as the store's.
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    /// The public key checkpoints must be signed with (PEM from `herald audit public-key`,
    /// or 32 bytes in base64 or hex). Default: the signing key file's, if readable.
    #[arg(long = "public-key")]
    pub public_key: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PublicKeyArgs {
    /// Audit store URL (the default key file lives beside it).
    #[arg(long = "db", env = "HERALD_AUDIT_URL", default_value = DEFAULT_URL)]
    pub db: String,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print the 32 raw bytes in base64 instead of PEM.
    #[arg(long)]
    pub base64: bool,
}

/// Which store and app.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Audit store URL.
    #[arg(long = "db", env = "HERALD_AUDIT_URL", default_value = DEFAULT_URL)]
    pub db: String,
    /// App id.
    #[arg(long, default_value = "1")]
    pub app: String,
    /// Schema of a PostgreSQL store.
    #[arg(long, env = "HERALD_AUDIT_PG_SCHEMA", default_value = DEFAULT_PG_SCHEMA)]
    pub pg_schema: String,
}

/// The query API's filters, as flags.
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    #[arg(long)]
    pub action: Option<String>,
    #[arg(long)]
    pub model: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub channel: Option<String>,
    /// Pusher event name.
    #[arg(long)]
    pub event: Option<String>,
    #[arg(long)]
    pub object_id: Option<String>,
    #[arg(long)]
    pub severity: Option<String>,
    #[arg(long)]
    pub status: Option<String>,
    /// The backend's error_message, exactly.
    #[arg(long)]
    pub error: Option<String>,
    /// The end user's IP (the payload's ip_address, else the trigger's client IP).
    #[arg(long)]
    pub ip: Option<String>,
    /// Received at or after (2025-01-07 or RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Received at or before (a plain date includes the whole day).
    #[arg(long)]
    pub to: Option<String>,
    /// Only the last N days.
    #[arg(long)]
    pub days: Option<u32>,
    /// Full-text search over data, model, user, object_repr, event name and channels.
    #[arg(long, short = 'q')]
    pub search: Option<String>,
}

impl FilterArgs {
    fn pairs(&self) -> Vec<(String, String)> {
        let fields = [
            ("action", &self.action),
            ("model", &self.model),
            ("user", &self.user),
            ("channel", &self.channel),
            ("event", &self.event),
            ("object_id", &self.object_id),
            ("severity", &self.severity),
            ("status", &self.status),
            ("error", &self.error),
            ("ip", &self.ip),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.search),
        ];
        let mut pairs: Vec<(String, String)> = fields
            .into_iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.to_owned(), v)))
            .collect();
        if let Some(days) = self.days {
            pairs.push(("days".into(), days.to_string()));
        }
        pairs
    }

    fn params(&self, extra: Vec<(String, String)>) -> anyhow::Result<Params> {
        let mut pairs = self.pairs();
        pairs.extend(extra);
        Params::from_pairs(pairs).map_err(cli_error)
    }
}

/// Rephrases a parameter error in terms of the flag.
fn cli_error(e: crate::query::ParamError) -> anyhow::Error {
    let flag = match e.param.as_str() {
        "q" => "search".to_owned(),
        other => other.replace('_', "-"),
    };
    anyhow::anyhow!("invalid --{flag}: {}", e.problem)
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// time, -time, seq or -seq.
    #[arg(long, default_value = "-seq")]
    pub ordering: String,
    /// Rows to print (1–1000).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Continue after a previous page (the `next` printed with --json).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Print JSON (the API's response) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The event's sequence number.
    pub seq: i64,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// csv or ndjson.
    #[arg(long)]
    pub format: String,
    /// time or seq (oldest first, the default), -time or -seq.
    #[arg(long, default_value = "seq")]
    pub ordering: String,
    /// Write here instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Rows per breakdown.
    #[arg(long, default_value_t = 10)]
    pub top: u32,
}

/// Runs one `herald audit` subcommand.
pub async fn run(cmd: AuditCommand) -> anyhow::Result<()> {
    let now = timefmt::now_micros();
    match cmd {
        AuditCommand::Query(args) => {
            let mut extra = vec![
                ("ordering".to_owned(), args.ordering.clone()),
                ("limit".to_owned(), args.limit.to_string()),
            ];
            if let Some(cursor) = &args.cursor {
                extra.push(("cursor".to_owned(), cursor.clone()));
            }
            let mut params = args.filter.params(extra)?;
            let filter = EventFilter::from_params(&mut params, now).map_err(cli_error)?;
            let page = PageRequest::from_params(&mut params, Direction::Desc).map_err(cli_error)?;
            params.finish().map_err(cli_error)?;
            let reader = open(&args.store).await?;
            let result = reader.list(&args.store.app, filter, page).await?;
            let mut out = std::io::stdout().lock();
            if args.json {
                serde_json::to_writer_pretty(&mut out, &result)?;
                writeln!(out)?;
            } else {
                print_table(&mut out, &result.results)?;
                writeln!(
                    out,
                    "{} of {} matching events",
                    result.results.len(),
                    result.count
                )?;
                if let Some(next) = &result.next {
                    writeln!(out, "more: --cursor {next}")?;
                }
            }
        }
        AuditCommand::Show(args) => {
            let reader = open(&args.store).await?;
            let Some(record) = reader.get(&args.store.app, args.seq).await? else {
                bail!(
                    "no audit event with seq {} in app {:?}",
                    args.seq,
                    args.store.app
                );
            };
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &record)?;
            writeln!(out)?;
        }
        AuditCommand::Export(args) => {
            let format = ExportFormat::parse(&args.format).map_err(cli_error)?;
            let direction = parse_ordering(&args.ordering).map_err(cli_error)?;
            let mut params = args.filter.params(Vec::new())?;
            let filter = EventFilter::from_params(&mut params, now).map_err(cli_error)?;
            params.finish().map_err(cli_error)?;
            let reader = open(&args.store).await?;
            let mut out: Box<dyn Write> = match &args.output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let mut stream = std::pin::pin!(
                reader
                    .export(&args.store.app, filter, direction, format)
                    .await?
            );
            while let Some(chunk) = stream.next().await {
                out.write_all(&chunk.context("export failed")?)?;
            }
            out.flush()?;
        }
        AuditCommand::Stats(args) => {
            let mut params = args
                .filter
                .params(vec![("top".into(), args.top.to_string())])?;
            let request = StatsRequest::from_params(&mut params, now).map_err(cli_error)?;
            params.finish().map_err(cli_error)?;
            let reader = open(&args.store).await?;
            let stats = reader.stats(&args.store.app, request).await?;
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &stats)?;
            writeln!(out)?;
        }
        AuditCommand::Verify(args) => return verify(args).await,
        // Needs the server's configuration, which the binary reads (herald::retention).
        AuditCommand::Prune(_) => bail!("herald audit prune is run by the herald binary"),
        AuditCommand::PublicKey(args) => {
            let path = args.key.path(&args.db)?;
            if !path.exists() {
                bail!(
                    "no signing key at {} (the server generates it on first start; set HERALD_AUDIT_SIGNING_KEY or --signing-key to read another)",
                    path.display()
                );
            }
            let key = crate::signing::read_public_key(&path)?;
            if args.base64 {
                println!("{}", crate::signing::public_key_base64(&key));
            } else {
                print!("{}", crate::signing::public_key_pem(&key));
            }
        }
        AuditCommand::Copy(args) => crate::copy::run(args).await?,
    }
    Ok(())
}

async fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let mut options = crate::verify::VerifyOptions {
        from: args.from,
        to: args.to,
        ..Default::default()
    };
    options.public_key = match &args.public_key {
        Some(path) => Some(crate::signing::read_public_key(path)?),
        None => {
            let path = args.key.path(&args.store.db)?;
            if path.exists() {
                Some(crate::signing::read_public_key(&path)?)
            } else {
                None
            }
        }
    };
    if let Some(path) = &args.checkpoints {
        options.extra_checkpoints = read_checkpoints(path)?;
    }
    let reader = open(&args.store).await?;
    let report = reader.verify(&args.store.app, options).await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", report.summary())?;
        for warning in &report.warnings {
            eprintln!("warning: {warning}");
        }
    }
    if !report.ok {
        bail!("the audit trail failed verification");
    }
    Ok(())
}

/// Reads checkpoints saved from the API: its whole answer, an array, or NDJSON.
fn read_checkpoints(path: &std::path::Path) -> anyhow::Result<Vec<Checkpoint>> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Saved {
        Answer { checkpoints: Vec<CheckpointJson> },
        List(Vec<CheckpointJson>),
        One(CheckpointJson),
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut entries = Vec::new();
    let parsed: Result<Saved, _> = serde_json::from_str(&text);
    let saved = match parsed {
        Ok(saved) => vec![saved],
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str::<Saved>)
            .collect::<Result<_, _>>()
            .with_context(|| {
                format!(
                    "{} holds no checkpoints (expected the JSON of GET …/audit/checkpoints)",
                    path.display()
                )
            })?,
    };
    for s in saved {
        match s {
            Saved::Answer { checkpoints } | Saved::List(checkpoints) => entries.extend(checkpoints),
            Saved::One(c) => entries.push(c),
        }
    }
    entries
        .iter()
        .map(|j| Checkpoint::try_from(j).map_err(|e| anyhow::anyhow!("{}: {e}", path.display())))
        .collect()
}

async fn open(store: &StoreArgs) -> anyhow::Result<AuditReader> {
    open_store(&store.db, &store.pg_schema).await
}

async fn open_store(url: &str, pg_schema: &str) -> anyhow::Result<AuditReader> {
    AuditReader::open_existing(url, pg_schema)
        .await
        .with_context(|| {
            format!(
                "cannot read the audit store {}",
                crate::config::redact_url(url)
            )
        })
}

fn print_table(out: &mut impl Write, rows: &[EventSummary]) -> std::io::Result<()> {
    let header = [
        "SEQ",
        "RECEIVED_AT",
        "EVENT",
        "ACTION",
        "MODEL",
        "OBJECT_ID",
        "USER",
        "CHANNELS",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.seq.to_string(),
                r.received_at.clone(),
                r.name.clone(),
                r.action.clone().unwrap_or_default(),
                r.model.clone().unwrap_or_default(),
                r.object_id.clone().unwrap_or_default(),
                r.user.clone().unwrap_or_default(),
                r.channels.join(" "),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count()).min(40);
        }
    }
    let line = |out: &mut dyn Write, row: &[String]| -> std::io::Result<()> {
        let mut s = String::new();
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            let c: String = c.chars().take(w).collect();
            if i + 1 == row.len() {
                s.push_str(&c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(out, &header.map(String::from))?;
    for row in &cells {
        line(out, row)?;
    }
    Ok(())
}
