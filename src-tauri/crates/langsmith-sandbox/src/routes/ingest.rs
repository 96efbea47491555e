//! Run ingestion as the SDK sends it: `POST /runs/multipart` (what `/info` tells it to use),
//! `POST /runs/batch` (its fallback), `POST /runs` and `PATCH /runs/{id}`. Missing project names
//! create the project, missing trace ids and dotted orders are derived, as LangSmith does.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::{feedback, json_body};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{Run, Store, derive_status_and_usage};
use crate::timefmt;

type Accepted = (StatusCode, Json<Value>);

/// Accepted: the spec types the body of `/runs`, `/runs/batch` and `PATCH /runs/{id}` as a map
/// whose values are both a string and an object, which only an empty map satisfies;
/// `/runs/multipart` maps to strings.
fn accepted(msg: Option<&str>) -> Accepted {
    let body = match msg {
        Some(m) => json!({"message": m}),
        None => json!({}),
    };
    (StatusCode::ACCEPTED, Json(body))
}

fn normalise_time(v: &mut Map<String, Value>, k: &str) -> Option<i64> {
    let us = v
        .get(k)
        .and_then(Value::as_str)
        .and_then(timefmt::parse_us)?;
    v.insert(k.into(), json!(timefmt::format_us(us)));
    Some(us)
}

/// Stores a posted run; `Ok(false)` when that id is already there (LangSmith ignores the repeat).
pub fn post_run(store: &mut Store, mut v: Map<String, Value>) -> ApiResult<bool> {
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| uuid::Uuid::parse_str(s).is_ok())
        .ok_or_else(|| {
            ApiError::Go(
                StatusCode::UNPROCESSABLE_ENTITY,
                "run id must be a UUID".into(),
            )
        })?
        .to_string();
    if store.run(&id).is_some() {
        return Ok(false);
    }
    let start_us = normalise_time(&mut v, "start_time").unwrap_or_else(timefmt::now_us);
    v.insert("start_time".into(), json!(timefmt::format_us(start_us)));
    normalise_time(&mut v, "end_time");
    let session = match v.get("session_id").and_then(Value::as_str) {
        Some(s) if store.projects.contains_key(s) => s.to_string(),
        _ => {
            let name = v
                .get("session_name")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string();
            store.ensure_project(&name)
        }
    };
    v.remove("session_name");
    v.insert("session_id".into(), json!(session));
    let parent = v
        .get("parent_run_id")
        .and_then(Value::as_str)
        .map(String::from);
    let parent_run = parent.as_deref().and_then(|p| store.run(p));
    if v.get("trace_id").and_then(Value::as_str).is_none() {
        let t = parent_run
            .and_then(|p| p.str("trace_id"))
            .unwrap_or(&id)
            .to_string();
        v.insert("trace_id".into(), json!(t));
    }
    if v.get("dotted_order").and_then(Value::as_str).is_none() {
        let seg = timefmt::dotted_segment(start_us, &id);
        let d = match parent_run {
            Some(p) => format!("{}.{seg}", p.dotted_order()),
            None => seg,
        };
        v.insert("dotted_order".into(), json!(d));
    }
    let mut run = Run { start_us, v };
    if run.v.get("parent_run_id").is_none_or(Value::is_null) {
        let p = run.ancestors().last().cloned();
        run.v.insert("parent_run_id".into(), json!(p));
    }
    if run.v.get("first_token_time").is_none_or(Value::is_null)
        && let Some(t) = run
            .v
            .get("events")
            .and_then(Value::as_array)
            .and_then(|evs| evs.iter().find(|e| e["name"] == "new_token"))
            .and_then(|e| e["time"].as_str())
            .and_then(timefmt::parse_us)
    {
        run.v
            .insert("first_token_time".into(), json!(timefmt::format_us(t)));
    }
    for k in ["serialized", "input_attachments", "output_attachments"] {
        run.v.remove(k);
    }
    derive_status_and_usage(&mut run.v);
    store.insert_run(run);
    Ok(true)
}

pub fn patch_run(store: &mut Store, id: &str, mut v: Map<String, Value>) {
    normalise_time(&mut v, "end_time");
    for k in [
        "session_name",
        "session_id",
        "parent_run_id",
        "serialized",
        "input_attachments",
        "output_attachments",
    ] {
        v.remove(k);
    }
    store.patch_run(id, v);
}

fn as_object(v: Value, what: &str) -> ApiResult<Map<String, Value>> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::Go(
            StatusCode::BAD_REQUEST,
            format!("{what} must be a JSON object"),
        )),
    }
}

pub async fn create(State(st): State<AppState>, body: Bytes) -> ApiResult<Accepted> {
    let v = as_object(json_body(&body)?, "run")?;
    let created = post_run(&mut st.store.write(), v)?;
    if !created {
        return Err(ApiError::Go(
            StatusCode::CONFLICT,
            "run already exists".into(),
        ));
    }
    Ok(accepted(None))
}

pub async fn update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Accepted> {
    let v = as_object(json_body(&body)?, "run")?;
    patch_run(&mut st.store.write(), &id, v);
    Ok(accepted(None))
}

pub async fn batch(State(st): State<AppState>, body: Bytes) -> ApiResult<Accepted> {
    let b = json_body(&body)?;
    let mut store = st.store.write();
    for r in b["post"].as_array().cloned().unwrap_or_default() {
        post_run(&mut store, as_object(r, "run")?)?;
    }
    for r in b["patch"].as_array().cloned().unwrap_or_default() {
        let m = as_object(r, "run")?;
        let id = m
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        patch_run(&mut store, &id, m);
    }
    Ok(accepted(None))
}

/// Parts named `post.<id>`, `post.<id>.<field>`, `patch.<id>[.<field>]`, `feedback.<id>`,
/// `attachment.<id>.<name>` (attachments are accepted and not stored).
pub async fn multipart(State(st): State<AppState>, mut form: Multipart) -> ApiResult<Accepted> {
    let bad = |e: String| ApiError::Go(StatusCode::BAD_REQUEST, e);
    let mut posts: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut patches: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut feedback_parts = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|e| bad(e.to_string()))? {
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.map_err(|e| bad(e.to_string()))?;
        let mut it = name.splitn(3, '.');
        let (event, id, sub) = (it.next().unwrap_or(""), it.next().unwrap_or(""), it.next());
        if event == "attachment" {
            continue;
        }
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("part `{name}` is not JSON: {e}")))?;
        let target = match event {
            "post" => &mut posts,
            "patch" => &mut patches,
            "feedback" => {
                feedback_parts.push(value);
                continue;
            }
            other => return Err(bad(format!("unknown part event `{other}`"))),
        };
        let entry = target.entry(id.to_string()).or_default();
        match sub {
            None => {
                if let Value::Object(m) = value {
                    entry.extend(m);
                }
            }
            Some(f) => {
                entry.insert(f.to_string(), value);
            }
        }
    }
    let mut store = st.store.write();
    for (id, mut m) in posts {
        m.entry("id").or_insert(json!(id));
        post_run(&mut store, m)?;
    }
    for (id, m) in patches {
        patch_run(&mut store, &id, m);
    }
    for f in feedback_parts {
        feedback::insert(&mut store, f).map_err(|e| match e {
            ApiError::Detail(s, m) => ApiError::Go(s, m),
            other => other,
        })?;
    }
    Ok(accepted(Some("Runs ingested")))
}
