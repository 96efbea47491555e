//! Datasets (v2), dataset items, dataset runs and run items. Datasets cannot be deleted through
//! the API; items and (legacy) runs can.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::list_newest;
use crate::error::{ApiError, ApiResult};
use crate::params::{DEFAULT_PAGE_CAP, Page, Params, paged};
use crate::state::AppState;
use crate::store::{
    DatasetItemRow, DatasetRow, DatasetRunItemRow, DatasetRunRow, Raw, Store, new_id, to_value,
};
use crate::timefmt::{self, now_ms};

fn dataset_by_name<'a>(store: &'a Store, name: &str) -> Option<&'a DatasetRow> {
    store
        .datasets
        .iter()
        .map(|(_, d)| d)
        .find(|d| d.name == name)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateDataset {
    name: String,
    description: Option<String>,
    metadata: Option<Raw>,
    input_schema: Option<Raw>,
    expected_output_schema: Option<Raw>,
}

pub async fn create(State(st): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let req: CreateDataset = crate::body::json(body).await?;
    if req.name.trim().is_empty() {
        return Err(ApiError::bad(
            "name: String must contain at least 1 character(s)",
        ));
    }
    let mut store = st.store.write();
    let project_id = store.project_id.clone();
    let existing = store
        .datasets
        .iter()
        .find(|(_, d)| d.name == req.name)
        .map(|(s, _)| s);
    let now = now_ms();
    let row = match existing {
        Some(slot) => {
            let d = store.datasets.get_mut(slot).expect("live");
            if req.description.is_some() {
                d.description = req.description;
            }
            if req.metadata.is_some() {
                d.metadata = req.metadata;
            }
            if req.input_schema.is_some() {
                d.input_schema = req.input_schema;
            }
            if req.expected_output_schema.is_some() {
                d.expected_output_schema = req.expected_output_schema;
            }
            d.updated_at = now;
            d.clone()
        }
        None => {
            let row = DatasetRow {
                id: new_id(),
                name: req.name,
                description: req.description,
                metadata: req.metadata,
                input_schema: req.input_schema,
                expected_output_schema: req.expected_output_schema,
                project_id,
                created_at: now,
                updated_at: now,
                visible_at: 0,
            };
            store.datasets.insert(row.clone());
            row
        }
    };
    Ok(Json(to_value(&row)))
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    list_newest(
        &st.store.read().datasets,
        &Params::parse(q.as_deref()),
        |_| true,
    )
}

pub async fn get(State(st): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let store = st.store.read();
    let d =
        dataset_by_name(&store, &name).ok_or_else(|| ApiError::not_found("Dataset not found"))?;
    Ok(Json(to_value(d)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateItem {
    dataset_name: String,
    input: Option<Raw>,
    expected_output: Option<Raw>,
    metadata: Option<Raw>,
    source_trace_id: Option<String>,
    source_observation_id: Option<String>,
    id: Option<String>,
    status: Option<String>,
}

pub async fn items_create(State(st): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let req: CreateItem = crate::body::json(body).await?;
    if let Some(s) = &req.status
        && !matches!(s.as_str(), "ACTIVE" | "ARCHIVED")
    {
        return Err(ApiError::bad(format!("status: Invalid enum value `{s}`")));
    }
    let mut store = st.store.write();
    let d = dataset_by_name(&store, &req.dataset_name)
        .ok_or_else(|| ApiError::not_found("Dataset not found"))?
        .clone();
    let now = now_ms();
    let existing = req
        .id
        .as_deref()
        .and_then(|id| store.dataset_items.first_of(id));
    let row = match existing {
        Some(slot) => {
            let it = store.dataset_items.get_mut(slot).expect("live");
            if it.dataset_id != d.id {
                return Err(ApiError::bad(
                    "A dataset item with this id exists in another dataset",
                ));
            }
            it.input = req.input.or(it.input.take());
            it.expected_output = req.expected_output.or(it.expected_output.take());
            it.metadata = req.metadata.or(it.metadata.take());
            it.source_trace_id = req.source_trace_id.or(it.source_trace_id.take());
            it.source_observation_id = req
                .source_observation_id
                .or(it.source_observation_id.take());
            if let Some(s) = req.status {
                it.status = s;
            }
            it.updated_at = now;
            it.clone()
        }
        None => {
            let row = DatasetItemRow {
                id: req.id.unwrap_or_else(new_id),
                status: req.status.unwrap_or_else(|| "ACTIVE".into()),
                input: req.input,
                expected_output: req.expected_output,
                metadata: req.metadata,
                source_trace_id: req.source_trace_id,
                source_observation_id: req.source_observation_id,
                dataset_id: d.id.clone(),
                dataset_name: d.name.clone(),
                created_at: now,
                updated_at: now,
                media_references: vec![],
                visible_at: 0,
            };
            store.dataset_items.insert(row.clone());
            row
        }
    };
    Ok(Json(item_view(&st, &row)))
}

/// A dataset item as the API returns it; the current API adds `version`, when this version of
/// the item became current (its last write).
fn item_view(st: &AppState, row: &DatasetItemRow) -> Value {
    let mut v = to_value(row);
    if st.profile().is_current() {
        v["version"] = Value::String(crate::timefmt::fmt(row.updated_at));
    }
    v
}

pub async fn items_list(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: axum::http::HeaderMap,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let page = Page::parse(&p, DEFAULT_PAGE_CAP)?;
    let version = p.time("version")?;
    if version.is_some() && p.get("datasetName").is_none() {
        return Err(ApiError::bad("version requires datasetName"));
    }
    let store = st.store.read();
    let dataset_id = match p.get("datasetName") {
        Some(n) => Some(
            dataset_by_name(&store, n)
                .ok_or_else(|| ApiError::not_found("Dataset not found"))?
                .id
                .clone(),
        ),
        None => None,
    };
    let rows = store
        .dataset_items
        .desc_range(None, None, None)
        .filter_map(|(_, s)| store.dataset_items.get(s))
        .filter(|i| {
            dataset_id.as_ref().is_none_or(|d| &i.dataset_id == d)
                && p.get("sourceTraceId")
                    .is_none_or(|t| i.source_trace_id.as_deref() == Some(t))
                && p.get("sourceObservationId")
                    .is_none_or(|o| i.source_observation_id.as_deref() == Some(o))
                && version.is_none_or(|v| i.created_at <= v)
        });
    let (rows, total) = page.take(rows);
    let items = rows
        .into_iter()
        .map(|r| crate::media::item_with_references(&st, &headers, item_view(&st, r)))
        .collect();
    Ok(Json(paged(items, &page, total)))
}

pub async fn items_get(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Json<Value>> {
    let store = st.store.read();
    let row = store
        .dataset_items
        .first_of(&id)
        .and_then(|s| store.dataset_items.get(s))
        .ok_or_else(|| ApiError::not_found("Dataset item not found"))?;
    Ok(Json(crate::media::item_with_references(
        &st,
        &headers,
        item_view(&st, row),
    )))
}

pub async fn items_delete(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let mut store = st.store.write();
    if store.dataset_items.remove_id(&id).is_empty() {
        return Err(ApiError::not_found("Dataset item not found"));
    }
    let run_items: Vec<_> = store
        .dataset_run_items
        .iter()
        .filter(|(_, r)| r.dataset_item_id == id)
        .map(|(s, _)| s)
        .collect();
    for s in run_items {
        store.dataset_run_items.remove(s);
    }
    Ok(Json(
        json!({"message": "Dataset item successfully deleted"}),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRunItem {
    run_name: String,
    run_description: Option<String>,
    metadata: Option<Raw>,
    dataset_item_id: String,
    observation_id: Option<String>,
    trace_id: Option<String>,
    created_at: Option<String>,
}

pub async fn run_items_create(State(st): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let req: CreateRunItem = crate::body::json(body).await?;
    let mut store = st.store.write();
    let item = store
        .dataset_items
        .first_of(&req.dataset_item_id)
        .and_then(|s| store.dataset_items.get(s))
        .ok_or_else(|| ApiError::not_found("Dataset item not found"))?
        .clone();
    let trace_id = match (&req.trace_id, &req.observation_id) {
        (Some(t), _) => t.clone(),
        (None, Some(o)) => store
            .observations
            .first_of(o)
            .and_then(|s| store.observations.get(s))
            .and_then(|o| o.trace_id.clone())
            .ok_or_else(|| ApiError::not_found("Observation not found"))?,
        (None, None) => return Err(ApiError::bad("traceId or observationId is required")),
    };
    let now = now_ms();
    let created_at = match req.created_at.as_deref() {
        Some(t) => timefmt::parse(t).ok_or_else(|| ApiError::bad("createdAt: Invalid datetime"))?,
        None => now,
    };
    let run = store
        .dataset_runs
        .iter()
        .map(|(_, r)| r)
        .find(|r| r.dataset_id == item.dataset_id && r.name == req.run_name)
        .cloned();
    let run = match run {
        Some(r) => r,
        None => {
            let r = DatasetRunRow {
                id: new_id(),
                name: req.run_name.clone(),
                description: req.run_description.clone(),
                metadata: req.metadata.clone(),
                dataset_id: item.dataset_id.clone(),
                dataset_name: item.dataset_name.clone(),
                created_at,
                updated_at: now,
                visible_at: 0,
            };
            store.dataset_runs.insert(r.clone());
            r
        }
    };
    let row = DatasetRunItemRow {
        id: new_id(),
        dataset_run_id: run.id.clone(),
        dataset_run_name: run.name.clone(),
        dataset_item_id: item.id.clone(),
        trace_id,
        observation_id: req.observation_id,
        created_at,
        updated_at: now,
        visible_at: st.visible_at_for_new_write(),
    };
    store.dataset_run_items.insert(row.clone());
    Ok(Json(to_value(&row)))
}

pub async fn run_items_list(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let page = Page::parse(&p, DEFAULT_PAGE_CAP)?;
    let (Some(dataset_id), Some(run_name)) = (p.get("datasetId"), p.get("runName")) else {
        return Err(ApiError::bad("datasetId and runName are required"));
    };
    let now = st.clock.now();
    let store = st.store.read();
    let run_id = store
        .dataset_runs
        .iter()
        .map(|(_, r)| r)
        .find(|r| r.dataset_id == dataset_id && r.name == run_name)
        .map(|r| r.id.clone())
        .ok_or_else(|| ApiError::not_found("Dataset run not found"))?;
    let rows = store
        .dataset_run_items
        .desc_range(None, None, None)
        .filter_map(|(_, s)| store.dataset_run_items.get(s))
        .filter(|r| r.dataset_run_id == run_id && r.visible_at <= now);
    let (rows, total) = page.take(rows);
    Ok(Json(paged(
        rows.into_iter().map(to_value).collect(),
        &page,
        total,
    )))
}

pub async fn runs_list(
    State(st): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let page = Page::parse(&p, DEFAULT_PAGE_CAP)?;
    let store = st.store.read();
    let d =
        dataset_by_name(&store, &name).ok_or_else(|| ApiError::not_found("Dataset not found"))?;
    let rows = store
        .dataset_runs
        .desc_range(None, None, None)
        .filter_map(|(_, s)| store.dataset_runs.get(s))
        .filter(|r| r.dataset_id == d.id);
    let (rows, total) = page.take(rows);
    Ok(Json(paged(
        rows.into_iter().map(to_value).collect(),
        &page,
        total,
    )))
}

fn find_run<'a>(store: &'a Store, dataset: &str, run: &str) -> ApiResult<&'a DatasetRunRow> {
    let d =
        dataset_by_name(store, dataset).ok_or_else(|| ApiError::not_found("Dataset not found"))?;
    store
        .dataset_runs
        .iter()
        .map(|(_, r)| r)
        .find(|r| r.dataset_id == d.id && r.name == run)
        .ok_or_else(|| ApiError::not_found("Dataset run not found"))
}

pub async fn runs_get(
    State(st): State<AppState>,
    Path((name, run)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let now = st.clock.now();
    let store = st.store.read();
    let r = find_run(&store, &name, &run)?;
    let items: Vec<Value> = store
        .dataset_run_items
        .iter()
        .filter(|(_, i)| i.dataset_run_id == r.id && i.visible_at <= now)
        .map(|(_, i)| to_value(i))
        .collect();
    let mut v = to_value(r);
    v["datasetRunItems"] = Value::Array(items);
    Ok(Json(v))
}

pub async fn runs_delete(
    State(st): State<AppState>,
    Path((name, run)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut store = st.store.write();
    let run_id = find_run(&store, &name, &run)?.id.clone();
    store.dataset_runs.remove_id(&run_id);
    let items: Vec<_> = store
        .dataset_run_items
        .iter()
        .filter(|(_, i)| i.dataset_run_id == run_id)
        .map(|(s, _)| s)
        .collect();
    for s in items {
        store.dataset_run_items.remove(s);
    }
    Ok(Json(json!({"message": "Dataset run successfully deleted"})))
}
