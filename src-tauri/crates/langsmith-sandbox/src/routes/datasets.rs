//! Datasets and examples: create (one, or `/examples/bulk`), list with offset paging
//! (`limit` ≤ 100; examples filtered by dataset, id and splits), read one. An example's splits
//! live in `metadata.dataset_split`, as LangSmith keeps them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use super::json_body;
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, slice};
use crate::state::AppState;
use crate::store::Store;
use crate::timefmt;

fn now() -> String {
    timefmt::format_us(timefmt::now_us())
}

fn dataset_view(store: &Store, d: &Value) -> Value {
    let mut v = d.clone();
    let id = d["id"].as_str().unwrap_or_default();
    v["example_count"] = json!(
        store
            .examples
            .values()
            .filter(|e| e["dataset_id"] == id)
            .count()
    );
    v["session_count"] = json!(
        store
            .projects
            .values()
            .filter(|p| p["reference_dataset_id"] == id)
            .count()
    );
    v
}

pub async fn create(State(st): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    let b = json_body(&body)?;
    let name = b["name"]
        .as_str()
        .ok_or_else(|| ApiError::invalid_body("name", "Field required", b.clone()))?;
    let mut store = st.store.write();
    if store.datasets.values().any(|d| d["name"] == name) {
        return Err(ApiError::conflict("Dataset with this name already exists."));
    }
    let id = b["id"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let t = now();
    let d = json!({
        "id": id, "name": name, "tenant_id": store.tenant_id,
        "description": b["description"], "created_at": t, "modified_at": t,
        "data_type": b["data_type"].as_str().unwrap_or("kv"),
        "inputs_schema_definition": b["inputs_schema_definition"],
        "outputs_schema_definition": b["outputs_schema_definition"],
        "externally_managed": b["externally_managed"].as_bool().unwrap_or(false),
        "transformations": b["transformations"],
        "metadata": b["extra"].get("metadata").cloned().or_else(|| b.get("metadata").cloned()).unwrap_or(Value::Null),
        "last_session_start_time": null,
        "baseline_experiment_id": null,
    });
    store.datasets.insert(id, d.clone());
    Ok(Json(dataset_view(&store, &d)))
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let (offset, limit) = p.page(100, 100)?;
    let ids = p.all("id");
    let name = p.get("name");
    let contains = p.get("name_contains");
    let store = st.store.read();
    let items: Vec<&Value> = store
        .datasets
        .values()
        .filter(|d| ids.is_empty() || ids.iter().any(|i| d["id"] == *i))
        .filter(|d| name.is_none_or(|n| d["name"] == n))
        .filter(|d| contains.is_none_or(|c| d["name"].as_str().unwrap_or_default().contains(c)))
        .collect();
    let page: Vec<Value> = slice(&items, offset, limit)
        .into_iter()
        .map(|d| dataset_view(&store, d))
        .collect();
    Ok(Json(json!(page)))
}

pub async fn read(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let store = st.store.read();
    let d = store
        .datasets
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Dataset not found"))?;
    Ok(Json(dataset_view(&store, d)))
}

/// Stores one `ExampleCreate`; its `split` (string or list, default `base`) goes to
/// `metadata.dataset_split`.
pub fn insert_example(store: &mut Store, b: &Value) -> ApiResult<Value> {
    let dataset = b["dataset_id"]
        .as_str()
        .ok_or_else(|| ApiError::invalid_body("dataset_id", "Field required", b.clone()))?;
    if !store.datasets.contains_key(dataset) {
        return Err(ApiError::not_found("Dataset not found"));
    }
    let id = b["id"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if store.examples.contains_key(&id) {
        return Err(ApiError::conflict(format!("Example {id} already exists")));
    }
    let mut metadata = match &b["metadata"] {
        Value::Object(m) => m.clone(),
        _ => Default::default(),
    };
    let split = match &b["split"] {
        Value::String(s) => json!([s]),
        Value::Array(a) => json!(a),
        _ => metadata
            .get("dataset_split")
            .cloned()
            .unwrap_or(json!(["base"])),
    };
    metadata.insert("dataset_split".into(), split);
    let t = b["created_at"]
        .as_str()
        .and_then(timefmt::parse_us)
        .map(timefmt::format_us)
        .unwrap_or_else(now);
    let e = json!({
        "id": id, "dataset_id": dataset,
        "inputs": if b["inputs"].is_object() { b["inputs"].clone() } else { json!({}) },
        "outputs": b["outputs"], "metadata": metadata,
        "source_run_id": b["source_run_id"],
        "created_at": t, "modified_at": t,
        "name": format!("#{} @ {}", &id[..4.min(id.len())], store.datasets[dataset]["name"].as_str().unwrap_or_default()),
        "attachment_urls": null,
    });
    store.examples.insert(id, e.clone());
    Ok(e)
}

pub async fn create_example(State(st): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    let b = json_body(&body)?;
    Ok(Json(insert_example(&mut st.store.write(), &b)?))
}

pub async fn create_examples(State(st): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    let b = json_body(&body)?;
    let items = b
        .as_array()
        .ok_or_else(|| ApiError::invalid_body("body", "Input should be a valid list", b.clone()))?;
    let mut store = st.store.write();
    let out: ApiResult<Vec<Value>> = items
        .iter()
        .map(|e| insert_example(&mut store, e))
        .collect();
    Ok(Json(json!(out?)))
}

pub async fn read_example(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let store = st.store.read();
    store
        .examples
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Example not found"))
}

/// `GET /examples/count`: how many examples `list_examples` would list with these filters.
pub async fn count_examples(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let store = st.store.read();
    Ok(Json(json!(matching_examples(&store, &p).len())))
}

pub async fn list_examples(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let (offset, limit) = p.page(100, 100)?;
    let store = st.store.read();
    let items = matching_examples(&store, &p);
    Ok(Json(json!(slice(&items, offset, limit))))
}

/// The examples the filters `id`, `dataset` and `splits` keep, newest first.
fn matching_examples<'a>(store: &'a crate::store::Store, p: &Params) -> Vec<&'a Value> {
    let ids = p.all("id");
    let dataset = p.get("dataset");
    let splits = p.all("splits");
    let mut items: Vec<&Value> = store
        .examples
        .values()
        .filter(|e| ids.is_empty() || ids.iter().any(|i| e["id"] == *i))
        .filter(|e| dataset.is_none_or(|d| e["dataset_id"] == d))
        .filter(|e| {
            splits.is_empty()
                || e["metadata"]["dataset_split"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|s| splits.iter().any(|x| s == *x)))
        })
        .collect();
    items.sort_by(|a, b| {
        (b["created_at"].as_str(), b["id"].as_str())
            .cmp(&(a["created_at"].as_str(), a["id"].as_str()))
    });
    items
}
