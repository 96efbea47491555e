//! Media attachments: the bytes behind `@@@langfuseMedia:…@@@` references.
//!
//! Here live what both sides share: the references found in records, the media traits a
//! connector implements, and the streaming transfer. The Langfuse and archive sides are in their
//! connector folders, the copier in `run::media_copy`, the check after a run in
//! `after_run::validate::media`.
//!
//! A copied trace, observation or dataset item keeps its reference strings; the bytes live in
//! the source project's blob storage. Before a batch holding references is written, each
//! referenced media object is copied once per run: its record is read at the source, the bytes
//! are streamed into a temporary file while their sha256 is computed and checked, and the file
//! is uploaded to the target (upload URL, PUT, upload status). A target that gives the media
//! another id gets the reference rewritten. Media is journaled as entity `media` (one row per
//! source media id), so a resumed run neither uploads twice nor forgets one. A media object
//! that cannot be copied fails alone, with a reason naming the reference; the object that
//! refers to it is still written.

pub mod refs;
pub(crate) mod transfer;

pub use refs::{MediaLink, MediaRef, record_references};

use async_trait::async_trait;
use std::path::Path;

/// What a media object is: its type, size and content hash (standard base64 of sha256, as the
/// media API carries it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaMeta {
    pub content_type: String,
    pub length: u64,
    pub sha256: String,
}

impl MediaMeta {
    /// The journal's `content_hash` of a media row: hash and length.
    pub fn journal_hash(&self) -> String {
        format!("{} {}", self.sha256, self.length)
    }

    pub fn from_journal_hash(h: &str, content_type: &str) -> Option<MediaMeta> {
        let (sha, len) = h.split_once(' ')?;
        Some(MediaMeta {
            content_type: content_type.to_string(),
            length: len.parse().ok()?,
            sha256: sha.to_string(),
        })
    }
}

/// Why one media object could not be copied (a plain sentence in the report).
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the source has no media {id} ({detail})")]
    Missing { id: String, detail: String },
    #[error("the bytes of media {id} do not match its record: {detail}")]
    Integrity { id: String, detail: String },
    #[error("the target refused media {id}: {detail}")]
    Refused { id: String, detail: String },
    #[error("media {id} could not be transferred: {detail}")]
    Transfer { id: String, detail: String },
    #[error("the target has no bytes for media {id} and none were sent")]
    TargetLacksBytes { id: String },
    #[error("a temporary file for media {id} could not be used: {detail}")]
    Io { id: String, detail: String },
}

/// A side the bytes come from.
#[async_trait]
pub trait MediaSource: Send + Sync {
    /// Streams the bytes of media `id` into `file` (emptied first) and checks them against the
    /// record: length, and the hash where the id is derived from it.
    async fn fetch_media(&self, id: &str, file: &Path) -> Result<MediaMeta, MediaError>;
}

/// A side the bytes go to.
#[async_trait]
pub trait MediaTarget: Send + Sync {
    /// Registers media `source_id` for `link` and, when the target asks for the bytes, uploads
    /// `file`. Returns the target's media id. Without a file, a target lacking the bytes is an
    /// error.
    async fn store_media(
        &self,
        source_id: &str,
        link: &MediaLink,
        meta: &MediaMeta,
        file: Option<&Path>,
    ) -> Result<String, MediaError>;

    /// The media as the target serves it (bytes downloaded and hashed), or `None` when the
    /// reference does not resolve there.
    async fn resolve_media(&self, id: &str) -> Result<Option<MediaMeta>, MediaError>;
}

/// Langfuse's media id for content: the first 22 base64url characters of its sha256.
pub fn media_id_for_hash(sha256: &str) -> String {
    sha256
        .replace('+', "-")
        .replace('/', "_")
        .chars()
        .take(22)
        .collect()
}

/// Whether an id has the shape of a content-derived id (older servers used UUIDs).
pub fn is_hash_derived(id: &str) -> bool {
    id.len() == 22
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
