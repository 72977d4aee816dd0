//! JSON frames on the WebSocket: parsing what clients send (`client`), and encoding every
//! frame the server sends (`server`).
//!
//! A server frame is encoded once, as a `String`, and the server shares those bytes with
//! every recipient of a broadcast.

mod client;
mod server;

pub use client::{ClientMessage, FrameError, Subscribe, subscribe, unsubscribe};
pub use server::{
    Watch, cache_miss, connection_established, error, event, member_added, member_removed, ping,
    pong, presence_data, signin_success, subscription_count, subscription_error,
    subscription_succeeded, watchlist_events,
};
