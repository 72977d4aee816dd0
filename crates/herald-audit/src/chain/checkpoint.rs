//! Signed checkpoints: every so often the writer signs `(app, seq, hash, time)` with its
//! Ed25519 key. The chain alone proves that the rows agree with each other; a checkpoint
//! proves that they agree with what the writer saw, because rewriting history and then
//! recomputing every later hash (easy: the algorithm is public) cannot produce the
//! signature. Auditors keep copies elsewhere (`GET /apps/{id}/audit/checkpoints`), so that
//! deleting the checkpoints from the store is caught too.
//!
//! The signed message, v1: `"herald-audit-checkpoint-v1\0"`, then the app id as the
//! canonical encoding writes a present text field (`0x01`, u32 big-endian length, UTF-8),
//! then `seq` and `created_at` (µs since the epoch) as i64 big-endian, then the 32-byte
//! `hash`.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::hash::Digest;

/// The tag every signed checkpoint message starts with.
pub const CHECKPOINT_TAG: &[u8] = b"herald-audit-checkpoint-v1\0";

/// One signed checkpoint, as stored and as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub app_id: String,
    /// The last event the checkpoint covers.
    pub seq: i64,
    /// That event's chain `hash`.
    pub hash: Digest,
    /// When the writer signed it, µs since the epoch.
    pub created_at: i64,
    /// The key that signed it (so that a key rotation is visible).
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

impl Checkpoint {
    /// Signs `(app_id, seq, hash, created_at)` with `key`.
    pub fn sign(key: &SigningKey, app_id: &str, seq: i64, hash: Digest, created_at: i64) -> Self {
        let signature = key.sign(&message(app_id, seq, &hash, created_at));
        Self {
            app_id: app_id.to_owned(),
            seq,
            hash,
            created_at,
            public_key: key.verifying_key().to_bytes(),
            signature: signature.to_bytes(),
        }
    }

    /// True when `key` signed exactly this checkpoint.
    pub fn is_signed_by(&self, key: &VerifyingKey) -> bool {
        let signature = Signature::from_bytes(&self.signature);
        key.verify(
            &message(&self.app_id, self.seq, &self.hash, self.created_at),
            &signature,
        )
        .is_ok()
    }
}

/// The bytes a checkpoint's signature covers.
pub fn message(app_id: &str, seq: i64, hash: &Digest, created_at: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(CHECKPOINT_TAG.len() + 5 + app_id.len() + 16 + 32);
    out.extend_from_slice(CHECKPOINT_TAG);
    out.push(1);
    out.extend_from_slice(
        &u32::try_from(app_id.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(app_id.as_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&created_at.to_be_bytes());
    out.extend_from_slice(hash);
    out
}

/// A checkpoint as JSON: hex hash, base64 key and signature, RFC 3339 time. This is what
/// `GET …/audit/checkpoints` lists and what `herald audit verify --checkpoints` reads back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointJson {
    pub app_id: String,
    pub seq: i64,
    pub hash: String,
    pub created_at: String,
    pub public_key: String,
    pub signature: String,
}

impl From<&Checkpoint> for CheckpointJson {
    fn from(c: &Checkpoint) -> Self {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        Self {
            app_id: c.app_id.clone(),
            seq: c.seq,
            hash: hex::encode(c.hash),
            created_at: crate::timefmt::format_micros(c.created_at),
            public_key: b64.encode(c.public_key),
            signature: b64.encode(c.signature),
        }
    }
}

impl TryFrom<&CheckpointJson> for Checkpoint {
    type Error = String;

    fn try_from(j: &CheckpointJson) -> Result<Self, String> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let fixed = |what: &str, bytes: Result<Vec<u8>, String>, len: usize| {
            bytes.and_then(|b| {
                (b.len() == len)
                    .then_some(b)
                    .ok_or_else(|| format!("checkpoint seq {}: {what} is not {len} bytes", j.seq))
            })
        };
        let hash = fixed("hash", hex::decode(&j.hash).map_err(|e| e.to_string()), 32)?;
        let key = fixed(
            "public_key",
            b64.decode(&j.public_key).map_err(|e| e.to_string()),
            32,
        )?;
        let sig = fixed(
            "signature",
            b64.decode(&j.signature).map_err(|e| e.to_string()),
            64,
        )?;
        Ok(Self {
            app_id: j.app_id.clone(),
            seq: j.seq,
            hash: hash.try_into().expect("length checked"),
            created_at: crate::timefmt::parse_instant(&j.created_at)
                .map_err(|e| format!("checkpoint seq {}: created_at: {e}", j.seq))?,
            public_key: key.try_into().expect("length checked"),
            signature: sig.try_into().expect("length checked"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_covers_every_field_and_survives_json() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let cp = Checkpoint::sign(&key, "1", 42, [9; 32], 1_736_251_466_123_456);
        assert!(cp.is_signed_by(&key.verifying_key()));
        let back = Checkpoint::try_from(&CheckpointJson::from(&cp)).unwrap();
        assert_eq!(back, cp);
        for forged in [
            Checkpoint {
                seq: 43,
                ..cp.clone()
            },
            Checkpoint {
                hash: [8; 32],
                ..cp.clone()
            },
            Checkpoint {
                app_id: "2".into(),
                ..cp.clone()
            },
            Checkpoint {
                created_at: 1,
                ..cp.clone()
            },
        ] {
            assert!(!forged.is_signed_by(&key.verifying_key()));
        }
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(!cp.is_signed_by(&other.verifying_key()));
    }
}
