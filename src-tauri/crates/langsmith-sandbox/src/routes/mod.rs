//! The LangSmith API routes, each written once at its SDK path (the server strips `/api/v1`).

use axum::Router;
use axum::routing::{get, patch, post};

use crate::state::AppState;

pub(crate) mod datasets;
pub(crate) mod feedback;
mod info;
pub(crate) mod ingest;
mod projects;
pub(crate) mod prompts;
mod run_view;
mod runs_query;

/// Routes LangSmith serves without a key.
pub fn public() -> Router<AppState> {
    Router::new()
        .route("/info", get(info::info))
        .route("/ok", get(info::ok))
}

pub fn authed() -> Router<AppState> {
    Router::new()
        .route("/settings", get(info::settings))
        .route("/runs/query", post(runs_query::v1))
        .route("/v2/runs/query", post(runs_query::v2))
        .route("/runs/stats", post(runs_query::stats))
        .route("/runs/batch", post(ingest::batch))
        .route("/runs/multipart", post(ingest::multipart))
        .route("/runs", post(ingest::create))
        .route(
            "/runs/{id}",
            patch(ingest::update).get(runs_query::read_one),
        )
        .route("/sessions", get(projects::list).post(projects::create))
        .route("/sessions/{id}", get(projects::read))
        .route("/feedback", get(feedback::list).post(feedback::create))
        .route("/feedback/{id}", get(feedback::read))
        .route(
            "/feedback-configs",
            get(feedback::configs).post(feedback::create_config),
        )
        .route("/datasets", get(datasets::list).post(datasets::create))
        .route("/datasets/{id}", get(datasets::read))
        .route(
            "/examples",
            get(datasets::list_examples).post(datasets::create_example),
        )
        .route("/examples/bulk", post(datasets::create_examples))
        .route("/examples/count", get(datasets::count_examples))
        .route("/examples/{id}", get(datasets::read_example))
        .route("/repos", get(prompts::list).post(prompts::create))
        .route("/repos/{owner}/{repo}", get(prompts::read))
        .route(
            "/repos/{owner}/{repo}/tags",
            get(prompts::list_tags).post(prompts::create_tag),
        )
        .route(
            "/commits/{owner}/{repo}",
            get(prompts::list_commits).post(prompts::create_commit),
        )
        .route(
            "/commits/{owner}/{repo}/{commit}",
            get(prompts::read_commit),
        )
}

/// The JSON body of a request, or FastAPI's 422 for malformed JSON.
pub fn json_body(bytes: &[u8]) -> crate::error::ApiResult<serde_json::Value> {
    serde_json::from_slice(bytes).map_err(|e| {
        crate::error::ApiError::invalid_body(
            "body",
            format!("JSON decode error: {e}"),
            serde_json::Value::Null,
        )
    })
}
