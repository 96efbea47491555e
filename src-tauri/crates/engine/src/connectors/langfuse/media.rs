//! The media API of a Langfuse project (`/api/public/media`) as a media source and target.

use super::Langfuse;
use crate::connectors::http::{Bucket, HttpFailure, Idempotency};
use crate::connectors::media::transfer::{self, TransferFailure};
use crate::connectors::media::{
    MediaError, MediaLink, MediaMeta, MediaSource, MediaTarget, is_hash_derived, media_id_for_hash,
};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// Attempts per transfer: expired URLs are fetched again, 5xx and resets retried.
const ATTEMPTS: u32 = 5;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MediaRecord {
    content_type: String,
    content_length: u64,
    url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadUrl {
    media_id: String,
    upload_url: Option<String>,
}

fn path_of(id: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/api/public/media/{id}")
}

fn message_of(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("error")
                .and_then(Value::as_str)
                .filter(|e| !e.is_empty() && *e != "LangfuseNotFoundError")
                .or_else(|| v.get("message").and_then(Value::as_str))
                .map(str::to_string)
        })
        .unwrap_or_else(|| crate::connectors::http::truncate(body, 200))
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt.min(5)))).await;
}

impl Langfuse {
    /// `GET /media/{id}`: a fresh download URL; `Missing` when the project has no such
    /// (uploaded) media.
    async fn media_record(&self, id: &str) -> Result<MediaRecord, MediaError> {
        let path = path_of(id);
        match self
            .http
            .send(
                Bucket::PublicApi,
                || self.http.get(&path),
                Idempotency::Safe,
            )
            .await
        {
            Ok(r) => r
                .json::<MediaRecord>()
                .await
                .map_err(|e| MediaError::Transfer {
                    id: id.to_string(),
                    detail: format!("the media record could not be read: {e}"),
                }),
            Err(HttpFailure::Rejected { status: 404, body }) => Err(MediaError::Missing {
                id: id.to_string(),
                detail: message_of(&body),
            }),
            Err(e) => Err(MediaError::Transfer {
                id: id.to_string(),
                detail: e.describe(),
            }),
        }
    }

    /// Downloads media `id` (into `file`, or only hashing), fetching the record again when
    /// its signed URL has expired.
    async fn download_media(&self, id: &str, file: Option<&Path>) -> Result<MediaMeta, MediaError> {
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            let rec = self.media_record(id).await?;
            match transfer::download(self.http.plain(), &rec.url, file, rec.content_length).await {
                Ok((n, sha256)) => {
                    if n != rec.content_length {
                        return Err(MediaError::Integrity {
                            id: id.to_string(),
                            detail: format!(
                                "{n} bytes arrived, the record says {}",
                                rec.content_length
                            ),
                        });
                    }
                    if is_hash_derived(id) && media_id_for_hash(&sha256) != id {
                        return Err(MediaError::Integrity {
                            id: id.to_string(),
                            detail: format!("their sha256 is {sha256}, which is not this id's"),
                        });
                    }
                    return Ok(MediaMeta {
                        content_type: rec.content_type,
                        length: n,
                        sha256,
                    });
                }
                Err(TransferFailure::Expired) => {
                    last = "its download URL was refused (expired)".into();
                    self.counters.add_retry();
                }
                Err(TransferFailure::Transient(s)) => {
                    last = s;
                    self.counters.add_retry();
                    backoff(attempt).await;
                }
                Err(TransferFailure::NotFound) => {
                    return Err(MediaError::Missing {
                        id: id.to_string(),
                        detail: "its file is missing from the source's storage".into(),
                    });
                }
                Err(TransferFailure::TooLong(n)) => {
                    return Err(MediaError::Integrity {
                        id: id.to_string(),
                        detail: format!(
                            "more than the {} bytes its record says arrived ({n} so far)",
                            rec.content_length
                        ),
                    });
                }
                Err(TransferFailure::Refused(status, body)) => {
                    return Err(MediaError::Transfer {
                        id: id.to_string(),
                        detail: format!("storage answered {status}: {body}"),
                    });
                }
                Err(TransferFailure::Io(detail)) => {
                    return Err(MediaError::Io {
                        id: id.to_string(),
                        detail,
                    });
                }
            }
        }
        Err(MediaError::Transfer {
            id: id.to_string(),
            detail: format!("the download kept failing: {last}"),
        })
    }

    /// `POST /media`: the target's media id and, when it lacks the bytes, an upload URL.
    async fn upload_url(
        &self,
        link: &MediaLink,
        meta: &MediaMeta,
        id: &str,
    ) -> Result<UploadUrl, MediaError> {
        let mut body = Map::new();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                body.insert(k.into(), json!(v));
            }
        };
        put("traceId", &link.trace_id);
        put("observationId", &link.observation_id);
        put("datasetId", &link.dataset_id);
        put("datasetItemId", &link.dataset_item_id);
        body.insert("contentType".into(), json!(meta.content_type));
        body.insert("contentLength".into(), json!(meta.length));
        body.insert("sha256Hash".into(), json!(meta.sha256));
        body.insert("field".into(), json!(link.field));
        let body = Value::Object(body);
        // A repeated request is an upsert in Langfuse: safe to retry.
        match self
            .http
            .send(
                Bucket::PublicApi,
                || self.http.post("/api/public/media").json(&body),
                Idempotency::Safe,
            )
            .await
        {
            Ok(r) => r
                .json::<UploadUrl>()
                .await
                .map_err(|e| MediaError::Transfer {
                    id: id.to_string(),
                    detail: format!("the upload URL answer could not be read: {e}"),
                }),
            Err(HttpFailure::Rejected { status, body }) if status < 500 => {
                Err(MediaError::Refused {
                    id: id.to_string(),
                    detail: message_of(&body),
                })
            }
            Err(e) => Err(MediaError::Transfer {
                id: id.to_string(),
                detail: e.describe(),
            }),
        }
    }

    /// `PATCH /media/{id}`: the upload's outcome, which makes the media servable.
    async fn report_upload(
        &self,
        id: &str,
        status: u16,
        error: Option<&str>,
        took: Duration,
    ) -> Result<(), MediaError> {
        let body = json!({
            "uploadedAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "uploadHttpStatus": status,
            "uploadHttpError": error,
            "uploadTimeMs": took.as_millis() as u64,
        });
        let path = path_of(id);
        self.http
            .send(
                Bucket::PublicApi,
                || self.http.patch(&path).json(&body),
                Idempotency::Safe,
            )
            .await
            .map(|_| ())
            .map_err(|e| MediaError::Transfer {
                id: id.to_string(),
                detail: format!("its upload status could not be saved: {}", e.describe()),
            })
    }
}

#[async_trait]
impl MediaSource for Langfuse {
    async fn fetch_media(&self, id: &str, file: &Path) -> Result<MediaMeta, MediaError> {
        self.download_media(id, Some(file)).await
    }
}

#[async_trait]
impl MediaTarget for Langfuse {
    async fn store_media(
        &self,
        _source_id: &str,
        link: &MediaLink,
        meta: &MediaMeta,
        file: Option<&Path>,
    ) -> Result<String, MediaError> {
        let id = media_id_for_hash(&meta.sha256);
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            let answer = self.upload_url(link, meta, &id).await?;
            let Some(url) = answer.upload_url else {
                return Ok(answer.media_id);
            };
            let Some(file) = file else {
                return Err(MediaError::TargetLacksBytes {
                    id: answer.media_id,
                });
            };
            let started = Instant::now();
            match transfer::upload(
                self.http.plain(),
                &url,
                file,
                &meta.content_type,
                &meta.sha256,
                meta.length,
            )
            .await
            {
                Ok(status) => {
                    self.report_upload(&answer.media_id, status, None, started.elapsed())
                        .await?;
                    return Ok(answer.media_id);
                }
                // A fresh upload URL comes with the next request.
                Err(TransferFailure::Expired) => last = "the upload URL was refused".into(),
                Err(TransferFailure::Transient(s)) => {
                    last = s;
                    self.counters.add_retry();
                    backoff(attempt).await;
                }
                Err(TransferFailure::Refused(status, body)) => {
                    let _ = self
                        .report_upload(&answer.media_id, status, Some(&body), started.elapsed())
                        .await;
                    return Err(MediaError::Refused {
                        id: answer.media_id,
                        detail: format!("storage answered {status}: {body}"),
                    });
                }
                Err(TransferFailure::Io(detail)) => {
                    return Err(MediaError::Io {
                        id: answer.media_id,
                        detail,
                    });
                }
                Err(other @ (TransferFailure::NotFound | TransferFailure::TooLong(_))) => {
                    return Err(MediaError::Transfer {
                        id: answer.media_id,
                        detail: format!("the upload failed: {other:?}"),
                    });
                }
            }
        }
        Err(MediaError::Transfer {
            id,
            detail: format!("the upload kept failing: {last}"),
        })
    }

    async fn resolve_media(&self, id: &str) -> Result<Option<MediaMeta>, MediaError> {
        match self.download_media(id, None).await {
            Ok(m) => Ok(Some(m)),
            Err(MediaError::Missing { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
