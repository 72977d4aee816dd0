//! The Pusher Channels wire protocol as herald speaks it: channel names and kinds, the
//! JSON frames exchanged over the WebSocket, close/error codes, and every HMAC signature
//! the protocol uses (channel auth, user sign-in, HTTP API requests, webhooks).
//!
//! This crate is pure: no I/O, no clocks, no randomness. Everything here can be unit-tested
//! with the reference vectors from the spec, and it is shared by the server and by the load
//! generator (which signs HTTP requests exactly like the official libraries do).

#![forbid(unsafe_code)]

pub mod channel;
pub mod close_code;
pub mod frame;
pub mod request_signature;
pub mod signature;

pub use channel::{ChannelKind, ChannelName, ChannelNameError, SERVER_TO_USER_PREFIX};
pub use close_code::CloseCode;
