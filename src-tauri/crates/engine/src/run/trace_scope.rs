//! Trace-name and tag filters choose traces; what hangs off those traces (observations, scores,
//! sessions, comments, dataset run items) follows them.
//!
//! The objects themselves cannot be filtered by name or tag: a legacy observation carries
//! neither its trace's name nor its tags, so filtering each object on its own would drop every
//! observation of a v2/v3 source. Instead the chosen traces are listed once, and the other
//! entities are admitted by the trace (or session, or observation) they belong to. Memory grows
//! with the chosen traces, which a filter is there to keep few.

use crate::connectors::{Page, SourceConnector, for_each_page};
use crate::vocab::{EngineError, Entity, RawObject, Record, Scope};
use async_trait::async_trait;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The traces a scope's filters chose, and the sessions they belong to.
#[derive(Debug, Default)]
pub struct TraceSelection {
    traces: HashSet<String>,
    sessions: HashSet<String>,
}

impl TraceSelection {
    /// Lists the traces of `source` that the scope (window, environments, names, tags) admits.
    pub async fn of(source: &dyn SourceConnector, scope: &Scope) -> Result<Self, EngineError> {
        let mut selection = TraceSelection::default();
        if !source.supports(Entity::Traces) {
            return Ok(selection);
        }
        for_each_record(source, Entity::Traces, scope, |r| {
            selection.traces.insert(r.id);
            if let Some(s) = r.body.str("sessionId") {
                selection.sessions.insert(s);
            }
        })
        .await?;
        Ok(selection)
    }

    pub fn trace_count(&self) -> usize {
        self.traces.len()
    }
}

/// Reads every page of `entity` in `scope`, handing each record to `f`.
async fn for_each_record(
    source: &dyn SourceConnector,
    entity: Entity,
    scope: &Scope,
    mut f: impl FnMut(Record) + Send,
) -> Result<(), EngineError> {
    for_each_page(source, entity, scope, |records| {
        records.into_iter().for_each(&mut f);
        Ok(())
    })
    .await
}

/// Whether the scope filters traces by name or tag (and so needs a [`TraceScoped`] reader).
pub fn filters_traces(scope: &Scope) -> bool {
    !scope.trace_names.is_empty() || !scope.tags.is_empty()
}

/// Wraps `source` so that it only yields the chosen traces and what belongs to them; returns
/// `source` unchanged when the scope has no trace filter.
pub async fn scoped_source(
    source: Arc<dyn SourceConnector>,
    scope: &Scope,
) -> Result<Arc<dyn SourceConnector>, EngineError> {
    if !filters_traces(scope) {
        return Ok(source);
    }
    let selection = Arc::new(TraceSelection::of(source.as_ref(), scope).await?);
    Ok(Arc::new(TraceScoped::new(source, selection)))
}

/// A reader that admits objects by the trace they belong to.
pub struct TraceScoped {
    inner: Arc<dyn SourceConnector>,
    selection: Arc<TraceSelection>,
    /// Ids of the chosen traces' observations, listed on first need (comments on observations).
    observations: OnceCell<HashSet<String>>,
}

impl TraceScoped {
    /// `selection` may come from another reader: validation reads the target through the
    /// source's selection, so both sides are compared over the same traces.
    pub fn new(inner: Arc<dyn SourceConnector>, selection: Arc<TraceSelection>) -> Self {
        TraceScoped {
            inner,
            selection,
            observations: OnceCell::new(),
        }
    }

    fn in_trace(&self, body: &RawObject) -> bool {
        body.str("traceId")
            .is_some_and(|t| self.selection.traces.contains(&t))
    }

    fn in_session(&self, body: &RawObject) -> bool {
        body.str("sessionId")
            .is_some_and(|s| self.selection.sessions.contains(&s))
    }

    async fn observation_ids(&self, scope: &Scope) -> Result<&HashSet<String>, EngineError> {
        self.observations
            .get_or_try_init(|| async {
                let mut ids = HashSet::new();
                for_each_record(self, Entity::Observations, scope, |r| {
                    ids.insert(r.id);
                })
                .await?;
                Ok(ids)
            })
            .await
    }

    async fn admits(
        &self,
        entity: Entity,
        id: &str,
        body: &RawObject,
        scope: &Scope,
    ) -> Result<bool, EngineError> {
        Ok(match entity {
            Entity::Traces => self.selection.traces.contains(id),
            Entity::Observations | Entity::DatasetRunItems => self.in_trace(body),
            Entity::Sessions => self.selection.sessions.contains(id),
            // A score belongs to a trace, to a session, or to a dataset run (which the filter
            // does not choose, so those stay).
            Entity::Scores => {
                if body.str("traceId").is_some() {
                    self.in_trace(body)
                } else if body.str("sessionId").is_some() {
                    self.in_session(body)
                } else {
                    true
                }
            }
            // Both point at a trace, an observation or a session.
            Entity::Comments | Entity::AnnotationQueueItems => {
                let object = body.str("objectId").unwrap_or_default();
                match body.str("objectType").as_deref() {
                    Some("TRACE") => self.selection.traces.contains(&object),
                    Some("SESSION") => self.selection.sessions.contains(&object),
                    Some("OBSERVATION") => self.observation_ids(scope).await?.contains(&object),
                    _ => true,
                }
            }
            _ => true,
        })
    }
}

/// The entities a trace filter narrows; the rest pass through untouched.
fn follows_traces(entity: Entity) -> bool {
    matches!(
        entity,
        Entity::Traces
            | Entity::Observations
            | Entity::Sessions
            | Entity::Scores
            | Entity::Comments
            | Entity::AnnotationQueueItems
            | Entity::DatasetRunItems
    )
}

#[async_trait]
impl SourceConnector for TraceScoped {
    crate::connectors::traits::forward_to_inner_source!();

    async fn read_page(
        &self,
        entity: Entity,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let page = self.inner.read_page(entity, scope, cursor).await?;
        if !follows_traces(entity) {
            return Ok(page);
        }
        let mut records = Vec::with_capacity(page.records.len());
        for r in page.records {
            if self.admits(entity, &r.id, &r.body, scope).await? {
                records.push(r);
            }
        }
        Ok(Page {
            records,
            next: page.next,
        })
    }

    async fn count(&self, entity: Entity, scope: &Scope) -> Result<Option<u64>, EngineError> {
        match entity {
            Entity::Traces => Ok(Some(self.selection.trace_count() as u64)),
            // The server counts everything in the window; what the filter keeps is known only
            // by reading.
            e if follows_traces(e) => Ok(None),
            e => self.inner.count(e, scope).await,
        }
    }
}
