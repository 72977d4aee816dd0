//! The two ways the generator talks to a server: WebSocket connections ([`ws`]) like
//! pusher-js, and signed HTTP API requests ([`http`]) like the official server libraries.

pub mod http;
pub mod source;
pub mod ws;
