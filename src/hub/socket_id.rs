//! Socket ids: `^\d+\.\d+$`, unique per live connection, unpredictable.

use std::fmt;
use std::str::FromStr;

/// A connection's id, shown to clients as `"{high}.{low}"` (two u32s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(u64);

impl SocketId {
    /// A fresh random id. Uniqueness among live sockets is checked by the hub on insert.
    pub fn random() -> Self {
        Self(rand::random())
    }

    pub fn from_parts(high: u32, low: u32) -> Self {
        Self((u64::from(high) << 32) | u64::from(low))
    }

    pub fn as_u64(self) -> u64 {
        self.0
    }

    pub fn from_u64(v: u64) -> Self {
        Self(v)
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 >> 32, self.0 & 0xffff_ffff)
    }
}

/// A `socket_id` that is not two decimal numbers joined by a dot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid socket_id {0:?}: expected two numbers joined by a dot, like 1234.5678")]
pub struct InvalidSocketId(pub String);

impl FromStr for SocketId {
    type Err = InvalidSocketId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidSocketId(s.to_owned());
        let (a, b) = s.split_once('.').ok_or_else(bad)?;
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
        if !digits(a) || !digits(b) {
            return Err(bad());
        }
        // Ids we did not issue (too large for our format) can never match a live socket,
        // but they are still well-formed, so map them to an id that no socket has.
        match (a.parse::<u32>(), b.parse::<u32>()) {
            (Ok(h), Ok(l)) => Ok(Self::from_parts(h, l)),
            _ => Ok(Self(u64::MAX)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_the_libraries_regex_and_round_trips() {
        for _ in 0..100 {
            let id = SocketId::random();
            let s = id.to_string();
            let (a, b) = s.split_once('.').unwrap();
            assert!(a.bytes().all(|c| c.is_ascii_digit()) && !a.is_empty());
            assert!(b.bytes().all(|c| c.is_ascii_digit()) && !b.is_empty());
            assert_eq!(s.parse::<SocketId>().unwrap(), id);
        }
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in ["", "1", "1.", ".1", "a.b", "1.2.3", "1 .2", "-1.2"] {
            assert!(bad.parse::<SocketId>().is_err(), "{bad}");
        }
        assert!("99999999999.1".parse::<SocketId>().is_ok());
    }
}
