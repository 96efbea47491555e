//! The bucket behind the presigned URLs (`/_media/upload/{id}`, `/_media/download/{id}`): no
//! Langfuse auth, only the URL's signature and expiry, and S3's checks on an upload (signed
//! content type and length, `x-amz-checksum-sha256` against the bytes). Errors are S3's XML.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};

use super::{UrlKind, sha256_base64};
use crate::params::Params;
use crate::state::AppState;
use crate::timefmt;

/// Objects larger than this are refused by the bucket itself (S3's single-PUT limit is 5 GB;
/// the sandbox keeps bytes in memory, so it stops far earlier).
const PUT_LIMIT: usize = 512 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/upload/{id}", put(upload))
        .route("/download/{id}", get(download))
}

fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], xml).into_response()
}

/// Checks the presigned query of a request: the S3 error answer when it does not hold.
fn refused(st: &AppState, kind: UrlKind, id: &str, query: Option<&str>) -> Option<Response> {
    let p = Params::parse(query);
    let expires = p.get("expires").and_then(|e| e.parse::<i64>().ok());
    let signature = p.get("signature").unwrap_or_default();
    let Some(expires) = expires else {
        return Some(s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Query-string authentication requires the expires parameter",
        ));
    };
    if !st.media.lock().verify(kind, id, expires, signature) {
        return Some(s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    if timefmt::now_ms() > expires {
        return Some(s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired",
        ));
    }
    None
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn upload(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(r) = refused(&st, UrlKind::Upload, &id, q.as_deref()) {
        return r;
    }
    let Some((content_type, length, sha)) = st
        .media
        .lock()
        .get(&id)
        .map(|r| (r.content_type.clone(), r.content_length, r.sha256.clone()))
    else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchUpload",
            "The upload does not exist.",
        );
    };
    // The content type, length and checksum are part of Langfuse's signature: a request
    // without them, or with other values, does not match it.
    if header_str(&headers, "content-type") != Some(content_type.as_str())
        || header_str(&headers, "x-amz-checksum-sha256") != Some(sha.as_str())
    {
        return s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The content type or x-amz-checksum-sha256 header does not match the signed upload.",
        );
    }
    let bytes = match axum::body::to_bytes(body, PUT_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return s3_error(
                StatusCode::BAD_REQUEST,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
            );
        }
    };
    if bytes.len() as u64 != length {
        return s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The body's length does not match the signed content length.",
        );
    }
    if sha256_base64(&bytes) != sha {
        return s3_error(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            "The SHA256 you specified did not match the calculated checksum.",
        );
    }
    let mut media = st.media.lock();
    let Some(r) = media.get_mut(&id) else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchUpload",
            "The upload does not exist.",
        );
    };
    r.bytes = Some(bytes);
    r.puts += 1;
    if r.upload_http_status == Some(200) {
        r.puts_after_upload += 1;
    }
    let etag = format!("\"{}\"", &r.sha256);
    (StatusCode::OK, [(header::ETAG, etag)]).into_response()
}

async fn download(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(r) = refused(&st, UrlKind::Download, &id, q.as_deref()) {
        return r;
    }
    let found = st
        .media
        .lock()
        .get(&id)
        .and_then(|r| r.bytes.clone().map(|b| (r.content_type.clone(), b)));
    let Some((content_type, bytes)) = found else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        );
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        Body::from(bytes),
    )
        .into_response()
}
