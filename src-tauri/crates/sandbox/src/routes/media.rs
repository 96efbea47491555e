//! `/api/public/media`: upload URLs, upload status and signed download URLs (see `crate::media`).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::media::content::CONTENT_TYPES;
use crate::media::{MediaLink, UrlKind};
use crate::state::AppState;
use crate::timefmt;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/public/media", post(upload_url))
        .route("/api/public/media/{id}", get(get_media).patch(patch_media))
}

/// `http://host:port` of the request, so URLs point back at this server however it is reached.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadUrlRequest {
    trace_id: Option<String>,
    observation_id: Option<String>,
    dataset_id: Option<String>,
    dataset_item_id: Option<String>,
    content_type: String,
    content_length: i64,
    sha256_hash: String,
    field: String,
}

impl UploadUrlRequest {
    /// Exactly one context, and a field that belongs to it (the spec's rule).
    fn link(&self) -> ApiResult<MediaLink> {
        let trace = self.trace_id.is_some();
        let item = self.dataset_id.is_some() || self.dataset_item_id.is_some();
        let fields: &[&str] = match (trace, item) {
            (true, false) => &["input", "output", "metadata"],
            (false, true) if self.dataset_id.is_some() && self.dataset_item_id.is_some() => {
                &["input", "expectedOutput", "metadata"]
            }
            _ => {
                return Err(ApiError::bad(
                    "provide exactly one context: traceId, or datasetId with datasetItemId",
                ));
            }
        };
        if !fields.contains(&self.field.as_str()) {
            return Err(ApiError::bad(format!(
                "field must be one of {} for this context",
                fields.join(", ")
            )));
        }
        Ok(MediaLink {
            trace_id: self.trace_id.clone(),
            observation_id: self.observation_id.clone(),
            dataset_id: self.dataset_id.clone(),
            dataset_item_id: self.dataset_item_id.clone(),
            field: self.field.clone(),
        })
    }
}

fn valid_sha256(s: &str) -> bool {
    s.len() == 44 && STANDARD.decode(s).is_ok_and(|d| d.len() == 32)
}

async fn upload_url(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let req: UploadUrlRequest = crate::body::json(body).await?;
    let link = req.link()?;
    if !CONTENT_TYPES.contains(&req.content_type.as_str()) {
        return Err(ApiError::bad(format!(
            "contentType {} is not a supported media type",
            req.content_type
        )));
    }
    if !valid_sha256(&req.sha256_hash) {
        return Err(ApiError::bad(
            "sha256Hash must be the base64 of a SHA-256 digest",
        ));
    }
    let mut media = st.media.lock();
    let max = media.settings.max_content_length;
    if req.content_length < 0 || req.content_length as u64 > max {
        return Err(ApiError::bad(format!(
            "File size must be less than {max} bytes"
        )));
    }
    if let Some(r) = media.by_hash(&req.sha256_hash)
        && r.upload_http_status == Some(200)
        && r.content_type == req.content_type
    {
        let id = r.id.clone();
        media.get_mut(&id).expect("found").links.insert(link);
        let body = json!({"mediaId": id, "uploadUrl": null});
        return Ok((StatusCode::CREATED, Json(body)).into_response());
    }
    let id = media.upsert(
        &req.sha256_hash,
        &req.content_type,
        req.content_length as u64,
    );
    media.get_mut(&id).expect("upserted").links.insert(link);
    let expires = timefmt::now_ms() + media.settings.upload_url_ttl_ms as i64;
    let url = media.sign(&base_url(&headers), UrlKind::Upload, &id, expires);
    let body = json!({"mediaId": id, "uploadUrl": url});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn get_media(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let mut media = st.media.lock();
    let Some(r) = media.get(&id) else {
        return Err(ApiError::not_found("Media asset not found"));
    };
    match r.upload_http_status {
        None => return Err(ApiError::not_found("Media not yet uploaded")),
        Some(200) => {}
        Some(_) => return Err(ApiError::not_found("Media upload failed")),
    }
    let (content_type, content_length) = (r.content_type.clone(), r.content_length);
    let uploaded_at = r.uploaded_at_ms.unwrap_or_else(timefmt::now_ms);
    let expires = media.next_download_expiry(timefmt::now_ms());
    let url = media.sign(&base_url(&headers), UrlKind::Download, &id, expires);
    Ok(Json(json!({
        "mediaId": id,
        "contentType": content_type,
        "contentLength": content_length,
        "uploadedAt": timefmt::fmt(uploaded_at),
        "url": url,
        "urlExpiry": timefmt::fmt(expires),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PatchBody {
    uploaded_at: String,
    upload_http_status: u16,
    #[allow(dead_code)]
    upload_http_error: Option<String>,
    #[allow(dead_code)]
    upload_time_ms: Option<i64>,
}

/// Langfuse trusts the client's report (the bucket already checked the bytes).
async fn patch_media(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<StatusCode> {
    let b: PatchBody = crate::body::json(body).await?;
    let at = timefmt::parse(&b.uploaded_at)
        .ok_or_else(|| ApiError::bad("uploadedAt must be an ISO 8601 date-time"))?;
    let mut media = st.media.lock();
    let Some(r) = media.get_mut(&id) else {
        return Err(ApiError::not_found(format!(
            "Media asset {id} not found in project"
        )));
    };
    r.uploaded_at_ms = Some(at);
    r.upload_http_status = Some(b.upload_http_status);
    Ok(StatusCode::NO_CONTENT)
}
