//! The opt-in request check: every `/api/public` request is compared with the API description of
//! the server's profile before it is served, and what breaks it is recorded (not refused: the
//! sandbox still answers as Langfuse would, the client's test suite asserts nothing was recorded).

use axum::body::Body;
use axum::http::Request;

use crate::state::AppState;

#[cfg(feature = "request-validation")]
pub async fn check(st: &AppState, req: Request<Body>) -> Request<Body> {
    use std::io::Read;

    if !st.config.validate_requests {
        return req;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, crate::body::OTLP_BODY_LIMIT).await else {
        st.violations.lock().push(format!(
            "{} {}: the body could not be read",
            parts.method,
            parts.uri.path()
        ));
        return Request::from_parts(parts, Body::empty());
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    let json = if header("content-type").contains("json") && !bytes.is_empty() {
        let mut text = Vec::new();
        if header("content-encoding") == "gzip" {
            let _ = flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut text);
        } else {
            text.extend_from_slice(&bytes);
        }
        serde_json::from_slice::<serde_json::Value>(&text).ok()
    } else {
        None
    };
    let found = crate::spec_check::ApiSpec::for_profile(st.profile()).check_request(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        json.as_ref(),
    );
    if !found.is_empty() {
        st.violations.lock().extend(found);
    }
    Request::from_parts(parts, Body::from(bytes))
}

#[cfg(not(feature = "request-validation"))]
pub async fn check(_st: &AppState, req: Request<Body>) -> Request<Body> {
    req
}
