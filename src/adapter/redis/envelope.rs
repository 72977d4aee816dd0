//! The bytes one node publishes for the others: who sent it (so the origin can ignore its
//! own echo), a short argument (the excluded socket id, or a user id) and the body (the
//! already-encoded frame, forwarded without re-encoding).
//!
//! ```text
//! kind: u8 | origin_len: u8 | origin | arg_len: u16 (big-endian) | arg | body
//! ```

use bytes::{BufMut, Bytes, BytesMut};

/// What a message asks the receiving nodes to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Deliver `body` (a frame) to local subscribers of the channel except socket `arg`.
    Broadcast = b'B',
    /// Deliver `body` (a frame) to local watchers of user `arg`.
    Watchers = b'W',
    /// Close every local socket signed in as user `arg`.
    Terminate = b'T',
}

/// A decoded message; `body` shares the received buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub kind: Kind,
    pub origin: &'a str,
    pub arg: &'a str,
    pub body: Bytes,
}

/// Encodes a message. `origin` is at most 255 bytes and `arg` at most 65535 (instance ids
/// and socket / user ids are far shorter; longer values are cut, never sent malformed).
pub fn encode(kind: Kind, origin: &str, arg: &str, body: &[u8]) -> Vec<u8> {
    let origin = &origin.as_bytes()[..origin.len().min(u8::MAX as usize)];
    let arg = &arg.as_bytes()[..arg.len().min(u16::MAX as usize)];
    let mut out = BytesMut::with_capacity(4 + origin.len() + arg.len() + body.len());
    out.put_u8(kind as u8);
    out.put_u8(origin.len() as u8);
    out.put_slice(origin);
    out.put_u16(arg.len() as u16);
    out.put_slice(arg);
    out.put_slice(body);
    out.to_vec()
}

/// Decodes a message; `None` if it is not one of ours.
pub fn decode(raw: &Bytes) -> Option<Envelope<'_>> {
    let kind = match *raw.first()? {
        b'B' => Kind::Broadcast,
        b'W' => Kind::Watchers,
        b'T' => Kind::Terminate,
        _ => return None,
    };
    let origin_len = *raw.get(1)? as usize;
    let origin_end = 2 + origin_len;
    let origin = std::str::from_utf8(raw.get(2..origin_end)?).ok()?;
    let len_bytes = raw.get(origin_end..origin_end + 2)?;
    let arg_len = u16::from_be_bytes([len_bytes[0], len_bytes[1]]) as usize;
    let arg_start = origin_end + 2;
    let arg = std::str::from_utf8(raw.get(arg_start..arg_start + arg_len)?).ok()?;
    Some(Envelope {
        kind,
        origin,
        arg,
        body: raw.slice(arg_start + arg_len..),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let raw = Bytes::from(encode(
            Kind::Broadcast,
            "node-a:1f",
            "123.456",
            b"{\"e\":1}",
        ));
        let env = decode(&raw).unwrap();
        assert_eq!(env.kind, Kind::Broadcast);
        assert_eq!(env.origin, "node-a:1f");
        assert_eq!(env.arg, "123.456");
        assert_eq!(&env.body[..], b"{\"e\":1}");
        let raw = Bytes::from(encode(Kind::Terminate, "n", "", b""));
        assert_eq!(decode(&raw).unwrap().arg, "");
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        for raw in [
            &b""[..],
            b"X",
            b"B",
            b"B\x05ab",
            b"B\x01a\x00",
            b"B\x01a\x00\x09xy",
        ] {
            assert!(decode(&Bytes::copy_from_slice(raw)).is_none(), "{raw:?}");
        }
    }
}
