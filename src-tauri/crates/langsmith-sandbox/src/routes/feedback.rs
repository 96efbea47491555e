//! Feedback: create (`POST /feedback`, and `feedback.<run>` multipart parts), list with
//! FastAPI's offset paging (`limit` ≤ 100), read one, and feedback configs (list and create).

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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Moves with every change to any store's feedback (an insert, a new or reset store): a cached
/// listing is current while it has not moved.
pub(crate) static FEEDBACK_CHANGES: AtomicU64 = AtomicU64::new(0);

/// The last listing's order (store, filters, changes seen → feedback ids, newest first). A
/// migration pages through every feedback of a project with offsets; filtering and sorting all
/// of them again for each page made the double, not the client, the slow side of a benchmark.
type Listing = (usize, String, u64, Arc<Vec<String>>);
static LISTED: Mutex<Option<Listing>> = Mutex::new(None);

/// Stores one feedback (`FeedbackCreateSchema`) and answers it as `FeedbackSchema`; the project,
/// trace and root flag come from the run, as LangSmith fills them.
pub fn insert(store: &mut Store, b: Value) -> ApiResult<Value> {
    let key = b["key"]
        .as_str()
        .ok_or_else(|| ApiError::invalid_body("key", "Field required", b.clone()))?
        .to_string();
    let id = b["id"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if store.feedback.contains_key(&id) {
        return Err(ApiError::conflict(format!("Feedback {id} already exists")));
    }
    let run_id = b["run_id"].as_str().map(String::from);
    let run = run_id.as_deref().and_then(|r| store.run(r));
    let now = timefmt::format_us(timefmt::now_us());
    let source = match &b["feedback_source"] {
        Value::Object(m) => json!({
            "type": m.get("type").cloned().unwrap_or(json!("api")),
            "metadata": m.get("metadata").cloned().unwrap_or(Value::Null),
            "user_id": m.get("user_id").cloned().unwrap_or(Value::Null),
        }),
        _ => json!({"type": "api", "metadata": null, "user_id": null}),
    };
    let created = b["created_at"]
        .as_str()
        .and_then(timefmt::parse_us)
        .map(timefmt::format_us)
        .unwrap_or(now.clone());
    let f = json!({
        "id": id,
        "created_at": created,
        "modified_at": b["modified_at"].as_str().and_then(timefmt::parse_us).map(timefmt::format_us).unwrap_or(created.clone()),
        "key": key,
        "score": b["score"],
        "value": b["value"],
        "comment": b["comment"],
        "correction": b["correction"],
        "feedback_group_id": b["feedback_group_id"],
        "comparative_experiment_id": b["comparative_experiment_id"],
        "run_id": run_id,
        "session_id": run.and_then(|r| r.str("session_id")).map(String::from).or_else(|| b["session_id"].as_str().map(String::from)),
        "trace_id": run.and_then(|r| r.str("trace_id")).map(String::from).or_else(|| b["trace_id"].as_str().map(String::from)),
        "start_time": run.and_then(|r| r.str("start_time")).map(String::from),
        "is_root": run.is_some_and(|r| r.is_root()),
        "feedback_source": source,
        "extra": b["extra"],
        "feedback_thread_id": null,
    });
    store.feedback.insert(id, f.clone());
    FEEDBACK_CHANGES.fetch_add(1, Ordering::SeqCst);
    Ok(f)
}

pub async fn create(State(st): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    let b = json_body(&body)?;
    Ok(Json(insert(&mut st.store.write(), b)?))
}

pub async fn read(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let store = st.store.read();
    store
        .feedback
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Feedback not found"))
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let (offset, limit) = p.page(100, 100)?;
    let runs = p.all("run");
    let keys = p.all("key");
    let sessions = p.all("session");
    let sources = p.all("source");
    let has_comment = p.bool("has_comment")?;
    let has_score = p.bool("has_score")?;
    let min_created = p.get("min_created_at").and_then(timefmt::parse_us);
    let max_created = p.get("max_created_at").and_then(timefmt::parse_us);
    let store = st.store.read();
    let filters = format!(
        "{runs:?}{keys:?}{sessions:?}{sources:?}{has_comment:?}{has_score:?}{min_created:?}{max_created:?}"
    );
    let at = &*store as *const Store as usize;
    let changes = FEEDBACK_CHANGES.load(Ordering::SeqCst);
    let cached = LISTED
        .lock()
        .expect("listing cache")
        .as_ref()
        .filter(|(a, f, c, _)| *a == at && *f == filters && *c == changes)
        .map(|(.., ids)| ids.clone());
    let ids = match cached {
        Some(ids) => ids,
        None => {
            let mut items: Vec<_> = store
                .feedback
                .values()
                .filter(|f| runs.is_empty() || runs.iter().any(|r| f["run_id"] == *r))
                .filter(|f| keys.is_empty() || keys.iter().any(|k| f["key"] == *k))
                .filter(|f| sessions.is_empty() || sessions.iter().any(|s| f["session_id"] == *s))
                .filter(|f| {
                    sources.is_empty() || sources.iter().any(|s| f["feedback_source"]["type"] == *s)
                })
                .filter(|f| has_comment.is_none_or(|h| h == f["comment"].is_string()))
                .filter(|f| has_score.is_none_or(|h| h != f["score"].is_null()))
                .filter(|f| {
                    let c = f["created_at"]
                        .as_str()
                        .and_then(timefmt::parse_us)
                        .unwrap_or(0);
                    min_created.is_none_or(|m| c >= m) && max_created.is_none_or(|m| c <= m)
                })
                .map(|f| {
                    (
                        f["created_at"].as_str(),
                        f["id"].as_str().unwrap_or_default(),
                    )
                })
                .collect();
            // Newest first, id as tie-break so offsets are stable.
            items.sort_unstable_by(|a, b| b.cmp(a));
            let ids: Arc<Vec<String>> =
                Arc::new(items.into_iter().map(|(_, id)| id.to_string()).collect());
            *LISTED.lock().expect("listing cache") = Some((at, filters, changes, ids.clone()));
            ids
        }
    };
    let items: Vec<&Value> = ids
        .iter()
        .skip(offset)
        .take(limit)
        .filter_map(|id| store.feedback.get(id))
        .collect();
    Ok(Json(json!(items)))
}

pub async fn configs(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let (offset, limit) = p.page(100, 100)?;
    let keys = p.all("key");
    let store = st.store.read();
    let items: Vec<&Value> = store
        .feedback_configs
        .values()
        .filter(|c| keys.is_empty() || keys.iter().any(|k| c["feedback_key"] == *k))
        .collect();
    Ok(Json(json!(slice(&items, offset, limit))))
}

/// `POST /feedback-configs` (`CreateFeedbackConfigSchema`): one config per feedback key in the
/// workspace; answered as `FeedbackConfigSchema`.
pub async fn create_config(State(st): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    let b = json_body(&body)?;
    let key = b["feedback_key"]
        .as_str()
        .ok_or_else(|| ApiError::invalid_body("feedback_key", "Field required", b.clone()))?
        .to_string();
    if !b["feedback_config"].is_object() {
        return Err(ApiError::invalid_body(
            "feedback_config",
            "Field required",
            b.clone(),
        ));
    }
    let mut store = st.store.write();
    if store.feedback_configs.contains_key(&key) {
        return Err(ApiError::conflict(format!(
            "Feedback config for key {key} already exists"
        )));
    }
    let c = json!({
        "feedback_key": key,
        "feedback_config": b["feedback_config"],
        "tenant_id": store.tenant_id,
        "modified_at": timefmt::format_us(timefmt::now_us()),
        "is_lower_score_better": b["is_lower_score_better"].as_bool().unwrap_or(false),
    });
    store.feedback_configs.insert(key, c.clone());
    Ok(Json(c))
}
