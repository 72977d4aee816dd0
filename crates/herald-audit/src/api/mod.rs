//! The audit query API, mounted by the server at `/apps/{app_id}/audit` behind its own
//! authentication. Every handler reads `app_id` from that path and scopes every query to it;
//! nothing here writes to the store.

mod activity;
mod error;
mod events;
mod export;
mod stats;

use axum::Router;
use axum::routing::get;
use serde::Deserialize;

use crate::reader::AuditReader;

pub use error::ApiError;

/// The routes, relative to `/apps/{app_id}/audit`.
pub fn router(reader: AuditReader) -> Router<()> {
    Router::new()
        .route("/events", get(events::list))
        .route("/events/{seq}", get(events::detail))
        .route("/stats", get(stats::stats))
        .route("/users/{user}", get(activity::user))
        .route("/models/{model}", get(activity::model))
        .route("/models/{model}/objects/{object_id}", get(activity::object))
        .route("/export", get(export::export))
        .with_state(reader)
}

/// The app the request is about, from the enclosing `/apps/{app_id}` path.
#[derive(Debug, Deserialize)]
struct AppPath {
    app_id: String,
}
