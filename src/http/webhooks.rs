//! `GET /apps/{app_id}/webhooks/deliveries`: the app's webhook delivery log, newest batch
//! first — each batch's receiver, events, status (`pending`, `delivered`, `given_up`),
//! attempts and last answer, so an operator can see why a receiver missed something. Same
//! authentication as the audit API (request signature or the app's bearer token).
//!
//! Query: `limit` (1–1000, default 100), `status` (one of the three).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};

use super::error::ApiError;
use crate::state::AppState;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

pub async fn deliveries(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Invalid limit {raw:?}: expected a whole number from 1 to {MAX_LIMIT}"
                ))
            })?,
    };
    let status = match query.get("status").map(String::as_str) {
        None => None,
        Some(s @ ("pending" | "delivered" | "given_up")) => Some(s.to_owned()),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid status {other:?}: expected pending, delivered or given_up"
            )));
        }
    };
    match state.webhooks.deliveries(&app_id, status, limit).await {
        None => Ok(Json(json!({ "deliveries": [] }))),
        Some(Ok(rows)) => Ok(Json(json!({ "deliveries": rows }))),
        Some(Err(error)) => {
            tracing::warn!(message = "Cannot read the webhook delivery log.", %error);
            Err(ApiError::unavailable(
                "The webhook delivery log cannot be read right now",
            ))
        }
    }
}
