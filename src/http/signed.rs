//! The `Signed` extractor: a request to the Pusher HTTP API whose HMAC signature has been
//! verified, with its app, raw body and caller details.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use herald_protocol::request_signature::SignedRequest;
use std::collections::HashMap;

use super::error::ApiError;
use crate::hub::AppHub;
use crate::state::AppState;

/// Largest request body the API reads (a full batch of 10 events of 10 KB fits easily).
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

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let params: HashMap<String, String> = Path::from_request_parts(&mut parts, state)
            .await
            .map(|Path(p)| p)
            .unwrap_or_default();
        let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| {
                ApiError::payload_too_large(format!(
                    "Request body is larger than the limit of {MAX_BODY_BYTES} bytes"
                ))
            })?;
        let (app, key) = authenticate(state, &parts, &body, params.get("app_id"))?;
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

/// Verifies a Pusher-signed request: resolves the app (from the path's `app_id`, or from the
/// `auth_key` for paths without one) and checks key ownership, the signature, the timestamp
/// window and `body_md5`. Returns the app and the key that signed.
pub fn authenticate(
    state: &AppState,
    parts: &Parts,
    body: &[u8],
    app_id: Option<&String>,
) -> Result<(Arc<AppHub>, String), ApiError> {
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let request = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: &query,
        body,
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
        .verify(&app.config.secret, now)
        .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    if !app.config.enabled {
        return Err(ApiError::forbidden("Application disabled"));
    }
    Ok((app.clone(), key))
}

/// The caller's IP: the peer, or the last untrusted `X-Forwarded-For` hop when the peer is
/// a trusted proxy.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    // Walk from the nearest hop outwards, skipping our own proxies.
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted.contains(ip))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "1.2.3.4, 10.0.0.2".parse().unwrap());
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "9.9.9.9".parse().unwrap();
        let trusted = vec![proxy, "10.0.0.2".parse().unwrap()];
        assert_eq!(client_ip(Some(other), &headers, &trusted), Some(other));
        assert_eq!(
            client_ip(Some(proxy), &headers, &trusted),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(
            client_ip(Some(proxy), &HeaderMap::new(), &trusted),
            Some(proxy)
        );
    }
}
