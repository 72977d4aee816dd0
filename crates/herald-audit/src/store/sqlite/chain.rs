//! The SQLite side of the hash chain: reading an app's chain back for verification, the
//! head rows and checkpoints, and chaining the rows of a store written before the chain
//! existed (schema step 3).

use rusqlite::{Connection, OptionalExtension, params};

use crate::chain::{self, ChainHead, ChainRow, Checkpoint, Digest, GENESIS, StoredFields};
use crate::error::StoreError;

/// The chain's own columns, then every column the canonical encoding covers, in
/// [`read_row`]'s order.
pub const CHAIN_COLUMNS: &str = "seq, content_hash, hash, pruned_at, app_id, received_at, name, \
     channels, data, socket_id, client_ip, user_agent, library, auth_key, idempotency_key, \
     action, model, object_id, object_repr, user, timestamp, severity, status, changes, \
     error, ip";

fn digest(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Digest>> {
    let bytes: Option<Vec<u8>> = r.get(i)?;
    Ok(bytes.and_then(|b| chain::hash::from_slice(&b)))
}

/// Reads one row selected with [`CHAIN_COLUMNS`].
pub fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChainRow> {
    let pruned: Option<i64> = r.get(3)?;
    let fields = if pruned.is_some() {
        None
    } else {
        Some(read_fields(r))
    };
    Ok(ChainRow {
        seq: r.get(0)?,
        content_hash: digest(r, 1)?,
        hash: digest(r, 2)?,
        fields: fields.transpose()?,
    })
}

/// The stored fields, or why they cannot be read back as herald wrote them.
fn read_fields(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<StoredFields, String>> {
    // A value of the wrong type (an edit storing a number where text belongs) is tampering,
    // not a store failure: report it as such instead of aborting verification.
    macro_rules! text {
        ($i:expr) => {
            match r.get::<_, String>($i) {
                Ok(v) => v,
                Err(e) => return Ok(Err(format!("column {} unreadable: {e}", $i))),
            }
        };
    }
    macro_rules! opt {
        ($i:expr) => {
            match r.get::<_, Option<String>>($i) {
                Ok(v) => v,
                Err(e) => return Ok(Err(format!("column {} unreadable: {e}", $i))),
            }
        };
    }
    let channels_json = text!(7);
    let Ok(channels) = serde_json::from_str::<Vec<String>>(&channels_json) else {
        return Ok(Err(format!(
            "channels {channels_json:?} is not a JSON array of strings"
        )));
    };
    let received_at = match r.get::<_, i64>(5) {
        Ok(v) => v,
        Err(e) => return Ok(Err(format!("received_at unreadable: {e}"))),
    };
    Ok(Ok(StoredFields {
        app_id: text!(4),
        received_at,
        name: text!(6),
        channels,
        data: text!(8),
        socket_id: opt!(9),
        client_ip: opt!(10),
        user_agent: opt!(11),
        library: opt!(12),
        auth_key: text!(13),
        idempotency_key: opt!(14),
        action: opt!(15),
        model: opt!(16),
        object_id: opt!(17),
        object_repr: opt!(18),
        user: opt!(19),
        timestamp: opt!(20),
        severity: opt!(21),
        status: opt!(22),
        changes: opt!(23),
        error: opt!(24),
        ip: opt!(25),
    }))
}

/// Up to `limit` rows of `app` with `from <= seq <= to`, in seq order.
pub fn rows(
    conn: &Connection,
    app: &str,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<ChainRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CHAIN_COLUMNS} FROM events WHERE app_id = ?1 AND seq >= ?2 AND seq <= ?3
         ORDER BY seq LIMIT ?4"
    ))?;
    let rows = stmt
        .query_map(
            params![app, from, to, i64::try_from(limit).unwrap_or(i64::MAX)],
            read_row,
        )?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The app's head row.
pub fn head(conn: &Connection, app: &str) -> Result<Option<ChainHead>, StoreError> {
    let row: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT last_seq, last_hash FROM chain_heads WHERE app_id = ?1")?
        .query_row(params![app], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.map(|(last_seq, hash)| ChainHead {
        app_id: app.to_owned(),
        last_seq,
        // A mangled head hash reads as zeros: verify compares it and reports the mismatch.
        last_hash: chain::hash::from_slice(&hash).unwrap_or([0; 32]),
    }))
}

/// Every app's head row.
pub fn heads(conn: &Connection) -> Result<Vec<ChainHead>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT app_id, last_seq, last_hash FROM chain_heads")?;
    let rows = stmt
        .query_map([], |r| {
            let hash: Vec<u8> = r.get(2)?;
            Ok(ChainHead {
                app_id: r.get(0)?,
                last_seq: r.get(1)?,
                last_hash: chain::hash::from_slice(&hash).unwrap_or([0; 32]),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn read_checkpoint(r: &rusqlite::Row<'_>) -> rusqlite::Result<Checkpoint> {
    let hash: Vec<u8> = r.get(2)?;
    let key: Vec<u8> = r.get(4)?;
    let sig: Vec<u8> = r.get(5)?;
    Ok(Checkpoint {
        app_id: r.get(0)?,
        seq: r.get(1)?,
        hash: hash.try_into().unwrap_or([0; 32]),
        created_at: r.get(3)?,
        public_key: key.try_into().unwrap_or([0; 32]),
        signature: sig.try_into().unwrap_or([0; 64]),
    })
}

/// Up to `limit` checkpoints of `app` with `seq > after`, oldest first.
pub fn checkpoints(
    conn: &Connection,
    app: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<Checkpoint>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT app_id, seq, hash, created_at, public_key, signature FROM checkpoints
         WHERE app_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(
            params![app, after, i64::try_from(limit).unwrap_or(i64::MAX)],
            read_checkpoint,
        )?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Each app's latest checkpoint.
pub fn latest_checkpoints(conn: &Connection) -> Result<Vec<Checkpoint>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT app_id, seq, hash, created_at, public_key, signature FROM checkpoints c
         WHERE seq = (SELECT max(seq) FROM checkpoints WHERE app_id = c.app_id)",
    )?;
    let rows = stmt
        .query_map([], read_checkpoint)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn insert_checkpoint(conn: &Connection, cp: &Checkpoint) -> Result<(), StoreError> {
    // OR IGNORE: a checkpoint of the same seq already exists (another writer made it).
    conn.prepare_cached(
        "INSERT OR IGNORE INTO checkpoints (app_id, seq, hash, created_at, public_key, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        cp.app_id,
        cp.seq,
        &cp.hash[..],
        cp.created_at,
        &cp.public_key[..],
        &cp.signature[..]
    ])?;
    Ok(())
}

/// Rows chained per round of the upgrade: bounded memory whatever the size of the store.
const CHUNK: usize = 2000;

/// Chains every existing event, app by app in seq order, and writes the head rows. Runs
/// inside the migration's transaction, with the update trigger lifted. Returns how many
/// events were chained.
pub fn chain_existing(conn: &Connection) -> Result<u64, StoreError> {
    let apps: Vec<String> = conn
        .prepare("SELECT DISTINCT app_id FROM events")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut update = conn
        .prepare("UPDATE events SET content_hash = ?3, hash = ?4 WHERE app_id = ?1 AND seq = ?2")?;
    let mut chained = 0u64;
    for app in apps {
        let mut prev: Digest = GENESIS;
        let mut last_seq = 0i64;
        let mut last_received_at = i64::MIN;
        loop {
            let batch = rows(conn, &app, last_seq + 1, i64::MAX, CHUNK)?;
            let Some(last) = batch.last() else { break };
            let next_seq = last.seq;
            for row in batch {
                let fields = match row.fields {
                    Some(Ok(f)) => f,
                    _ => {
                        return Err(StoreError::Corrupt(format!(
                            "app {app:?} seq {}: cannot read the event to chain it",
                            row.seq
                        )));
                    }
                };
                let content = chain::content_hash(&fields.canonical());
                prev = chain::link(&prev, &content);
                update.execute(params![app, row.seq, &content[..], &prev[..]])?;
                last_received_at = fields.received_at;
                chained += 1;
            }
            last_seq = next_seq;
        }
        conn.execute(
            "INSERT INTO chain_heads (app_id, last_seq, last_hash, last_received_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![app, last_seq, &prev[..], last_received_at],
        )?;
    }
    Ok(chained)
}
