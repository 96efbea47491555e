//! v4 experiments and experiment items: the successors of dataset runs and run items, read with
//! a cursor and a required `fromStartTime`.

use axum::Json;
use axum::extract::{RawQuery, State};
use base64::Engine;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::store::{DatasetRunItemRow, DatasetRunRow, Raw, Store};
use crate::timefmt::fmt;

fn raw_json(r: &Option<Raw>) -> Value {
    r.as_ref()
        .and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or(Value::Null)
}

fn object_or_null(r: &Option<Raw>) -> Value {
    let v = raw_json(r);
    if v.is_object() { v } else { Value::Null }
}

fn limit_and_offset(p: &Params) -> ApiResult<(usize, usize)> {
    let limit = p.int("limit")?.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad("limit: Number must be between 1 and 100"));
    }
    let offset = match p.get("cursor") {
        None => 0,
        Some(c) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("v1:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| ApiError::bad("Invalid cursor"))?,
    };
    Ok((limit as usize, offset))
}

fn page_meta(offset: usize, taken: usize, total: usize) -> Value {
    if offset + taken < total {
        let c = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("v1:{}", offset + taken));
        json!({"cursor": c})
    } else {
        json!({})
    }
}

/// Rows keyed by time, newest first, cut to one cursor page.
fn newest_page(mut rows: Vec<(i64, Value)>, offset: usize, limit: usize) -> Json<Value> {
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    let total = rows.len();
    let data: Vec<Value> = rows
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, v)| v)
        .collect();
    let meta = page_meta(offset, data.len(), total);
    Json(json!({"data": data, "meta": meta}))
}

fn items_of<'a>(store: &'a Store, run: &str, now: u64) -> Vec<&'a DatasetRunItemRow> {
    store
        .dataset_run_items
        .iter()
        .map(|(_, i)| i)
        .filter(|i| i.dataset_run_id == run && i.visible_at <= now)
        .collect()
}

fn span(run: &DatasetRunRow, items: &[&DatasetRunItemRow]) -> (i64, i64) {
    let start = items
        .iter()
        .map(|i| i.created_at)
        .min()
        .unwrap_or(run.created_at);
    let end = items
        .iter()
        .map(|i| i.created_at)
        .max()
        .unwrap_or(run.created_at);
    (start, end)
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let from = p
        .time("fromStartTime")?
        .ok_or_else(|| ApiError::bad("fromStartTime is required"))?;
    let to = p.time("toStartTime")?;
    let (limit, offset) = limit_and_offset(&p)?;
    let (ids, names, datasets) = (p.csv("id"), p.csv("name"), p.csv("datasetId"));
    let with_meta = p.csv("fields").contains(&"metadata");
    let now = st.clock.now();
    let store = st.store.read();
    let rows: Vec<(i64, Value)> = store
        .dataset_runs
        .iter()
        .map(|(_, r)| r)
        .filter(|r| {
            (ids.is_empty() || ids.contains(&r.id.as_str()))
                && (names.is_empty() || names.contains(&r.name.as_str()))
                && (datasets.is_empty() || datasets.contains(&r.dataset_id.as_str()))
        })
        .filter_map(|r| {
            let items = items_of(&store, &r.id, now);
            let (start, end) = span(r, &items);
            if start < from || to.is_some_and(|t| start >= t) {
                return None;
            }
            let mut v = json!({
                "id": r.id, "name": r.name, "description": r.description,
                "startTime": fmt(start), "endTime": fmt(end), "itemCount": items.len(),
                "datasetId": r.dataset_id,
            });
            if with_meta {
                v["metadata"] = object_or_null(&r.metadata);
            }
            Some((end, v))
        })
        .collect();
    Ok(newest_page(rows, offset, limit))
}

pub async fn list_items(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let from = p
        .time("fromStartTime")?
        .ok_or_else(|| ApiError::bad("fromStartTime is required"))?;
    let to = p.time("toStartTime")?;
    let (limit, offset) = limit_and_offset(&p)?;
    let fields = p.csv("fields");
    let has = |g: &str| fields.contains(&g) || (fields.is_empty() && g == "dataset");
    let (exp_ids, exp_names, item_ids, datasets) = (
        p.csv("experimentId"),
        p.csv("experimentName"),
        p.csv("experimentItemId"),
        p.csv("datasetId"),
    );
    let now = st.clock.now();
    let store = st.store.read();
    let mut rows: Vec<(i64, Value)> = Vec::new();
    for (_, i) in store.dataset_run_items.iter() {
        if i.visible_at > now || i.created_at < from || to.is_some_and(|t| i.created_at >= t) {
            continue;
        }
        let Some(run) = store
            .dataset_runs
            .first_of(&i.dataset_run_id)
            .and_then(|s| store.dataset_runs.get(s))
        else {
            continue;
        };
        if !(exp_ids.is_empty() || exp_ids.contains(&run.id.as_str()))
            || !(exp_names.is_empty() || exp_names.contains(&run.name.as_str()))
            || !(item_ids.is_empty() || item_ids.contains(&i.dataset_item_id.as_str()))
            || !(datasets.is_empty() || datasets.contains(&run.dataset_id.as_str()))
        {
            continue;
        }
        let item = store
            .dataset_items
            .first_of(&i.dataset_item_id)
            .and_then(|s| store.dataset_items.get(s));
        let root = store
            .observations
            .slots_of_trace(&i.trace_id)
            .iter()
            .filter_map(|s| store.observations.get(*s))
            .find(|o| o.is_root());
        let mut v = json!({
            "id": i.observation_id.clone().or(root.map(|r| r.id.clone())).unwrap_or_else(|| i.id.clone()),
            "traceId": i.trace_id,
            "startTime": fmt(root.map(|r| r.start_time).unwrap_or(i.created_at)),
            "endTime": root.and_then(|r| r.end_time).map(fmt),
            "level": root.map(|r| r.level.clone()).unwrap_or_else(|| "DEFAULT".into()),
            "environment": root.map(|r| r.environment.clone()).unwrap_or_else(|| "default".into()),
            "experimentId": run.id,
            "experimentName": run.name,
            "experimentItemId": i.dataset_item_id,
        });
        if has("dataset") {
            v["experimentDatasetId"] = json!(run.dataset_id);
            v["experimentItemVersion"] = json!(item.map(|it| fmt(it.updated_at)));
        }
        if has("io") {
            v["input"] = root.map(|r| raw_json(&r.input)).unwrap_or(Value::Null);
            v["output"] = root.map(|r| raw_json(&r.output)).unwrap_or(Value::Null);
            v["expectedOutput"] = item
                .map(|it| raw_json(&it.expected_output))
                .unwrap_or(Value::Null);
        }
        if has("metadata") {
            v["metadata"] = root
                .map(|r| object_or_null(&r.metadata))
                .unwrap_or(Value::Null);
        }
        if has("itemMetadata") {
            v["experimentItemMetadata"] = item
                .map(|it| object_or_null(&it.metadata))
                .unwrap_or(Value::Null);
        }
        if has("experimentMetadata") {
            v["experimentMetadata"] = object_or_null(&run.metadata);
            v["experimentDescription"] = json!(run.description);
        }
        rows.push((i.created_at, v));
    }
    Ok(newest_page(rows, offset, limit))
}
