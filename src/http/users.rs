//! `POST /apps/{id}/users/{user_id}/terminate_connections` (and the Python library's
//! `POST /users/{user_id}/terminate_connections`): close every socket signed in as a user.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use std::collections::HashMap;

use super::error::ApiError;
use super::signed::Signed;
use crate::state::AppState;

pub async fn terminate_connections(
    State(state): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    signed: Signed,
) -> Result<Json<Value>, ApiError> {
    let user_id = params
        .get("user_id")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::bad_request("Missing user id in the path"))?;
    tracing::info!(message = "Terminating user connections.", app = %signed.app.config.id, user_id = %user_id);
    state.adapter.terminate_user(&signed.app, user_id).await;
    Ok(Json(json!({})))
}
