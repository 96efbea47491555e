//! The archive: a folder with one gzip-compressed JSON Lines file per entity and a
//! `manifest.json` (schema version, source, time window, counts, sha256 per file).
//!
//! Writing: every batch becomes a part file, written to a temporary name and renamed, so a crash
//! never leaves half a batch. `finish` concatenates the parts (gzip members concatenate into a
//! valid gzip file), dropping any object a resumed run wrote twice, and writes the manifest.
//! Reading verifies each file's sha256 against the manifest before the first record is used.

use crate::connectors::{Page, SourceConnector, TargetConnector, WriteOutcome};
use crate::vocab::files;
use crate::vocab::{Dialect, EngineError, Entity, Generation, Payloads, RawObject, Record, Scope};
use async_trait::async_trait;
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

pub const SCHEMA_VERSION: u32 = 1;
const PAGE: usize = 1000;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub schema_version: u32,
    pub created_at: String,
    pub source: ManifestSource,
    pub window: ManifestWindow,
    pub entities: BTreeMap<String, ManifestFile>,
    pub complete: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ManifestSource {
    pub description: String,
    /// The dialect of the archived payloads, named by the Langfuse generation whose objects they
    /// follow (`v2`, `v3`, `v4`; the field keeps its name so older archives stay readable).
    pub generation: Generation,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ManifestWindow {
    pub from: String,
    pub to: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ManifestFile {
    pub file: String,
    pub count: u64,
    pub sha256: String,
}

fn archive_err(path: &Path, detail: impl std::fmt::Display) -> EngineError {
    EngineError::Archive {
        path: path.display().to_string(),
        detail: detail.to_string(),
    }
}

fn file_name(e: Entity) -> String {
    format!("{}.jsonl.gz", e.as_str())
}

/// The id under which an archived record is stored and found again.
fn record_key(r: &Record) -> &str {
    &r.id
}

// ---------------------------------------------------------------- writing

pub struct ArchiveWriter {
    dir: PathBuf,
    source: ManifestSource,
    window: ManifestWindow,
    part_seq: AtomicU64,
}

impl ArchiveWriter {
    pub fn new(
        dir: &Path,
        source_description: String,
        payloads: Payloads,
        scope: &Scope,
    ) -> Result<Self, EngineError> {
        std::fs::create_dir_all(dir.join("parts")).map_err(|e| archive_err(dir, e))?;
        if let Ok(text) = std::fs::read_to_string(dir.join("manifest.json"))
            && let Ok(m) = serde_json::from_str::<Manifest>(&text)
            && m.complete
        {
            return Err(archive_err(
                dir,
                "the folder already holds a complete archive; choose an empty folder",
            ));
        }
        let existing = std::fs::read_dir(dir.join("parts"))
            .map_err(|e| archive_err(dir, e))?
            .count() as u64;
        Ok(Self {
            dir: dir.to_path_buf(),
            source: ManifestSource {
                description: source_description,
                generation: payloads.dialect.generation(),
            },
            window: ManifestWindow {
                from: scope.from.to_rfc3339(),
                to: scope.to.to_rfc3339(),
            },
            part_seq: AtomicU64::new(existing + 1),
        })
    }

    fn write_part(&self, entity: Entity, records: &[Record]) -> std::io::Result<()> {
        let seq = self.part_seq.fetch_add(1, Ordering::SeqCst);
        let parts = self.dir.join("parts");
        let name = format!("{}.{:09}.{}", entity.as_str(), seq, std::process::id());
        let tmp = parts.join(format!("{name}.tmp"));
        let mut gz = GzEncoder::new(std::fs::File::create(&tmp)?, Compression::fast());
        for r in records {
            serde_json::to_writer(&mut gz, &r.body)?;
            gz.write_all(b"\n")?;
        }
        let f = gz.finish()?;
        f.sync_all()?;
        std::fs::rename(&tmp, parts.join(format!("{name}.jsonl.gz")))?;
        Ok(())
    }

    fn parts_of(&self, entity: Entity) -> std::io::Result<Vec<PathBuf>> {
        let prefix = format!("{}.", entity.as_str());
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.dir.join("parts"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                n.starts_with(&prefix) && n.ends_with(".jsonl.gz")
            })
            .collect();
        v.sort();
        Ok(v)
    }

    fn ids_in_parts(&self, entity: Entity) -> std::io::Result<HashSet<u128>> {
        let mut ids = HashSet::new();
        for p in self.parts_of(entity)? {
            for line in BufReader::new(MultiGzDecoder::new(std::fs::File::open(&p)?)).lines() {
                let line = line?;
                if let Ok(o) = RawObject::from_json(&line)
                    && let Some(id) = archived_id(entity, &o)
                {
                    ids.insert(id_digest(&id));
                }
            }
        }
        Ok(ids)
    }

    fn consolidate(&self, entity: Entity) -> std::io::Result<Option<ManifestFile>> {
        let parts = self.parts_of(entity)?;
        let out_path = self.dir.join(file_name(entity));
        if parts.is_empty() && !out_path.exists() {
            return Ok(None);
        }
        // Duplicates only arise from a resumed batch written twice. Digests, not ids: a
        // million observations need 16 bytes each here instead of a whole string.
        let mut seen: HashSet<u128> = HashSet::new();
        let tmp = self.dir.join(format!("{}.tmp", file_name(entity)));
        let mut gz = GzEncoder::new(std::fs::File::create(&tmp)?, Compression::fast());
        let mut count = 0u64;
        for p in &parts {
            for line in BufReader::new(MultiGzDecoder::new(std::fs::File::open(p)?)).lines() {
                let line = line?;
                let id = RawObject::from_json(&line)
                    .ok()
                    .and_then(|o| archived_id(entity, &o))
                    .unwrap_or_default();
                if seen.insert(id_digest(&id)) {
                    gz.write_all(line.as_bytes())?;
                    gz.write_all(b"\n")?;
                    count += 1;
                }
            }
        }
        gz.finish()?.sync_all()?;
        std::fs::rename(&tmp, &out_path)?;
        for p in parts {
            std::fs::remove_file(p)?;
        }
        Ok(Some(ManifestFile {
            file: file_name(entity),
            count,
            sha256: sha256_file(&out_path)?,
        }))
    }
}

/// 128 bits of an id's SHA-256: a collision among even billions of ids is out of reach.
fn id_digest(id: &str) -> u128 {
    let h = Sha256::digest(id.as_bytes());
    u128::from_le_bytes(h[..16].try_into().expect("16 bytes"))
}

/// The id stored in an archived object (prompt versions: `name:version`).
fn archived_id(entity: Entity, o: &RawObject) -> Option<String> {
    match entity {
        Entity::Prompts => Some(format!("{}:{}", o.str("name")?, o.i64("version")?)),
        // Run items read from v4 experiments have no id of their own: their natural key.
        _ => o.str("id").or_else(|| crate::vocab::natural_key(entity, o)),
    }
}

fn sha256_file(p: &Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(p)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[async_trait]
impl TargetConnector for ArchiveWriter {
    fn describe(&self) -> String {
        format!("archive folder {}", self.dir.display())
    }
    fn generation(&self) -> Option<Generation> {
        None
    }
    fn max_batch_bytes(&self, _: Entity) -> usize {
        8 << 20
    }
    fn max_batch_items(&self, _: Entity) -> usize {
        5000
    }
    fn max_object_bytes(&self, _: Entity) -> Option<usize> {
        // A file has no request limit: an object of any size is exported.
        None
    }
    async fn existing_keys_page(
        &self,
        _: Entity,
        _: &Scope,
        _: Option<String>,
    ) -> Result<(Vec<crate::connectors::ExistingKey>, Option<String>), EngineError> {
        // Parts belong to this run (a complete archive is refused in `new`).
        Ok((vec![], None))
    }
    async fn write_batch(
        &self,
        entity: Entity,
        records: &[Record],
        _: Dialect,
    ) -> Vec<WriteOutcome> {
        let r = tokio::task::block_in_place(|| self.write_part(entity, records));
        match r {
            Ok(()) => records.iter().map(|_| WriteOutcome::written()).collect(),
            Err(e) => records
                .iter()
                .map(|_| WriteOutcome::Failed(format!("writing the archive failed: {e}")))
                .collect(),
        }
    }
    async fn which_exist(
        &self,
        entity: Entity,
        records: &[Record],
    ) -> Result<HashSet<String>, EngineError> {
        let ids = tokio::task::block_in_place(|| self.ids_in_parts(entity))
            .map_err(|e| archive_err(&self.dir, e))?;
        Ok(records
            .iter()
            .map(|r| record_key(r).to_string())
            .filter(|id| ids.contains(&id_digest(id)))
            .collect())
    }
    async fn finish(&self, complete: bool) -> Result<(), EngineError> {
        let mut entities = BTreeMap::new();
        for e in Entity::ALL {
            if let Some(f) = tokio::task::block_in_place(|| self.consolidate(e))
                .map_err(|err| archive_err(&self.dir, err))?
            {
                entities.insert(e.as_str().to_string(), f);
            }
        }
        let m = Manifest {
            schema_version: SCHEMA_VERSION,
            created_at: chrono::Utc::now().to_rfc3339(),
            source: self.source.clone(),
            window: self.window.clone(),
            entities,
            complete,
        };
        files::write_atomically(
            &self.dir.join("manifest.json"),
            &serde_json::to_vec_pretty(&m).expect("manifest serialises"),
        )
        .map_err(|e| archive_err(&self.dir, e))?;
        if complete {
            let _ = std::fs::remove_dir(self.dir.join("parts"));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- reading

/// A decompressing reader positioned after the given number of lines.
type OpenFile = (u64, Box<dyn BufRead + Send>);

pub struct ArchiveReader {
    dir: PathBuf,
    pub manifest: Manifest,
    /// Open reader per entity with the number of lines consumed so far.
    open: Mutex<BTreeMap<Entity, OpenFile>>,
}

impl ArchiveReader {
    pub fn open(dir: &Path) -> Result<Self, EngineError> {
        let text = std::fs::read_to_string(dir.join("manifest.json"))
            .map_err(|e| archive_err(dir, format!("manifest.json cannot be read ({e})")))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| archive_err(dir, format!("manifest.json is malformed ({e})")))?;
        if manifest.schema_version > SCHEMA_VERSION {
            return Err(archive_err(
                dir,
                format!(
                    "it was written with schema version {}, newer than this program understands ({SCHEMA_VERSION})",
                    manifest.schema_version
                ),
            ));
        }
        if !manifest.complete {
            return Err(archive_err(dir, "the export that wrote it did not finish"));
        }
        for f in manifest.entities.values() {
            let p = dir.join(&f.file);
            let sum = sha256_file(&p)
                .map_err(|e| archive_err(dir, format!("{} cannot be read ({e})", f.file)))?;
            if sum != f.sha256 {
                return Err(archive_err(
                    dir,
                    format!(
                        "{} does not match its checksum in the manifest; the file is damaged or was changed",
                        f.file
                    ),
                ));
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            open: Mutex::new(BTreeMap::new()),
        })
    }

    fn reader_at(
        &self,
        entity: Entity,
        line: u64,
    ) -> std::io::Result<Option<(u64, Box<dyn BufRead + Send>)>> {
        let mut open = self.open.lock().expect("archive lock");
        if let Some((pos, r)) = open.remove(&entity)
            && pos == line
        {
            return Ok(Some((pos, r)));
        }
        let Some(f) = self.manifest.entities.get(entity.as_str()) else {
            return Ok(None);
        };
        let mut r: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(std::fs::File::open(self.dir.join(&f.file))?),
        ));
        let mut skipped = 0;
        let mut buf = String::new();
        while skipped < line {
            buf.clear();
            if r.read_line(&mut buf)? == 0 {
                break;
            }
            skipped += 1;
        }
        Ok(Some((skipped, r)))
    }
}

#[async_trait]
impl SourceConnector for ArchiveReader {
    fn describe(&self) -> String {
        format!(
            "archive folder {} ({})",
            self.dir.display(),
            self.manifest.source.description
        )
    }
    fn payloads(&self) -> Payloads {
        // Archives hold what a Langfuse source gave, in the dialect its manifest records.
        Payloads::langfuse(Dialect::of(self.manifest.source.generation))
    }
    fn supports(&self, entity: Entity) -> bool {
        self.manifest.entities.contains_key(entity.as_str())
    }
    async fn read_page(
        &self,
        entity: Entity,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let start: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(0);
        let dir = self.dir.clone();
        tokio::task::block_in_place(|| {
            let Some((mut pos, mut r)) = self
                .reader_at(entity, start)
                .map_err(|e| archive_err(&dir, e))?
            else {
                return Ok(Page::default());
            };
            let mut records = Vec::with_capacity(PAGE);
            let mut line = String::new();
            let mut eof = false;
            while records.len() < PAGE {
                line.clear();
                if r.read_line(&mut line).map_err(|e| archive_err(&dir, e))? == 0 {
                    eof = true;
                    break;
                }
                pos += 1;
                let text = line.trim_end();
                if text.is_empty() {
                    continue;
                }
                let body = RawObject::from_json(text).map_err(|e| {
                    archive_err(
                        &dir,
                        format!(
                            "line {pos} of {} is not valid JSON ({e})",
                            file_name(entity)
                        ),
                    )
                })?;
                if !crate::vocab::filter::in_scope(entity, &body, scope) {
                    continue;
                }
                let id = archived_id(entity, &body).ok_or_else(|| {
                    archive_err(
                        &dir,
                        format!("line {pos} of {} has no id", file_name(entity)),
                    )
                })?;
                records.push(Record::new(entity, id, body));
            }
            let next = if eof {
                None
            } else {
                self.open
                    .lock()
                    .expect("archive lock")
                    .insert(entity, (pos, r));
                Some(pos.to_string())
            };
            Ok(Page { records, next })
        })
    }
    async fn count(&self, entity: Entity, _: &Scope) -> Result<Option<u64>, EngineError> {
        Ok(Some(
            self.manifest
                .entities
                .get(entity.as_str())
                .map(|f| f.count)
                .unwrap_or(0),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::SourceConnector;

    fn observation(id: &str) -> Record {
        let body = RawObject::from_json(&format!(
            r#"{{"id":"{id}","traceId":"t","startTime":"2026-01-01T00:00:00.000Z"}}"#
        ))
        .unwrap();
        Record::new(Entity::Observations, id.to_string(), body)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_batch_written_twice_by_a_resumed_run_is_archived_once() {
        let dir = tempfile::tempdir().unwrap();
        let w = ArchiveWriter::new(
            dir.path(),
            "test".into(),
            Payloads::langfuse(Dialect::LangfuseV4),
            &Scope::default(),
        )
        .unwrap();
        let first: Vec<Record> = ["a", "b", "c"].into_iter().map(observation).collect();
        w.write_batch(Entity::Observations, &first, Dialect::LangfuseV4)
            .await;
        // The process died before the journal confirmed the batch: the resumed run asks what
        // exists, then writes the batch (and more) again.
        let again: Vec<Record> = ["b", "c", "d"].into_iter().map(observation).collect();
        let exist = w.which_exist(Entity::Observations, &again).await.unwrap();
        assert_eq!(exist, HashSet::from(["b".to_string(), "c".to_string()]));
        w.write_batch(Entity::Observations, &again, Dialect::LangfuseV4)
            .await;
        w.finish(true).await.unwrap();

        let r = ArchiveReader::open(dir.path()).unwrap();
        let page = r
            .read_page(Entity::Observations, &Scope::default(), None)
            .await
            .unwrap();
        let mut ids: Vec<String> = page.records.into_iter().map(|r| r.id).collect();
        ids.sort();
        assert_eq!(ids, ["a", "b", "c", "d"]);
    }
}
