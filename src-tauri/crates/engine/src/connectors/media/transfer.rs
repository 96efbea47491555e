//! Bytes over presigned URLs: a streaming download into a file while hashing, and a streaming
//! upload from a file with the headers Langfuse's bucket checks (as the Python SDK sends them).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How a transfer over a presigned URL ended, when it did not succeed.
#[derive(Debug)]
pub enum TransferFailure {
    /// The URL is no longer accepted (expired or otherwise refused by the bucket: 403).
    Expired,
    /// The bucket has no such object (404).
    NotFound,
    /// Another definite refusal (4xx).
    Refused(u16, String),
    /// Worth trying again: 5xx, reset, timeout.
    Transient(String),
    /// More bytes than the record announced (the download stops there).
    TooLong(u64),
    Io(String),
}

/// Standard base64 of a sha256 digest.
pub fn b64(digest: &[u8]) -> String {
    STANDARD.encode(digest)
}

/// Streams `url` into `file` (truncated first; `None` only hashes), never holding more than
/// one chunk. Returns the byte count and the sha256 (base64). Stops with `TooLong` past
/// `max_len` bytes.
pub async fn download(
    client: &reqwest::Client,
    url: &str,
    file: Option<&Path>,
    max_len: u64,
) -> Result<(u64, String), TransferFailure> {
    let resp = client.get(url).send().await.map_err(|e| {
        TransferFailure::Transient(crate::connectors::http::describe_reqwest_error(&e))
    })?;
    let status = resp.status();
    if !status.is_success() {
        let body = crate::connectors::http::truncate(&resp.text().await.unwrap_or_default(), 300);
        return Err(match status.as_u16() {
            403 => TransferFailure::Expired,
            404 => TransferFailure::NotFound,
            s if status.is_server_error() || s == 408 || s == 429 => {
                TransferFailure::Transient(format!("storage answered {s}"))
            }
            s => TransferFailure::Refused(s, body),
        });
    }
    let mut out = match file {
        Some(path) => Some(
            tokio::fs::File::create(path)
                .await
                .map_err(|e| TransferFailure::Io(e.to_string()))?,
        ),
        None => None,
    };
    let mut hasher = Sha256::new();
    let mut n = 0u64;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            TransferFailure::Transient(crate::connectors::http::describe_reqwest_error(&e))
        })?;
        n += chunk.len() as u64;
        if n > max_len {
            return Err(TransferFailure::TooLong(n));
        }
        hasher.update(&chunk);
        if let Some(out) = out.as_mut() {
            out.write_all(&chunk)
                .await
                .map_err(|e| TransferFailure::Io(e.to_string()))?;
        }
    }
    if let Some(mut out) = out {
        out.flush()
            .await
            .map_err(|e| TransferFailure::Io(e.to_string()))?;
    }
    Ok((n, b64(&hasher.finalize())))
}

/// Streams `file` to a presigned upload URL in 256 KiB chunks.
pub async fn upload(
    client: &reqwest::Client,
    url: &str,
    file: &Path,
    content_type: &str,
    sha256: &str,
    length: u64,
) -> Result<u16, TransferFailure> {
    let f = tokio::fs::File::open(file)
        .await
        .map_err(|e| TransferFailure::Io(e.to_string()))?;
    let chunks = futures::stream::unfold(f, |mut f| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(k) => {
                buf.truncate(k);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let mut req = client
        .put(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header(reqwest::header::CONTENT_LENGTH, length)
        .body(reqwest::Body::wrap_stream(chunks));
    // Google Cloud Storage refuses headers it does not know (the SDK leaves them out too).
    if !url.contains("storage.googleapis.com") {
        req = req
            .header("x-ms-blob-type", "BlockBlob")
            .header("x-amz-checksum-sha256", sha256);
    }
    let resp = req.send().await.map_err(|e| {
        TransferFailure::Transient(crate::connectors::http::describe_reqwest_error(&e))
    })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(status.as_u16());
    }
    let body = crate::connectors::http::truncate(&resp.text().await.unwrap_or_default(), 300);
    Err(match status.as_u16() {
        s if status.is_server_error() || s == 408 || s == 429 => {
            TransferFailure::Transient(format!("storage answered {s}"))
        }
        403 => TransferFailure::Expired,
        s => TransferFailure::Refused(s, body),
    })
}
