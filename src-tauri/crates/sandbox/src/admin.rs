//! The test-only admin surface under `/_sandbox/` (no Langfuse auth; the server binds loopback).

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde_json::{Value, json};

use crate::config::FaultConfig;
use crate::error::{ApiError, SandboxError};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reset", post(reset))
        .route("/dump", get(dump))
        .route("/counts", get(counts))
        .route("/requests", get(requests))
        .route("/faults", get(get_faults).put(put_faults))
        .route("/settle", post(settle))
        .route("/objects/{entity}", post(insert))
        .route(
            "/objects/{entity}/{id}",
            patch(patch_row).delete(delete_row),
        )
        .merge(crate::media::admin::router())
}

fn sandbox_error(e: SandboxError) -> Response {
    let status = match e {
        SandboxError::NotFound { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, Json(json!({"message": e.to_string()}))).into_response()
}

async fn reset(State(st): State<AppState>) -> StatusCode {
    st.store.write().reset();
    st.media.lock().clear();
    StatusCode::NO_CONTENT
}

async fn dump(State(st): State<AppState>) -> Json<Value> {
    Json(st.store.read().dump())
}

async fn counts(State(st): State<AppState>) -> Json<Value> {
    Json(json!(st.store.read().counts()))
}

/// Public API requests received so far, rows the list reads returned, and requests answered 429,
/// per `METHOD /path`.
async fn requests(State(st): State<AppState>) -> Json<Value> {
    Json(json!({
        "requests": *st.requests.lock(),
        "rows": *st.rows_listed.lock(),
        "throttled": *st.throttled.lock(),
    }))
}

async fn get_faults(State(st): State<AppState>) -> Json<FaultConfig> {
    Json(st.faults.lock().config().clone())
}

async fn put_faults(State(st): State<AppState>, body: Body) -> Result<StatusCode, ApiError> {
    let cfg: FaultConfig = crate::body::json(body).await?;
    st.faults.lock().set(cfg);
    Ok(StatusCode::NO_CONTENT)
}

async fn settle(State(st): State<AppState>) -> StatusCode {
    st.store.write().make_all_visible();
    StatusCode::NO_CONTENT
}

async fn insert(State(st): State<AppState>, Path(entity): Path<String>, body: Body) -> Response {
    let row: Value = match crate::body::json(body).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    match st.store.write().insert_raw(&entity, row) {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(e) => sandbox_error(e),
    }
}

async fn patch_row(
    State(st): State<AppState>,
    Path((entity, id)): Path<(String, String)>,
    body: Body,
) -> Response {
    let patch: Value = match crate::body::json(body).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    match st.store.write().patch_raw(&entity, &id, patch) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => sandbox_error(e),
    }
}

async fn delete_row(
    State(st): State<AppState>,
    Path((entity, id)): Path<(String, String)>,
) -> Response {
    match st.store.write().delete_raw(&entity, &id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => sandbox_error(e),
    }
}
