//! Traces (v2/v3 reads; deletion on v3/v4). On v4 deleting a trace removes the observation rows
//! it is derived from.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::filter::{Field, JsonFilter};
use crate::params::{DEFAULT_PAGE_CAP, Page, Params, paged};
use crate::state::AppState;
use crate::store::{ObsRow, ScoreRow, Store, TraceRow};
use crate::views::{self, ObsV1, TraceFields};

/// Latency (s) from the first start to the last end, and total cost, over a trace's observations.
fn metrics(obs: &[&ObsRow]) -> (Option<f64>, Option<f64>) {
    let start = obs.iter().map(|o| o.start_time).min();
    let end = obs
        .iter()
        .filter_map(|o| o.end_time.or(Some(o.start_time)))
        .max();
    let latency = match (start, end) {
        (Some(s), Some(e)) => Some((e - s) as f64 / 1000.0),
        _ => Some(0.0),
    };
    let cost: f64 = obs.iter().filter_map(|o| o.total_cost()).sum();
    (latency, Some(cost))
}

fn visible_obs<'a>(store: &'a Store, trace_id: &str, now: u64) -> Vec<&'a ObsRow> {
    let mut v: Vec<&ObsRow> = store
        .observations
        .slots_of_trace(trace_id)
        .iter()
        .filter_map(|s| store.observations.get(*s))
        .filter(|o| o.visible_at <= now)
        .collect();
    v.sort_by_key(|o| o.start_time);
    v
}

fn visible_scores<'a>(store: &'a Store, trace_id: &str, now: u64) -> Vec<&'a ScoreRow> {
    store
        .scores
        .slots_of_trace(trace_id)
        .iter()
        .filter_map(|s| store.scores.get(*s))
        .filter(|s| s.visible_at <= now)
        .collect()
}

fn with_details(store: &Store, t: &TraceRow, f: TraceFields, now: u64, full: bool) -> Value {
    let mut m = views::trace_core(t, f.io);
    let obs = visible_obs(store, &t.id, now);
    let scores = visible_scores(store, &t.id, now);
    let (latency, cost) = if f.metrics {
        metrics(&obs)
    } else {
        (Some(-1.0), Some(-1.0))
    };
    m.insert("latency".into(), json!(latency));
    m.insert("totalCost".into(), json!(cost));
    let obs_v: Vec<Value> = if !f.observations {
        vec![]
    } else if full {
        obs.iter()
            .map(|o| serde_json::to_value(ObsV1(o)).expect("serializes"))
            .collect()
    } else {
        obs.iter().map(|o| json!(o.id)).collect()
    };
    let score_v: Vec<Value> = if !f.scores {
        vec![]
    } else if full {
        scores.iter().map(|s| views::score_v1(s)).collect()
    } else {
        scores.iter().map(|s| json!(s.id)).collect()
    };
    m.insert("observations".into(), Value::Array(obs_v));
    m.insert("scores".into(), Value::Array(score_v));
    Value::Object(m)
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let page = Page::parse(&p, DEFAULT_PAGE_CAP)?;
    let fields = TraceFields::parse(p.get("fields")).map_err(ApiError::bad)?;
    let (from, to) = (p.time("fromTimestamp")?, p.time("toTimestamp")?);
    let tags = p.all("tags");
    let envs = p.all("environment");
    let order = p.get("orderBy").unwrap_or("timestamp.desc");
    let (order_field, order_dir) = order.split_once('.').unwrap_or((order, "desc"));
    if !matches!(order_dir, "asc" | "desc") {
        return Err(ApiError::bad(format!(
            "orderBy: invalid direction `{order_dir}`"
        )));
    }
    let now = st.clock.now();
    let store = st.store.read();
    let json_filter = p
        .get("filter")
        .map(|f| JsonFilter::parse(f, &FILTER_COLUMNS))
        .transpose()?;
    // The structured filter takes precedence over the query-parameter filters.
    let (from, to) = if json_filter.is_some() {
        (None, None)
    } else {
        (from, to)
    };
    let matches = |t: &TraceRow| -> bool {
        if let Some(f) = &json_filter {
            return t.visible_at <= now && f.matches(|col| trace_column(t, col));
        }
        t.visible_at <= now
            && p.get("userId")
                .is_none_or(|u| t.user_id.as_deref() == Some(u))
            && p.get("name").is_none_or(|n| t.name.as_deref() == Some(n))
            && p.get("sessionId")
                .is_none_or(|s| t.session_id.as_deref() == Some(s))
            && p.get("version")
                .is_none_or(|v| t.version.as_deref() == Some(v))
            && p.get("release")
                .is_none_or(|r| t.release.as_deref() == Some(r))
            && tags.iter().all(|tag| t.tags.iter().any(|x| x == tag))
            && (envs.is_empty() || envs.contains(&t.environment.as_str()))
    };
    let mut rows: Vec<&TraceRow> = store
        .traces
        .desc_range(from, to, None)
        .filter_map(|(_, s)| store.traces.get(s))
        .filter(|t| matches(t))
        .collect();
    let key = |t: &TraceRow| -> Value {
        match order_field {
            "timestamp" => json!(t.timestamp),
            "id" => json!(t.id),
            "name" => json!(t.name),
            "userId" => json!(t.user_id),
            "release" => json!(t.release),
            "version" => json!(t.version),
            "public" => json!(t.public),
            "bookmarked" => json!(false),
            "sessionId" => json!(t.session_id),
            _ => Value::Null,
        }
    };
    if order_field != "timestamp" {
        if !ORDER_FIELDS.contains(&order_field) {
            return Err(ApiError::bad(format!(
                "orderBy: invalid field `{order_field}`"
            )));
        }
        rows.sort_by(|a, b| cmp_values(&key(a), &key(b)));
        if order_dir == "desc" {
            rows.reverse();
        }
    } else if order_dir == "asc" {
        rows.reverse();
    }
    let (page_rows, total) = page.take(rows.into_iter());
    let data = page_rows
        .into_iter()
        .map(|t| with_details(&store, t, fields, now, false))
        .collect();
    Ok(Json(paged(data, &page, total)))
}

const FILTER_COLUMNS: [&str; 12] = [
    "id",
    "name",
    "timestamp",
    "userId",
    "sessionId",
    "release",
    "version",
    "tags",
    "environment",
    "bookmarked",
    "public",
    "metadata",
];

fn trace_column(t: &TraceRow, col: &str) -> Field {
    let s = |v: Option<&String>| Field::Str(v.cloned());
    match col {
        "id" => s(Some(&t.id)),
        "name" => s(t.name.as_ref()),
        "timestamp" => Field::Time(Some(t.timestamp)),
        "userId" => s(t.user_id.as_ref()),
        "sessionId" => s(t.session_id.as_ref()),
        "release" => s(t.release.as_ref()),
        "version" => s(t.version.as_ref()),
        "tags" => Field::List(t.tags.clone()),
        "environment" => s(Some(&t.environment)),
        "bookmarked" => Field::Bool(false),
        "public" => Field::Bool(t.public),
        "metadata" => Field::Object(
            t.metadata
                .as_ref()
                .and_then(|m| serde_json::from_str(m.get()).ok()),
        ),
        _ => Field::Str(None),
    }
}

const ORDER_FIELDS: [&str; 9] = [
    "timestamp",
    "id",
    "name",
    "userId",
    "release",
    "version",
    "public",
    "bookmarked",
    "sessionId",
];

fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    a.to_string().cmp(&b.to_string())
}

pub async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let fields = TraceFields::parse(p.get("fields")).map_err(ApiError::bad)?;
    let now = st.clock.now();
    let store = st.store.read();
    let t = store
        .traces
        .slots_of(&id)
        .iter()
        .filter_map(|s| store.traces.get(*s))
        .find(|t| t.visible_at <= now)
        .ok_or_else(|| {
            ApiError::not_found(format!("Trace {id} not found within authorized project"))
        })?;
    Ok(Json(with_details(&store, t, fields, now, true)))
}

/// Removes a trace with its observations and scores.
fn delete_trace(store: &mut Store, id: &str) {
    store.traces.remove_id(id);
    for s in store.observations.slots_of_trace(id).to_vec() {
        store.observations.remove(s);
    }
    for s in store.scores.slots_of_trace(id).to_vec() {
        store.scores.remove(s);
    }
}

pub async fn delete_one(State(st): State<AppState>, Path(id): Path<String>) -> Json<Value> {
    delete_trace(&mut st.store.write(), &id);
    Json(json!({"message": "Trace deleted successfully"}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteMany {
    trace_ids: Vec<String>,
}

pub async fn delete_many(State(st): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let req: DeleteMany = crate::body::json(body).await?;
    let mut store = st.store.write();
    for id in &req.trace_ids {
        delete_trace(&mut store, id);
    }
    Ok(Json(json!({"message": "Traces deleted successfully"})))
}
