//! An app's audit rules: where each audit field is read from ([`FieldKeys`]) and which values
//! are redacted before anything is stored ([`Redaction`]). The server builds one per app from
//! its configuration and passes it with every event it records
//! ([`crate::AuditRecorder::record_with`]).

use crate::extract::FieldKeys;
use crate::redact::Redaction;

/// Channels whose payloads are end-to-end encrypted: herald sees only ciphertext.
const ENCRYPTED_PREFIX: &str = "private-encrypted-";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditRules {
    pub keys: FieldKeys,
    pub redaction: Redaction,
}

impl AuditRules {
    /// `fields` overrides the keys of some fields (see [`FieldKeys::with_overrides`]);
    /// `redact` lists redaction rules (see [`crate::redact`]). Errors say what is wrong.
    pub fn new<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a [String])>,
        redact: &[String],
    ) -> Result<Self, String> {
        Ok(Self {
            keys: FieldKeys::with_overrides(fields)?,
            redaction: Redaction::new(redact)?,
        })
    }

    /// An event's `data` with the redaction rules applied, or `None` when it stays as it
    /// is: nothing matched, it is not JSON, or it went to an encrypted channel (ciphertext,
    /// which cannot be redacted).
    pub fn redact(&self, channels: &[String], data: &str) -> Option<String> {
        if self.redaction.is_empty() || channels.iter().any(|c| c.starts_with(ENCRYPTED_PREFIX)) {
            return None;
        }
        self.redaction.apply(data)
    }
}
