//! The PostgreSQL side of a node's writer: one connection, one transaction per group
//! commit, `seq` numbered under the per-app head row lock (see the module docs of
//! [`super`]), every insert sent as one multi-row statement (`unnest` of arrays) and the
//! statements pipelined, so a batch costs a handful of round trips whatever its size.
//!
//! When PostgreSQL cannot be reached the connection is dropped and re-opened on a later
//! call, with a backoff (0.2 s doubling to 5 s): while it is down, calls fail at once with
//! [`StoreError::Unreachable`] instead of each waiting out a connection timeout.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement, Transaction};

use super::PgTarget;
use crate::chain::{self, ChainHead, Checkpoint, Digest, GENESIS};
use crate::config::Durability;
use crate::error::StoreError;
use crate::event::{PreparedEvent, Recorded};
use crate::retention::{PruneStep, RetentionPolicy};
use crate::store::WriteStore;
use crate::timefmt;

const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A receive time this far behind the app's latest is worth a warning (a clock step, or
/// nodes whose clocks disagree).
const CLOCK_STEP_WARNING_MICROS: i64 = 1_000_000;

/// An event with its place in its app's trail (as `herald audit copy` hands them over).
pub struct Numbered<'a> {
    pub seq: i64,
    pub received_at: i64,
    pub event: &'a PreparedEvent,
}

/// An event numbered and chained, ready to insert.
struct Chained<'a> {
    seq: i64,
    received_at: i64,
    content_hash: Digest,
    hash: Digest,
    event: &'a PreparedEvent,
}

/// An app's head as locked: the last seq, its hash and its receive time.
#[derive(Debug, Clone, Copy)]
struct Head {
    seq: i64,
    hash: Digest,
    received_at: i64,
}

impl Head {
    /// Numbers and chains `event` after this head, and moves the head to it.
    fn chain<'a>(&mut self, event: &'a PreparedEvent, received_at: i64) -> Chained<'a> {
        let content_hash = chain::content_hash(&event.canonical(received_at));
        let hash = chain::link(&self.hash, &content_hash);
        *self = Head {
            seq: self.seq + 1,
            hash,
            received_at,
        };
        Chained {
            seq: self.seq,
            received_at,
            content_hash,
            hash,
            event,
        }
    }
}

/// The statements a batch uses, prepared once per connection.
struct Statements {
    lock_heads: Statement,
    find_keys: Statement,
    insert_events: Statement,
    insert_channels: Statement,
    bump_counts: Statement,
    move_heads: Statement,
}

struct Connected {
    client: Client,
    statements: Statements,
}

pub struct PgWriter {
    target: PgTarget,
    rt: Handle,
    durability: Durability,
    conn: Option<Connected>,
    /// Apps whose head row is known to exist (created outside the batch transaction, so
    /// that two nodes creating heads never deadlock on each other's uncommitted rows).
    known_apps: HashSet<String>,
    /// When the connection was lost: the next attempt is not before `retry_at`.
    retry_at: Option<Instant>,
    backoff: Duration,
    last_failure: String,
}

impl PgWriter {
    /// Opens the writer's connection. The schema must already be migrated.
    pub fn open(target: PgTarget, rt: Handle, durability: Durability) -> Result<Self, StoreError> {
        let mut writer = Self {
            target,
            rt,
            durability,
            conn: None,
            known_apps: HashSet::new(),
            retry_at: None,
            backoff: FIRST_BACKOFF,
            last_failure: String::new(),
        };
        writer.connection()?;
        Ok(writer)
    }

    async fn connect(
        target: &PgTarget,
        rt: &Handle,
        durability: Durability,
    ) -> Result<Connected, StoreError> {
        let commit = match durability {
            Durability::Durable => "on",
            Durability::Async => "off",
        };
        let client = target
            .connect(
                rt,
                &[("synchronous_commit", commit), ("statement_timeout", "30s")],
            )
            .await?;
        let statements = Statements {
            lock_heads: client
                .prepare(
                    "SELECT app_id, last_seq, last_hash, last_received_at FROM chain_heads
                     WHERE app_id = ANY($1::text[]) ORDER BY app_id FOR UPDATE",
                )
                .await?,
            find_keys: client
                .prepare(
                    "SELECT e.app_id, e.idempotency_key, e.seq FROM events e
                     JOIN unnest($1::text[], $2::text[]) AS k(app_id, key)
                       ON e.app_id = k.app_id AND e.idempotency_key = k.key",
                )
                .await?,
            insert_events: client
                .prepare(
                    "INSERT INTO events (app_id, seq, received_at, name, channels, data,
                         socket_id, client_ip, user_agent, library, auth_key, idempotency_key,
                         action, model, object_id, object_repr, \"user\", \"timestamp\",
                         severity, status, changes, error, ip, content_hash, hash)
                     SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[],
                         $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                         $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
                         $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],
                         $20::text[], $21::text[], $22::text[], $23::text[], $24::bytea[],
                         $25::bytea[])",
                )
                .await?,
            insert_channels: client
                .prepare(
                    "INSERT INTO event_channels (app_id, channel, seq)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])",
                )
                .await?,
            bump_counts: client
                .prepare(
                    "INSERT INTO daily_counts (app_id, day, dim, value, count)
                     SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[])
                     ON CONFLICT (app_id, day, dim, value)
                     DO UPDATE SET count = daily_counts.count + excluded.count",
                )
                .await?,
            move_heads: client
                .prepare(
                    "UPDATE chain_heads h
                     SET last_seq = u.seq, last_hash = u.hash, last_received_at = u.at
                     FROM unnest($1::text[], $2::bigint[], $3::bytea[], $4::bigint[])
                         AS u(app_id, seq, hash, at)
                     WHERE h.app_id = u.app_id",
                )
                .await?,
        };
        Ok(Connected { client, statements })
    }

    /// The open connection, reconnecting if the backoff allows.
    fn connection(&mut self) -> Result<&mut Connected, StoreError> {
        if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            if let Some(at) = self.retry_at {
                let now = Instant::now();
                if now < at {
                    return Err(StoreError::Unreachable(format!(
                        "PostgreSQL is unreachable ({}); next attempt in {} ms",
                        self.last_failure,
                        (at - now).as_millis()
                    )));
                }
            }
            let connected =
                self.rt
                    .block_on(Self::connect(&self.target, &self.rt, self.durability));
            match connected {
                Ok(c) => {
                    if self.retry_at.take().is_some() {
                        tracing::info!(message = "Audit store reconnected.", store = %self.target.describe());
                    }
                    self.backoff = FIRST_BACKOFF;
                    self.conn = Some(c);
                }
                Err(error) => {
                    self.lost(&error);
                    return Err(error);
                }
            }
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    /// Forgets the connection after `error` if it is gone, and schedules the next attempt.
    /// (A failure to connect, or a call refused during the backoff, was handled already.)
    fn after_error(&mut self, error: &StoreError) {
        let Some(conn) = &self.conn else { return };
        if conn.client.is_closed() || error.is_unreachable() {
            self.conn = None;
            self.lost(error);
        }
    }

    fn lost(&mut self, error: &StoreError) {
        tracing::warn!(
            message = "Audit store unreachable; will reconnect.",
            store = %self.target.describe(),
            %error,
            retry_in_ms = self.backoff.as_millis() as u64,
        );
        self.last_failure = error.to_string();
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    /// Creates head rows for apps not seen before, each in its own short statement.
    fn ensure_heads(&mut self, apps: &BTreeSet<&str>) -> Result<(), StoreError> {
        let missing: Vec<&str> = apps
            .iter()
            .copied()
            .filter(|a| !self.known_apps.contains(*a))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let rt = self.rt.clone();
        let conn = self.connection()?;
        rt.block_on(conn.client.execute(
            "INSERT INTO chain_heads (app_id, last_seq, last_hash, last_received_at)
             SELECT unnest($1::text[]), 0, $2, $3 ON CONFLICT (app_id) DO NOTHING",
            &[&missing, &&GENESIS[..], &i64::MIN],
        ))?;
        self.known_apps
            .extend(missing.into_iter().map(str::to_owned));
        Ok(())
    }

    fn append_once(&mut self, batch: &[&PreparedEvent]) -> Result<Vec<Recorded>, StoreError> {
        let apps: BTreeSet<&str> = batch.iter().map(|p| p.event.app_id.as_str()).collect();
        self.ensure_heads(&apps)?;
        let rt = self.rt.clone();
        let conn = self.connection()?;
        rt.block_on(async {
            let Connected { client, statements } = conn;
            let tx = client.transaction().await?;
            let recorded = append_in_tx(&tx, statements, &apps, batch).await?;
            tx.commit().await?;
            Ok(recorded)
        })
    }

    /// Records events copied from another store with their own `seq` and receive time;
    /// `events` continue each app's trail exactly (checked under the head lock).
    pub(crate) fn import_numbered(&mut self, events: &[Numbered<'_>]) -> Result<(), StoreError> {
        let apps: BTreeSet<&str> = events
            .iter()
            .map(|n| n.event.event.app_id.as_str())
            .collect();
        self.ensure_heads(&apps)?;
        let rt = self.rt.clone();
        let conn = self.connection()?;
        rt.block_on(async {
            let Connected { client, statements } = conn;
            let tx = client.transaction().await?;
            let mut heads = lock_heads(&tx, statements, &apps).await?;
            let mut chained = Vec::with_capacity(events.len());
            for n in events {
                let app = &n.event.event.app_id;
                let head = heads.get_mut(app).expect("locked above");
                if n.seq != head.seq + 1 || n.received_at < head.received_at {
                    return Err(StoreError::Schema(format!(
                        "app {app:?}: the target's trail ends at seq {}, so seq {} cannot follow it",
                        head.seq, n.seq
                    )));
                }
                // Chained afresh in the target, exactly as the writer would have.
                chained.push(head.chain(n.event, n.received_at));
            }
            insert_numbered(&tx, statements, &chained).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// The last `seq` recorded for `app` (0 if none).
    pub(crate) fn last_seq(&mut self, app: &str) -> Result<i64, StoreError> {
        let rt = self.rt.clone();
        let conn = self.connection()?;
        let row = rt.block_on(conn.client.query_opt(
            "SELECT last_seq FROM chain_heads WHERE app_id = $1",
            &[&app],
        ))?;
        Ok(row.map_or(0, |r| r.get(0)))
    }
}

/// Locks the heads of `apps` (sorted, so concurrent writers lock in the same order) and
/// returns each app's head.
async fn lock_heads(
    tx: &Transaction<'_>,
    statements: &Statements,
    apps: &BTreeSet<&str>,
) -> Result<HashMap<String, Head>, StoreError> {
    let list: Vec<&str> = apps.iter().copied().collect();
    let rows = tx.query(&statements.lock_heads, &[&list]).await?;
    let mut heads = HashMap::with_capacity(rows.len());
    for r in rows {
        let app: String = r.get(0);
        let hash: Vec<u8> = r.get(2);
        let hash = chain::hash::from_slice(&hash).ok_or_else(|| {
            StoreError::Corrupt(format!("the chain head of app {app:?} is not a hash"))
        })?;
        heads.insert(
            app,
            Head {
                seq: r.get(1),
                hash,
                received_at: r.get(3),
            },
        );
    }
    if heads.len() != apps.len() {
        return Err(StoreError::Schema(
            "an app's head row disappeared from chain_heads (was the table edited?)".into(),
        ));
    }
    Ok(heads)
}

async fn append_in_tx(
    tx: &Transaction<'_>,
    statements: &Statements,
    apps: &BTreeSet<&str>,
    batch: &[&PreparedEvent],
) -> Result<Vec<Recorded>, StoreError> {
    let mut heads = lock_heads(tx, statements, apps).await?;
    // Keys already recorded, by this node or any other: the head lock orders this after
    // every batch that committed before, so their rows are visible here.
    let (key_apps, keys): (Vec<&str>, Vec<&str>) = batch
        .iter()
        .filter_map(|p| {
            p.event
                .idempotency_key
                .as_deref()
                .map(|k| (p.event.app_id.as_str(), k))
        })
        .unzip();
    let mut seen: HashMap<(String, String), i64> = HashMap::new();
    if !keys.is_empty() {
        for row in tx.query(&statements.find_keys, &[&key_apps, &keys]).await? {
            seen.insert((row.get(0), row.get(1)), row.get(2));
        }
    }
    let mut numbered = Vec::with_capacity(batch.len());
    let mut out = Vec::with_capacity(batch.len());
    for p in batch {
        let e = &p.event;
        if let Some(key) = &e.idempotency_key {
            // Also catches a key repeated within this batch.
            if let Some(&seq) = seen.get(&(e.app_id.clone(), key.clone())) {
                out.push(Recorded {
                    seq,
                    duplicate: true,
                });
                continue;
            }
        }
        let head = heads.get_mut(&e.app_id).expect("locked above");
        let behind = head.received_at.saturating_sub(e.received_at_micros);
        if behind > CLOCK_STEP_WARNING_MICROS {
            tracing::warn!(
                message = "Audit receive time went backwards; recording the later time.",
                app_id = %e.app_id,
                behind_micros = behind,
            );
        }
        // Time never goes backwards within an app (nodes' clocks differ a little too).
        let received_at = e.received_at_micros.max(head.received_at);
        let chained = head.chain(p, received_at);
        if let Some(key) = &e.idempotency_key {
            seen.insert((e.app_id.clone(), key.clone()), chained.seq);
        }
        out.push(Recorded {
            seq: chained.seq,
            duplicate: false,
        });
        numbered.push(chained);
    }
    insert_numbered(tx, statements, &numbered).await?;
    Ok(out)
}

/// Inserts numbered events, their channel rows and rollups, and moves the heads to the
/// last of each app: four statements, pipelined.
async fn insert_numbered<'a>(
    tx: &Transaction<'_>,
    statements: &Statements,
    events: &'a [Chained<'a>],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let n = events.len();
    let mut app = Vec::with_capacity(n);
    let mut seq = Vec::with_capacity(n);
    let mut at = Vec::with_capacity(n);
    let mut name = Vec::with_capacity(n);
    let mut channels = Vec::with_capacity(n);
    let mut data = Vec::with_capacity(n);
    let mut socket_id = Vec::with_capacity(n);
    let mut client_ip = Vec::with_capacity(n);
    let mut user_agent = Vec::with_capacity(n);
    let mut library = Vec::with_capacity(n);
    let mut auth_key = Vec::with_capacity(n);
    let mut idempotency_key = Vec::with_capacity(n);
    let mut action = Vec::with_capacity(n);
    let mut model = Vec::with_capacity(n);
    let mut object_id = Vec::with_capacity(n);
    let mut object_repr = Vec::with_capacity(n);
    let mut user = Vec::with_capacity(n);
    let mut timestamp = Vec::with_capacity(n);
    let mut severity = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut changes = Vec::with_capacity(n);
    let mut error = Vec::with_capacity(n);
    let mut ip = Vec::with_capacity(n);
    let mut content_hash: Vec<&[u8]> = Vec::with_capacity(n);
    let mut hash: Vec<&[u8]> = Vec::with_capacity(n);
    let (mut ch_app, mut ch_name, mut ch_seq) = (Vec::new(), Vec::new(), Vec::new());
    let mut rollup: HashMap<(&str, i64, &str, &str), i64> = HashMap::new();
    let mut last: HashMap<&str, (i64, &[u8], i64)> = HashMap::new();
    for num in events {
        let p = num.event;
        let e = &p.event;
        let f = &p.fields;
        app.push(e.app_id.as_str());
        seq.push(num.seq);
        at.push(num.received_at);
        name.push(e.name.as_str());
        channels.push(p.channels_json.as_str());
        data.push(e.data.as_str());
        socket_id.push(e.socket_id.as_deref());
        client_ip.push(e.client_ip.as_deref());
        user_agent.push(e.user_agent.as_deref());
        library.push(e.library.as_deref());
        auth_key.push(e.auth_key.as_str());
        idempotency_key.push(e.idempotency_key.as_deref());
        action.push(f.action.as_deref());
        model.push(f.model.as_deref());
        object_id.push(f.object_id.as_deref());
        object_repr.push(f.object_repr.as_deref());
        user.push(f.user.as_deref());
        timestamp.push(f.timestamp.as_deref());
        severity.push(f.severity.as_deref());
        status.push(f.status.as_deref());
        changes.push(p.changes_json.as_deref());
        error.push(f.error.as_deref());
        ip.push(f.ip.as_deref());
        content_hash.push(&num.content_hash[..]);
        hash.push(&num.hash[..]);
        for channel in &e.channels {
            ch_app.push(e.app_id.as_str());
            ch_name.push(channel.as_str());
            ch_seq.push(num.seq);
        }
        let day = timefmt::day_index(num.received_at);
        let mut bump = |dim: &'static str, value: &'a str| {
            *rollup
                .entry((e.app_id.as_str(), day, dim, value))
                .or_default() += 1;
        };
        bump("", "");
        for (dim, value) in [
            ("action", &f.action),
            ("model", &f.model),
            ("user", &f.user),
        ] {
            if let Some(v) = value {
                bump(dim, v);
            }
        }
        for channel in &e.channels {
            bump("channel", channel);
        }
        last.insert(e.app_id.as_str(), (num.seq, &num.hash[..], num.received_at));
    }
    let (mut r_app, mut r_day, mut r_dim, mut r_value, mut r_n) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((a, d, dim, v), count) in rollup {
        r_app.push(a);
        r_day.push(d);
        r_dim.push(dim);
        r_value.push(v);
        r_n.push(count);
    }
    let (mut h_app, mut h_seq, mut h_hash, mut h_at) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (a, (s, h, t)) in last {
        h_app.push(a);
        h_seq.push(s);
        h_hash.push(h);
        h_at.push(t);
    }
    let event_params: [&(dyn ToSql + Sync); 25] = [
        &app,
        &seq,
        &at,
        &name,
        &channels,
        &data,
        &socket_id,
        &client_ip,
        &user_agent,
        &library,
        &auth_key,
        &idempotency_key,
        &action,
        &model,
        &object_id,
        &object_repr,
        &user,
        &timestamp,
        &severity,
        &status,
        &changes,
        &error,
        &ip,
        &content_hash,
        &hash,
    ];
    let channel_params: [&(dyn ToSql + Sync); 3] = [&ch_app, &ch_name, &ch_seq];
    let count_params: [&(dyn ToSql + Sync); 5] = [&r_app, &r_day, &r_dim, &r_value, &r_n];
    let head_params: [&(dyn ToSql + Sync); 4] = [&h_app, &h_seq, &h_hash, &h_at];
    let insert_events = tx.execute(&statements.insert_events, &event_params);
    let insert_channels = tx.execute(&statements.insert_channels, &channel_params);
    let bump_counts = tx.execute(&statements.bump_counts, &count_params);
    let move_heads = tx.execute(&statements.move_heads, &head_params);
    // Sent together: the server runs them in order, the client waits once.
    futures_util::try_join!(insert_events, insert_channels, bump_counts, move_heads)?;
    Ok(())
}

impl PgWriter {
    /// Runs one query on the writer's connection, handling a lost connection.
    fn on_conn<T>(
        &mut self,
        f: impl AsyncFnOnce(&Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let rt = self.rt.clone();
        let result = self
            .connection()
            .and_then(|conn| rt.block_on(f(&conn.client)));
        if let Err(error) = &result {
            self.after_error(error);
        }
        result
    }
}

impl WriteStore for PgWriter {
    /// Retention is not implemented on PostgreSQL yet: its schema refuses deleting the
    /// pruned events' channel rows, and the rollup and search-index removal has not been
    /// written. Refusing loudly keeps `[[apps.retention]]` from silently doing nothing.
    fn prune_step(
        &mut self,
        _app: &str,
        _policy: &RetentionPolicy,
        _now: i64,
        _after: i64,
        _limit: usize,
        _dry_run: bool,
    ) -> Result<PruneStep, StoreError> {
        Err(StoreError::Unsupported(
            "retention ([[apps.retention]], herald audit prune) is not supported on the \
             PostgreSQL audit store yet; it works on SQLite"
                .into(),
        ))
    }

    fn chain_heads(&mut self) -> Result<Vec<ChainHead>, StoreError> {
        self.on_conn(async |client| {
            let rows = client
                .query("SELECT app_id, last_seq, last_hash FROM chain_heads", &[])
                .await?;
            Ok(rows.iter().map(super::chain::head_from_row).collect())
        })
    }

    fn latest_checkpoints(&mut self) -> Result<Vec<Checkpoint>, StoreError> {
        self.on_conn(async |client| {
            let rows = client
                .query(
                    &format!(
                        "SELECT DISTINCT ON (app_id) {} FROM checkpoints
                         ORDER BY app_id, seq DESC",
                        super::chain::CHECKPOINT_COLUMNS
                    ),
                    &[],
                )
                .await?;
            Ok(rows.iter().map(super::chain::checkpoint_from_row).collect())
        })
    }

    fn add_checkpoint(&mut self, cp: &Checkpoint) -> Result<(), StoreError> {
        self.on_conn(async |client| {
            // Another node may have signed the same seq: the first one stays.
            client
                .execute(
                    "INSERT INTO checkpoints (app_id, seq, hash, created_at, public_key, signature)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (app_id, seq) DO NOTHING",
                    &[
                        &cp.app_id,
                        &cp.seq,
                        &&cp.hash[..],
                        &cp.created_at,
                        &&cp.public_key[..],
                        &&cp.signature[..],
                    ],
                )
                .await?;
            Ok(())
        })
    }

    fn append(&mut self, batch: &[&PreparedEvent]) -> Result<Vec<Recorded>, StoreError> {
        let result = self.append_once(batch);
        if let Err(error) = &result {
            self.after_error(error);
        }
        result
    }

    fn probe(&mut self) -> Result<(), StoreError> {
        let rt = self.rt.clone();
        let result = self.connection().and_then(|conn| {
            Ok(rt
                .block_on(conn.client.simple_query("SELECT 1"))
                .map(|_| ())?)
        });
        if let Err(error) = &result {
            self.after_error(error);
        }
        result
    }
}
