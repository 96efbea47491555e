//! The test-only media controls under `/_sandbox/` (see `crate::admin`).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use super::sample::{MediaSample, MediaSampleSpec};
use super::{MediaInfo, MediaSettings};
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/media", get(list))
        .route("/media/{id}", delete(remove))
        .route("/media-sample", post(sample))
        .route("/media-settings", get(get_settings).put(put_settings))
}

async fn list(State(st): State<AppState>) -> Json<Vec<MediaInfo>> {
    Json(st.media.lock().infos())
}

async fn remove(State(st): State<AppState>, Path(id): Path<String>) -> StatusCode {
    if st.media.lock().remove(&id) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn sample(State(st): State<AppState>, body: Body) -> Result<Json<MediaSample>, ApiError> {
    let spec: MediaSampleSpec = crate::body::json(body).await?;
    let mut store = st.store.write();
    Ok(Json(super::sample::generate(
        &mut store,
        &mut st.media.lock(),
        &spec,
    )))
}

async fn get_settings(State(st): State<AppState>) -> Json<MediaSettings> {
    Json(st.media.lock().settings.clone())
}

async fn put_settings(State(st): State<AppState>, body: Body) -> Result<StatusCode, ApiError> {
    let settings: MediaSettings = crate::body::json(body).await?;
    st.media.lock().settings = settings;
    Ok(StatusCode::NO_CONTENT)
}
