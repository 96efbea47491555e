//! `GET /api/public/health` (no auth) and `GET /api/public/projects`.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::AppState;

pub async fn health(State(st): State<AppState>) -> Json<Value> {
    let version = st
        .config
        .health_version
        .clone()
        .unwrap_or_else(|| st.profile().version().to_owned());
    Json(json!({"status": "OK", "version": version}))
}

pub async fn projects(State(st): State<AppState>) -> Json<Value> {
    let store = st.store.read();
    Json(json!({"data": [{
        "id": store.project_id,
        "name": store.project_name,
        "organization": {"id": "sandbox-org", "name": "Sandbox organization"},
        "metadata": {},
        "retentionDays": null,
    }]}))
}
