//! Activity views: one user (`/users/{user}`), one model (`/models/{model}`) and one
//! object's history (`/models/{model}/objects/{object_id}`). Each is `/events` with the
//! path's value as a fixed filter, plus the statistics of that selection; the other
//! filters and the pagination work as on `/events`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::{Deserialize, Serialize};

use super::ApiError;
use crate::query::{Direction, EventFilter, PageRequest, ParamError, Params};
use crate::reader::AuditReader;
use crate::stats::{Stats, StatsRequest};
use crate::store::EventPage;
use crate::timefmt;

#[derive(Debug, Serialize)]
pub struct Activity {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object_id: Option<String>,
    /// Statistics of the whole selection (its `recent` is left empty: `results` has them).
    stats: Stats,
    #[serde(flatten)]
    page: EventPage,
}

/// Which fixed filters the path sets.
#[derive(Default)]
struct Fixed {
    user: Option<String>,
    model: Option<String>,
    object_id: Option<String>,
}

async fn activity(
    reader: AuditReader,
    app_id: String,
    query: Option<String>,
    fixed: Fixed,
) -> Result<Json<Activity>, ApiError> {
    let now = timefmt::now_micros();
    let mut params = Params::from_query(query.as_deref())?;
    let mut stats = StatsRequest::from_params(&mut params, now)?;
    let page = PageRequest::from_params(&mut params, Direction::Desc)?;
    params.finish()?;
    let filter: &mut EventFilter = &mut stats.filter;
    for (name, slot, value) in [
        ("user", &mut filter.user, &fixed.user),
        ("model", &mut filter.model, &fixed.model),
        ("object_id", &mut filter.object_id, &fixed.object_id),
    ] {
        if let Some(v) = value {
            if slot.is_some() {
                return Err(ParamError::new(name, "is already given by the path").into());
            }
            *slot = Some(v.clone());
        }
    }
    stats.recent = 0;
    let filter = stats.filter.clone();
    let (stats, page) = tokio::try_join!(
        reader.stats(&app_id, stats),
        reader.list(&app_id, filter, page)
    )?;
    Ok(Json(Activity {
        user: fixed.user,
        model: fixed.model,
        object_id: fixed.object_id,
        stats,
        page,
    }))
}

#[derive(Debug, Deserialize)]
pub struct UserPath {
    app_id: String,
    user: String,
}

pub async fn user(
    State(reader): State<AuditReader>,
    Path(UserPath { app_id, user }): Path<UserPath>,
    RawQuery(query): RawQuery,
) -> Result<Json<Activity>, ApiError> {
    activity(
        reader,
        app_id,
        query,
        Fixed {
            user: Some(user),
            ..Fixed::default()
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct ModelPath {
    app_id: String,
    model: String,
}

pub async fn model(
    State(reader): State<AuditReader>,
    Path(ModelPath { app_id, model }): Path<ModelPath>,
    RawQuery(query): RawQuery,
) -> Result<Json<Activity>, ApiError> {
    activity(
        reader,
        app_id,
        query,
        Fixed {
            model: Some(model),
            ..Fixed::default()
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct ObjectPath {
    app_id: String,
    model: String,
    object_id: String,
}

pub async fn object(
    State(reader): State<AuditReader>,
    Path(ObjectPath {
        app_id,
        model,
        object_id,
    }): Path<ObjectPath>,
    RawQuery(query): RawQuery,
) -> Result<Json<Activity>, ApiError> {
    activity(
        reader,
        app_id,
        query,
        Fixed {
            model: Some(model),
            object_id: Some(object_id),
            ..Fixed::default()
        },
    )
    .await
}
