//! `GET /stats`: totals, breakdowns, per-day series and recent activity.

use axum::Json;
use axum::extract::{Path, RawQuery, State};

use super::{ApiError, AppPath};
use crate::query::Params;
use crate::reader::AuditReader;
use crate::stats::{Stats, StatsRequest};
use crate::timefmt;

pub async fn stats(
    State(reader): State<AuditReader>,
    Path(AppPath { app_id }): Path<AppPath>,
    RawQuery(query): RawQuery,
) -> Result<Json<Stats>, ApiError> {
    let mut params = Params::from_query(query.as_deref())?;
    let request = StatsRequest::from_params(&mut params, timefmt::now_micros())?;
    params.finish()?;
    Ok(Json(reader.stats(&app_id, request).await?))
}
