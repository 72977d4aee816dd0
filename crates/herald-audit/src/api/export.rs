//! `GET /export?format=csv|ndjson&…filters`: streams every matching event, oldest first
//! unless `ordering` says otherwise, as an attachment.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppPath};
use crate::export::ExportFormat;
use crate::query::page::parse_ordering;
use crate::query::{Direction, EventFilter, ParamError, Params};
use crate::reader::AuditReader;
use crate::timefmt;

pub async fn export(
    State(reader): State<AuditReader>,
    Path(AppPath { app_id }): Path<AppPath>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let now = timefmt::now_micros();
    let mut params = Params::from_query(query.as_deref())?;
    let format = match params.take("format") {
        Some(f) => ExportFormat::parse(&f)?,
        None => return Err(ParamError::new("format", "is required (csv or ndjson)").into()),
    };
    let filter = EventFilter::from_params(&mut params, now)?;
    let direction = params
        .take("ordering")
        .map(|o| parse_ordering(&o))
        .transpose()?
        .unwrap_or(Direction::Asc);
    params.finish()?;
    let stream = reader.export(&app_id, filter, direction, format).await?;
    let filename = format!(
        "herald-audit-{}-{}.{}",
        sanitize(&app_id),
        timefmt::format_micros(now)[..19].replace([':', '-'], ""),
        format.extension()
    );
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// App ids are free text; keep the file name to characters every filesystem accepts.
fn sanitize(app_id: &str) -> String {
    app_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
