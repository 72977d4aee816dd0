//! The audit query API, mounted by the server at `/apps/{app_id}/audit` behind its own
//! authentication. Every handler reads `app_id` from that path and scopes every query to it;
//! nothing here writes to the store.
//!
//! | route | answers |
//! |---|---|
//! | `GET /events` | `{"count", "next", "results": [summary…]}`, newest first |
//! | `GET /events/{seq}` | one event in full (raw `data`, `changes`, ip, user agent, library, key) |
//! | `GET /stats` | totals (all, today, 7 and 30 days), `by_action`, `by_model`, `by_user`, `by_channel`, `per_day`, `recent` |
//! | `GET /users/{user}`, `GET /models/{model}`, `GET /models/{model}/objects/{object_id}` | `/events` fixed to that user / model / object, plus the `stats` of that selection |
//! | `GET /export?format=csv\|ndjson` | every matching event, streamed, oldest first |
//! | `GET /verify?from=&to=` | the chain recomputed over a seq range: `{"ok", "verified", "problem": {"seq", "kind", "message"}, …}` |
//! | `GET /checkpoints?after=&limit=` | the signed checkpoints, oldest first, with the signing public key |
//! | `GET /stream` | Server-Sent Events: every matching event as it commits, resumable with `Last-Event-ID` or `after` ([`stream`]) |
//!
//! Filters everywhere: `action` (`event_code`), `model` (`model_name`), `user`
//! (`user_email`), `channel`, `event`, `object_id`, `severity`, `status`, `error`, `ip`
//! (`ip_address`), `from` (`date_from`), `to` (`date_to`) as a
//! date or RFC 3339, `days=N`, `q` (`search`) full text. Lists: `ordering` (`time`, `-time`,
//! `seq`, `-seq`; time and seq are the same order), `limit` (1–1000, default 50), `cursor`
//! (the `next` of the previous page). Stats: `top`, `recent`. Unknown or malformed
//! parameters get `400 {"error", "parameter"}`; Pusher's signing parameters are ignored.

mod activity;
mod error;
mod events;
mod export;
mod integrity;
mod stats;
mod stream;

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
        .route("/verify", get(integrity::verify))
        .route("/checkpoints", get(integrity::checkpoints))
        .route("/stream", get(stream::stream))
        .with_state(reader)
}

/// The app the request is about, from the enclosing `/apps/{app_id}` path.
#[derive(Debug, Deserialize)]
struct AppPath {
    app_id: String,
}
