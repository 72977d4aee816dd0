//! Authentication of the auditor's endpoints (the audit API and the server view): either
//! the app's bearer token (`audit_token`; the dashboard, curl, exports) or the Pusher
//! request signature, so a backend can query with its Pusher library's generic signed `get`.

use std::collections::HashMap;

use axum::extract::{Path, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::signed::authenticate;
use crate::state::AppState;

/// Middleware: lets the request through only with the app's audit token or a valid signature.
pub async fn require_audit_auth(
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
            let Some(expected) = app.config.audit_token.as_deref() else {
                return Err(ApiError::unauthorized(format!(
                    "App {app_id:?} has no audit token: set audit_token in its [[apps]] entry \
                     (or HERALD_APP_AUDIT_TOKEN) to use bearer authentication"
                )));
            };
            // Constant time, so the answer's timing says nothing about how much matched.
            let valid = expected.len() == token.len()
                && bool::from(expected.as_bytes().ct_eq(token.as_bytes()));
            if !valid {
                return Err(ApiError::unauthorized(format!(
                    "Invalid bearer token for the audit API of app {app_id:?}"
                )));
            }
            Ok(next.run(request).await)
        }
        None => {
            // Queries are GETs: the body is empty, and body_md5 (if sent) is of "".
            let (parts, body) = request.into_parts();
            authenticate(&state, &parts, b"", Some(app_id))?;
            Ok(next.run(Request::from_parts(parts, body)).await)
        }
    }
}
