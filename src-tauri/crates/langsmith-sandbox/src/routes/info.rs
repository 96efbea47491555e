//! `/info` (public; the SDK reads `batch_ingest_config` to choose multipart ingestion, and
//! `instance_flags` to choose its query backend), `/ok`, and `/settings` (the workspace).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::AppState;

pub async fn info(State(st): State<AppState>) -> Json<Value> {
    // A server without v2 queries reports a self-hosted version older than 0.16.
    let version = if st.config.v2_queries {
        "0.16.4"
    } else {
        "0.10.108"
    };
    Json(json!({
        "version": version,
        "git_sha": null,
        "license_expiration_time": null,
        "batch_ingest_config": {
            "use_multipart_endpoint": true,
            "scale_up_qsize_trigger": 1000,
            "scale_up_nthreads_limit": 16,
            "scale_down_nempty_trigger": 4,
            "size_limit": 100,
            "size_limit_bytes": 20_971_520,
        },
        "instance_flags": {
            "ch_query_enabled": true,
            "dataset_examples_multipart_enabled": false,
            "examples_multipart_enabled": false,
            "zstd_compression_enabled": false,
        },
        "customer_info": null,
    }))
}

pub async fn ok() -> Json<Value> {
    Json(json!({"ok": true}))
}

pub async fn settings(State(st): State<AppState>) -> Json<Value> {
    let tenant = st.store.read().tenant_id.clone();
    Json(json!({
        "id": tenant,
        "display_name": "Sandbox workspace",
        "tenant_handle": null,
        "created_at": "2026-01-05T08:00:00.000000Z",
    }))
}
