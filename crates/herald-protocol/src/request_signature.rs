//! Pusher HTTP API request signatures (`auth_key`, `auth_timestamp`, `auth_version`,
//! `body_md5`, `auth_signature`), both for verifying incoming requests (the server) and for
//! signing outgoing ones (the load generator, tests).
//!
//! The string to sign is `METHOD\nPATH\nQS`, where QS is every query parameter except
//! `auth_signature`, keys lowercased, sorted by key, joined as `k=v` with `&`, values
//! percent-decoded and *not* re-escaped.

use md5::{Digest, Md5};

use crate::signature::{hmac_sha256_hex, signatures_match};

/// How far `auth_timestamp` may be from the server clock, in seconds (exclusive).
pub const TIMESTAMP_WINDOW_SECS: i64 = 600;

/// Lowercase hex MD5 of a request body, as sent in `body_md5`.
pub fn body_md5_hex(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
}

/// Builds the canonical query string that is signed. `params` are decoded `(key, value)`
/// pairs; `auth_signature` is skipped.
pub fn canonical_query<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(String, &str)> = params
        .into_iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("auth_signature"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// `METHOD\nPATH\nQS`.
pub fn string_to_sign(method: &str, path: &str, canonical_query: &str) -> String {
    format!(
        "{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path,
        canonical_query
    )
}

/// Why a signed HTTP request was refused. Each message says what was expected, like
/// Pusher's own 401 bodies do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestAuthError {
    #[error("Missing parameter: {0}")]
    MissingParameter(&'static str),
    #[error("Unknown auth_key")]
    UnknownKey,
    #[error("Version not supported: auth_version must be 1.0, got {0}")]
    UnsupportedVersion(String),
    #[error("Invalid timestamp: auth_timestamp must be a Unix time in seconds, got {0}")]
    BadTimestamp(String),
    #[error(
        "Timestamp expired: Given timestamp ({given}) not within {TIMESTAMP_WINDOW_SECS}s of server time ({now})"
    )]
    TimestampExpired { given: i64, now: i64 },
    #[error(
        "Invalid body_md5: the MD5 of the request body is {expected}, but body_md5 was {received}"
    )]
    BodyMd5Mismatch { expected: String, received: String },
    #[error("Missing parameter: body_md5 (required when the request has a body)")]
    BodyMd5Missing,
    #[error(
        "Invalid signature: you should have sent HmacSHA256Hex({string_to_sign:?}, your_secret_key), but you sent \"{received}\""
    )]
    WrongSignature {
        string_to_sign: String,
        received: String,
    },
}

/// A request as seen by the verifier.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Decoded query parameters, in any order.
    pub query: &'a [(String, String)],
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    /// The value of a query parameter (first occurrence, key compared case-insensitively).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `auth_key` the request claims, if any.
    pub fn auth_key(&self) -> Option<&str> {
        self.param("auth_key")
    }

    /// Verifies the request against `secret`, with `now` in Unix seconds: the query first,
    /// then `body_md5` against the body.
    pub fn verify(&self, secret: &str, now: i64) -> Result<(), RequestAuthError> {
        self.verify_query(secret, now)?;
        self.verify_body()
    }

    /// Everything that can be checked before the body is read: the parameters, the
    /// timestamp window and the signature. The signature covers `body_md5`, so a request
    /// that passes is known to come from the key's owner and only its body remains to be
    /// checked ([`Self::verify_body`]). Ignores `self.body`.
    pub fn verify_query(&self, secret: &str, now: i64) -> Result<(), RequestAuthError> {
        self.auth_key()
            .ok_or(RequestAuthError::MissingParameter("auth_key"))?;
        let signature = self
            .param("auth_signature")
            .ok_or(RequestAuthError::MissingParameter("auth_signature"))?;
        let version = self
            .param("auth_version")
            .ok_or(RequestAuthError::MissingParameter("auth_version"))?;
        if version != "1.0" {
            return Err(RequestAuthError::UnsupportedVersion(version.to_owned()));
        }
        let ts_raw = self
            .param("auth_timestamp")
            .ok_or(RequestAuthError::MissingParameter("auth_timestamp"))?;
        let given: i64 = ts_raw
            .parse()
            .map_err(|_| RequestAuthError::BadTimestamp(ts_raw.to_owned()))?;
        // `abs_diff` cannot overflow: `now - given` did for timestamps near i64::MIN, and
        // the wrapped difference passed the window check.
        if now.abs_diff(given) >= TIMESTAMP_WINDOW_SECS.unsigned_abs() {
            return Err(RequestAuthError::TimestampExpired { given, now });
        }
        let qs = canonical_query(self.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let to_sign = string_to_sign(self.method, self.path, &qs);
        let expected = hmac_sha256_hex(secret.as_bytes(), to_sign.as_bytes());
        if signatures_match(&expected, signature) {
            Ok(())
        } else {
            Err(RequestAuthError::WrongSignature {
                string_to_sign: to_sign,
                received: signature.to_owned(),
            })
        }
    }

    /// Checks `body_md5` (signed, see [`Self::verify_query`]) against `self.body`.
    pub fn verify_body(&self) -> Result<(), RequestAuthError> {
        match self.param("body_md5") {
            Some(received) => {
                let expected = body_md5_hex(self.body);
                if !received.eq_ignore_ascii_case(&expected) {
                    return Err(RequestAuthError::BodyMd5Mismatch {
                        expected,
                        received: received.to_owned(),
                    });
                }
                Ok(())
            }
            None if !self.body.is_empty() => Err(RequestAuthError::BodyMd5Missing),
            None => Ok(()),
        }
    }
}

/// Signs a request the way the official libraries do and returns the full query string
/// (already including `auth_signature`), ready to append after `?`.
///
/// `extra` are additional query parameters (unescaped values; they are escaped here for the
/// URL but signed unescaped). `body_md5` is added when `body` is non-empty.
pub fn sign_query(
    method: &str,
    path: &str,
    key: &str,
    secret: &str,
    timestamp: i64,
    body: &[u8],
    extra: &[(&str, &str)],
) -> String {
    let ts = timestamp.to_string();
    let md5 = (!body.is_empty()).then(|| body_md5_hex(body));
    let mut params: Vec<(&str, &str)> = vec![
        ("auth_key", key),
        ("auth_timestamp", &ts),
        ("auth_version", "1.0"),
    ];
    if let Some(md5) = &md5 {
        params.push(("body_md5", md5));
    }
    params.extend_from_slice(extra);
    let qs = canonical_query(params.iter().copied());
    let sig = hmac_sha256_hex(
        secret.as_bytes(),
        string_to_sign(method, path, &qs).as_bytes(),
    );
    let mut out = String::new();
    for (k, v) in &params {
        out.push_str(k);
        out.push('=');
        out.push_str(&escape_query_value(v));
        out.push('&');
    }
    out.push_str("auth_signature=");
    out.push_str(&sig);
    out
}

fn escape_query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pusher_docs_rest_vector() {
        let body = br#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
        assert_eq!(body_md5_hex(body), "ec365a775a4cd0599faeb73354201b6f");
        let query = q(&[
            ("auth_key", "278d425bdf160c739803"),
            ("auth_timestamp", "1353088179"),
            ("auth_version", "1.0"),
            ("body_md5", "ec365a775a4cd0599faeb73354201b6f"),
            (
                "auth_signature",
                "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c",
            ),
        ]);
        let req = SignedRequest {
            method: "POST",
            path: "/apps/3/events",
            query: &query,
            body,
        };
        assert_eq!(req.verify("7ad3773142a6692b25b8", 1353088179 + 5), Ok(()));
    }

    #[test]
    fn python_get_vector_with_body_md5_of_empty_body() {
        let query = q(&[
            ("foo", "bar"),
            ("auth_key", "key"),
            ("auth_timestamp", "1000"),
            ("auth_version", "1.0"),
            ("body_md5", "d41d8cd98f00b204e9800998ecf8427e"),
            (
                "auth_signature",
                "5c49f04a95eedc9028b1e0e8de7c2c7ad63504a0e3b5c145d2accaef6c14dbac",
            ),
        ]);
        let req = SignedRequest {
            method: "GET",
            path: "/some/obscure/api",
            query: &query,
            body: b"",
        };
        assert_eq!(req.verify("secret", 1000), Ok(()));
    }

    #[test]
    fn node_vectors() {
        let qs = canonical_query([
            ("foo", "bar"),
            ("baz", "123454321"),
            ("auth_key", "f00d"),
            ("auth_timestamp", "1234567890"),
            ("auth_version", "1.0"),
        ]);
        assert_eq!(
            hmac_sha256_hex(b"tofu", string_to_sign("GET", "/event", &qs).as_bytes()),
            "d8bdbd31911fb7400a14fbd36fd7de053494725b64400ae5856deafe304b34a9"
        );
        assert_eq!(
            body_md5_hex(
                br#"{"name":"my_event","data":"{\"some\":\"data \"}","channels":["one"]}"#
            ),
            "e95168baf497b2e54b2c6cadd41a6a3f"
        );
    }

    #[test]
    fn derived_channels_vector_and_key_lowercasing() {
        let qs = canonical_query([
            ("info", "user_count"),
            ("FILTER_BY_PREFIX", "presence-"),
            ("auth_key", "278d425bdf160c739803"),
            ("auth_timestamp", "1353088179"),
            ("auth_version", "1.0"),
        ]);
        assert_eq!(
            hmac_sha256_hex(
                b"7ad3773142a6692b25b8",
                string_to_sign("GET", "/apps/3/channels", &qs).as_bytes()
            ),
            "16819168891cb5dfd72b5c7a5d3d602605b26c6ba1930033b5e2eeeb65010291"
        );
    }

    #[test]
    fn refusals_say_what_was_wrong() {
        let body = b"{}";
        let signed = sign_query("POST", "/apps/1/events", "k", "s", 5000, body, &[]);
        let query: Vec<(String, String)> = signed
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let req = SignedRequest {
            method: "POST",
            path: "/apps/1/events",
            query: &query,
            body,
        };
        assert_eq!(req.verify("s", 5000), Ok(()));
        assert!(matches!(
            req.verify("wrong", 5000),
            Err(RequestAuthError::WrongSignature { .. })
        ));
        assert_eq!(
            req.verify("s", 5600),
            Err(RequestAuthError::TimestampExpired {
                given: 5000,
                now: 5600
            })
        );
        assert_eq!(req.verify("s", 5599), Ok(()));
        let tampered = SignedRequest {
            body: b"{\"x\":1}",
            ..req
        };
        assert!(matches!(
            tampered.verify("s", 5000),
            Err(RequestAuthError::BodyMd5Mismatch { .. })
        ));
        // The query alone passes; the body is checked separately, after it is read.
        assert_eq!(tampered.verify_query("s", 5000), Ok(()));
        let err = RequestAuthError::WrongSignature {
            string_to_sign: "POST\n/apps/1/events\nauth_key=k".into(),
            received: "ab".into(),
        };
        assert!(err.to_string().starts_with(
            "Invalid signature: you should have sent HmacSHA256Hex(\"POST\\n/apps/1/events\\nauth_key=k\", your_secret_key)"
        ));
    }

    #[test]
    fn timestamps_at_the_ends_of_i64_are_refused_not_wrapped() {
        for ts in [i64::MIN, i64::MIN + 1000, i64::MAX, 1000 - (1 << 62)] {
            let signed = sign_query("GET", "/apps/1/channels", "k", "s", ts, b"", &[]);
            let query: Vec<(String, String)> = signed
                .split('&')
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    (k.to_owned(), v.to_owned())
                })
                .collect();
            let req = SignedRequest {
                method: "GET",
                path: "/apps/1/channels",
                query: &query,
                body: b"",
            };
            assert_eq!(
                req.verify("s", 1000),
                Err(RequestAuthError::TimestampExpired {
                    given: ts,
                    now: 1000
                }),
                "auth_timestamp {ts}"
            );
        }
    }
}
