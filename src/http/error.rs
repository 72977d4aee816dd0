//! The HTTP API's error type. Pusher's API answers errors with a status and a plain-text
//! message; so does herald, and every message says what was wrong.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::audit::NotRecorded;
use crate::trigger::{Invalid, TriggerError};

/// An error answered to an API client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
}

/// The audit trail refused the events: 503, so the backend retries later.
impl From<NotRecorded> for ApiError {
    fn from(refusal: NotRecorded) -> Self {
        Self::unavailable(refusal.to_string())
    }
}

/// An event broke Pusher's rules or a configured limit: 400, or 413 for oversized data.
impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        match invalid {
            Invalid::BadRequest(m) => Self::bad_request(m),
            Invalid::TooLarge(m) => Self::payload_too_large(m),
        }
    }
}

impl From<TriggerError> for ApiError {
    fn from(error: TriggerError) -> Self {
        match error {
            TriggerError::Invalid(invalid) => invalid.into(),
            TriggerError::NotRecorded(refusal) => refusal.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        crate::metrics::METRICS.http_requests_rejected.inc();
        if self.status.is_server_error() {
            tracing::warn!(message = "API request failed.", status = %self.status, reason = %self.message);
        }
        (self.status, self.message).into_response()
    }
}
