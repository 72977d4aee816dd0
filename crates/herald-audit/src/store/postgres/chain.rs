//! The PostgreSQL side of the hash chain: reading an app's chain back for verification
//! (every canonical field and the stored hashes), the head rows and the checkpoints.
//! Numbering and chaining new events happens in `write.rs`, under the head row lock.

use tokio_postgres::Row;

use super::sql::{Db, Param};
use crate::chain::{self, ChainHead, ChainRow, Checkpoint, Digest, StoredFields};
use crate::error::StoreError;

/// The chain's own columns, then every column the canonical encoding covers, in
/// [`read_row`]'s order.
const CHAIN_COLUMNS: &str = "seq, content_hash, hash, pruned_at, app_id, received_at, name, \
     channels, data, socket_id, client_ip, user_agent, library, auth_key, idempotency_key, \
     action, model, object_id, object_repr, \"user\", \"timestamp\", severity, status, changes, \
     error, ip";

pub const CHECKPOINT_COLUMNS: &str = "app_id, seq, hash, created_at, public_key, signature";

fn digest(r: &Row, i: usize) -> Option<Digest> {
    r.try_get::<_, Option<Vec<u8>>>(i)
        .ok()
        .flatten()
        .and_then(|b| chain::hash::from_slice(&b))
}

/// Reads one row selected with [`CHAIN_COLUMNS`].
fn read_row(r: &Row) -> ChainRow {
    let pruned: Option<i64> = r.try_get(3).ok().flatten();
    ChainRow {
        seq: r.get(0),
        content_hash: digest(r, 1),
        hash: digest(r, 2),
        fields: pruned.is_none().then(|| read_fields(r)),
    }
}

/// The stored fields, or why they cannot be read back as herald wrote them.
fn read_fields(r: &Row) -> Result<StoredFields, String> {
    let text = |i: usize| {
        r.try_get::<_, String>(i)
            .map_err(|e| format!("column {i} unreadable: {e}"))
    };
    let opt = |i: usize| {
        r.try_get::<_, Option<String>>(i)
            .map_err(|e| format!("column {i} unreadable: {e}"))
    };
    let channels_json = text(7)?;
    let channels = serde_json::from_str::<Vec<String>>(&channels_json)
        .map_err(|_| format!("channels {channels_json:?} is not a JSON array of strings"))?;
    Ok(StoredFields {
        app_id: text(4)?,
        received_at: r
            .try_get::<_, i64>(5)
            .map_err(|e| format!("received_at unreadable: {e}"))?,
        name: text(6)?,
        channels,
        data: text(8)?,
        socket_id: opt(9)?,
        client_ip: opt(10)?,
        user_agent: opt(11)?,
        library: opt(12)?,
        auth_key: text(13)?,
        idempotency_key: opt(14)?,
        action: opt(15)?,
        model: opt(16)?,
        object_id: opt(17)?,
        object_repr: opt(18)?,
        user: opt(19)?,
        timestamp: opt(20)?,
        severity: opt(21)?,
        status: opt(22)?,
        changes: opt(23)?,
        error: opt(24)?,
        ip: opt(25)?,
    })
}

/// Up to `limit` rows of `app` with `from <= seq <= to`, in seq order.
pub fn rows(
    db: &Db<'_, '_>,
    app: &str,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Vec<ChainRow>, StoreError> {
    let sql = format!(
        "SELECT {CHAIN_COLUMNS} FROM events WHERE app_id = $1 AND seq >= $2 AND seq <= $3
         ORDER BY seq LIMIT $4"
    );
    let params = [
        Param::Text(app.to_owned()),
        Param::Int(from),
        Param::Int(to),
        Param::Int(i64::try_from(limit).unwrap_or(i64::MAX)),
    ];
    Ok(db.query(&sql, &params)?.iter().map(read_row).collect())
}

/// Reads `app_id, last_seq, last_hash`. A mangled hash reads as zeros: verify compares
/// it and reports the mismatch.
pub fn head_from_row(r: &Row) -> ChainHead {
    ChainHead {
        app_id: r.get(0),
        last_seq: r.get(1),
        last_hash: digest(r, 2).unwrap_or([0; 32]),
    }
}

/// The app's head row, once it has recorded something.
pub fn head(db: &Db<'_, '_>, app: &str) -> Result<Option<ChainHead>, StoreError> {
    Ok(db
        .query_opt(
            "SELECT app_id, last_seq, last_hash FROM chain_heads
             WHERE app_id = $1 AND last_seq > 0",
            &[Param::Text(app.to_owned())],
        )?
        .map(|r| head_from_row(&r)))
}

/// Reads [`CHECKPOINT_COLUMNS`].
pub fn checkpoint_from_row(r: &Row) -> Checkpoint {
    let bytes = |i: usize| r.try_get::<_, Vec<u8>>(i).unwrap_or_default();
    Checkpoint {
        app_id: r.get(0),
        seq: r.get(1),
        hash: bytes(2).try_into().unwrap_or([0; 32]),
        created_at: r.get(3),
        public_key: bytes(4).try_into().unwrap_or([0; 32]),
        signature: bytes(5).try_into().unwrap_or([0; 64]),
    }
}

/// Up to `limit` checkpoints of `app` with `seq > after`, oldest first.
pub fn checkpoints(
    db: &Db<'_, '_>,
    app: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<Checkpoint>, StoreError> {
    let sql = format!(
        "SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE app_id = $1 AND seq > $2
         ORDER BY seq LIMIT $3"
    );
    let params = [
        Param::Text(app.to_owned()),
        Param::Int(after),
        Param::Int(i64::try_from(limit).unwrap_or(i64::MAX)),
    ];
    Ok(db
        .query(&sql, &params)?
        .iter()
        .map(checkpoint_from_row)
        .collect())
}
