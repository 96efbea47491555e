//! Errors: `SandboxError` for the Rust handle, `ApiError` for HTTP answers in Langfuse's shapes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why the sandbox could not start or be driven.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("could not bind the sandbox to 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("unknown entity `{0}` (expected one of the dump keys)")]
    UnknownEntity(String),
    #[error("no {entity} row with id `{id}`")]
    NotFound { entity: String, id: String },
    #[error("request validation needs the sandbox built with the `request-validation` feature")]
    ValidationUnavailable,
    #[error("the row is not valid for {entity}: {reason}")]
    InvalidRow { entity: String, reason: String },
}

/// An error answer of the public API, rendered as Langfuse renders it: `{message, error}`.
#[derive(Debug)]
pub enum ApiError {
    Unauthorized,
    /// 400 "Invalid request data" with a detail.
    BadRequest(String),
    /// 400 with a specific message (e.g. OTLP `{"error": ...}` bodies use `OtlpBadRequest`).
    OtlpBadRequest(String),
    NotFound(String),
    /// Endpoint does not exist on this server generation.
    NoRoute,
    MethodNotAllowed,
    PayloadTooLarge,
    Status(StatusCode, String),
}

impl ApiError {
    pub fn bad(msg: impl Into<String>) -> Self {
        ApiError::BadRequest(msg.into())
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound(what.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({"message": "Invalid credentials. Confirm that you've configured the correct host."}),
            ),
            ApiError::BadRequest(detail) => (
                StatusCode::BAD_REQUEST,
                json!({"message": "Invalid request data", "error": detail}),
            ),
            ApiError::OtlpBadRequest(error) => (StatusCode::BAD_REQUEST, json!({"error": error})),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                json!({"message": what, "error": "LangfuseNotFoundError"}),
            ),
            ApiError::NoRoute => (
                StatusCode::NOT_FOUND,
                json!({"message": "Route not found", "error": "NotFound"}),
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"message": "Method not allowed"}),
            ),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"message": "Request body exceeds the 4.5 MB limit", "error": "PayloadTooLargeError"}),
            ),
            ApiError::Status(status, message) => (status, json!({"message": message})),
        };
        (status, axum::Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
