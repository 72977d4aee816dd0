//! The audit dashboard: the built single-page app from `dashboard/dist/` (committed and
//! embedded in the binary, so `/dashboard/` works offline with no npm step), and
//! `GET /dashboard/apps`, the app picker's list.
//!
//! The picker's list is served without authentication and so carries nothing secret: app
//! ids (which appear in every API URL anyway), whether the app is enabled, and whether an
//! audit token is configured (so the page can say how to set one). Keys, secrets and tokens
//! never leave the server; everything else the page shows is fetched with the token.

use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;

use super::error::ApiError;
use crate::state::AppState;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/dashboard/dist/",
                $name
            )),
        }
    };
}

static ASSETS: [Asset; 3] = [
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
];

/// ETags of the assets (fixed per build: `DefaultHasher::new()` uses fixed keys).
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            a.bytes.hash(&mut h);
            HeaderValue::from_str(&format!("\"{:016x}\"", h.finish()))
                .expect("hex is a valid header value")
        })
        .collect()
});

/// The page only talks to this origin and runs only its own script: a token held in the
/// page cannot be sent elsewhere by injected markup.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /dashboard` → `/dashboard/`, so that the page's relative URLs (its assets, the API)
/// resolve under any path prefix a reverse proxy adds.
pub async fn redirect() -> Redirect {
    Redirect::permanent("dashboard/")
}

/// `GET /dashboard/`: the page.
pub async fn index(headers: HeaderMap) -> Response {
    serve(0, &headers)
}

/// `GET /dashboard/{file}`: one of the page's assets.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    match ASSETS.iter().position(|a| a.name == file) {
        Some(i) => Ok(serve(i, &headers)),
        None => Err(ApiError::not_found(format!(
            "No dashboard file {file:?}; the dashboard is at /dashboard/"
        ))),
    }
}

fn serve(i: usize, request: &HeaderMap) -> Response {
    let asset = &ASSETS[i];
    let etag = ETAGS[i].clone();
    let common = [
        (header::ETAG, etag.clone()),
        // Revalidate every time (a 304 is cheap): an upgraded binary is picked up at once.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    if request.get(header::IF_NONE_MATCH) == Some(&etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.bytes,
    )
        .into_response()
}

#[derive(Debug, Serialize)]
pub struct AppList {
    apps: Vec<AppEntry>,
    /// False when the audit recorder is off (`HERALD_AUDIT_MODE=off`): nothing to show.
    audit_enabled: bool,
}

#[derive(Debug, Serialize)]
struct AppEntry {
    id: String,
    enabled: bool,
    /// Whether an audit token is configured (never the token itself).
    audit_token: bool,
}

/// `GET /dashboard/apps`: the configured apps' ids, sorted, for the picker.
pub async fn apps(State(state): State<AppState>) -> Json<AppList> {
    let mut apps: Vec<AppEntry> = state
        .hub
        .apps()
        .map(|a| AppEntry {
            id: a.config.id.clone(),
            enabled: a.config.enabled,
            audit_token: a.config.audit_token.is_some(),
        })
        .collect();
    apps.sort_by(|a, b| a.id.cmp(&b.id));
    Json(AppList {
        apps,
        audit_enabled: state.audit_reader.is_some(),
    })
}
