//! The HTTP side of herald: the Pusher REST API under `/apps/{app_id}/…`, health checks,
//! and the router that also mounts the WebSocket endpoint.

mod audit_api;
mod audit_auth;
mod channels;
mod dashboard;
mod error;
mod events;
mod health;
mod metrics;
mod server_view;
mod signed;
mod users;
mod webhooks;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use error::ApiError;
pub use metrics::router as metrics_router;
pub use signed::{MAX_BODY_BYTES, Signed, client_ip};

use crate::state::AppState;
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
        .route(
            "/apps/{app_id}/server",
            get(server_view::show).route_layer(middleware::from_fn_with_state(
                state.clone(),
                audit_auth::require_audit_auth,
            )),
        )
        .route(
            "/apps/{app_id}/webhooks/deliveries",
            get(webhooks::deliveries).route_layer(middleware::from_fn_with_state(
                state.clone(),
                audit_auth::require_audit_auth,
            )),
        )
        .route("/dashboard", get(dashboard::redirect))
        .route("/dashboard/", get(dashboard::index))
        .route("/dashboard/apps", get(dashboard::apps))
        .route("/dashboard/{file}", get(dashboard::asset))
        .fallback(ws::fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // A request that has not been answered in time (typically a body that trickles in or
        // never arrives) gets 408 instead of holding a task forever. Streaming responses are
        // not cut: the limit ends when the response starts.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_timeout,
        ))
        .with_state(state)
}

/// Answers 408 with a reason when a request is not answered within the configured time.
async fn request_timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.config.http_request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "Request timed out: it was not complete within {} s (HERALD_HTTP_REQUEST_TIMEOUT)",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}
