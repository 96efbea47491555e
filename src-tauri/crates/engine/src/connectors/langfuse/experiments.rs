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
//!
//! Langfuse reads experiment attributes from any span of a trace, not only the root (its OTel
//! ingestion extracts them per span), but a span names one item. When several runs link one
//! trace, the first item rides on the carrier and each further one gets a span of its own in
//! that trace (`item_span`), written in the run-items phase, if this run wrote the carrier.

use crate::connectors::traits::{SourceConnector, for_each_page};
use crate::vocab::{Dialect, EngineError, Entity, ObjectState, RawObject, Record, Scope};
use serde::{Deserialize, Serialize};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

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

/// The record field that holds an extra run item's own span (an observation body) for the writer.
pub const ITEM_SPAN_KEY: &str = "_migratorItemSpan";

/// The id of the span of its own an extra run item gets: derived from the run item's id, so a
/// resume finds and never re-sends it.
pub fn item_span_id(run_item_id: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(run_item_id.as_bytes());
    format!("e-{}", &hex::encode(digest)[..16])
}

/// Run items in scope by carrier (a span names one experiment item: the first item of a
/// carrier rides on it, further ones get spans of their own).
#[derive(Default)]
pub struct ExperimentIndex {
    by_carrier: HashMap<(Entity, String), (String, ExperimentAttrs)>,
    /// Every item's attributes, by run item id (the extra items' spans carry theirs).
    by_item: HashMap<String, ExperimentAttrs>,
    /// Carriers that more than one item names.
    shared: HashSet<(Entity, String)>,
}

/// When and in which environment a shared carrier span is, kept in the journal (under
/// `place_key`) when it is written, so the items beside it join its trace there, also after a
/// resume: a span of another environment or earlier time would change the trace v4 derives.
#[derive(Default, Serialize, Deserialize)]
pub struct CarrierPlace {
    pub start: Option<String>,
    pub environment: Option<String>,
}

impl CarrierPlace {
    /// The place of a trace (legacy source) or observation (v4 source) record.
    pub fn of(r: &Record) -> Self {
        CarrierPlace {
            start: r.body.str("timestamp").or_else(|| r.body.str("startTime")),
            environment: r.body.str("environment"),
        }
    }
}

/// The journal key of a carrier's place.
pub fn place_key(carrier: &(Entity, String)) -> String {
    format!("experiment-carrier:{}:{}", carrier.0.as_str(), carrier.1)
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
        self.by_item.insert(r.id.clone(), attrs.clone());
        match self.by_carrier.entry(carrier) {
            Entry::Occupied(e) => {
                self.shared.insert(e.key().clone());
            }
            Entry::Vacant(e) => {
                e.insert((r.id.clone(), attrs));
            }
        }
        Ok(())
    }

    /// The attributes to put on this span record, if it carries a run item.
    pub fn attrs_for(&self, entity: Entity, id: &str) -> Option<&ExperimentAttrs> {
        self.by_carrier
            .get(&(entity, id.to_string()))
            .map(|(_, a)| a)
    }

    /// Whether more than one run item names this span record as carrier.
    pub fn is_shared(&self, entity: Entity, id: &str) -> bool {
        self.shared.contains(&(entity, id.to_string()))
    }

    /// The carrier of a run item that another item already rides on.
    pub fn extra_carrier(&self, item: &Record, source: Dialect) -> Option<(Entity, String)> {
        let carrier = carrier(&item.body, source)?;
        let (owner, _) = self.by_carrier.get(&carrier)?;
        (*owner != item.id).then_some(carrier)
    }

    /// The span of its own for a run item whose carrier already names another item: an
    /// observation body under the carrier, at its place. `None` for the others.
    pub fn item_span(
        &self,
        item: &Record,
        source: Dialect,
        place: &CarrierPlace,
    ) -> Option<RawObject> {
        let carrier = self.extra_carrier(item, source)?;
        let attrs = self.by_item.get(&item.id)?;
        let trace_id = item.body.str("traceId")?;
        let parent = match carrier.0 {
            Entity::Traces => super::otlp::trace_span_id(&carrier.1),
            _ => carrier.1,
        };
        let at = place
            .start
            .clone()
            .or_else(|| item.body.str("createdAt"))
            .unwrap_or_else(crate::vocab::time::now_iso_millis);
        let mut o = RawObject::new();
        o.set("id", &item_span_id(&item.id));
        o.set("traceId", &trace_id);
        o.set("parentObservationId", &parent);
        o.set("type", "SPAN");
        o.set("name", "experiment item");
        o.set("startTime", &at);
        o.set("endTime", &at);
        if let Some(e) = &place.environment {
            o.set("environment", e);
        }
        o.set(BODY_KEY, attrs);
        Some(o)
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
        const WHY: &str = "Langfuse v4 creates an experiment item only with a span, which the \
             migrator adds only to traces this run wrote (their data cannot be changed afterwards)";
        let Some(carrier) = carrier(&item.body, source) else {
            return Ok(Some(Settled::Failed(format!(
                "the source names no trace or root observation for it, and {WHY}"
            ))));
        };
        let extra = self
            .by_carrier
            .get(&carrier)
            .is_some_and(|(owner, _)| *owner != item.id);
        let state = journal.state(carrier.0, &carrier.1)?;
        Ok(match state {
            // Another item rides on the carrier: this one gets a span of its own in the trace.
            Some(ObjectState::Confirmed) if extra => Some(Settled::OwnSpan),
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
    /// To be written as a span of its own (`ExperimentIndex::item_span`).
    OwnSpan,
    Pending,
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, run: &str) -> Record {
        let body = RawObject::from_json(&format!(
            r#"{{"traceId":"tr","datasetRunName":"{run}","datasetRunId":"{run}","datasetItemId":"di","createdAt":"2024-01-01T00:00:00.000Z"}}"#
        ))
        .unwrap();
        Record::new(Entity::DatasetRunItems, id.into(), body)
    }

    #[test]
    fn a_further_item_of_a_trace_gets_a_span_of_its_own_at_the_traces_place() {
        struct NoJournal;
        impl RunLookup for NoJournal {
            fn target_id(&self, _: Entity, _: &str) -> Result<Option<String>, EngineError> {
                Ok(None)
            }
            fn state(&self, _: Entity, _: &str) -> Result<Option<ObjectState>, EngineError> {
                Ok(Some(ObjectState::Confirmed))
            }
        }
        let mut ix = ExperimentIndex::default();
        let (first, second) = (item("a", "run-1"), item("b", "run-2"));
        for r in [&first, &second] {
            ix.add(r, Dialect::LangfuseV3, &NoJournal).unwrap();
        }
        assert!(ix.is_shared(Entity::Traces, "tr"));
        let place = CarrierPlace {
            start: Some("2024-02-02T10:00:00.000Z".into()),
            environment: Some("prod".into()),
        };
        assert!(ix.item_span(&first, Dialect::LangfuseV3, &place).is_none());
        let span = ix.item_span(&second, Dialect::LangfuseV3, &place).unwrap();
        assert_eq!(span.str("id"), Some(item_span_id("b")));
        assert_eq!(span.str("parentObservationId").as_deref(), Some("t-tr"));
        assert_eq!(
            span.str("startTime").as_deref(),
            Some("2024-02-02T10:00:00.000Z")
        );
        assert_eq!(span.str("environment").as_deref(), Some("prod"));
        let settled = |r| {
            ix.settle(r, Dialect::LangfuseV3, &NoJournal, false)
                .unwrap()
        };
        assert_eq!(settled(&first), Some(Settled::Written));
        assert_eq!(settled(&second), Some(Settled::OwnSpan));
        assert_ne!(item_span_id("a"), item_span_id("b"));
        assert_eq!(item_span_id("b").len(), 18);
    }
}
