//! `GET /api/public/health` (no auth) and `GET /api/public/projects`.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::AppState;

pub async fn health(State(st): State<AppState>) -> Json<Value> {
    Json(json!({"status": "OK", "version": st.profile().version()}))
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
