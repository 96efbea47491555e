//! Run reads: v1 `POST /runs/query` (cursor in `cursors.next`, `limit` ≤ 100), v2
//! `POST /v2/runs/query` (`next_cursor`, `page_size` ≤ 1000, `min_start_time` one day back by
//! default, only `id` without `selects`), and `GET /runs/{id}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use serde_json::{Value, json};

use super::{json_body, run_view};
use crate::error::{ApiError, ApiResult};
use crate::runfilter::{Expr, RunQuery};
use crate::state::AppState;
use crate::store::Store;
use crate::timefmt;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn encode_cursor(start_us: i64, id: &str) -> String {
    B64.encode(json!({"t": start_us, "id": id}).to_string())
}

fn decode_cursor(c: &str) -> Option<(i64, String)> {
    let bytes = B64.decode(c).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    Some((v["t"].as_i64()?, v["id"].as_str()?.to_string()))
}

fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
        ),
        Value::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

/// One page newest first: up to `limit` matching runs after `cursor`, and the next cursor.
fn page<'a>(
    store: &'a Store,
    q: &RunQuery,
    cursor: Option<(i64, String)>,
    limit: usize,
) -> (Vec<&'a crate::store::Run>, Option<String>) {
    let mut out = Vec::with_capacity(limit.min(1000));
    let mut more = false;
    for r in store
        .runs_newest_first(cursor)
        .filter(|r| q.matches_in(store, r))
    {
        if out.len() == limit {
            more = true;
            break;
        }
        out.push(r);
    }
    let next = if more {
        out.last().map(|r| encode_cursor(r.start_us, r.id()))
    } else {
        None
    };
    (out, next)
}

/// A v1 query's filters (`/runs/query` and `/runs/stats` take the same).
fn v1_query(b: &Value) -> ApiResult<RunQuery> {
    let time = |k: &str| -> ApiResult<Option<i64>> {
        match b.get(k).and_then(Value::as_str) {
            None => Ok(None),
            Some(s) => timefmt::parse_us(s).map(Some).ok_or_else(|| {
                ApiError::invalid_body(k, "Input should be a valid datetime", json!(s))
            }),
        }
    };
    let parse = |k: &str| -> ApiResult<Option<Expr>> {
        match b.get(k).and_then(Value::as_str) {
            None => Ok(None),
            Some(f) => Expr::parse(f)
                .map(Some)
                .map_err(|e| ApiError::bad(format!("Invalid {k}: {e}"))),
        }
    };
    let filter = parse("filter")?;
    let trace_filter = parse("trace_filter")?;
    let q = RunQuery {
        sessions: strings(&b["session"]),
        ids: strings(&b["id"]),
        trace: b["trace"].as_str().map(String::from),
        parent_run: b["parent_run"].as_str().map(String::from),
        run_type: b["run_type"].as_str().map(String::from),
        is_root: b["is_root"].as_bool(),
        min_start_us: time("start_time")?,
        max_start_us: None,
        error: b["error"].as_bool(),
        reference_examples: strings(&b["reference_example"]),
        filter,
        trace_filter,
    };
    if q.sessions.is_none()
        && q.ids.is_none()
        && q.trace.is_none()
        && q.parent_run.is_none()
        && q.reference_examples.is_none()
    {
        return Err(ApiError::bad(
            "At least one of 'session', 'id', 'parent_run', 'trace' or 'reference_example' must be specified",
        ));
    }
    Ok(q)
}

pub async fn v1(State(st): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    let b = json_body(&body)?;
    let limit = match b.get("limit").and_then(Value::as_i64) {
        None => 100,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::invalid_body(
                "limit",
                "Input should be less than or equal to 100",
                json!(n),
            ));
        }
    };
    let q = v1_query(&b)?;
    let cursor = match b.get("cursor").and_then(Value::as_str) {
        None => None,
        Some(c) => Some(decode_cursor(c).ok_or_else(|| ApiError::bad("Invalid cursor"))?),
    };
    let select = strings(&b["select"]);
    let store = st.store.read();
    let (runs, next) = page(&store, &q, cursor, limit);
    let runs: Vec<Value> = runs
        .iter()
        .map(|r| run_view::v1_selected(&store, r, select.as_deref()))
        .collect();
    Ok(Json(
        json!({"runs": runs, "cursors": {"next": next, "prev": null}}),
    ))
}

/// `POST /runs/stats`: the v1 query's filters; answers `RunStats` with `run_count` (the other
/// statistics are not kept by the sandbox and come back null).
pub async fn stats(State(st): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    let b = json_body(&body)?;
    let q = v1_query(&b)?;
    let store = st.store.read();
    let (runs, _) = page(&store, &q, None, usize::MAX - 1);
    Ok(Json(json!({"run_count": runs.len()})))
}

fn problem(status: StatusCode, detail: impl Into<String>) -> ApiError {
    ApiError::Problem(status, detail.into())
}

pub async fn v2(State(st): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    if !st.config.v2_queries {
        return Err(ApiError::not_found("Not Found"));
    }
    let b: Value = serde_json::from_slice(&body)
        .map_err(|e| problem(StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")))?;
    let page_size = match b.get("page_size") {
        None | Some(Value::Null) => 100,
        Some(v) => match v.as_i64() {
            Some(n) if (1..=1000).contains(&n) => n as usize,
            _ => {
                return Err(problem(
                    StatusCode::BAD_REQUEST,
                    "page_size must be between 1 and 1000",
                ));
            }
        },
    };
    let time = |k: &str| -> ApiResult<Option<i64>> {
        match b.get(k).and_then(Value::as_str) {
            None => Ok(None),
            Some(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| Some(t.timestamp_micros()))
                .map_err(|_| {
                    problem(
                        StatusCode::BAD_REQUEST,
                        format!("{k} must be an RFC3339 time"),
                    )
                }),
        }
    };
    let now = timefmt::now_us();
    let min = time("min_start_time")?.unwrap_or(now - 86_400_000_000);
    let max = time("max_start_time")?.unwrap_or(now);
    let store = st.store.read();
    let dataset = b["reference_dataset_id"].as_str().map(String::from);
    let sessions = match (strings(&b["project_ids"]), &dataset) {
        (Some(p), _) if !p.is_empty() => {
            for id in &p {
                if uuid::Uuid::parse_str(id).is_err() {
                    return Err(problem(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("invalid UUID `{id}`"),
                    ));
                }
                if !store.projects.contains_key(id) {
                    return Err(problem(
                        StatusCode::NOT_FOUND,
                        format!("session {id} not found"),
                    ));
                }
            }
            p
        }
        (_, Some(d)) => store
            .projects
            .values()
            .filter(|p| p["reference_dataset_id"] == d.as_str())
            .filter_map(|p| p["id"].as_str().map(String::from))
            .collect(),
        _ => {
            return Err(problem(
                StatusCode::BAD_REQUEST,
                "one of project_ids or reference_dataset_id is required",
            ));
        }
    };
    let selects = strings(&b["selects"]).unwrap_or_else(|| vec!["ID".into()]);
    if let Some(bad) = selects
        .iter()
        .find(|s| !run_view::V2_SELECTS.contains(&s.as_str()))
    {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            format!("unknown select `{bad}`"),
        ));
    }
    let run_type = match b["run_type"].as_str() {
        None => None,
        Some(t)
            if [
                "TOOL",
                "CHAIN",
                "LLM",
                "RETRIEVER",
                "EMBEDDING",
                "PROMPT",
                "PARSER",
            ]
            .contains(&t) =>
        {
            Some(t.to_string())
        }
        Some(t) => {
            return Err(problem(
                StatusCode::BAD_REQUEST,
                format!("unknown run_type `{t}`"),
            ));
        }
    };
    let parse = |k: &str| -> ApiResult<Option<Expr>> {
        match b.get(k).and_then(Value::as_str) {
            None => Ok(None),
            Some(f) => Expr::parse(f)
                .map(Some)
                .map_err(|e| problem(StatusCode::BAD_REQUEST, format!("invalid {k}: {e}"))),
        }
    };
    let filter = parse("filter")?;
    let trace_filter = parse("trace_filter")?;
    let q = RunQuery {
        sessions: Some(sessions),
        ids: strings(&b["ids"]),
        trace: b["trace_id"].as_str().map(String::from),
        parent_run: None,
        run_type,
        is_root: b["is_root"].as_bool(),
        min_start_us: Some(min),
        max_start_us: Some(max),
        error: b["has_error"].as_bool(),
        reference_examples: strings(&b["reference_examples"]),
        filter,
        trace_filter,
    };
    let cursor = match b.get("cursor").and_then(Value::as_str) {
        None => None,
        Some(c) => Some(
            decode_cursor(c).ok_or_else(|| problem(StatusCode::BAD_REQUEST, "invalid cursor"))?,
        ),
    };
    let (runs, next) = page(&store, &q, cursor, page_size);
    let items: Vec<Value> = runs
        .iter()
        .map(|r| {
            let ds = r
                .str("session_id")
                .and_then(|s| store.projects.get(s))
                .and_then(|p| p["reference_dataset_id"].as_str());
            run_view::v2(&store, r, &selects, ds)
        })
        .collect();
    let mut out = json!({"items": items, "has_more": next.is_some()});
    if let Some(n) = next {
        out["next_cursor"] = json!(n);
    }
    Ok(Json(out))
}

pub async fn read_one(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let store = st.store.read();
    let run = store
        .run(&id)
        .ok_or_else(|| ApiError::not_found("Run not found"))?;
    Ok(Json(Value::Object(run_view::v1(&store, run))))
}
