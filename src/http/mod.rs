//! The HTTP side of herald: the Pusher REST API under `/apps/{app_id}/…`, health checks,
//! and the router that also mounts the WebSocket endpoint.

mod audit_api;
mod channels;
mod error;
mod events;
mod health;
mod signed;
mod users;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use error::ApiError;
pub use signed::{MAX_BODY_BYTES, Signed, client_ip};

use crate::server::AppState;
use crate::ws;

/// Every route herald serves, ready to be served or tested with `oneshot`.
pub fn router(state: AppState) -> Router {
    let audit = audit_api::routes(&state).unwrap_or_default();
    Router::new()
        .merge(audit)
        .route("/", get(health::alive))
        .route("/ready", get(health::ready))
        .route("/app/{key}", get(ws::upgrade))
        .route("/apps/{app_id}/events", post(events::trigger))
        .route("/apps/{app_id}/batch_events", post(events::trigger_batch))
        .route("/apps/{app_id}/channels", get(channels::list))
        .route(
            "/apps/{app_id}/channels/{channel_name}",
            get(channels::show),
        )
        .route(
            "/apps/{app_id}/channels/{channel_name}/users",
            get(channels::users),
        )
        .route(
            "/apps/{app_id}/users/{user_id}/terminate_connections",
            post(users::terminate_connections),
        )
        .route(
            "/users/{user_id}/terminate_connections",
            post(users::terminate_connections),
        )
        .fallback(ws::fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
