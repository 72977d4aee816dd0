//! The hash chain that makes the audit trail tamper-evident. Pure: no I/O, no store. The
//! SQLite store (and the PostgreSQL one) call it inside their `append` transaction, and
//! [`crate::verify`] calls it to recompute a trail.
//!
//! # The chain, per app
//!
//! * `content_hash = SHA-256(canonical v1 bytes of the record)` ([`canonical`]).
//! * `hash = SHA-256(prev_hash ‖ content_hash)`, where `prev_hash` is the `hash` of the
//!   app's previous event (seq − 1) and, for seq 1, [`GENESIS`] (32 zero bytes).
//! * Both are stored with the event, and the store keeps a head row per app
//!   `(app_id, last_seq, last_hash, last_received_at)` updated in the same transaction, so
//!   several writers (CLI prune, PostgreSQL nodes) chain correctly.
//!
//! Keeping `content_hash` per row is what lets retention remove a pruned event's payload
//! and fields while `verify` still checks the links over pruned ranges.
//!
//! # Canonical encoding v1
//!
//! The bytes start with the tag `"herald-audit-event-v1\0"` (22 bytes). Then, in this order:
//!
//! | field | encoding |
//! |---|---|
//! | app_id | text |
//! | received_at | i64 big-endian, µs since the Unix epoch, as recorded |
//! | name | text |
//! | channels | u32 big-endian count, then each channel as text, in stored order |
//! | data | text (exactly as received, after redaction) |
//! | socket_id, client_ip, user_agent, library | optional text |
//! | auth_key | text |
//! | idempotency_key | optional text |
//! | action, model, object_id, object_repr, user, timestamp, severity, status | optional text |
//! | changes | optional text: herald's normalised JSON (`{"field":{"new":…,"old":…}}`, compact, keys sorted) |
//! | error, ip | optional text |
//!
//! *text* is `0x01`, the UTF-8 length as u32 big-endian, then the UTF-8 bytes; an absent
//! optional field is the single byte `0x00` (so absent and empty differ). Every stored
//! field is covered, the extracted columns included, so editing an extracted column (to hide
//! an event from a filter, say) is detected like editing the payload. `error` and `ip` are
//! part of v1 from the start, so stores written before those columns existed chain them
//! as absent and nothing changes when they are filled in for new events.
//!
//! `seq` is not in the canonical bytes: it is the event's position in the chain, and the
//! link already binds position (verify also requires seqs to be contiguous from 1). Leaving
//! it out is what lets verify tell a *moved* row (intact content, wrong place) from a
//! *changed* one.
//!
//! A future layout gets a new tag (`…-v2`); v1 records keep verifying as v1.

pub mod canonical;
pub mod checkpoint;
pub mod hash;

pub use canonical::CanonicalFields;
pub use checkpoint::{Checkpoint, CheckpointJson};
pub use hash::{Digest, GENESIS, content_hash, link};

/// An app's chain head: the last event recorded and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub app_id: String,
    pub last_seq: i64,
    pub last_hash: Digest,
}

/// Every stored field of an event, owned, as a store reads it back for verification.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredFields {
    pub app_id: String,
    pub received_at: i64,
    pub name: String,
    pub channels: Vec<String>,
    pub data: String,
    pub socket_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub library: Option<String>,
    pub auth_key: String,
    pub idempotency_key: Option<String>,
    pub action: Option<String>,
    pub model: Option<String>,
    pub object_id: Option<String>,
    pub object_repr: Option<String>,
    pub user: Option<String>,
    pub timestamp: Option<String>,
    pub severity: Option<String>,
    pub status: Option<String>,
    pub changes: Option<String>,
    pub error: Option<String>,
    pub ip: Option<String>,
}

impl StoredFields {
    pub fn canonical(&self) -> CanonicalFields<'_> {
        CanonicalFields {
            app_id: &self.app_id,
            received_at: self.received_at,
            name: &self.name,
            channels: &self.channels,
            data: &self.data,
            socket_id: self.socket_id.as_deref(),
            client_ip: self.client_ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            library: self.library.as_deref(),
            auth_key: &self.auth_key,
            idempotency_key: self.idempotency_key.as_deref(),
            action: self.action.as_deref(),
            model: self.model.as_deref(),
            object_id: self.object_id.as_deref(),
            object_repr: self.object_repr.as_deref(),
            user: self.user.as_deref(),
            timestamp: self.timestamp.as_deref(),
            severity: self.severity.as_deref(),
            status: self.status.as_deref(),
            changes: self.changes.as_deref(),
            error: self.error.as_deref(),
            ip: self.ip.as_deref(),
        }
    }
}

/// One event as verification reads it: its place, its stored hashes, and its fields unless
/// retention pruned them. A hash that is missing or not 32 bytes reads as `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRow {
    pub seq: i64,
    pub content_hash: Option<Digest>,
    pub hash: Option<Digest>,
    /// `None` for a pruned event (only seq and hashes remain); `Err` when the stored
    /// fields cannot even be read back (e.g. `channels` is not a JSON array).
    pub fields: Option<Result<StoredFields, String>>,
}
