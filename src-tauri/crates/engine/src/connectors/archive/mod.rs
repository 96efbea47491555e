//! The archive: a folder with one gzip-compressed JSON Lines file per entity and a
//! `manifest.json` (schema version, source, time window, counts, sha256 per file).
//!
//! Writing: every batch becomes a part file, written to a temporary name and renamed, so a crash
//! never leaves half a batch. `finish` concatenates the parts (gzip members concatenate into a
//! valid gzip file), dropping any object a resumed run wrote twice, and writes the manifest.
//! Reading verifies each file's sha256 against the manifest before the first record is used.

pub mod media;

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
/// The longest line (one object) read from an archive. Langfuse's own request limit is a few
/// MB; a longer line is a damaged or hostile file (a gzip bomb is one endless line), and
/// reading it whole would exhaust memory. With at most one line per object the manifest lists,
/// this also bounds how much a file may decompress to.
pub const MAX_LINE_BYTES: usize = 32 << 20;
/// Names the run that writes an unfinished archive, so another run does not merge into it.
const OWNER_FILE: &str = "export-run";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub schema_version: u32,
    pub created_at: String,
    pub source: ManifestSource,
    pub window: ManifestWindow,
    pub entities: BTreeMap<String, ManifestFile>,
    /// Media files under `media/`, by media id (absent in archives written before media).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub media: BTreeMap<String, ManifestMedia>,
    pub complete: bool,
}

/// One media file of an archive: where it is, what it is, and its sha256 (standard base64, as
/// the media API carries it).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ManifestMedia {
    pub file: String,
    pub content_type: String,
    pub length: u64,
    pub sha256: String,
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

enum Line {
    End,
    Text,
    TooLong,
}

/// Reads the next line into `buf`, never more than [`MAX_LINE_BYTES`] of it.
fn next_line<R: BufRead + ?Sized>(r: &mut R, buf: &mut String) -> std::io::Result<Line> {
    buf.clear();
    let n = (&mut *r).take(MAX_LINE_BYTES as u64 + 1).read_line(buf)?;
    Ok(if n == 0 {
        Line::End
    } else if n > MAX_LINE_BYTES && !buf.ends_with('\n') {
        Line::TooLong
    } else {
        Line::Text
    })
}

fn too_long(line: u64, file: &str) -> String {
    format!(
        "line {line} of {file} is longer than {} MiB; the file is damaged or was not written by this program",
        MAX_LINE_BYTES >> 20
    )
}

/// Reads every line of a gzip file, each capped in length.
fn for_each_line(
    path: &Path,
    mut f: impl FnMut(u64, &str) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut r = BufReader::new(MultiGzDecoder::new(std::fs::File::open(path)?));
    let mut buf = String::new();
    let mut n = 0u64;
    loop {
        n += 1;
        match next_line(&mut r, &mut buf)? {
            Line::End => return Ok(()),
            Line::TooLong => {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                return Err(std::io::Error::other(too_long(n, name)));
            }
            Line::Text => f(n, buf.trim_end_matches('\n'))?,
        }
    }
}

// ---------------------------------------------------------------- writing

pub struct ArchiveWriter {
    dir: PathBuf,
    /// The run writing the archive; `None` for a pre-flight, which never writes.
    run_id: Option<String>,
    /// Whether the folder, its `parts/` and the owner file exist yet (made at the first write,
    /// so pre-flights and dry runs leave the folder untouched).
    started: Mutex<bool>,
    source: ManifestSource,
    window: ManifestWindow,
    part_seq: AtomicU64,
}

impl ArchiveWriter {
    /// Prepares writing into `dir` for `run_id`, creating nothing yet. Refuses a complete
    /// archive, and an unfinished one that another run wrote (resume that run instead).
    pub fn new(
        dir: &Path,
        source_description: String,
        payloads: Payloads,
        scope: &Scope,
        run_id: Option<&str>,
    ) -> Result<Self, EngineError> {
        let manifest = std::fs::read_to_string(dir.join("manifest.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<Manifest>(&text).ok());
        if manifest.as_ref().is_some_and(|m| m.complete) {
            return Err(archive_err(
                dir,
                "the folder already holds a complete archive; choose an empty folder",
            ));
        }
        let existing = match std::fs::read_dir(dir.join("parts")) {
            Ok(entries) => entries.count() as u64,
            Err(_) => 0,
        };
        if existing > 0 || manifest.is_some() {
            let owner = std::fs::read_to_string(dir.join(OWNER_FILE))
                .ok()
                .map(|s| s.trim().to_owned());
            if owner.is_none() || owner.as_deref() != run_id {
                let whose = match &owner {
                    Some(id) => format!(
                        "run {id}; resume that run (in the app's Runs, or `langfuse-migrator-cli resume {id}`)"
                    ),
                    None => "another run; resume that run".into(),
                };
                return Err(archive_err(
                    dir,
                    format!(
                        "the folder holds an unfinished export of {whose}, or choose an empty folder"
                    ),
                ));
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            run_id: run_id.map(str::to_owned),
            started: Mutex::new(false),
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

    /// Creates the folder and names this run its writer, once, before the first part.
    fn start(&self) -> std::io::Result<()> {
        let mut started = self.started.lock().expect("archive lock");
        if !*started {
            std::fs::create_dir_all(self.dir.join("parts"))?;
            if let Some(id) = &self.run_id {
                std::fs::write(self.dir.join(OWNER_FILE), id)?;
            }
            *started = true;
        }
        Ok(())
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn write_part(&self, entity: Entity, records: &[Record]) -> std::io::Result<()> {
        self.start()?;
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
        let parts = self.dir.join("parts");
        if !parts.exists() {
            return Ok(vec![]);
        }
        let mut v: Vec<PathBuf> = std::fs::read_dir(parts)?
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
            for_each_line(&p, |_, line| {
                if let Ok(o) = RawObject::from_json(line)
                    && let Some(id) = archived_id(entity, &o)
                {
                    ids.insert(id_digest(&id));
                }
                Ok(())
            })?;
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
        // What an earlier, unfinished end of this run consolidated (a cancelled export that is
        // resumed) comes first; the parts written since follow.
        let earlier = out_path.exists().then(|| out_path.clone());
        for p in earlier.iter().chain(&parts) {
            for_each_line(p, |n, line| {
                // Objects without an id would all collapse into one: refuse them by line.
                let id = RawObject::from_json(line)
                    .ok()
                    .and_then(|o| archived_id(entity, &o))
                    .ok_or_else(|| {
                        std::io::Error::other(format!("line {n} of {} has no id", p.display()))
                    })?;
                if seen.insert(id_digest(&id)) {
                    gz.write_all(line.as_bytes())?;
                    gz.write_all(b"\n")?;
                    count += 1;
                }
                Ok(())
            })?;
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

/// The id stored in an archived object (prompt versions: `name:version`); an empty id is none.
fn archived_id(entity: Entity, o: &RawObject) -> Option<String> {
    match entity {
        Entity::Prompts => Some(format!("{}:{}", o.str("name")?, o.i64("version")?)),
        // Run items read from v4 experiments have no id of their own: their natural key.
        _ => match o.str("id") {
            Some(id) if id.is_empty() => None,
            Some(id) => Some(id),
            None => crate::vocab::natural_key(entity, o),
        },
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
    fn media_target(&self) -> Option<&dyn crate::connectors::media::MediaTarget> {
        Some(self)
    }
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
        // A run that wrote nothing still leaves a manifest (and its name, to be resumed).
        self.start().map_err(|e| archive_err(&self.dir, e))?;
        let mut entities = BTreeMap::new();
        for e in Entity::ALL {
            if let Some(f) = tokio::task::block_in_place(|| self.consolidate(e))
                .map_err(|err| archive_err(&self.dir, err))?
            {
                entities.insert(e.as_str().to_string(), f);
            }
        }
        let media = media::written_media(&self.dir).map_err(|e| archive_err(&self.dir, e))?;
        let m = Manifest {
            schema_version: SCHEMA_VERSION,
            created_at: chrono::Utc::now().to_rfc3339(),
            source: self.source.clone(),
            window: self.window.clone(),
            entities,
            media,
            complete,
        };
        files::write_atomically(
            &self.dir.join("manifest.json"),
            &serde_json::to_vec_pretty(&m).expect("manifest serialises"),
        )
        .map_err(|e| archive_err(&self.dir, e))?;
        if complete {
            let _ = std::fs::remove_dir(self.dir.join("parts"));
            let _ = std::fs::remove_file(self.dir.join(OWNER_FILE));
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
            // A bare file name: `../x` or `/etc/x` would read outside the folder.
            let mut parts = Path::new(&f.file).components();
            if !matches!(
                (parts.next(), parts.next()),
                (Some(std::path::Component::Normal(_)), None)
            ) {
                return Err(archive_err(
                    dir,
                    format!(
                        "manifest.json names a file outside the archive folder (\"{}\"); the archive is damaged or was tampered with",
                        f.file
                    ),
                ));
            }
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

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
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
            match next_line(&mut r, &mut buf)? {
                Line::End => break,
                Line::TooLong => {
                    return Err(std::io::Error::other(too_long(skipped + 1, &f.file)));
                }
                Line::Text => skipped += 1,
            }
        }
        Ok(Some((skipped, r)))
    }
}

#[async_trait]
impl SourceConnector for ArchiveReader {
    fn media_source(&self) -> Option<&dyn crate::connectors::media::MediaSource> {
        Some(self)
    }
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
            let listed = self.manifest.entities[entity.as_str()].count;
            let mut records = Vec::with_capacity(PAGE);
            let mut line = String::new();
            let mut eof = false;
            while records.len() < PAGE {
                let read = next_line(&mut r, &mut line).map_err(|e| archive_err(&dir, e))?;
                pos += 1;
                match read {
                    Line::End => {
                        eof = true;
                        break;
                    }
                    Line::TooLong => {
                        return Err(archive_err(&dir, too_long(pos, &file_name(entity))));
                    }
                    Line::Text => {}
                }
                if pos > listed {
                    return Err(archive_err(
                        &dir,
                        format!(
                            "{} holds more lines than the {listed} objects its manifest lists",
                            file_name(entity)
                        ),
                    ));
                }
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
            Some("r1"),
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
