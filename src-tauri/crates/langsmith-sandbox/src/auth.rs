//! `x-api-key` auth as LangSmith answers it: no key or an unknown one is a 401
//! `{"detail": "Invalid token"}`; a well-formed LangSmith key that this workspace does not know
//! (another region's or another organisation's) is a 403 `{"detail": "Forbidden"}`.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

pub async fn require(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let key = req
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if key == st.config.api_key {
        return next.run(req).await;
    }
    if key.starts_with("lsv2_") {
        return ApiError::Detail(StatusCode::FORBIDDEN, "Forbidden".into()).into_response();
    }
    ApiError::Detail(StatusCode::UNAUTHORIZED, "Invalid token".into()).into_response()
}
