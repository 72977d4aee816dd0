//! HMAC-SHA256 signatures in the forms Pusher uses: hex digests, `key:signature` auth
//! strings for channels and user sign-in, and constant-time verification.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Lowercase hex HMAC-SHA256 of `message` keyed with `secret`.
pub fn hmac_sha256_hex(secret: &[u8], message: &[u8]) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any size");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time equality of a received hex signature with the one we computed.
///
/// Comparison is case-sensitive on purpose: every official library emits lowercase hex.
pub fn signatures_match(expected_hex: &str, received_hex: &str) -> bool {
    expected_hex.len() == received_hex.len()
        && bool::from(expected_hex.as_bytes().ct_eq(received_hex.as_bytes()))
}

/// The string a private or encrypted channel subscription signs: `socket_id:channel`.
pub fn channel_string_to_sign(socket_id: &str, channel: &str) -> String {
    format!("{socket_id}:{channel}")
}

/// The string a presence subscription signs: `socket_id:channel:channel_data`, with
/// `channel_data` exactly as received (never re-serialised).
pub fn presence_string_to_sign(socket_id: &str, channel: &str, channel_data: &str) -> String {
    format!("{socket_id}:{channel}:{channel_data}")
}

/// The string a user sign-in signs: `socket_id::user::user_data`.
pub fn user_string_to_sign(socket_id: &str, user_data: &str) -> String {
    format!("{socket_id}::user::{user_data}")
}

/// Builds the `key:hexsig` auth string an app server hands to pusher-js.
pub fn auth_string(key: &str, secret: &str, string_to_sign: &str) -> String {
    format!(
        "{key}:{}",
        hmac_sha256_hex(secret.as_bytes(), string_to_sign.as_bytes())
    )
}

/// Why a `key:signature` auth value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("Auth value missing")]
    Missing,
    #[error("Invalid key in subscription auth data: '{0}'")]
    WrongKey(String),
    #[error(
        "Invalid signature: Expected HMAC SHA256 hex digest of {string_to_sign}, but got {received}"
    )]
    WrongSignature {
        string_to_sign: String,
        received: String,
    },
}

/// Verifies a `key:hexsig` auth value against the app's key and secret.
pub fn verify_auth(
    auth: &str,
    app_key: &str,
    app_secret: &str,
    string_to_sign: &str,
) -> Result<(), AuthError> {
    if auth.is_empty() {
        return Err(AuthError::Missing);
    }
    let (key, received) = auth.split_once(':').unwrap_or((auth, ""));
    if key != app_key {
        return Err(AuthError::WrongKey(key.to_owned()));
    }
    let expected = hmac_sha256_hex(app_secret.as_bytes(), string_to_sign.as_bytes());
    if signatures_match(&expected, received) {
        Ok(())
    } else {
        Err(AuthError::WrongSignature {
            string_to_sign: string_to_sign.to_owned(),
            received: received.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference vectors: ../shared/spec/pusher-protocol.md section 8.
    #[test]
    fn private_channel_vector_from_pusher_docs() {
        let s = channel_string_to_sign("1234.1234", "private-foobar");
        assert_eq!(
            auth_string("278d425bdf160c739803", "7ad3773142a6692b25b8", &s),
            "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
        );
    }

    #[test]
    fn user_signin_vector_from_pusher_docs() {
        let s = user_string_to_sign("1234.1234", r#"{"id":"12345"}"#);
        assert_eq!(
            hmac_sha256_hex(b"7ad3773142a6692b25b8", s.as_bytes()),
            "4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba"
        );
    }

    #[test]
    fn presence_vector_is_for_mr_pusher() {
        let data = r#"{"user_id":10,"user_info":{"name":"Mr. Pusher"}}"#;
        let s = presence_string_to_sign("1234.1234", "presence-foobar", data);
        assert_eq!(
            hmac_sha256_hex(b"7ad3773142a6692b25b8", s.as_bytes()),
            "afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c"
        );
    }

    #[test]
    fn python_library_vectors() {
        assert_eq!(
            auth_string("foo", "bar", "345.23:private-channel"),
            "foo:89955e77e1b40e33df6d515a5ecbba86a01dc816a5b720da18a06fd26f7d92ff"
        );
        assert_eq!(
            auth_string(
                "foo",
                "bar",
                r#"345.43245:presence-channel:{"user_id":"fred","user_info":{"key":"value"}}"#
            ),
            "foo:e80ba6439492c2113022c39297a87a948de14061cc67b5788e045645a68b8ccd"
        );
        assert_eq!(
            auth_string(
                "thisisaauthkey",
                "thisisasecret",
                r#"12345.6789::user::{"id":"123","name":"John Smith"}"#
            ),
            "thisisaauthkey:0dddb208b53c7649f3fbbb86254a6e1986bc6f8b566423ea690c9ca773497373"
        );
    }

    #[test]
    fn node_library_utf8_user_vector() {
        let s = user_string_to_sign("1.1", r#"{"id":"ą§¶™€łü€ß£"}"#);
        assert_eq!(
            hmac_sha256_hex(b"tofu", s.as_bytes()),
            "620494cee53d6c568b49598313194088afda37218f0d059af03c0c898ed61ff4"
        );
    }

    #[test]
    fn php_library_vectors() {
        assert_eq!(
            hmac_sha256_hex(b"thisisasecret", b"45055.28877557:-azAZ9_=@,.;"),
            "d1c20ad7684c172271f92c108e11b45aef07499b005796ae1ec5beb924f361c4"
        );
        assert_eq!(
            hmac_sha256_hex(
                b"thisisasecret",
                br#"{"time_ms":1530710011901,"events":[{"name":"client_event","channel":"private-my-channel","event":"client-event","data":"Unencrypted","socket_id":"240621.35780774"}]}"#
            ),
            "a19cab2af3ca1029257570395e78d5d675e9e700ca676d18a375a7083178df1c"
        );
    }

    #[test]
    fn verify_auth_accepts_good_and_explains_bad() {
        let s = "1234.1234:private-foobar";
        let good = auth_string("278d425bdf160c739803", "7ad3773142a6692b25b8", s);
        assert_eq!(
            verify_auth(&good, "278d425bdf160c739803", "7ad3773142a6692b25b8", s),
            Ok(())
        );
        assert_eq!(verify_auth("", "k", "s", s), Err(AuthError::Missing));
        assert_eq!(
            verify_auth("other:abc", "k", "s", s),
            Err(AuthError::WrongKey("other".into()))
        );
        let err = verify_auth("k:deadbeef", "k", "s", s).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid signature: Expected HMAC SHA256 hex digest of 1234.1234:private-foobar, but got deadbeef"
        );
        // A signature that differs only in case is still refused.
        let upper = good
            .to_uppercase()
            .replacen("278D425BDF160C739803", "278d425bdf160c739803", 1);
        assert!(verify_auth(&upper, "278d425bdf160c739803", "7ad3773142a6692b25b8", s).is_err());
    }
}
