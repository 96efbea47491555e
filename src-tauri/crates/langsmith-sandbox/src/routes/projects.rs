//! Projects (LangSmith calls them tracer sessions): list with offset paging and filters, read
//! one, create. A project with `reference_dataset_id` is an experiment.

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

/// A project as `TracerSession`; with stats, its run count and latest run start.
fn view(store: &Store, p: &Value, stats: bool) -> Value {
    let mut v = p.clone();
    let (mut count, mut last) = (None, None);
    if stats {
        let id = p["id"].as_str().unwrap_or_default();
        let mut n = 0i64;
        let mut latest: Option<i64> = None;
        for r in store
            .runs_newest_first(None)
            .filter(|r| r.str("session_id") == Some(id))
        {
            n += 1;
            latest = Some(latest.map_or(r.start_us, |l: i64| l.max(r.start_us)));
        }
        count = Some(n);
        last = latest.map(timefmt::format_us);
    }
    v["run_count"] = json!(count);
    v["last_run_start_time"] = json!(last);
    v
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let (offset, limit) = p.page(100, 100)?;
    let ids = p.all("id");
    let name = p.get("name");
    let contains = p.get("name_contains");
    let datasets = p.all("reference_dataset");
    let reference_free = p.bool("reference_free")?;
    let stats = p.bool("include_stats")?.unwrap_or(false);
    let store = st.store.read();
    let mut items: Vec<&Value> = store
        .projects
        .values()
        .filter(|s| ids.is_empty() || ids.iter().any(|i| s["id"] == *i))
        .filter(|s| name.is_none_or(|n| s["name"] == n))
        .filter(|s| contains.is_none_or(|c| s["name"].as_str().unwrap_or_default().contains(c)))
        .filter(|s| datasets.is_empty() || datasets.iter().any(|d| s["reference_dataset_id"] == *d))
        .filter(|s| reference_free.is_none_or(|f| f == s["reference_dataset_id"].is_null()))
        .collect();
    items.sort_by(|a, b| {
        (b["start_time"].as_str(), b["id"].as_str())
            .cmp(&(a["start_time"].as_str(), a["id"].as_str()))
    });
    let page: Vec<Value> = slice(&items, offset, limit)
        .into_iter()
        .map(|s| view(&store, s, stats))
        .collect();
    Ok(Json(json!(page)))
}

pub async fn read(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let stats = p.bool("include_stats")?.unwrap_or(false);
    let store = st.store.read();
    let s = store
        .projects
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Session not found"))?;
    Ok(Json(view(&store, s, stats)))
}

pub async fn create(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let upsert = p.bool("upsert")?.unwrap_or(false);
    let b = json_body(&body)?;
    let name = b["name"]
        .as_str()
        .ok_or_else(|| ApiError::invalid_body("name", "Field required", b.clone()))?;
    let mut store = st.store.write();
    if let Some(existing) = store.project_by_name(name) {
        if upsert {
            return Ok(Json(existing.clone()));
        }
        return Err(ApiError::conflict("Session already exists."));
    }
    let id = store.ensure_project(name);
    let s = store.projects.get_mut(&id).expect("just created");
    for k in [
        "description",
        "reference_dataset_id",
        "extra",
        "default_dataset_id",
    ] {
        if !b[k].is_null() {
            s[k] = b[k].clone();
        }
    }
    if let Some(t) = b["start_time"].as_str().and_then(timefmt::parse_us) {
        s["start_time"] = json!(timefmt::format_us(t));
    }
    Ok(Json(s.clone()))
}
