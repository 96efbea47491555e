//! The test-only admin surface under `/_sandbox/` (no auth; the server binds loopback).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use langfuse_sandbox::FaultConfig;
use serde_json::{Value, json};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reset", post(reset))
        .route("/dump", get(dump))
        .route("/counts", get(counts))
        .route("/faults", get(get_faults).put(put_faults))
        .route("/requests", get(requests))
}

/// API-key requests so far per rate-limit bucket, and those answered 429.
async fn requests(State(st): State<AppState>) -> Json<Value> {
    Json(json!(*st.requests.lock()))
}

async fn reset(State(st): State<AppState>) -> StatusCode {
    st.store.write().reset();
    StatusCode::NO_CONTENT
}

async fn dump(State(st): State<AppState>) -> Json<Value> {
    Json(st.store.read().dump())
}

async fn counts(State(st): State<AppState>) -> Json<Value> {
    Json(json!(st.store.read().counts()))
}

async fn get_faults(State(st): State<AppState>) -> Json<FaultConfig> {
    Json(st.faults.lock().config().clone())
}

async fn put_faults(State(st): State<AppState>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultConfig>(&body) {
        Ok(cfg) => {
            st.faults.lock().set(cfg);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"detail": e.to_string()})),
        )
            .into_response(),
    }
}
