//! Mounts the audit query API (`herald-audit`'s router) at `/apps/{app_id}/audit/…` behind
//! herald's authentication (`audit_auth`: bearer token or Pusher signature).

use axum::Router;
use axum::middleware;

use super::audit_auth::require_audit_auth;
use crate::state::AppState;

/// The audit routes with authentication, or `None` when recording is off.
pub fn routes(state: &AppState) -> Option<Router<AppState>> {
    let reader = state.audit_reader.clone()?;
    let api: Router<AppState> = herald_audit::router(reader).with_state(());
    Some(Router::new().nest("/apps/{app_id}/audit", api).route_layer(
        middleware::from_fn_with_state(state.clone(), require_audit_auth),
    ))
}
