//! The two sides of a migration as traits. Langfuse and the archive implement both; LangSmith and
//! other platforms implement `SourceConnector` (in a folder of their own under `connectors/`),
//! handing over Langfuse's canonical objects and saying in `payloads()` what they are.

pub use crate::vocab::ExistingKey;
use crate::vocab::{Dialect, EngineError, Entity, Generation, Payloads, Record, Scope};
use async_trait::async_trait;
use std::collections::HashSet;

/// See [`SourceConnector::preflight_counts`].
#[derive(Debug, Default)]
pub struct SourceCounts {
    pub counts: std::collections::BTreeMap<Entity, Option<u64>>,
    pub notes: Vec<String>,
    pub least_seconds: Option<f64>,
}

/// One page of a source stream. `next` is the resume point after this page (`None` = end).
#[derive(Debug, Default)]
pub struct Page {
    pub records: Vec<Record>,
    pub next: Option<String>,
}

/// The [`SourceConnector`] methods a source wrapper (a filter over another source's pages)
/// hands straight to the source it wraps, kept in its `inner` field.
macro_rules! forward_to_inner_source {
    () => {
        fn describe(&self) -> String {
            self.inner.describe()
        }

        fn payloads(&self) -> $crate::vocab::Payloads {
            self.inner.payloads()
        }

        fn supports(&self, entity: $crate::vocab::Entity) -> bool {
            self.inner.supports(entity)
        }

        fn media_source(&self) -> Option<&dyn $crate::connectors::media::MediaSource> {
            self.inner.media_source()
        }
    };
}
pub(crate) use forward_to_inner_source;

#[async_trait]
pub trait SourceConnector: Send + Sync {
    fn describe(&self) -> String;
    /// Which platform's data the records are and the dialect of their payloads (decides how
    /// they are written and compared).
    fn payloads(&self) -> Payloads;
    /// Whether the source can provide this entity at all.
    fn supports(&self, entity: Entity) -> bool;
    /// Reads one page of `entity` in `scope`, starting at `cursor` (`None` = from the start).
    async fn read_page(
        &self,
        entity: Entity,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError>;
    /// How many objects the scope holds, when the source can tell cheaply.
    async fn count(&self, entity: Entity, scope: &Scope) -> Result<Option<u64>, EngineError>;
    /// What a pre-flight learns about the source: counts per entity (a pre-flight may spend
    /// requests to count, which a phase start may not), lines about the source, and the least
    /// time the source's own request limits allow. By default, the cheap counts.
    async fn preflight_counts(
        &self,
        entities: &[Entity],
        scope: &Scope,
    ) -> Result<SourceCounts, EngineError> {
        let mut out = SourceCounts::default();
        for e in entities {
            out.counts
                .insert(*e, self.count(*e, scope).await.unwrap_or(None));
        }
        Ok(out)
    }
    /// Where media bytes come from, when this source has media (see `crate::connectors::media`).
    fn media_source(&self) -> Option<&dyn crate::connectors::media::MediaSource> {
        None
    }
    /// A count good enough to plan work by (validation's time slices): the exact count, or an
    /// estimate where the source has no exact total.
    async fn estimate(&self, entity: Entity, scope: &Scope) -> Result<Option<u64>, EngineError> {
        self.count(entity, scope).await
    }
}

impl WriteOutcome {
    pub fn written() -> Self {
        WriteOutcome::Written {
            target_id: None,
            object_id: None,
            warning: None,
        }
    }
}

/// What happened to one object of a written batch.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteOutcome {
    /// Acknowledged; for target-assigned ids, the key the target gave it (`target_id`) and,
    /// when that key is not the object's own id (prompt versions: `name:version`), the target's
    /// object id (`object_id`) for references such as comments on prompts.
    Written {
        target_id: Option<String>,
        object_id: Option<String>,
        /// Written, but something that should have come with it did not (a plain sentence the
        /// run report shows).
        warning: Option<String>,
    },
    /// The target refused it; retrying will not help.
    Failed(String),
    /// The request may or may not have applied; check before re-sending.
    Unknown(String),
    /// Not sent at all because of a transient problem; safe to send again.
    Retry(String),
}

/// One version of a prompt in the target, identified by its content.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetPromptVersion {
    pub version: i64,
    /// The version's own id (what comments on it point at).
    pub object_id: Option<String>,
    /// `model::prompt_fingerprint` of the version.
    pub fingerprint: String,
}

#[async_trait]
pub trait TargetConnector: Send + Sync {
    fn describe(&self) -> String;
    fn generation(&self) -> Option<Generation>;
    /// Largest request body for this entity.
    fn max_batch_bytes(&self, entity: Entity) -> usize;
    /// Largest number of objects per request for this entity.
    fn max_batch_items(&self, entity: Entity) -> usize;
    /// The bytes `record` takes in a request body as this target sends it (batches are sized
    /// by these, not by the record's own length).
    fn wire_len(&self, _entity: Entity, record: &Record) -> usize {
        record.body.approx_len()
    }
    /// The largest single object this target takes; `None` = no limit (a folder).
    fn max_object_bytes(&self, entity: Entity) -> Option<usize> {
        Some(self.max_batch_bytes(entity))
    }
    /// One page of the keys (ids; natural keys for target-assigned entities, see
    /// `model::natural_key`) present in the target in `scope`. `None` cursor = first page; a
    /// `None` next cursor = last page.
    async fn existing_keys_page(
        &self,
        entity: Entity,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<(Vec<ExistingKey>, Option<String>), EngineError>;
    /// Writes records (already mapped: references rewritten). One outcome per record, in order.
    async fn write_batch(
        &self,
        entity: Entity,
        records: &[Record],
        source: Dialect,
    ) -> Vec<WriteOutcome>;
    /// Of these records, which are present in the target (keys as in `existing_ids`).
    async fn which_exist(
        &self,
        entity: Entity,
        records: &[Record],
    ) -> Result<HashSet<String>, EngineError>;
    /// Where media bytes go, when this target takes media (see `crate::connectors::media`).
    fn media_target(&self) -> Option<&dyn crate::connectors::media::MediaTarget> {
        None
    }
    /// Called once everything was written (the archive writes its manifest here).
    async fn finish(&self, _complete: bool) -> Result<(), EngineError> {
        Ok(())
    }
    /// Every version of prompt `name` the target holds (none where it has no prompts).
    async fn prompt_versions(&self, _name: &str) -> Result<Vec<TargetPromptVersion>, EngineError> {
        Ok(vec![])
    }
    /// For each of `labels`, the version of prompt `name` that holds it now (if any).
    async fn prompt_label_holders(
        &self,
        _name: &str,
        _labels: &[String],
    ) -> Result<Vec<(String, i64)>, EngineError> {
        Ok(vec![])
    }
    /// Applies the labels of prompt versions once every version exists.
    async fn apply_prompt_labels(
        &self,
        _name: &str,
        _version: i64,
        _labels: &[String],
    ) -> Result<(), EngineError> {
        Ok(())
    }
}

/// Reads every page of `entity` in `scope` from `source`, handing each page's records to `f`.
pub async fn for_each_page<S: SourceConnector + ?Sized>(
    source: &S,
    entity: Entity,
    scope: &Scope,
    mut f: impl FnMut(Vec<Record>) -> Result<(), EngineError> + Send,
) -> Result<(), EngineError> {
    let mut cursor = None;
    loop {
        let page = source.read_page(entity, scope, cursor).await?;
        f(page.records)?;
        match page.next {
            Some(c) => cursor = Some(c),
            None => return Ok(()),
        }
    }
}

/// Lists every key the target holds for `entity` in `scope`, handing each page of keys to `f`.
pub async fn for_each_existing_key_page<T: TargetConnector + ?Sized>(
    target: &T,
    entity: Entity,
    scope: &Scope,
    mut f: impl FnMut(Vec<ExistingKey>) + Send,
) -> Result<(), EngineError> {
    let mut cursor = None;
    loop {
        let (keys, next) = target.existing_keys_page(entity, scope, cursor).await?;
        f(keys);
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(()),
        }
    }
}
