//! Annotation queues (Langfuse v3 and later): queues are created and read (no delete, no update
//! in the public API), their items created, read, updated (status) and deleted, user
//! assignments created and deleted (there is no read for them). Project membership is not
//! modelled: any user id may be assigned.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::params::{DEFAULT_PAGE_CAP, Page, Params, paged};
use crate::state::AppState;
use crate::store::{AnnotationQueueItemRow, AnnotationQueueRow, Store, new_id, to_value};
use crate::timefmt::{fmt, now_ms};

const STATUSES: [&str; 2] = ["PENDING", "COMPLETED"];
const OBJECT_TYPES: [&str; 3] = ["TRACE", "OBSERVATION", "SESSION"];

/// The queue as the API shows it (assignments are not part of it).
fn view(q: &AnnotationQueueRow) -> Value {
    json!({
        "id": q.id,
        "name": q.name,
        "description": q.description,
        "scoreConfigIds": q.score_config_ids,
        "createdAt": fmt(q.created_at),
        "updatedAt": fmt(q.updated_at),
    })
}

fn queue<'a>(store: &'a Store, id: &str) -> ApiResult<&'a AnnotationQueueRow> {
    store
        .annotation_queues
        .first_of(id)
        .and_then(|s| store.annotation_queues.get(s))
        .ok_or_else(|| ApiError::not_found("Annotation queue not found"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateQueue {
    name: String,
    description: Option<String>,
    score_config_ids: Vec<String>,
}

pub async fn create_queue(State(st): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let req: CreateQueue = crate::body::json(body).await?;
    if req.name.trim().is_empty() {
        return Err(ApiError::bad("name: must not be empty"));
    }
    let mut store = st.store.write();
    if store
        .annotation_queues
        .iter()
        .any(|(_, q)| q.name == req.name)
    {
        return Err(ApiError::bad(format!(
            "An annotation queue named \"{}\" already exists in this project",
            req.name
        )));
    }
    for id in &req.score_config_ids {
        if store.score_configs.first_of(id).is_none() {
            return Err(ApiError::bad(format!(
                "scoreConfigIds: score config {id} does not exist in this project"
            )));
        }
    }
    let now = now_ms();
    let row = AnnotationQueueRow {
        id: new_id(),
        name: req.name,
        description: req.description,
        score_config_ids: req.score_config_ids,
        assigned_user_ids: vec![],
        created_at: now,
        updated_at: now,
        visible_at: 0,
    };
    let out = view(&row);
    store.annotation_queues.insert(row);
    Ok(Json(out))
}

pub async fn list_queues(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let page = Page::parse(&Params::parse(q.as_deref()), DEFAULT_PAGE_CAP)?;
    let store = st.store.read();
    let mut rows: Vec<&AnnotationQueueRow> =
        store.annotation_queues.iter().map(|(_, q)| q).collect();
    rows.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let (rows, total) = page.take(rows.into_iter());
    Ok(Json(paged(
        rows.into_iter().map(view).collect(),
        &page,
        total,
    )))
}

pub async fn get_queue(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(view(queue(&st.store.read(), &id)?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateItem {
    object_id: String,
    object_type: String,
    status: Option<String>,
}

fn check_status(s: &str) -> ApiResult<()> {
    if STATUSES.contains(&s) {
        Ok(())
    } else {
        Err(ApiError::bad(format!("status: Invalid enum value `{s}`")))
    }
}

pub async fn create_item(
    State(st): State<AppState>,
    Path(queue_id): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let req: CreateItem = crate::body::json(body).await?;
    if !OBJECT_TYPES.contains(&req.object_type.as_str()) {
        return Err(ApiError::bad(format!(
            "objectType: Invalid enum value `{}`",
            req.object_type
        )));
    }
    let status = req.status.unwrap_or_else(|| "PENDING".into());
    check_status(&status)?;
    let mut store = st.store.write();
    queue(&store, &queue_id)?;
    let now = now_ms();
    let row = AnnotationQueueItemRow {
        id: new_id(),
        queue_id,
        object_id: req.object_id,
        object_type: req.object_type,
        completed_at: (status == "COMPLETED").then_some(now),
        status,
        created_at: now,
        updated_at: now,
        visible_at: 0,
    };
    let out = to_value(&row);
    store.annotation_queue_items.insert(row);
    Ok(Json(out))
}

pub async fn list_items(
    State(st): State<AppState>,
    Path(queue_id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(q.as_deref());
    let page = Page::parse(&params, DEFAULT_PAGE_CAP)?;
    let status = params.get("status");
    if let Some(s) = status {
        check_status(s)?;
    }
    let store = st.store.read();
    queue(&store, &queue_id)?;
    let mut rows: Vec<&AnnotationQueueItemRow> = store
        .annotation_queue_items
        .iter()
        .map(|(_, i)| i)
        .filter(|i| i.queue_id == queue_id && status.is_none_or(|s| i.status == s))
        .collect();
    rows.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let (rows, total) = page.take(rows.into_iter());
    Ok(Json(paged(
        rows.into_iter().map(to_value).collect(),
        &page,
        total,
    )))
}

fn item_slot(store: &Store, queue_id: &str, item_id: &str) -> ApiResult<u32> {
    store
        .annotation_queue_items
        .first_of(item_id)
        .filter(|s| {
            store
                .annotation_queue_items
                .get(*s)
                .is_some_and(|i| i.queue_id == queue_id)
        })
        .ok_or_else(|| ApiError::not_found("Annotation queue item not found"))
}

pub async fn get_item(
    State(st): State<AppState>,
    Path((queue_id, item_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let store = st.store.read();
    let slot = item_slot(&store, &queue_id, &item_id)?;
    Ok(Json(to_value(
        store.annotation_queue_items.get(slot).expect("live slot"),
    )))
}

#[derive(Deserialize)]
struct UpdateItem {
    status: Option<String>,
}

pub async fn update_item(
    State(st): State<AppState>,
    Path((queue_id, item_id)): Path<(String, String)>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let req: UpdateItem = crate::body::json(body).await?;
    let mut store = st.store.write();
    let slot = item_slot(&store, &queue_id, &item_id)?;
    let item = store
        .annotation_queue_items
        .get_mut(slot)
        .expect("live slot");
    if let Some(s) = req.status {
        check_status(&s)?;
        let now = now_ms();
        item.completed_at = (s == "COMPLETED").then(|| item.completed_at.unwrap_or(now));
        item.status = s;
        item.updated_at = now;
    }
    Ok(Json(to_value(&*item)))
}

pub async fn delete_item(
    State(st): State<AppState>,
    Path((queue_id, item_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut store = st.store.write();
    let slot = item_slot(&store, &queue_id, &item_id)?;
    store.annotation_queue_items.remove(slot);
    Ok(Json(
        json!({"success": true, "message": "Annotation queue item deleted"}),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Assignment {
    user_id: String,
}

pub async fn create_assignment(
    State(st): State<AppState>,
    Path(queue_id): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let req: Assignment = crate::body::json(body).await?;
    let mut store = st.store.write();
    let project_id = store.project_id.clone();
    let slot = store
        .annotation_queues
        .first_of(&queue_id)
        .ok_or_else(|| ApiError::not_found("Annotation queue not found"))?;
    let q = store.annotation_queues.get_mut(slot).expect("live slot");
    if !q.assigned_user_ids.contains(&req.user_id) {
        q.assigned_user_ids.push(req.user_id.clone());
    }
    Ok(Json(
        json!({"userId": req.user_id, "queueId": queue_id, "projectId": project_id}),
    ))
}

pub async fn delete_assignment(
    State(st): State<AppState>,
    Path(queue_id): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let req: Assignment = crate::body::json(body).await?;
    let mut store = st.store.write();
    let slot = store
        .annotation_queues
        .first_of(&queue_id)
        .ok_or_else(|| ApiError::not_found("Annotation queue not found"))?;
    let q = store.annotation_queues.get_mut(slot).expect("live slot");
    q.assigned_user_ids.retain(|u| *u != req.user_id);
    Ok(Json(json!({"success": true})))
}
