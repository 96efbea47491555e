//! Sessions (v2/v3): created with the first trace that names them.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::params::{DEFAULT_PAGE_CAP, Page, Params, paged};
use crate::state::AppState;
use crate::store::{SessionRow, Store, to_value};
use crate::views;

/// Records a session the first time a trace refers to it.
pub fn touch(store: &mut Store, id: &str, environment: &str, created_at: i64, visible_at: u64) {
    if store.sessions.first_of(id).is_none() {
        let project_id = store.project_id.clone();
        store.sessions.insert(SessionRow {
            id: id.to_string(),
            created_at,
            project_id,
            environment: environment.to_string(),
            visible_at,
        });
    }
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let page = Page::parse(&p, DEFAULT_PAGE_CAP)?;
    let (from, to) = (p.time("fromTimestamp")?, p.time("toTimestamp")?);
    let envs = p.all("environment");
    let now = st.clock.now();
    let store = st.store.read();
    let rows = store
        .sessions
        .desc_range(from, to, None)
        .filter_map(|(_, s)| store.sessions.get(s))
        .filter(|s| {
            s.visible_at <= now && (envs.is_empty() || envs.contains(&s.environment.as_str()))
        });
    let (rows, total) = page.take(rows);
    Ok(Json(paged(
        rows.into_iter().map(to_value).collect(),
        &page,
        total,
    )))
}

pub async fn get(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let now = st.clock.now();
    let store = st.store.read();
    let s = store
        .sessions
        .first_of(&id)
        .and_then(|slot| store.sessions.get(slot))
        .filter(|s| s.visible_at <= now)
        .ok_or_else(|| ApiError::not_found("Session not found"))?;
    let mut traces: Vec<_> = store
        .traces
        .iter()
        .filter(|(_, t)| t.visible_at <= now && t.session_id.as_deref() == Some(id.as_str()))
        .map(|(_, t)| t)
        .collect();
    traces.sort_by_key(|t| t.timestamp);
    let mut v = to_value(s);
    v["traces"] = json!(
        traces
            .into_iter()
            .map(|t| Value::Object(core_trace(t)))
            .collect::<Vec<_>>()
    );
    Ok(Json(v))
}

fn core_trace(t: &crate::store::TraceRow) -> serde_json::Map<String, Value> {
    let mut m = views::trace_core(t, true);
    m.remove("htmlPath");
    m
}
