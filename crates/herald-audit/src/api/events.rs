//! `GET /events` (filtered, paginated list) and `GET /events/{seq}` (one event in full).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Deserialize;

use super::{ApiError, AppPath};
use crate::event::EventRecord;
use crate::query::{Direction, EventFilter, PageRequest, ParamError, Params};
use crate::reader::AuditReader;
use crate::store::EventPage;
use crate::timefmt;

pub async fn list(
    State(reader): State<AuditReader>,
    Path(AppPath { app_id }): Path<AppPath>,
    RawQuery(query): RawQuery,
) -> Result<Json<EventPage>, ApiError> {
    let mut params = Params::from_query(query.as_deref())?;
    let filter = EventFilter::from_params(&mut params, timefmt::now_micros())?;
    let page = PageRequest::from_params(&mut params, Direction::Desc)?;
    params.finish()?;
    Ok(Json(reader.list(&app_id, filter, page).await?))
}

#[derive(Debug, Deserialize)]
pub struct EventPath {
    app_id: String,
    seq: String,
}

pub async fn detail(
    State(reader): State<AuditReader>,
    Path(EventPath { app_id, seq }): Path<EventPath>,
    RawQuery(query): RawQuery,
) -> Result<Json<EventRecord>, ApiError> {
    Params::from_query(query.as_deref())?.finish()?;
    let seq: i64 = seq.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
        ParamError::new(
            "seq",
            format_args!("must be a positive integer, got {seq:?}"),
        )
    })?;
    match reader.get(&app_id, seq).await? {
        Some(record) => Ok(Json(record)),
        None => Err(ApiError::NotFound(format!(
            "no audit event with seq {seq} in app {app_id:?}"
        ))),
    }
}
