//! Channel names: validation and the kind of channel a name denotes.

use std::fmt;

/// Default maximum channel-name length. The official libraries reject names over 200
/// characters (Pusher's docs say 164; the libraries win).
pub const DEFAULT_MAX_CHANNEL_NAME_LEN: usize = 200;

/// The prefix of the per-user channel that `pusher.user` listens on.
pub const SERVER_TO_USER_PREFIX: &str = "#server-to-user-";

/// What a channel name says about how the channel behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    Public,
    Private,
    /// `private-encrypted-`: private auth; payloads are end-to-end encrypted and opaque to us.
    PrivateEncrypted,
    Presence,
    /// `#server-to-user-{id}`: only a socket signed in as `{id}` may subscribe.
    ServerToUser,
}

impl ChannelKind {
    /// Classifies a name, checking prefixes in the order pusher-js does.
    pub fn of(name: &str) -> Self {
        if name.starts_with("private-encrypted-") {
            Self::PrivateEncrypted
        } else if name.starts_with("private-") {
            Self::Private
        } else if name.starts_with("presence-") {
            Self::Presence
        } else if name.starts_with(SERVER_TO_USER_PREFIX) {
            Self::ServerToUser
        } else {
            Self::Public
        }
    }

    /// Whether subscribing needs a signed `auth` value.
    pub fn requires_auth(self) -> bool {
        matches!(
            self,
            Self::Private | Self::PrivateEncrypted | Self::Presence
        )
    }

    /// Whether `client-` events may be sent on this kind of channel: private and presence
    /// only. Pusher refuses them on `private-encrypted-` channels (the server could not
    /// check a payload it cannot read, and the libraries do not encrypt client events).
    pub fn allows_client_events(self) -> bool {
        matches!(self, Self::Private | Self::Presence)
    }
}

/// Whether a channel keeps its last event for new subscribers (`cache-`, `private-cache-`,
/// `private-encrypted-cache-`, `presence-cache-`; prefixes anchored at the start).
pub fn is_cache_channel(name: &str) -> bool {
    [
        "cache-",
        "private-cache-",
        "private-encrypted-cache-",
        "presence-cache-",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

/// Why a channel name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelNameError {
    #[error("Channel name is empty")]
    Empty,
    #[error("Channel name is too long: {len} characters, limit {max}")]
    TooLong { len: usize, max: usize },
    #[error(
        "Invalid channel name '{0}': only letters, digits and - _ = @ , . ; are allowed (a leading # only in #server-to-user-)"
    )]
    InvalidCharacters(String),
}

/// A validated channel name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(String);

impl ChannelName {
    /// Validates `name` against Pusher's rules: `^[-a-zA-Z0-9_=@,.;]+$`, at most `max_len`
    /// characters, `#` allowed only as the start of `#server-to-user-`.
    pub fn parse(name: &str, max_len: usize) -> Result<Self, ChannelNameError> {
        if name.is_empty() {
            return Err(ChannelNameError::Empty);
        }
        let len = name.chars().count();
        if len > max_len {
            return Err(ChannelNameError::TooLong { len, max: max_len });
        }
        let body = name.strip_prefix(SERVER_TO_USER_PREFIX).unwrap_or(name);
        let valid = !body.is_empty() && body.bytes().all(is_channel_byte);
        if !valid {
            return Err(ChannelNameError::InvalidCharacters(name.to_owned()));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> ChannelKind {
        ChannelKind::of(&self.0)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_channel_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'@' | b',' | b'.' | b';')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_channel_names_are_valid() {
        for name in [
            "audit-channel",
            "model-service",
            "user-test@example.com",
            "-azAZ9_=@,.;",
        ] {
            assert!(ChannelName::parse(name, 200).is_ok(), "{name}");
        }
    }

    #[test]
    fn invalid_names_are_refused_with_reason() {
        assert_eq!(ChannelName::parse("", 200), Err(ChannelNameError::Empty));
        assert!(matches!(
            ChannelName::parse("a b", 200),
            Err(ChannelNameError::InvalidCharacters(_))
        ));
        assert!(matches!(
            ChannelName::parse("#private", 200),
            Err(ChannelNameError::InvalidCharacters(_))
        ));
        assert!(matches!(
            ChannelName::parse("#server-to-user-", 200),
            Err(ChannelNameError::InvalidCharacters(_))
        ));
        let long = "a".repeat(201);
        assert_eq!(
            ChannelName::parse(&long, 200),
            Err(ChannelNameError::TooLong { len: 201, max: 200 })
        );
        assert!(ChannelName::parse(&"a".repeat(200), 200).is_ok());
    }

    #[test]
    fn kinds_follow_pusher_js_prefix_order() {
        assert_eq!(
            ChannelKind::of("private-encrypted-x"),
            ChannelKind::PrivateEncrypted
        );
        assert_eq!(ChannelKind::of("private-x"), ChannelKind::Private);
        assert_eq!(ChannelKind::of("presence-x"), ChannelKind::Presence);
        assert_eq!(
            ChannelKind::of("#server-to-user-7"),
            ChannelKind::ServerToUser
        );
        assert_eq!(ChannelKind::of("audit-channel"), ChannelKind::Public);
        assert_eq!(ChannelKind::of("presence-cache-x"), ChannelKind::Presence);
    }

    #[test]
    fn cache_prefixes_are_anchored() {
        for c in [
            "cache-a",
            "private-cache-a",
            "private-encrypted-cache-a",
            "presence-cache-a",
        ] {
            assert!(is_cache_channel(c), "{c}");
        }
        for c in ["my-cache-a", "private-a", "presence-x-cache-a"] {
            assert!(!is_cache_channel(c), "{c}");
        }
    }
}
