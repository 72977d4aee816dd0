//! `GET /verify` (recompute the chain over a seq range) and `GET /checkpoints` (the signed
//! checkpoints, for auditors to keep copies of elsewhere).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;

use super::{ApiError, AppPath};
use crate::chain::CheckpointJson;
use crate::query::Params;
use crate::reader::AuditReader;
use crate::signing;
use crate::verify::{Report, VerifyOptions};

/// `?from=&to=` (seqs, both optional). Always 200: an intact trail is `"ok": true`, a
/// damaged one `"ok": false` with the first bad seq in `problem`.
pub async fn verify(
    State(reader): State<AuditReader>,
    Path(AppPath { app_id }): Path<AppPath>,
    RawQuery(query): RawQuery,
) -> Result<Json<Report>, ApiError> {
    let mut params = Params::from_query(query.as_deref())?;
    let from = params.take_int("from", 1, i64::MAX)?;
    let to = params.take_int("to", 1, i64::MAX)?;
    params.finish()?;
    let options = VerifyOptions {
        from,
        to,
        ..Default::default()
    };
    Ok(Json(reader.verify(&app_id, options).await?))
}

/// The most checkpoints one page lists.
const MAX_PAGE: i64 = 1000;

#[derive(Debug, Serialize)]
pub struct CheckpointPage {
    pub app_id: String,
    /// The key this server signs with: base64 of the 32 bytes, and as PEM.
    pub public_key: Option<String>,
    pub public_key_pem: Option<String>,
    pub checkpoints: Vec<CheckpointJson>,
    /// `?after=` for the following page; `None` on the last one.
    pub next: Option<i64>,
}

/// `?after=SEQ` (checkpoints after that seq, default all) and `limit` (1–1000, default
/// 1000), oldest first.
pub async fn checkpoints(
    State(reader): State<AuditReader>,
    Path(AppPath { app_id }): Path<AppPath>,
    RawQuery(query): RawQuery,
) -> Result<Json<CheckpointPage>, ApiError> {
    let mut params = Params::from_query(query.as_deref())?;
    let after = params.take_int("after", 0, i64::MAX)?.unwrap_or(0);
    let limit = params.take_int("limit", 1, MAX_PAGE)?.unwrap_or(MAX_PAGE) as usize;
    params.finish()?;
    let list = reader.checkpoints(&app_id, after, limit).await?;
    let next = (list.len() == limit)
        .then(|| list.last().map(|c| c.seq))
        .flatten();
    Ok(Json(CheckpointPage {
        app_id,
        public_key: reader.public_key().map(signing::public_key_base64),
        public_key_pem: reader.public_key().map(signing::public_key_pem),
        checkpoints: list.iter().map(CheckpointJson::from).collect(),
        next,
    }))
}
