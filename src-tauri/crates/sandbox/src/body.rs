//! Request bodies: the 4.5 MB limit (Vercel/Next.js in front of Langfuse Cloud), Langfuse-style
//! 400s for malformed JSON, and unknown fields accepted.

use axum::body::{Body, Bytes};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// 4.5 MB, the largest body Langfuse's public API takes (except OTLP).
pub const BODY_LIMIT: usize = 4_500_000;
/// OTLP exports have no limit in Langfuse; cap memory anyway.
pub const OTLP_BODY_LIMIT: usize = 256 * 1024 * 1024;

pub async fn read(body: Body, limit: usize) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut src: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = src {
            if s.to_string().contains("length limit exceeded") {
                return ApiError::PayloadTooLarge;
            }
            src = s.source();
        }
        ApiError::bad(format!("could not read the request body: {e}"))
    })
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::bad(format!("Invalid JSON: {e}"))
        } else {
            ApiError::bad(e.to_string())
        }
    })
}

pub async fn json<T: DeserializeOwned>(body: Body) -> ApiResult<T> {
    let bytes = read(body, BODY_LIMIT).await?;
    parse(&bytes)
}
