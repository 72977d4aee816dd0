//! The audit API's error type: each variant is a status and a public message; internal
//! causes are logged, not sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::query::ParamError;
use crate::reader::QueryError;

#[derive(Debug)]
pub enum ApiError {
    /// 400, naming the parameter.
    BadRequest(ParamError),
    /// 404 with a message saying what was not found.
    NotFound(String),
    /// 503: the store could not answer (locked, unreadable).
    Unavailable(QueryError),
    /// 503: the server is shutting down and opens no new streams.
    ShuttingDown,
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        Self::BadRequest(e)
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        Self::Unavailable(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            Self::BadRequest(e) => (
                StatusCode::BAD_REQUEST,
                json!({"error": e.to_string(), "parameter": e.param}),
            ),
            Self::NotFound(what) => (StatusCode::NOT_FOUND, json!({"error": what})),
            Self::Unavailable(e) => {
                tracing::error!(message = "Audit query failed.", error = %e);
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "the audit store could not answer this query; try again later"}),
                )
            }
            Self::ShuttingDown => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "herald is shutting down; reconnect to another node or retry shortly"}),
            ),
        };
        (status, Json(body)).into_response()
    }
}
