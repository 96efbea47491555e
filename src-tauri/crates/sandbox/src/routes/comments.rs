//! Comments on traces, observations, sessions and prompts. They cannot be deleted through the API.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{get_by_id, list_newest};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::store::{CommentRow, Row, Store, Table, new_id};
use crate::timefmt::now_ms;

const OBJECT_TYPES: [&str; 4] = ["TRACE", "OBSERVATION", "SESSION", "PROMPT"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateComment {
    /// Required by the spec; the project is the one the key belongs to.
    #[serde(rename = "projectId")]
    _project_id: String,
    object_type: String,
    object_id: String,
    content: String,
    author_user_id: Option<String>,
}

/// Langfuse checks that a comment's object exists (and is visible) before storing it.
fn object_exists(store: &Store, object_type: &str, id: &str, now: u64) -> bool {
    let derived = store.derived_traces();
    match object_type {
        "TRACE" if derived => store.observations.slots_of_trace(id).iter().any(|s| {
            store
                .observations
                .get(*s)
                .is_some_and(|o| o.visible_at <= now)
        }),
        "TRACE" => visible(&store.traces, id, now),
        "OBSERVATION" => visible(&store.observations, id, now),
        "SESSION" if derived => store
            .observations
            .iter()
            .any(|(_, o)| o.visible_at <= now && o.session_id.as_deref() == Some(id)),
        "SESSION" => visible(&store.sessions, id, now),
        "PROMPT" => store.prompts.first_of(id).is_some(),
        _ => false,
    }
}

fn visible<T: Row>(table: &Table<T>, id: &str, now: u64) -> bool {
    table
        .slots_of(id)
        .iter()
        .any(|s| table.get(*s).is_some_and(|r| r.visible_at() <= now))
}

pub async fn create(State(st): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let req: CreateComment = crate::body::json(body).await?;
    let object_type = req.object_type.to_uppercase();
    if !OBJECT_TYPES.contains(&object_type.as_str()) {
        return Err(ApiError::bad(format!(
            "objectType: Invalid enum value `{}`",
            req.object_type
        )));
    }
    if req.content.is_empty() || req.content.chars().count() > 5000 {
        return Err(ApiError::bad("content: must be 1 to 5000 characters"));
    }
    let now = now_ms();
    let mut store = st.store.write();
    if !object_exists(&store, &object_type, &req.object_id, st.clock.now()) {
        return Err(ApiError::not_found(format!(
            "No {object_type} with id {} in project {}",
            req.object_id, store.project_id
        )));
    }
    let row = CommentRow {
        id: new_id(),
        project_id: store.project_id.clone(),
        created_at: now,
        updated_at: now,
        object_type,
        object_id: req.object_id,
        content: req.content,
        author_user_id: req.author_user_id,
        visible_at: 0,
    };
    let id = row.id.clone();
    store.comments.insert(row);
    Ok(Json(json!({"id": id})))
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    if p.get("objectId").is_some() && p.get("objectType").is_none() {
        return Err(ApiError::bad(
            "objectType is required when objectId is given",
        ));
    }
    let object_type = p.get("objectType").map(str::to_uppercase);
    list_newest(&st.store.read().comments, &p, |c| {
        object_type.as_ref().is_none_or(|t| &c.object_type == t)
            && p.get("objectId").is_none_or(|o| c.object_id == o)
            && p.get("authorUserId")
                .is_none_or(|a| c.author_user_id.as_deref() == Some(a))
    })
}

pub async fn get(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    get_by_id(&st.store.read().comments, &id, "Comment")
}
