//! Copies the media a batch refers to, once per media object per run, before the batch is
//! written (see the module docs).

use crate::connectors::media::refs::{MediaLink, MediaRef, record_references, rewrite_id};
use crate::connectors::media::{MediaError, MediaMeta};
use crate::connectors::{SourceConnector, TargetConnector};
use crate::run::journal::{Journal, ObjectState, RowUpdate};
use crate::run::progress::{Counters, ProgressEvent, ProgressSink};
use crate::vocab::{EngineError, Entity, Record};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Media transfers of one batch that run at the same time.
const PARALLEL: usize = 4;

#[derive(Clone, Debug)]
enum Outcome {
    /// In the target as `target_id`; `first` is the link its upload request already made.
    Copied {
        target_id: String,
        meta: MediaMeta,
        first: Option<MediaLink>,
    },
    Failed,
}

/// The run's media copier: journal, both sides, and one cell per media id so that batches
/// running at the same time never transfer the same media twice.
pub struct MediaCopier {
    journal: Arc<Journal>,
    source: Arc<dyn SourceConnector>,
    target: Arc<dyn TargetConnector>,
    counters: Arc<Counters>,
    sink: Arc<dyn ProgressSink>,
    cells: Mutex<HashMap<String, Arc<OnceCell<Outcome>>>>,
    files: tempfile::TempDir,
    next_file: AtomicU64,
}

impl MediaCopier {
    /// A copier, or `None` when one side has no media API (then references travel as they are).
    pub fn new(
        journal: Arc<Journal>,
        source: Arc<dyn SourceConnector>,
        target: Arc<dyn TargetConnector>,
        counters: Arc<Counters>,
        sink: Arc<dyn ProgressSink>,
    ) -> Result<Option<MediaCopier>, EngineError> {
        if source.media_source().is_none() || target.media_target().is_none() {
            return Ok(None);
        }
        let files = tempfile::Builder::new()
            .prefix("langfuse-migrator-media-")
            .tempdir()
            .map_err(|e| EngineError::Journal(format!("no temporary folder for media: {e}")))?;
        Ok(Some(MediaCopier {
            journal,
            source,
            target,
            counters,
            sink,
            cells: Mutex::new(HashMap::new()),
            files,
            next_file: AtomicU64::new(0),
        }))
    }

    /// Copies every media object the records refer to and rewrites references whose media got
    /// another id in the target. Media that cannot be copied is journaled as failed; the
    /// records are written either way.
    pub async fn carry(&self, mut records: Vec<&mut Record>) -> Result<(), EngineError> {
        let mut refs: Vec<(usize, MediaLink, MediaRef)> = Vec::new();
        for (i, r) in records.iter().enumerate() {
            for (link, m) in record_references(r) {
                if !refs
                    .iter()
                    .any(|(j, l, x)| *j == i && *l == link && x.id == m.id)
                {
                    refs.push((i, link, m));
                }
            }
        }
        if refs.is_empty() {
            return Ok(());
        }
        let results: Vec<(usize, String, Result<Option<String>, EngineError>)> =
            futures::stream::iter(refs)
                .map(|(i, link, m)| async move {
                    let r = self.one(&link, &m).await;
                    (i, m.id, r)
                })
                .buffer_unordered(PARALLEL)
                .collect()
                .await;
        for (i, source_id, result) in results {
            if let Some(target_id) = result? {
                rewrite_id(records[i], &source_id, &target_id);
            }
        }
        Ok(())
    }

    fn cell(&self, id: &str) -> Arc<OnceCell<Outcome>> {
        self.cells
            .lock()
            .expect("media cells")
            .entry(id.to_string())
            .or_default()
            .clone()
    }

    /// One reference: the media copied (once), then linked to this place in the target.
    async fn one(&self, link: &MediaLink, m: &MediaRef) -> Result<Option<String>, EngineError> {
        let cell = self.cell(&m.id);
        let outcome = cell.get_or_try_init(|| self.copy(link, m)).await?.clone();
        let Outcome::Copied {
            target_id,
            meta,
            first,
        } = outcome
        else {
            return Ok(None);
        };
        if first.as_ref() != Some(link) {
            let target = self.target.media_target().expect("checked in new");
            if let Err(e) = target.store_media(&m.id, link, &meta, None).await {
                let message = format!(
                    "Media {} could not be linked to {}: {e}",
                    m.id,
                    link.describe()
                );
                self.journal.log("warning", &message)?;
                self.sink.emit(ProgressEvent::Warning { message });
            }
        }
        Ok(Some(target_id))
    }

    async fn copy(&self, link: &MediaLink, m: &MediaRef) -> Result<Outcome, EngineError> {
        if let Some(row) = self.journal.row(Entity::Media, &m.id)? {
            match (row.state, row.target_id, row.content_hash) {
                (ObjectState::Confirmed, Some(target_id), Some(h)) => {
                    if let Some(meta) = MediaMeta::from_journal_hash(&h, &m.content_type) {
                        return Ok(Outcome::Copied {
                            target_id,
                            meta,
                            first: None,
                        });
                    }
                }
                (ObjectState::Failed, _, _) => return Ok(Outcome::Failed),
                // Sent (a run interrupted mid-upload) or pending: copy again; the target
                // answers without an upload URL when it already has the bytes.
                _ => {}
            }
        }
        self.counters.add_read(Entity::Media, 1);
        let n = self.next_file.fetch_add(1, Ordering::Relaxed);
        let file = self.files.path().join(format!("{n}.bin"));
        let source = self.source.media_source().expect("checked in new");
        let meta = match source.fetch_media(&m.id, &file).await {
            Ok(meta) => meta,
            Err(e) => return self.fail(m, link, e),
        };
        // Journal before wire: a crash from here on finds the row `sent` and asks again.
        let hash = meta.journal_hash();
        self.journal.mark(
            Entity::Media,
            ObjectState::Sent,
            &[RowUpdate {
                source_id: &m.id,
                target_id: None,
                content_hash: Some(&hash),
                reason: None,
            }],
        )?;
        let target = self.target.media_target().expect("checked in new");
        let stored = target.store_media(&m.id, link, &meta, Some(&file)).await;
        let _ = tokio::fs::remove_file(&file).await;
        let target_id = match stored {
            Ok(id) => id,
            Err(e) => return self.fail(m, link, e),
        };
        self.journal.mark(
            Entity::Media,
            ObjectState::Confirmed,
            &[RowUpdate {
                source_id: &m.id,
                target_id: Some(&target_id),
                content_hash: Some(&hash),
                reason: None,
            }],
        )?;
        if target_id != m.id {
            self.journal.map_id(Entity::Media, &m.id, &target_id)?;
        }
        self.counters.add_written(Entity::Media, 1);
        Ok(Outcome::Copied {
            target_id,
            meta,
            first: Some(link.clone()),
        })
    }

    fn fail(&self, m: &MediaRef, link: &MediaLink, e: MediaError) -> Result<Outcome, EngineError> {
        let reason = format!("{e}; referenced by {}", link.describe());
        self.journal.mark(
            Entity::Media,
            ObjectState::Failed,
            &[RowUpdate {
                source_id: &m.id,
                target_id: None,
                content_hash: None,
                reason: Some(&reason),
            }],
        )?;
        self.counters.add_failed(Entity::Media, 1);
        self.sink.emit(ProgressEvent::ObjectFailed {
            entity: Entity::Media,
            id: m.id.clone(),
            reason,
        });
        Ok(Outcome::Failed)
    }
}
