//! Media in an archive folder: each file under `media/` with a small JSON sidecar (id, type,
//! length, sha256); `finish` lists them in the manifest, and reading checks each file's sha256
//! against the manifest as it is copied.

use super::{ArchiveReader, ArchiveWriter, ManifestMedia};
use crate::connectors::media::transfer::b64;
use crate::connectors::media::{MediaError, MediaLink, MediaMeta, MediaSource, MediaTarget};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The folder inside an archive that holds media files.
pub const MEDIA_DIR: &str = "media";

/// A file name for a media id: the id itself where it is safe, its hex otherwise.
pub fn file_name(id: &str) -> String {
    if !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        format!("{id}.bin")
    } else {
        format!("x{}.bin", hex::encode(id.as_bytes()))
    }
}

fn io(id: &str, e: impl std::fmt::Display) -> MediaError {
    MediaError::Io {
        id: id.to_string(),
        detail: e.to_string(),
    }
}

/// Copies `from` to `to` (through a temporary name), returning length and sha256.
fn copy_hashing(id: &str, from: &Path, to: &Path) -> Result<(u64, String), MediaError> {
    let tmp = to.with_extension("tmp");
    let mut r = std::fs::File::open(from).map_err(|e| io(id, e))?;
    let mut w = std::fs::File::create(&tmp).map_err(|e| io(id, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = r.read(&mut buf).map_err(|e| io(id, e))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        w.write_all(&buf[..k]).map_err(|e| io(id, e))?;
        n += k as u64;
    }
    w.sync_all().map_err(|e| io(id, e))?;
    std::fs::rename(&tmp, to).map_err(|e| io(id, e))?;
    Ok((n, b64(&h.finalize())))
}

/// The media files of an archive being written, from their sidecars (for the manifest).
pub fn written_media(dir: &Path) -> std::io::Result<BTreeMap<String, ManifestMedia>> {
    let mut out = BTreeMap::new();
    let folder = dir.join(MEDIA_DIR);
    if !folder.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(&folder)? {
        let p = entry?.path();
        if p.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&p)?;
        if let Ok((id, m)) = serde_json::from_str::<(String, ManifestMedia)>(&text) {
            out.insert(id, m);
        }
    }
    Ok(out)
}

fn meta_of(m: &ManifestMedia) -> MediaMeta {
    MediaMeta {
        content_type: m.content_type.clone(),
        length: m.length,
        sha256: m.sha256.clone(),
    }
}

#[async_trait]
impl MediaTarget for ArchiveWriter {
    async fn store_media(
        &self,
        source_id: &str,
        _link: &MediaLink,
        meta: &MediaMeta,
        file: Option<&Path>,
    ) -> Result<String, MediaError> {
        let folder = self.dir().join(MEDIA_DIR);
        let name = file_name(source_id);
        let sidecar = folder.join(format!("{name}.json"));
        if sidecar.exists() {
            return Ok(source_id.to_string());
        }
        let Some(file) = file else {
            return Err(MediaError::TargetLacksBytes {
                id: source_id.to_string(),
            });
        };
        let (folder2, file, id, meta) = (
            folder.clone(),
            file.to_path_buf(),
            source_id.to_string(),
            meta.clone(),
        );
        tokio::task::spawn_blocking(move || -> Result<(), MediaError> {
            std::fs::create_dir_all(&folder2).map_err(|e| io(&id, e))?;
            let (length, sha256) = copy_hashing(&id, &file, &folder2.join(&name))?;
            if sha256 != meta.sha256 || length != meta.length {
                return Err(MediaError::Integrity {
                    id,
                    detail: "the copy in the archive differs from the downloaded bytes".into(),
                });
            }
            let entry = ManifestMedia {
                file: format!("{MEDIA_DIR}/{name}"),
                content_type: meta.content_type.clone(),
                length,
                sha256,
            };
            let tmp: PathBuf = folder2.join(format!("{name}.json.tmp"));
            std::fs::write(
                &tmp,
                serde_json::to_vec(&(&id, &entry)).expect("serialises"),
            )
            .map_err(|e| io(&id, e))?;
            std::fs::rename(&tmp, folder2.join(format!("{name}.json"))).map_err(|e| io(&id, e))
        })
        .await
        .map_err(|e| io(source_id, e))??;
        Ok(source_id.to_string())
    }

    async fn resolve_media(&self, id: &str) -> Result<Option<MediaMeta>, MediaError> {
        let sidecar = self
            .dir()
            .join(MEDIA_DIR)
            .join(format!("{}.json", file_name(id)));
        let Ok(text) = std::fs::read_to_string(&sidecar) else {
            return Ok(None);
        };
        let (_, m): (String, ManifestMedia) = serde_json::from_str(&text).map_err(|e| io(id, e))?;
        hash_file(id, &self.dir().join(&m.file)).map(|(length, sha256)| {
            Some(MediaMeta {
                content_type: m.content_type,
                length,
                sha256,
            })
        })
    }
}

fn hash_file(id: &str, p: &Path) -> Result<(u64, String), MediaError> {
    let mut f = std::fs::File::open(p).map_err(|e| io(id, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| io(id, e))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, b64(&h.finalize())))
}

/// A finished archive, as validation sees it: media resolve when listed and intact.
#[async_trait]
impl MediaTarget for ArchiveReader {
    async fn store_media(
        &self,
        source_id: &str,
        _link: &MediaLink,
        _meta: &MediaMeta,
        _file: Option<&Path>,
    ) -> Result<String, MediaError> {
        Err(MediaError::Refused {
            id: source_id.to_string(),
            detail: "a finished archive takes no more media".into(),
        })
    }

    async fn resolve_media(&self, id: &str) -> Result<Option<MediaMeta>, MediaError> {
        let Some(m) = self.manifest.media.get(id) else {
            return Ok(None);
        };
        hash_file(id, &self.dir().join(&m.file)).map(|(length, sha256)| {
            Some(MediaMeta {
                content_type: m.content_type.clone(),
                length,
                sha256,
            })
        })
    }
}

#[async_trait]
impl MediaSource for ArchiveReader {
    async fn fetch_media(&self, id: &str, file: &Path) -> Result<MediaMeta, MediaError> {
        let Some(m) = self.manifest.media.get(id).cloned() else {
            return Err(MediaError::Missing {
                id: id.to_string(),
                detail: "the archive's manifest does not list it".into(),
            });
        };
        let from = self.dir().join(&m.file);
        let (to, key) = (file.to_path_buf(), id.to_string());
        let (length, sha256) = tokio::task::spawn_blocking(move || copy_hashing(&key, &from, &to))
            .await
            .map_err(|e| io(id, e))??;
        if sha256 != m.sha256 || length != m.length {
            return Err(MediaError::Integrity {
                id: id.to_string(),
                detail: format!(
                    "{} does not match its checksum in the manifest; the file is damaged or was changed",
                    m.file
                ),
            });
        }
        Ok(meta_of(&m))
    }
}
