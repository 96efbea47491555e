//! Media: the records Langfuse keeps about attachments (Postgres in Langfuse) and the bytes
//! (its S3 bucket), with presigned upload and download URLs served by the sandbox itself.
//!
//! As in Langfuse: a record is keyed by its content's sha256 within the project, its id is the
//! first 22 base64url characters of that hash, a second upload of uploaded content gets no
//! upload URL, and the bucket checks the `x-amz-checksum-sha256` header against the bytes.

pub mod admin;
pub mod blob;
pub mod content;
pub mod refs;
pub mod sample;

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where a media record is used (Langfuse's `trace_media` / `observation_media` rows, and the
/// dataset item the upload named).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaLink {
    pub trace_id: Option<String>,
    pub observation_id: Option<String>,
    pub dataset_id: Option<String>,
    pub dataset_item_id: Option<String>,
    pub field: String,
}

/// One media record and, once uploaded, its bytes.
#[derive(Clone, Debug)]
pub struct MediaRecord {
    pub id: String,
    /// Standard base64 of the sha256 digest, as the API carries it.
    pub sha256: String,
    pub content_type: String,
    pub content_length: u64,
    pub uploaded_at_ms: Option<i64>,
    pub upload_http_status: Option<u16>,
    pub bytes: Option<Bytes>,
    /// How many PUTs the bucket accepted for this record (a test counts double uploads).
    pub puts: u32,
    /// PUTs of bytes the record already had as uploaded (status 200): double uploads.
    pub puts_after_upload: u32,
    pub links: BTreeSet<MediaLink>,
}

/// What a test sees of a media record (no bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaInfo {
    pub id: String,
    pub sha256: String,
    pub content_type: String,
    pub content_length: u64,
    pub upload_http_status: Option<u16>,
    pub stored_bytes: Option<u64>,
    pub puts: u32,
    pub puts_after_upload: u32,
    pub links: Vec<MediaLink>,
}

/// Limits and test knobs of the media API.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MediaSettings {
    /// Langfuse's `LANGFUSE_S3_MEDIA_MAX_CONTENT_LENGTH` (default 1 GB).
    pub max_content_length: u64,
    /// Langfuse's `LANGFUSE_S3_MEDIA_DOWNLOAD_URL_EXPIRY_SECONDS` (default 1 h).
    pub download_url_ttl_ms: u64,
    /// Presigned upload URLs live 1 h in Langfuse.
    pub upload_url_ttl_ms: u64,
    /// The next this-many download URLs are handed out already expired (a test of refetching).
    pub expire_next_download_urls: u32,
}

impl Default for MediaSettings {
    fn default() -> Self {
        MediaSettings {
            max_content_length: 1_000_000_000,
            download_url_ttl_ms: 3_600_000,
            upload_url_ttl_ms: 3_600_000,
            expire_next_download_urls: 0,
        }
    }
}

/// The project's media records and the secret that signs their URLs.
pub struct MediaStore {
    records: BTreeMap<String, MediaRecord>,
    secret: String,
    pub settings: MediaSettings,
}

impl Default for MediaStore {
    fn default() -> Self {
        MediaStore {
            records: BTreeMap::new(),
            secret: uuid::Uuid::new_v4().to_string(),
            settings: MediaSettings::default(),
        }
    }
}

/// A served dataset item with its `mediaReferences` filled in (see [`refs::attach_to_item`]).
pub fn item_with_references(
    st: &crate::state::AppState,
    headers: &axum::http::HeaderMap,
    mut item: serde_json::Value,
) -> serde_json::Value {
    let base = crate::routes::media::base_url(headers);
    refs::attach_to_item(
        &mut item,
        &mut st.media.lock(),
        &base,
        crate::timefmt::now_ms(),
    );
    item
}

/// Standard base64 of the sha256 of `bytes`.
pub fn sha256_base64(bytes: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(bytes))
}

/// Langfuse's media id: the first 132 bits of the hash, base64url.
pub fn media_id_for_hash(sha256: &str) -> String {
    sha256
        .replace('+', "-")
        .replace('/', "_")
        .chars()
        .take(22)
        .collect()
}

/// Which presigned operation a URL allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlKind {
    Upload,
    Download,
}

impl UrlKind {
    fn tag(self) -> &'static str {
        match self {
            UrlKind::Upload => "PUT",
            UrlKind::Download => "GET",
        }
    }
}

impl MediaStore {
    pub fn clear(&mut self) {
        self.records.clear();
    }

    pub fn get(&self, id: &str) -> Option<&MediaRecord> {
        self.records.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut MediaRecord> {
        self.records.get_mut(id)
    }

    pub fn by_hash(&self, sha256: &str) -> Option<&MediaRecord> {
        self.records.values().find(|r| r.sha256 == sha256)
    }

    pub fn remove(&mut self, id: &str) -> bool {
        self.records.remove(id).is_some()
    }

    /// Creates the record (or updates its type and length, as Langfuse's upsert does) and
    /// returns its id.
    pub fn upsert(&mut self, sha256: &str, content_type: &str, content_length: u64) -> String {
        if let Some(r) = self.records.values_mut().find(|r| r.sha256 == sha256) {
            r.content_type = content_type.to_string();
            r.content_length = content_length;
            return r.id.clone();
        }
        let id = media_id_for_hash(sha256);
        self.records.insert(
            id.clone(),
            MediaRecord {
                id: id.clone(),
                sha256: sha256.to_string(),
                content_type: content_type.to_string(),
                content_length,
                uploaded_at_ms: None,
                upload_http_status: None,
                bytes: None,
                puts: 0,
                puts_after_upload: 0,
                links: BTreeSet::new(),
            },
        );
        id
    }

    /// Stores bytes as an SDK upload would have left them: record, bytes, status 200.
    pub fn insert_uploaded(&mut self, content_type: &str, bytes: Bytes, link: MediaLink) -> String {
        let sha = sha256_base64(&bytes);
        let id = self.upsert(&sha, content_type, bytes.len() as u64);
        self.finish_upload(id, bytes, link)
    }

    /// The same under an id of the caller's choice (servers before hash-derived ids used UUIDs).
    pub fn insert_uploaded_as(
        &mut self,
        id: &str,
        content_type: &str,
        bytes: Bytes,
        link: MediaLink,
    ) -> String {
        let sha = sha256_base64(&bytes);
        self.records.retain(|_, r| r.sha256 != sha);
        self.records.insert(
            id.to_string(),
            MediaRecord {
                id: id.to_string(),
                sha256: sha,
                content_type: content_type.to_string(),
                content_length: bytes.len() as u64,
                uploaded_at_ms: None,
                upload_http_status: None,
                bytes: None,
                puts: 0,
                puts_after_upload: 0,
                links: BTreeSet::new(),
            },
        );
        self.finish_upload(id.to_string(), bytes, link)
    }

    fn finish_upload(&mut self, id: String, bytes: Bytes, link: MediaLink) -> String {
        let r = self.records.get_mut(&id).expect("just upserted");
        r.bytes = Some(bytes);
        r.upload_http_status = Some(200);
        r.uploaded_at_ms = Some(crate::timefmt::now_ms());
        r.links.insert(link);
        id
    }

    pub fn infos(&self) -> Vec<MediaInfo> {
        self.records
            .values()
            .map(|r| MediaInfo {
                id: r.id.clone(),
                sha256: r.sha256.clone(),
                content_type: r.content_type.clone(),
                content_length: r.content_length,
                upload_http_status: r.upload_http_status,
                stored_bytes: r.bytes.as_ref().map(|b| b.len() as u64),
                puts: r.puts,
                puts_after_upload: r.puts_after_upload,
                links: r.links.iter().cloned().collect(),
            })
            .collect()
    }

    fn signature(&self, kind: UrlKind, id: &str, expires_ms: i64) -> String {
        let mut h = Sha256::new();
        h.update(self.secret.as_bytes());
        h.update(kind.tag().as_bytes());
        h.update(id.as_bytes());
        h.update(expires_ms.to_be_bytes());
        hex::encode(h.finalize())
    }

    /// A URL on this server that allows `kind` on `id` until `expires_ms`.
    pub fn sign(&self, base: &str, kind: UrlKind, id: &str, expires_ms: i64) -> String {
        let what = match kind {
            UrlKind::Upload => "upload",
            UrlKind::Download => "download",
        };
        format!(
            "{base}/_media/{what}/{id}?expires={expires_ms}&signature={}",
            self.signature(kind, id, expires_ms)
        )
    }

    /// Whether a presented signature is this server's for (`kind`, `id`, `expires_ms`).
    pub fn verify(&self, kind: UrlKind, id: &str, expires_ms: i64, signature: &str) -> bool {
        self.signature(kind, id, expires_ms) == signature
    }

    /// The expiry of the next download URL; an already past one while the test knob is set.
    pub fn next_download_expiry(&mut self, now_ms: i64) -> i64 {
        if self.settings.expire_next_download_urls > 0 {
            self.settings.expire_next_download_urls -= 1;
            return now_ms - 1_000;
        }
        now_ms + self.settings.download_url_ttl_ms as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_sdk_rule() {
        // The SDK's LangfuseMedia._get_media_id: url-safe base64 of sha256, first 22 chars.
        let sha = sha256_base64(b"hello");
        assert_eq!(sha, "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
        assert_eq!(
            media_id_for_hash(&sha),
            "LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="[..22]
        );
    }
}
