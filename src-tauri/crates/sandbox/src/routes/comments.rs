//! Comments on traces, observations, sessions and prompts. They cannot be deleted through the API.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::params::{DEFAULT_PAGE_CAP, Page, Params, paged};
use crate::state::AppState;
use crate::store::{CommentRow, new_id, to_value};
use crate::timefmt::now_ms;

const OBJECT_TYPES: [&str; 4] = ["TRACE", "OBSERVATION", "SESSION", "PROMPT"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateComment {
    #[allow(dead_code)]
    project_id: String,
    object_type: String,
    object_id: String,
    content: String,
    author_user_id: Option<String>,
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
    let page = Page::parse(&p, DEFAULT_PAGE_CAP)?;
    if p.get("objectId").is_some() && p.get("objectType").is_none() {
        return Err(ApiError::bad(
            "objectType is required when objectId is given",
        ));
    }
    let object_type = p.get("objectType").map(str::to_uppercase);
    let store = st.store.read();
    let rows = store
        .comments
        .desc_range(None, None, None)
        .filter_map(|(_, s)| store.comments.get(s))
        .filter(|c| {
            object_type.as_ref().is_none_or(|t| &c.object_type == t)
                && p.get("objectId").is_none_or(|o| c.object_id == o)
                && p.get("authorUserId")
                    .is_none_or(|a| c.author_user_id.as_deref() == Some(a))
        });
    let (rows, total) = page.take(rows);
    Ok(Json(paged(
        rows.into_iter().map(to_value).collect(),
        &page,
        total,
    )))
}

pub async fn get(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let store = st.store.read();
    let row = store
        .comments
        .first_of(&id)
        .and_then(|s| store.comments.get(s))
        .ok_or_else(|| ApiError::not_found("Comment not found"))?;
    Ok(Json(to_value(row)))
}
