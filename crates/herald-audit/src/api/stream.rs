//! `GET /stream`: the live audit stream as Server-Sent Events. Every recorded event that
//! matches the `/events` filters, as it commits, oldest first; each message's `id` is the
//! event's seq. `Last-Event-ID` (what a browser's `EventSource` sends when it reconnects)
//! or `?after=SEQ` makes the stream start after that seq, from the store, and continue
//! live with no gap and no duplicate; without either it starts after the newest event.
//! Comment heartbeats keep proxies from closing an idle stream; a reader that falls too
//! far behind gets a final `cutoff` message and is closed (see [`crate::live`]).

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppPath};
use crate::live::Matcher;
use crate::query::{EventFilter, ParamError, Params};
use crate::reader::AuditReader;
use crate::timefmt;

pub async fn stream(
    State(reader): State<AuditReader>,
    Path(AppPath { app_id }): Path<AppPath>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::from_query(query.as_deref())?;
    let filter = EventFilter::from_params(&mut params, timefmt::now_micros())?;
    let after = params.take_int("after", 0, i64::MAX)?;
    params.finish()?;
    // A reconnecting EventSource repeats the original URL (and so its `after`) and adds
    // the newer Last-Event-ID: the header wins.
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|seq| *seq >= 0)
                .ok_or_else(|| {
                    ParamError::new(
                        "Last-Event-ID",
                        format_args!(
                            "must be the seq of an event (a non-negative integer), got {value:?}"
                        ),
                    )
                })?,
        ),
    };
    let Some(feed) = reader.live() else {
        return Err(ApiError::NotFound(
            "the live audit stream is served only by a herald node that records events".into(),
        ));
    };
    if feed.is_closed() {
        return Err(ApiError::ShuttingDown);
    }
    let body = feed.open(&app_id, Matcher::new(filter), last_event_id.or(after));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            // nginx buffers responses by default; a buffered stream is not live.
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
