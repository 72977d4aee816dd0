//! Mounts the audit query API (`herald-audit`'s router) at `/apps/{app_id}/audit/…` behind
//! herald's authentication: either the Pusher request signature — so a backend can query
//! with its Pusher library's generic signed `get` — or the app's bearer token (dashboard,
//! curl, exports).

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::signed::authenticate;
use crate::state::AppState;

/// The audit routes with authentication, or `None` when recording is off.
pub fn routes(state: &AppState) -> Option<Router<AppState>> {
    let reader = state.audit_reader.clone()?;
    let api: Router<AppState> = herald_audit::router(reader).with_state(());
    Some(
        Router::new()
            .nest("/apps/{app_id}/audit", api)
            .route_layer(middleware::from_fn_with_state(state.clone(), require_auth)),
    )
}

async fn require_auth(
    State(state): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let app_id = params
        .get("app_id")
        .ok_or_else(|| ApiError::not_found("Missing app id"))?;
    let app = state
        .hub
        .app(app_id)
        .ok_or_else(|| ApiError::not_found(format!("Unknown app id {app_id:?}")))?;
    let bearer = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match bearer {
        Some(token) => {
            let valid = app.config.audit_token.as_deref().is_some_and(|expected| {
                expected.len() == token.len()
                    && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
            });
            if !valid {
                return Err(ApiError::unauthorized(format!(
                    "Invalid bearer token for the audit API of app {app_id:?}"
                )));
            }
        }
        None => {
            // Queries are GETs: the body is empty, and body_md5 (if sent) is of "".
            let (parts, body) = request.into_parts();
            authenticate(&state, &parts, b"", Some(app_id))?;
            let request = Request::from_parts(parts, body);
            return Ok(next.run(request).await);
        }
    }
    Ok(next.run(request).await)
}
