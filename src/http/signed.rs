//! The `Signed` extractor: a request to the Pusher HTTP API whose HMAC signature has been
//! verified, with its app, raw body and caller details.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use herald_protocol::request_signature::SignedRequest;
use std::collections::HashMap;

use super::error::ApiError;
use crate::hub::AppHub;
pub use crate::limits::client_ip;
use crate::limits::{self, Limit};
use crate::state::AppState;

/// Largest body any route reads through axum's own extractors (the trigger routes go through
/// [`Signed`], which applies the tighter `max_request_body_bytes` after authenticating).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A verified API request.
#[derive(Debug)]
pub struct Signed {
    pub app: Arc<AppHub>,
    pub body: Bytes,
    pub headers: HeaderMap,
    /// The `auth_key` that signed the request.
    pub key: String,
    /// The caller's address (first `X-Forwarded-For` hop when the peer is a trusted proxy).
    pub client_ip: Option<IpAddr>,
}

impl FromRequest<AppState> for Signed {
    type Rejection = ApiError;

    /// Authenticates from the query string alone, then reads the body. An attacker without
    /// the secret therefore costs a header parse, never a buffered body: the 401 is sent
    /// before the first body byte is read.
    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let params: HashMap<String, String> = Path::from_request_parts(&mut parts, state)
            .await
            .map(|Path(p)| p)
            .unwrap_or_default();
        let query = query_params(&parts);
        let (app, key) = authenticate_query(state, &parts, &query, params.get("app_id"))?;
        let body = read_body(state, &parts, body).await?;
        verify_body_md5(&parts, &query, &body)?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let client_ip = client_ip(peer, &parts.headers, &state.config.trusted_proxies);
        Ok(Self {
            app,
            body,
            headers: parts.headers,
            key,
            client_ip,
        })
    }
}

/// Reads an authenticated request's body: JSON only, no larger than the configured cap
/// (refused from `Content-Length` before reading when announced), within the body timeout.
async fn read_body(state: &AppState, parts: &Parts, body: Body) -> Result<Bytes, ApiError> {
    let limit = state.config.max_request_body_bytes;
    let announced = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let has_body =
        announced.is_some_and(|n| n > 0) || parts.headers.contains_key(TRANSFER_ENCODING);
    if has_body && !is_json(&parts.headers) {
        limits::refused(Limit::ContentType);
        let got = parts
            .headers
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            match got {
                Some(got) => format!("Unsupported Content-Type {got:?}: expected application/json"),
                None => "Missing Content-Type: expected application/json".to_owned(),
            },
        ));
    }
    let too_large = || {
        limits::refused(Limit::RequestBody);
        ApiError::payload_too_large(format!(
            "Request body is larger than the limit of {limit} bytes (HERALD_MAX_REQUEST_BODY_BYTES)"
        ))
    };
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let timeout = state.config.http_body_timeout;
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        // The only error `to_bytes` reports for a well-formed stream is the length limit; a
        // broken connection gets an answer nobody reads.
        Ok(Err(_)) => Err(too_large()),
        Err(_) => Err({
            limits::refused(Limit::BodyTimeout);
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "Request body not received within {} s (HERALD_HTTP_BODY_TIMEOUT)",
                    timeout.as_secs()
                ),
            )
        }),
    }
}

/// `application/json`, with or without parameters such as `charset`.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

fn query_params(parts: &Parts) -> Vec<(String, String)> {
    parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// Verifies a Pusher-signed request with its (already read) body; see [`authenticate_query`].
pub fn authenticate(
    state: &AppState,
    parts: &Parts,
    body: &[u8],
    app_id: Option<&String>,
) -> Result<(Arc<AppHub>, String), ApiError> {
    let query = query_params(parts);
    let signed = authenticate_query(state, parts, &query, app_id)?;
    verify_body_md5(parts, &query, body)?;
    Ok(signed)
}

/// Verifies everything but the body: resolves the app (from the path's `app_id`, or from the
/// `auth_key` for paths without one) and checks key ownership, the signature (which covers
/// `body_md5`) and the timestamp window. Returns the app and the key that signed.
fn authenticate_query(
    state: &AppState,
    parts: &Parts,
    query: &[(String, String)],
    app_id: Option<&String>,
) -> Result<(Arc<AppHub>, String), ApiError> {
    let request = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query,
        body: b"",
    };
    let key = request
        .auth_key()
        .ok_or_else(|| ApiError::unauthorized("Missing parameter: auth_key"))?
        .to_owned();
    let app = match app_id {
        Some(id) => {
            let app = state
                .hub
                .app(id)
                .ok_or_else(|| ApiError::not_found(format!("Unknown app id {id:?}")))?;
            if app.config.key != key {
                return Err(ApiError::unauthorized(format!(
                    "Unknown auth_key: {key:?} is not a key of app {id:?}"
                )));
            }
            app
        }
        // `/users/{id}/terminate_connections` (the Python library) names no app: the key does.
        None => state
            .hub
            .app_by_key(&key)
            .ok_or_else(|| ApiError::unauthorized(format!("Unknown auth_key {key:?}")))?,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    request
        .verify_query(&app.config.secret, now)
        .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    if !app.config.enabled {
        return Err(ApiError::forbidden("Application disabled"));
    }
    Ok((app.clone(), key))
}

fn verify_body_md5(parts: &Parts, query: &[(String, String)], body: &[u8]) -> Result<(), ApiError> {
    SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query,
        body,
    }
    .verify_body()
    .map_err(|e| ApiError::unauthorized(e.to_string()))
}
