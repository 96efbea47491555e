//! HTTP Basic auth with the project's public key (user) and secret key (password).

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::error::ApiError;
use crate::state::AppState;

pub fn check(header: Option<&str>, public_key: &str, secret_key: &str) -> bool {
    let Some(h) = header else { return false };
    let Some(enc) = h
        .strip_prefix("Basic ")
        .or_else(|| h.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(dec) = base64::engine::general_purpose::STANDARD.decode(enc.trim()) else {
        return false;
    };
    let Ok(dec) = String::from_utf8(dec) else {
        return false;
    };
    match dec.split_once(':') {
        Some((pk, sk)) => pk == public_key && sk == secret_key,
        None => false,
    }
}

pub async fn require(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let revoked = st.keys_revoked.load(std::sync::atomic::Ordering::SeqCst);
    if revoked || !check(header, &st.config.public_key, &st.config.secret_key) {
        return ApiError::Unauthorized.into_response();
    }
    next.run(req).await
}
