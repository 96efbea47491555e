//! Score configs: create, list, get, update (archive). They cannot be deleted through the API.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use serde::Deserialize;
use serde_json::Value;

use super::{get_by_id, list_newest};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::store::{ConfigCategory, ScoreConfigRow, new_id, to_value};
use crate::timefmt::now_ms;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateConfig {
    name: String,
    data_type: String,
    categories: Option<Vec<ConfigCategory>>,
    min_value: Option<f64>,
    max_value: Option<f64>,
    description: Option<String>,
}

fn check(row: &ScoreConfigRow) -> Result<(), String> {
    if row.name.is_empty() || row.name.len() > 35 {
        return Err("name: must be 1 to 35 characters".into());
    }
    match row.data_type.as_str() {
        "NUMERIC" => {
            if let (Some(a), Some(b)) = (row.min_value, row.max_value)
                && a > b
            {
                return Err("minValue must be less than maxValue".into());
            }
        }
        "CATEGORICAL" => {
            if row.categories.as_ref().is_none_or(Vec::is_empty) {
                return Err("categories are required for a categorical score config".into());
            }
        }
        "BOOLEAN" | "TEXT" => {}
        other => return Err(format!("dataType: Invalid enum value `{other}`")),
    }
    Ok(())
}

pub async fn create(State(st): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let req: CreateConfig = crate::body::json(body).await?;
    let now = now_ms();
    let mut store = st.store.write();
    let categories = if req.data_type == "BOOLEAN" {
        Some(vec![
            ConfigCategory {
                value: 1.0,
                label: "True".into(),
            },
            ConfigCategory {
                value: 0.0,
                label: "False".into(),
            },
        ])
    } else {
        req.categories
    };
    let row = ScoreConfigRow {
        id: new_id(),
        name: req.name,
        created_at: now,
        updated_at: now,
        project_id: store.project_id.clone(),
        data_type: req.data_type,
        is_archived: false,
        min_value: req.min_value,
        max_value: req.max_value,
        categories,
        description: req.description,
        visible_at: 0,
    };
    check(&row).map_err(ApiError::bad)?;
    store.score_configs.insert(row.clone());
    Ok(Json(to_value(&row)))
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    list_newest(
        &st.store.read().score_configs,
        &Params::parse(q.as_deref()),
        |_| true,
    )
}

pub async fn get(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    get_by_id(&st.store.read().score_configs, &id, "Score config")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateConfig {
    is_archived: Option<bool>,
    name: Option<String>,
    categories: Option<Vec<ConfigCategory>>,
    min_value: Option<f64>,
    max_value: Option<f64>,
    description: Option<String>,
}

pub async fn update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let req: UpdateConfig = crate::body::json(body).await?;
    let mut store = st.store.write();
    let slot = store
        .score_configs
        .first_of(&id)
        .ok_or_else(|| ApiError::not_found("Score config not found"))?;
    let mut row = store.score_configs.get(slot).expect("live").clone();
    if let Some(v) = req.is_archived {
        row.is_archived = v;
    }
    if let Some(v) = req.name {
        row.name = v;
    }
    if req.categories.is_some() {
        row.categories = req.categories;
    }
    if req.min_value.is_some() {
        row.min_value = req.min_value;
    }
    if req.max_value.is_some() {
        row.max_value = req.max_value;
    }
    if req.description.is_some() {
        row.description = req.description;
    }
    row.updated_at = now_ms();
    check(&row).map_err(ApiError::bad)?;
    store.score_configs.replace(slot, row.clone());
    Ok(Json(to_value(&row)))
}
