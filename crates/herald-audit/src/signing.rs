//! The Ed25519 key that signs checkpoints: loading it, generating it on first start, and
//! reading a public key for `verify`. Keys are PKCS#8 / SPKI PEM files, so standard tools
//! read them too (`openssl pkey -in herald-audit-signing.pem -pubout`).

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use thiserror::Error;

use crate::config::StoreLocation;

/// The key file's name when `HERALD_AUDIT_SIGNING_KEY` is not set: beside the store.
pub const DEFAULT_KEY_FILE: &str = "herald-audit-signing.pem";

#[derive(Debug, Error)]
pub enum KeyError {
    #[error("cannot read the signing key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the signing key {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an Ed25519 key: {why}")]
    Invalid { path: PathBuf, why: String },
    #[error("cannot generate a signing key: {0}")]
    Random(String),
}

/// Where the key lives when no path is configured: in the store's directory (the data
/// directory), or the working directory for an in-memory store.
pub fn default_key_path(location: &StoreLocation) -> PathBuf {
    match location {
        StoreLocation::SqliteFile(db) => db
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join(DEFAULT_KEY_FILE),
        StoreLocation::SqliteMemory => PathBuf::from(DEFAULT_KEY_FILE),
        // A PostgreSQL store has no directory of its own: the node's data directory. Every
        // node of a cluster should be given the same key (HERALD_AUDIT_SIGNING_KEY), so
        // that one public key verifies every checkpoint.
        StoreLocation::Postgres(_) => Path::new("./data").join(DEFAULT_KEY_FILE),
    }
}

/// Reads the signing key at `path`, or generates one there (mode 0600) when the file does
/// not exist. Returns the key and whether it was generated.
pub fn load_or_create(path: &Path) -> Result<(SigningKey, bool), KeyError> {
    match std::fs::read_to_string(path) {
        Ok(pem) => Ok((parse_signing_key(path, &pem)?, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((create(path)?, true)),
        Err(source) => Err(KeyError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// A fresh key that is never written anywhere (in-memory stores, tests).
pub fn ephemeral() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

fn create(path: &Path) -> Result<SigningKey, KeyError> {
    let create_err = |source| KeyError::Create {
        path: path.to_owned(),
        source,
    };
    let key = ephemeral()?;
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|e| create_err(std::io::Error::other(e.to_string())))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(create_err)?;
    }
    let mut options = std::fs::OpenOptions::new();
    // create_new: two processes starting at once never overwrite each other's key.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(pem.as_bytes()).map_err(create_err)?;
            file.sync_all().map_err(create_err)?;
            Ok(key)
        }
        // Lost a race with another process: use the key it wrote.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            load_or_create(path).map(|(k, _)| k)
        }
        Err(e) => Err(create_err(e)),
    }
}

fn parse_signing_key(path: &Path, pem: &str) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| KeyError::Invalid {
        path: path.to_owned(),
        why: e.to_string(),
    })
}

/// Reads a public key for `verify`: a `PUBLIC KEY` PEM (what `herald audit public-key`
/// prints), the signing key's own PEM, or the raw 32 bytes in base64 or hex.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_public_key(&text).map_err(|why| KeyError::Invalid {
        path: path.to_owned(),
        why,
    })
}

/// See [`read_public_key`].
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let text = text.trim();
    if text.contains("PRIVATE KEY") {
        return SigningKey::from_pkcs8_pem(text)
            .map(|k| k.verifying_key())
            .map_err(|e| e.to_string());
    }
    if text.starts_with("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(text).map_err(|e| e.to_string());
    }
    let raw = hex::decode(text)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
        .ok_or("expected a PEM public key, or 32 bytes in hex or base64")?;
    let bytes: [u8; 32] = raw
        .try_into()
        .map_err(|_| "a raw Ed25519 public key is 32 bytes".to_owned())?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| e.to_string())
}

/// The public key as SPKI PEM.
pub fn public_key_pem(key: &VerifyingKey) -> String {
    key.to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap_or_default()
}

/// The public key as base64 of its 32 bytes (how the API and checkpoints show it).
pub fn public_key_base64(key: &VerifyingKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_with_mode_0600_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/key.pem");
        let (key, created) = load_or_create(&path).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(again.to_bytes(), key.to_bytes());
        let public = key.verifying_key();
        assert_eq!(parse_public_key(&public_key_pem(&public)).unwrap(), public);
        assert_eq!(
            parse_public_key(&public_key_base64(&public)).unwrap(),
            public
        );
        assert_eq!(read_public_key(&path).unwrap(), public);
        assert!(parse_public_key("nonsense").is_err());
    }
}
