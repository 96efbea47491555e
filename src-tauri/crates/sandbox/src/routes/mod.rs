//! The public API routes, assembled per server generation: an endpoint a generation does not
//! have is simply not routed and answers 404.

pub mod annotation_queues;
pub mod comments;
pub mod dashboards;
pub mod datasets;
pub mod evaluation_rules;
pub mod evaluators;
pub mod experiments;
pub mod health;
pub mod llm_connections;
pub mod media;
pub mod metrics;
pub mod models;
pub mod observations;
pub mod prompts;
pub mod score_configs;
pub mod scores;
pub mod sessions;
pub mod traces;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::params::{DEFAULT_PAGE_CAP, Page, Params, paged};
use crate::store::{Row, Table, to_value};

use crate::config::ServerProfile;
use crate::state::AppState;

/// Serializes straight into the response body (no intermediate `Value`).
pub fn json_body<T: Serialize>(v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(bytes) => ([(CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => ApiError::Status(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not serialize the response: {e}"),
        )
        .into_response(),
    }
}

/// A page of a table's rows that pass `keep`, newest first, as `{data, meta}`.
pub fn list_newest<T: Row + Serialize>(
    table: &Table<T>,
    p: &Params,
    keep: impl Fn(&T) -> bool,
) -> ApiResult<Json<Value>> {
    let page = Page::parse(p, DEFAULT_PAGE_CAP)?;
    let rows = table
        .desc_range(None, None, None)
        .filter_map(|(_, s)| table.get(s))
        .filter(|r| keep(r));
    let (rows, total) = page.take(rows);
    Ok(Json(paged(
        rows.into_iter().map(to_value).collect(),
        &page,
        total,
    )))
}

/// One row by id as the API returns it, or 404 with `what` in the message.
pub fn get_by_id<T: Row + Serialize>(
    table: &Table<T>,
    id: &str,
    what: &str,
) -> ApiResult<Json<Value>> {
    table
        .first_of(id)
        .and_then(|s| table.get(s))
        .map(|r| Json(to_value(r)))
        .ok_or_else(|| ApiError::not_found(format!("{what} not found")))
}

/// Routes that need Basic auth.
pub fn authed(profile: ServerProfile) -> Router<AppState> {
    use ServerProfile::*;
    let legacy = !profile.is_v4();
    let mut r = Router::new()
        .route("/api/public/projects", get(health::projects))
        .route("/api/public/ingestion", post(crate::ingestion::handle))
        .route(
            "/api/public/scores",
            if profile.is_current() {
                post(scores::create_batch)
            } else {
                post(scores::create)
            },
        )
        .route("/api/public/scores/{id}", delete(scores::delete))
        .route(
            "/api/public/v2/datasets",
            get(datasets::list).post(datasets::create),
        )
        .route("/api/public/v2/datasets/{name}", get(datasets::get))
        .route(
            "/api/public/dataset-items",
            get(datasets::items_list).post(datasets::items_create),
        )
        .route(
            "/api/public/dataset-items/{id}",
            get(datasets::items_get).delete(datasets::items_delete),
        )
        .route(
            "/api/public/v2/prompts",
            get(prompts::list).post(prompts::create),
        )
        .route(
            "/api/public/v2/prompts/{name}",
            get(prompts::get).delete(prompts::delete),
        )
        .route(
            "/api/public/v2/prompts/{name}/versions/{version}",
            axum::routing::patch(prompts::update_labels),
        )
        .route(
            "/api/public/score-configs",
            get(score_configs::list).post(score_configs::create),
        )
        .route(
            "/api/public/score-configs/{id}",
            get(score_configs::get).patch(score_configs::update),
        )
        .route("/api/public/models", get(models::list).post(models::create))
        .route(
            "/api/public/models/{id}",
            get(models::get).delete(models::delete),
        )
        .route(
            "/api/public/comments",
            get(comments::list).post(comments::create),
        )
        .route("/api/public/comments/{id}", get(comments::get))
        .merge(media::routes());
    r = match profile {
        V2 => r
            .route("/api/public/traces", get(traces::list))
            .route("/api/public/traces/{id}", get(traces::get)),
        V3 => r
            .route(
                "/api/public/traces",
                get(traces::list).delete(traces::delete_many),
            )
            .route(
                "/api/public/traces/{id}",
                get(traces::get).delete(traces::delete_one),
            ),
        // v4 keeps trace deletion but not the trace reads.
        V4 | V4_16 => r
            .route(
                "/api/public/traces",
                delete(traces::delete_many).fallback(no_route),
            )
            .route(
                "/api/public/traces/{id}",
                delete(traces::delete_one).fallback(no_route),
            ),
    };
    if legacy {
        r = r
            .route("/api/public/observations", get(observations::list_v1))
            .route("/api/public/observations/{id}", get(observations::get_v1))
            .route("/api/public/sessions", get(sessions::list))
            .route("/api/public/sessions/{id}", get(sessions::get))
            .route("/api/public/v2/scores", get(scores::list_v2))
            .route("/api/public/v2/scores/{id}", get(scores::get_v2))
            .route(
                "/api/public/dataset-run-items",
                get(datasets::run_items_list).post(datasets::run_items_create),
            )
            .route("/api/public/datasets/{name}/runs", get(datasets::runs_list))
            .route(
                "/api/public/datasets/{name}/runs/{run}",
                get(datasets::runs_get).delete(datasets::runs_delete),
            );
    }
    if profile != V2 {
        r = r
            .route("/api/public/v2/observations", get(observations::list_v2))
            .route("/api/public/v3/scores", get(scores::list_v3))
            .route("/api/public/otel/v1/traces", post(crate::otlp::handle))
            // Project settings that Langfuse v2's public API did not offer.
            .route(
                "/api/public/llm-connections",
                get(llm_connections::list).put(llm_connections::upsert),
            )
            .route(
                "/api/public/llm-connections/{id}",
                delete(llm_connections::delete),
            )
            .route(
                "/api/public/annotation-queues",
                get(annotation_queues::list_queues).post(annotation_queues::create_queue),
            )
            .route(
                "/api/public/annotation-queues/{queue}",
                get(annotation_queues::get_queue),
            )
            .route(
                "/api/public/annotation-queues/{queue}/items",
                get(annotation_queues::list_items).post(annotation_queues::create_item),
            )
            .route(
                "/api/public/annotation-queues/{queue}/items/{item}",
                get(annotation_queues::get_item)
                    .patch(annotation_queues::update_item)
                    .delete(annotation_queues::delete_item),
            )
            .route(
                "/api/public/annotation-queues/{queue}/assignments",
                post(annotation_queues::create_assignment)
                    .delete(annotation_queues::delete_assignment),
            );
    }
    if profile.is_v4() {
        r = r
            .route("/api/public/experiments", get(experiments::list))
            .route("/api/public/experiment-items", get(experiments::list_items))
            .route("/api/public/v2/metrics", get(metrics::query));
    }
    if profile.is_current() {
        // LLM-as-a-judge in the public API: servers from 4.59 on (4.16 had an unstable draft).
        r = r
            .route(
                "/api/public/v2/evaluators",
                get(evaluators::list).post(evaluators::create),
            )
            .route(
                "/api/public/v2/evaluators/{id}",
                get(evaluators::get)
                    .patch(evaluators::update)
                    .delete(evaluators::delete),
            )
            .route(
                "/api/public/v2/evaluators/{id}/versions",
                get(evaluators::versions),
            )
            .route(
                "/api/public/v2/evaluation-rules",
                get(evaluation_rules::list).post(evaluation_rules::create),
            )
            .route(
                "/api/public/v2/evaluation-rules/{id}",
                get(evaluation_rules::get)
                    .patch(evaluation_rules::update)
                    .delete(evaluation_rules::delete),
            )
            // Dashboards are `unstable` in the API: served by the current server only.
            .route(
                "/api/public/unstable/dashboard-widgets",
                get(dashboards::list_widgets).post(dashboards::create_widget),
            )
            .route(
                "/api/public/unstable/dashboard-widgets/{id}",
                get(dashboards::get_widget)
                    .patch(dashboards::update_widget)
                    .delete(dashboards::delete_widget),
            )
            .route(
                "/api/public/unstable/dashboards",
                get(dashboards::list_dashboards).post(dashboards::create_dashboard),
            )
            .route(
                "/api/public/unstable/dashboards/{id}",
                get(dashboards::get_dashboard)
                    .patch(dashboards::update_dashboard)
                    .delete(dashboards::delete_dashboard),
            )
            .route(
                "/api/public/unstable/dashboards/{id}/placements",
                post(dashboards::add_placement),
            )
            .route(
                "/api/public/unstable/dashboards/{id}/placements/{placement}",
                patch(dashboards::update_placement).delete(dashboards::delete_placement),
            );
    }
    r
}

async fn no_route() -> ApiError {
    ApiError::NoRoute
}
