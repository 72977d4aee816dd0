//! The two hashes of a chained event: `content_hash = SHA-256(canonical bytes)` and
//! `hash = SHA-256(prev_hash ‖ content_hash)`, with [`GENESIS`] as the `prev_hash` of an
//! app's first event.

use sha2::{Digest as _, Sha256};

use super::canonical::CanonicalFields;

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// The `prev_hash` of seq 1: 32 zero bytes. Each app's chain starts here; the app id is
/// inside every record's canonical bytes, so two apps' chains never share a link.
pub const GENESIS: Digest = [0; 32];

/// SHA-256 of the record's canonical v1 bytes.
pub fn content_hash(fields: &CanonicalFields<'_>) -> Digest {
    Sha256::digest(fields.encode()).into()
}

/// The chain link: SHA-256 of the previous event's `hash` followed by this event's
/// `content_hash` (64 bytes in all).
pub fn link(prev: &Digest, content: &Digest) -> Digest {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(content);
    h.finalize().into()
}

/// Reads a digest stored as a 32-byte blob; anything else is `None`.
pub fn from_slice(bytes: &[u8]) -> Option<Digest> {
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_is_sha256_of_the_concatenation() {
        // SHA-256 of 64 zero bytes, a published constant.
        assert_eq!(
            hex::encode(link(&GENESIS, &[0; 32])),
            "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"
        );
    }

    #[test]
    fn content_hash_depends_on_every_field() {
        let channels = vec!["c".to_owned()];
        let base = CanonicalFields {
            app_id: "1",
            received_at: 5,
            name: "e",
            channels: &channels,
            data: "{}",
            socket_id: None,
            client_ip: None,
            user_agent: None,
            library: None,
            auth_key: "k",
            idempotency_key: None,
            action: None,
            model: None,
            object_id: None,
            object_repr: None,
            user: None,
            timestamp: None,
            severity: None,
            status: None,
            changes: None,
            error: None,
            ip: None,
        };
        let h = content_hash(&base);
        let variants = [
            CanonicalFields {
                app_id: "2",
                ..base
            },
            CanonicalFields {
                received_at: 6,
                ..base
            },
            CanonicalFields {
                data: "{ }",
                ..base
            },
            CanonicalFields {
                model: Some("x"),
                ..base
            },
            CanonicalFields {
                error: Some("x"),
                ..base
            },
            CanonicalFields {
                ip: Some("x"),
                ..base
            },
            CanonicalFields {
                changes: Some("{}"),
                ..base
            },
        ];
        for v in variants {
            assert_ne!(content_hash(&v), h, "{v:?}");
        }
    }
}
