//! Custom model definitions. The list also holds Langfuse-managed models (`isLangfuseManaged`),
//! which cannot be deleted.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::{get_by_id, list_newest};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::store::{ModelPrice, ModelRow, Raw, new_id, to_value};
use crate::timefmt::{self, now_ms};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateModel {
    model_name: String,
    match_pattern: String,
    start_date: Option<String>,
    unit: Option<String>,
    input_price: Option<f64>,
    output_price: Option<f64>,
    total_price: Option<f64>,
    pricing_tiers: Option<Vec<Value>>,
    tokenizer_id: Option<String>,
    tokenizer_config: Option<Raw>,
}

pub async fn create(State(st): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let req: CreateModel = crate::body::json(body).await?;
    if req.model_name.is_empty() || req.match_pattern.is_empty() {
        return Err(ApiError::bad(
            "modelName and matchPattern must not be empty",
        ));
    }
    if let Some(u) = &req.unit
        && !matches!(
            u.as_str(),
            "CHARACTERS" | "TOKENS" | "MILLISECONDS" | "SECONDS" | "IMAGES" | "REQUESTS"
        )
    {
        return Err(ApiError::bad(format!("unit: Invalid enum value `{u}`")));
    }
    if req.total_price.is_some() && (req.input_price.is_some() || req.output_price.is_some()) {
        return Err(ApiError::bad(
            "Cannot set totalPrice together with inputPrice or outputPrice",
        ));
    }
    let start_date = match req.start_date.as_deref() {
        Some(s) => {
            Some(timefmt::parse(s).ok_or_else(|| ApiError::bad("startDate: Invalid datetime"))?)
        }
        None => None,
    };
    let mut prices = BTreeMap::new();
    for (k, v) in [
        ("input", req.input_price),
        ("output", req.output_price),
        ("total", req.total_price),
    ] {
        if let Some(price) = v {
            prices.insert(k.to_string(), ModelPrice { price });
        }
    }
    let id = new_id();
    let tiers = req
        .pricing_tiers
        .unwrap_or_default()
        .into_iter()
        .map(|mut t| {
            if t.get("id").is_none() {
                t["id"] = Value::String(new_id());
            }
            t
        });
    let row = ModelRow {
        id,
        model_name: req.model_name,
        match_pattern: req.match_pattern,
        start_date,
        unit: req.unit,
        input_price: req.input_price,
        output_price: req.output_price,
        total_price: req.total_price,
        tokenizer_id: req.tokenizer_id,
        tokenizer_config: req.tokenizer_config,
        is_langfuse_managed: false,
        created_at: now_ms(),
        prices,
        pricing_tiers: tiers.collect(),
        visible_at: 0,
    };
    st.store.write().models.insert(row.clone());
    Ok(Json(to_value(&row)))
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    list_newest(
        &st.store.read().models,
        &Params::parse(q.as_deref()),
        |_| true,
    )
}

pub async fn get(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    get_by_id(&st.store.read().models, &id, "Model")
}

pub async fn delete(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let mut store = st.store.write();
    let slot = store
        .models
        .first_of(&id)
        .ok_or_else(|| ApiError::not_found("Model not found"))?;
    if store
        .models
        .get(slot)
        .is_some_and(|m| m.is_langfuse_managed)
    {
        return Err(ApiError::not_found(
            "Model not found (Langfuse-managed models cannot be deleted)",
        ));
    }
    store.models.remove(slot);
    Ok(StatusCode::NO_CONTENT)
}
