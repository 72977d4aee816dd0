//! herald: a self-hosted, Pusher-compatible realtime server with a built-in audit recorder.
//!
//! The library exposes [`run`] so that the binary stays thin and tests can start real
//! servers on port 0. See `ARCHITECTURE.md` for the map of modules and their invariants.

#![forbid(unsafe_code)]

pub mod adapter;
pub mod audit;
pub mod cli;
pub mod config;
pub mod http;
pub mod hub;
pub mod limits;
pub mod metrics;
pub mod retention;
pub mod server;
pub mod shutdown;
pub mod state;
pub mod trigger;
pub mod webhooks;
pub mod ws;

pub use config::Config;
pub use server::run;
