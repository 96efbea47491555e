//! Dataset run items on a Langfuse v4 target.
//!
//! v4 has no `POST /dataset-run-items`: an experiment (dataset run) and its item (run item) are
//! created by a span carrying `langfuse.experiment.*` attributes. v4 data is immutable (a re-sent
//! span id is a second row), so those attributes must ride on the trace's root span the one time
//! it is written. Before traces and observations are written, the run items in scope are read
//! (they are few) into an index: carrier span → experiment attributes. The carrier is the legacy
//! trace's synthetic root span `t-<traceId>` (journaled as the trace) or, from a v4 source, the
//! observation the source's experiment item names. The run-items phase then settles each item from
//! its carrier's journal row: written with it, already there, or not creatable, with the reason.

use crate::connectors::traits::{SourceConnector, for_each_page};
use crate::vocab::{Dialect, EngineError, Entity, ObjectState, RawObject, Record, Scope};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What the index needs from the run's journal (the run machinery implements it).
pub trait RunLookup: Sync {
    /// The target's id of a source object whose id the target assigned.
    fn target_id(&self, entity: Entity, source_id: &str) -> Result<Option<String>, EngineError>;
    /// The journal state of one object, if it has a row.
    fn state(&self, entity: Entity, source_id: &str) -> Result<Option<ObjectState>, EngineError>;
}

/// The record field that carries an experiment's attributes to the OTLP writer.
pub const BODY_KEY: &str = "_migratorExperiment";

/// The `langfuse.experiment.*` attributes of one run item.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExperimentAttrs {
    pub id: String,
    pub name: String,
    pub item_id: String,
    pub dataset_id: Option<String>,
    pub description: Option<String>,
    /// JSON text.
    pub metadata: Option<String>,
}

/// The span (as its journaled object) whose write creates a run item on v4.
pub fn carrier(item: &RawObject, source: Dialect) -> Option<(Entity, String)> {
    if source.is_v4() {
        item.str("experimentObservationId")
            .map(|o| (Entity::Observations, o))
    } else {
        item.str("traceId").map(|t| (Entity::Traces, t))
    }
}

/// Run items in scope by carrier; one item per carrier (a span names one experiment item).
#[derive(Default)]
pub struct ExperimentIndex {
    by_carrier: HashMap<(Entity, String), (String, ExperimentAttrs)>,
}

impl ExperimentIndex {
    /// Reads every run item in scope from the source. Dataset ids are the target's (the
    /// datasets phase has run and journaled them).
    pub async fn build(
        source: &dyn SourceConnector,
        scope: &Scope,
        journal: &dyn RunLookup,
    ) -> Result<Self, EngineError> {
        let mut ix = ExperimentIndex::default();
        let dialect = source.payloads().dialect;
        for_each_page(source, Entity::DatasetRunItems, scope, |records| {
            records.iter().try_for_each(|r| ix.add(r, dialect, journal))
        })
        .await?;
        Ok(ix)
    }

    fn add(
        &mut self,
        r: &Record,
        source: Dialect,
        journal: &dyn RunLookup,
    ) -> Result<(), EngineError> {
        let (Some(carrier), Some(name), Some(item_id)) = (
            carrier(&r.body, source),
            r.body.str("datasetRunName"),
            r.body.str("datasetItemId"),
        ) else {
            return Ok(());
        };
        // The source's dataset id, mapped to the target's (datasets are written or found first).
        let dataset_id = match r.body.str("datasetId") {
            Some(d) => journal.target_id(Entity::Datasets, &d)?,
            None => None,
        };
        let attrs = ExperimentAttrs {
            // The source's run id keeps one experiment per run across batches and resumes.
            id: r.body.str("datasetRunId").unwrap_or_else(|| name.clone()),
            name,
            item_id,
            dataset_id,
            description: r.body.str("runDescription"),
            metadata: r
                .body
                .get_present("runMetadata")
                .map(|m| m.get().to_string()),
        };
        self.by_carrier
            .entry(carrier)
            .or_insert_with(|| (r.id.clone(), attrs));
        Ok(())
    }

    /// The attributes to put on this span record, if it carries a run item.
    pub fn attrs_for(&self, entity: Entity, id: &str) -> Option<&ExperimentAttrs> {
        self.by_carrier
            .get(&(entity, id.to_string()))
            .map(|(_, a)| a)
    }

    /// What became of a run item, from its carrier's journal row. `None`: the item is already
    /// in the target from an earlier run (the usual existing-object handling applies).
    pub fn settle(
        &self,
        item: &Record,
        source: Dialect,
        journal: &dyn RunLookup,
        preexisting: bool,
    ) -> Result<Option<Settled>, EngineError> {
        const WHY: &str = "Langfuse v4 creates an experiment item only together with its trace (the \
             experiment attributes must be on the trace's root span when it is first written)";
        let Some(carrier) = carrier(&item.body, source) else {
            return Ok(Some(Settled::Failed(format!(
                "the source names no trace or root observation for it, and {WHY}"
            ))));
        };
        match self.by_carrier.get(&carrier) {
            Some((owner, _)) if *owner != item.id => {
                return Ok(Some(Settled::Failed(format!(
                    "its trace's root span already carries another experiment item ({owner}); a span names one"
                ))));
            }
            _ => {}
        }
        let state = journal.state(carrier.0, &carrier.1)?;
        Ok(match state {
            Some(ObjectState::Confirmed) => Some(Settled::Written),
            _ if preexisting => None,
            Some(ObjectState::Pending) => Some(Settled::Pending),
            Some(ObjectState::Conflict) => Some(Settled::Failed(format!(
                "the target holds another trace under its trace's id, which the run left alone, and {WHY}"
            ))),
            Some(ObjectState::SkippedExisting) => Some(Settled::Failed(format!(
                "its trace already existed in the target, so it was not written again, and {WHY}"
            ))),
            Some(ObjectState::Failed) => Some(Settled::Failed(format!(
                "its trace could not be written, and {WHY}"
            ))),
            Some(ObjectState::Sent) => Some(Settled::Failed(format!(
                "its trace's write was not confirmed, and {WHY}"
            ))),
            None => Some(Settled::Failed(format!(
                "its trace is not part of this migration (outside the time window or filters), and {WHY}"
            ))),
        })
    }
}

/// The outcome of a run item on v4.
#[derive(Debug, PartialEq)]
pub enum Settled {
    Written,
    Pending,
    Failed(String),
}
