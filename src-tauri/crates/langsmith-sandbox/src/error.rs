//! Error answers in LangSmith's three shapes: FastAPI's `{"detail": ...}` (the Python API),
//! `{"error": ...}` (the Go ingest and hub services) and RFC 7807 problem details (v2 queries).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub enum ApiError {
    /// `{"detail": msg}` with the status.
    Detail(StatusCode, String),
    /// FastAPI's 422 for one parameter: `{"detail": [{type, loc, msg, input}]}`.
    Validation {
        loc: Vec<String>,
        kind: &'static str,
        msg: String,
        input: serde_json::Value,
    },
    /// `{"error": msg}` (Go services: `/runs/*`, `/commits/*`).
    Go(StatusCode, String),
    /// RFC 7807 problem details (v2 API).
    Problem(StatusCode, String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::Detail(StatusCode::NOT_FOUND, what.into())
    }
    pub fn conflict(what: impl Into<String>) -> Self {
        ApiError::Detail(StatusCode::CONFLICT, what.into())
    }
    pub fn bad(what: impl Into<String>) -> Self {
        ApiError::Detail(StatusCode::BAD_REQUEST, what.into())
    }
    pub fn invalid_query(
        name: &str,
        kind: &'static str,
        msg: impl Into<String>,
        input: &str,
    ) -> Self {
        ApiError::Validation {
            loc: vec!["query".into(), name.into()],
            kind,
            msg: msg.into(),
            input: json!(input),
        }
    }
    pub fn invalid_body(field: &str, msg: impl Into<String>, input: serde_json::Value) -> Self {
        ApiError::Validation {
            loc: vec!["body".into(), field.into()],
            kind: "value_error",
            msg: msg.into(),
            input,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Detail(status, msg) => {
                (status, axum::Json(json!({"detail": msg}))).into_response()
            }
            ApiError::Validation {
                loc,
                kind,
                msg,
                input,
            } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(
                    json!({"detail": [{"type": kind, "loc": loc, "msg": msg, "input": input}]}),
                ),
            )
                .into_response(),
            ApiError::Go(status, msg) => {
                (status, axum::Json(json!({"error": msg}))).into_response()
            }
            ApiError::Problem(status, detail) => {
                let title = status.canonical_reason().unwrap_or("Error");
                let mut resp = (
                    status,
                    axum::Json(json!({
                        "type": "about:blank",
                        "title": title,
                        "status": status.as_u16(),
                        "detail": detail,
                    })),
                )
                    .into_response();
                resp.headers_mut().insert(
                    axum::http::header::CONTENT_TYPE,
                    axum::http::HeaderValue::from_static("application/problem+json"),
                );
                resp
            }
        }
    }
}
