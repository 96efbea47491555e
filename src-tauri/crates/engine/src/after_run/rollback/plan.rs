//! Planning a rollback from the journal: exactly the objects this run created (confirmed, or sent
//! with an unknown outcome), never those it skipped because the target already held them.
//! Children go before parents, and whatever a trace delete takes along (its observations and
//! scores) is not deleted one by one, to spare the daily delete budget.

use super::store::{RollbackStore, Step};
use super::types::{Action, ManualItem, ObjectRef, RollbackProgress, StepState};
use super::whole_trace;
use crate::connectors::http::Bucket;
use crate::connectors::langfuse::{Langfuse, q};
use crate::connectors::{SourceConnector, for_each_existing_key_page, for_each_page};
use crate::run::journal::{Journal, ObjectRow, ObjectState};
use crate::vocab::{EngineError, Entity, Generation, Scope};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Traces per bulk delete request.
const TRACES_PER_REQUEST: usize = 100;

pub(crate) struct Planned {
    pub steps: Vec<Step>,
    pub manual: Vec<ManualItem>,
}

/// Rows this run wrote or may have written: confirmed, sent without an answer, and failed after
/// an unknown outcome (those may have landed; each use looks them up before deleting).
fn created(rows: &[ObjectRow], entity: Entity) -> Vec<&ObjectRow> {
    rows.iter()
        .filter(|r| r.entity == entity && r.may_have_landed())
        .collect()
}

/// Whether the target may lack the object: its write was never acknowledged.
fn unacknowledged(r: &ObjectRow) -> bool {
    r.state != ObjectState::Confirmed
}

struct Planner<'a> {
    lf: &'a Langfuse,
    steps: Vec<Step>,
    manual: Vec<ManualItem>,
}

impl Planner<'_> {
    fn push(&mut self, action: Action, removes: Vec<ObjectRef>) {
        self.steps.push(Step {
            seq: self.steps.len() as i64 + 1,
            action,
            removes,
            state: StepState::Pending,
            detail: None,
        });
    }

    fn by_hand(&mut self, entity: Entity, id: &str, instruction: String) {
        self.manual.push(ManualItem {
            entity,
            id: id.to_string(),
            instruction,
        });
    }

    /// GET `path`: `None` when the target answers 404. Transient failures are retried by the
    /// client; what still fails stops the planning with its reason (planning again later
    /// retries it), rather than turning into a step by hand.
    async fn get_json(
        &self,
        bucket: Bucket,
        path: &str,
        what: &str,
    ) -> Result<Option<serde_json::Value>, EngineError> {
        match self.lf.get_json(bucket, path, what).await {
            Ok(v) => Ok(Some(v)),
            Err(EngineError::Http { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Every object of `entity` in the target's window: id → (traceId, sessionId).
async fn target_index(
    lf: &Langfuse,
    entity: Entity,
    scope: &Scope,
) -> Result<TargetIndex, EngineError> {
    let mut out = HashMap::new();
    for_each_page(lf, entity, scope, |records| {
        for r in records {
            out.insert(r.id, (r.body.str("traceId"), r.body.str("sessionId")));
        }
        Ok(())
    })
    .await?;
    Ok(out)
}

/// Entities whose target ids the journal may lack: a write whose answer was lost and that was
/// found in the target afterwards is confirmed without the id the target gave it.
const ASSIGNED: [Entity; 11] = [
    Entity::LlmConnections,
    Entity::Dashboards,
    Entity::DashboardWidgets,
    Entity::Evaluators,
    Entity::EvaluationRules,
    Entity::AnnotationQueues,
    Entity::AnnotationQueueItems,
    Entity::ScoreConfigs,
    Entity::Models,
    Entity::Datasets,
    Entity::Comments,
];

/// Fills in missing target ids by natural key: the source's object gives the key, the target's
/// listing the id. Without a reachable source they stay unknown (and go on the manual list).
async fn resolve_target_ids(
    journal: &Journal,
    rows: &mut [ObjectRow],
    source: Option<&dyn SourceConnector>,
    lf: &Langfuse,
    scope: &Scope,
) -> Result<(), EngineError> {
    let Some(source) = source else { return Ok(()) };
    for entity in ASSIGNED {
        let lacking: BTreeSet<String> = rows
            .iter()
            .filter(|r| r.entity == entity && r.target_id.is_none() && r.may_have_landed())
            .map(|r| r.source_id.clone())
            .collect();
        if lacking.is_empty() || !source.supports(entity) {
            continue;
        }
        let mut keys: HashMap<String, String> = HashMap::new();
        for_each_page(source, entity, scope, |records| {
            for mut r in records {
                if !lacking.contains(&r.id) {
                    continue;
                }
                // The copy pointed comments on prompts at the target's prompt id.
                if entity == Entity::Comments
                    && r.body.str("objectType").as_deref() == Some("PROMPT")
                    && let Some(t) = r
                        .body
                        .str("objectId")
                        .map(|id| journal.mapped_id(Entity::Prompts, &id))
                        .transpose()?
                        .flatten()
                {
                    r.body.set("objectId", &t);
                }
                if let Some(k) = crate::vocab::natural_key(entity, &r.body) {
                    keys.insert(r.id, k);
                }
            }
            Ok(())
        })
        .await?;
        let mut in_target: HashMap<String, String> = HashMap::new();
        for_each_existing_key_page(lf, entity, scope, |page| {
            in_target.extend(page.into_iter().filter_map(|k| Some((k.key, k.target_id?))))
        })
        .await?;
        // What was there before the run is never the run's, whatever its key.
        let before: HashSet<String> = journal
            .preexisting_target_ids(entity)?
            .into_iter()
            .collect();
        for r in rows
            .iter_mut()
            .filter(|r| r.entity == entity && r.target_id.is_none() && r.may_have_landed())
        {
            r.target_id = keys
                .get(&r.source_id)
                .and_then(|k| in_target.get(k))
                .filter(|t| !before.contains(*t))
                .cloned();
            // Looked up and not there: an unacknowledged write that did not land.
            if r.target_id.is_none() && unacknowledged(r) && keys.contains_key(&r.source_id) {
                r.state = ObjectState::Failed;
                r.unsettled = false;
            }
        }
    }
    Ok(())
}

pub(crate) async fn build(
    journal: &Journal,
    store: &RollbackStore,
    scope: &Scope,
    lf: &Langfuse,
    source: Option<&dyn SourceConnector>,
    progress: &(dyn Fn(RollbackProgress) + Send + Sync),
) -> Result<Planned, EngineError> {
    let mut rows = journal.rows_where(None, None)?;
    resolve_target_ids(journal, &mut rows, source, lf, scope).await?;
    let v4 = lf.info.generation == Generation::V4;
    let mut p = Planner {
        lf,
        steps: vec![],
        manual: vec![],
    };
    let tracing = tracing(&mut p, &rows, scope, v4, progress).await?;
    let mut tracing = tracing;
    let run_item_keys = run_item_keys(&rows, source, scope).await?;
    dataset_runs(
        &mut p,
        &rows,
        &run_item_keys,
        store,
        v4,
        &mut tracing,
        progress,
    )
    .await?;
    let items = dataset_items(&p, &rows).await?;
    tracing_deletes(&mut p, items, tracing);
    versioned_and_config_deletes(&mut p, &rows);
    annotation_queue_steps(&mut p, &rows).await?;
    settings_deletes(&mut p, &rows);
    // After the versions are gone, the labels they took go back where they were.
    for mv in journal.label_moves()? {
        p.push(
            Action::RestorePromptLabel {
                prompt: mv.prompt,
                version: mv.version,
                label: mv.label,
            },
            vec![],
        );
    }
    undeletable(&mut p, &rows).await?;
    Ok(Planned {
        steps: p.steps,
        manual: p.manual,
    })
}

/// What the tracing entities need: the traces to delete with what each takes along, the
/// scores to delete one by one, and sessions that will be left empty.
struct Tracing {
    traces: BTreeSet<String>,
    along: BTreeMap<String, Vec<ObjectRef>>,
    single_scores: Vec<String>,
    orphan_sessions: BTreeSet<String>,
}

async fn tracing(
    p: &mut Planner<'_>,
    rows: &[ObjectRow],
    scope: &Scope,
    v4: bool,
    progress: &(dyn Fn(RollbackProgress) + Send + Sync),
) -> Result<Tracing, EngineError> {
    let lf = p.lf;
    let trace_rows = created(rows, Entity::Traces);
    let observations = created(rows, Entity::Observations);
    let scores = created(rows, Entity::Scores);
    let obs_index = if observations.is_empty() && trace_rows.is_empty() {
        HashMap::new()
    } else {
        progress(RollbackProgress::Planning {
            entity: Entity::Observations,
        });
        target_index(lf, Entity::Observations, scope).await?
    };
    let score_index = if scores.is_empty() && trace_rows.is_empty() {
        HashMap::new()
    } else {
        progress(RollbackProgress::Planning {
            entity: Entity::Scores,
        });
        target_index(lf, Entity::Scores, scope).await?
    };

    // Before any trace delete, the whole trace in the target (not only the run's window): a
    // trace that also holds observations or scores the run did not write stays, because
    // deleting it would take those along.
    // On v4 a run item beside another on one span is a span of its own that the run wrote:
    // an observation of the run's, where the target shows it.
    let item_spans: Vec<ObjectRow> = if v4 {
        created(rows, Entity::DatasetRunItems)
            .into_iter()
            .map(|r| ObjectRow {
                entity: Entity::Observations,
                source_id: crate::connectors::langfuse::experiments::item_span_id(&r.source_id),
                ..r.clone()
            })
            .filter(|r| obs_index.contains_key(&r.source_id))
            .collect()
    } else {
        vec![]
    };
    let observations: Vec<&ObjectRow> = observations.into_iter().chain(&item_spans).collect();
    let our_observations: HashSet<&str> =
        observations.iter().map(|r| r.source_id.as_str()).collect();
    let our_scores: HashSet<&str> = scores.iter().map(|r| r.source_id.as_str()).collect();
    if !trace_rows.is_empty() {
        progress(RollbackProgress::Planning {
            entity: Entity::Traces,
        });
    }
    let mut traces: BTreeSet<String> = BTreeSet::new();
    let mut shared = BTreeSet::new();
    for r in &trace_rows {
        let t = &r.source_id;
        match whole_trace::contents(lf, t).await? {
            // A write that failed after an unknown outcome and is not there: nothing to remove.
            None if r.state == ObjectState::Failed => {}
            // Acknowledged but not shown (yet): a delete of a missing trace is harmless.
            None => {
                traces.insert(t.clone());
            }
            Some(c) => {
                let span = crate::otlp::trace_span_id(t);
                let foreign = c
                    .observations
                    .iter()
                    .any(|o| *o != span && !our_observations.contains(o.as_str()))
                    || c.scores.iter().any(|s| !our_scores.contains(s.as_str()));
                if foreign {
                    shared.insert(t.clone());
                } else {
                    traces.insert(t.clone());
                }
            }
        }
    }
    for t in &shared {
        p.by_hand(
            Entity::Traces,
            t,
            "The run wrote into this trace, but the trace also holds observations or scores the run did not write (they were in the target before, possibly outside the run's time window); deleting the trace would delete them too, so it stays. The run's own scores in it are deleted; delete its observations in the Langfuse UI if they matter.".into(),
        );
    }

    let mut along: BTreeMap<String, Vec<ObjectRef>> = BTreeMap::new();
    observations_along(p, &observations, &obs_index, &traces, &mut along);
    let single_scores = scores_along(&scores, &score_index, &traces, &mut along);

    let orphan_sessions = if v4 {
        BTreeSet::new()
    } else {
        orphan_sessions(lf, scope, &traces).await?
    };
    Ok(Tracing {
        traces,
        along,
        single_scores,
        orphan_sessions,
    })
}

/// Observations the run wrote go along with their trace's delete; those in a trace that stays
/// (or not visible now) are for a person to remove.
fn observations_along(
    p: &mut Planner<'_>,
    observations: &[&ObjectRow],
    index: &TargetIndex,
    traces: &BTreeSet<String>,
    along: &mut BTreeMap<String, Vec<ObjectRef>>,
) {
    for r in observations {
        let trace = index.get(&r.source_id).and_then(|(t, _)| t.clone());
        match trace {
            Some(t) if traces.contains(&t) => along.entry(t.clone()).or_default().push(ObjectRef {
                entity: Entity::Observations,
                id: r.source_id.clone(),
                trace_id: Some(t),
            }),
            Some(t) => p.by_hand(
                Entity::Observations,
                &r.source_id,
                format!(
                    "The run added this observation to trace {t}, which stays (it holds objects the run did not create). Langfuse's API deletes only whole traces; delete the observation in the Langfuse UI if it matters."
                ),
            ),
            None if unacknowledged(r) => {}
            None => p.by_hand(
                Entity::Observations,
                &r.source_id,
                "The run wrote this observation, but the target does not show it now. If it appears later, delete it in the Langfuse UI.".into(),
            ),
        }
    }
}

/// Scores the run wrote go along with their trace's delete; the rest are deleted one by one
/// (returned).
fn scores_along(
    scores: &[&ObjectRow],
    index: &TargetIndex,
    traces: &BTreeSet<String>,
    along: &mut BTreeMap<String, Vec<ObjectRef>>,
) -> Vec<String> {
    let mut single = vec![];
    for r in scores {
        let shown = index.get(&r.source_id);
        if shown.is_none() && unacknowledged(r) {
            // Never acknowledged and not in the target: nothing to remove.
            continue;
        }
        let trace = shown.and_then(|(t, _)| t.clone());
        match trace {
            Some(t) if traces.contains(&t) => along.entry(t.clone()).or_default().push(ObjectRef {
                entity: Entity::Scores,
                id: r.source_id.clone(),
                trace_id: Some(t),
            }),
            _ => single.push(r.source_id.clone()),
        }
    }
    single
}

/// Id → (traceId, sessionId) of what the target holds.
type TargetIndex = HashMap<String, (Option<String>, Option<String>)>;

/// Sessions that only the deleted traces name. On v2/v3 a session is a row of its own that no
/// API deletes, so it stays behind empty (v4 derives sessions from traces).
async fn orphan_sessions(
    lf: &Langfuse,
    scope: &Scope,
    traces: &BTreeSet<String>,
) -> Result<BTreeSet<String>, EngineError> {
    let mut orphan = BTreeSet::new();
    if traces.is_empty() {
        return Ok(orphan);
    }
    let mut kept = BTreeSet::new();
    for (id, (_, session)) in &target_index(lf, Entity::Traces, scope).await? {
        if let Some(s) = session {
            if traces.contains(id) {
                orphan.insert(s.clone());
            } else {
                kept.insert(s.clone());
            }
        }
    }
    orphan.retain(|s| !kept.contains(s));
    Ok(orphan)
}

/// Run items from a v2/v3 source are journaled under their own id; their natural key
/// (`run|item|trace`) names the run and the trace that carries them on v4. Read from the source;
/// without it those items go on the manual list.
async fn run_item_keys(
    rows: &[ObjectRow],
    source: Option<&dyn SourceConnector>,
    scope: &Scope,
) -> Result<HashMap<String, String>, EngineError> {
    let by_id: HashSet<&str> = created(rows, Entity::DatasetRunItems)
        .into_iter()
        .map(|r| r.source_id.as_str())
        .filter(|id| !id.contains('|'))
        .collect();
    let mut keys = HashMap::new();
    let Some(source) = source.filter(|s| !by_id.is_empty() && s.supports(Entity::DatasetRunItems))
    else {
        return Ok(keys);
    };
    for_each_page(source, Entity::DatasetRunItems, scope, |records| {
        for r in records {
            if by_id.contains(r.id.as_str())
                && let Some(k) = crate::vocab::natural_key(Entity::DatasetRunItems, &r.body)
            {
                keys.insert(r.id, k);
            }
        }
        Ok(())
    })
    .await?;
    Ok(keys)
}

/// 1. Dataset runs (their items reference dataset items and traces).
async fn dataset_runs(
    p: &mut Planner<'_>,
    rows: &[ObjectRow],
    keys: &HashMap<String, String>,
    store: &RollbackStore,
    v4: bool,
    tracing: &mut Tracing,
    progress: &(dyn Fn(RollbackProgress) + Send + Sync),
) -> Result<(), EngineError> {
    let key_of = |r: &ObjectRow| keys.get(&r.source_id).unwrap_or(&r.source_id).clone();
    let mut run_items = created(rows, Entity::DatasetRunItems);
    if v4 {
        // On v4 a run item rides on its trace's root span: the trace delete takes it along.
        run_items.retain(|r| {
            let key = key_of(r);
            let trace = key.split('|').nth(2).unwrap_or_default();
            if !tracing.traces.contains(trace) {
                return true;
            }
            tracing
                .along
                .entry(trace.to_string())
                .or_default()
                .push(ObjectRef {
                    entity: Entity::DatasetRunItems,
                    id: r.target_id.clone().unwrap_or_else(|| r.source_id.clone()),
                    trace_id: Some(trace.to_string()),
                });
            false
        });
    }
    if !run_items.is_empty() {
        progress(RollbackProgress::Planning {
            entity: Entity::DatasetRunItems,
        });
        let preexisting_runs: BTreeSet<String> = store
            .preexisting_keys(Entity::DatasetRunItems)?
            .into_iter()
            .filter_map(|k| k.split('|').next().map(String::from))
            .collect();
        let mut runs: BTreeMap<String, Vec<&ObjectRow>> = BTreeMap::new();
        for r in run_items {
            let run = key_of(r).split('|').next().unwrap_or_default().to_string();
            runs.entry(run).or_default().push(r);
        }
        for (run, items) in runs {
            let first = key_of(items[0]);
            let item_id = first.split('|').nth(1).unwrap_or_default();
            let dataset = p
                .get_json(
                    Bucket::Datasets,
                    &format!("/api/public/dataset-items/{}", q(item_id)),
                    "finding the dataset of a run the rollback deletes",
                )
                .await?
                .and_then(|v| v.get("datasetName")?.as_str().map(String::from));
            let refs: Vec<ObjectRef> = items
                .iter()
                .map(|r| ObjectRef {
                    entity: Entity::DatasetRunItems,
                    id: r.target_id.clone().unwrap_or_else(|| r.source_id.clone()),
                    trace_id: None,
                })
                .collect();
            match dataset {
                Some(dataset) if !preexisting_runs.contains(&run) && !v4 => {
                    p.push(Action::DeleteDatasetRun { dataset, run }, refs)
                }
                _ => {
                    let why = if preexisting_runs.contains(&run) {
                        format!(
                            "Dataset run \"{run}\" existed before this run; Langfuse's API deletes only whole runs."
                        )
                    } else {
                        format!(
                            "Dataset run \"{run}\" cannot be deleted through this server's API."
                        )
                    };
                    for r in refs {
                        p.by_hand(
                            Entity::DatasetRunItems,
                            &r.id,
                            format!("{why} Delete this run item in the Langfuse UI."),
                        );
                    }
                }
            }
        }
    }

    Ok(())
}

/// Dataset items the run may have created that are in the target (ids are kept, so the source
/// id is the target id); one whose write was never acknowledged is looked up first.
async fn dataset_items(p: &Planner<'_>, rows: &[ObjectRow]) -> Result<Vec<String>, EngineError> {
    let mut out = vec![];
    for r in created(rows, Entity::DatasetItems) {
        if unacknowledged(r)
            && p.get_json(
                Bucket::Datasets,
                &format!("/api/public/dataset-items/{}", q(&r.source_id)),
                "looking up a dataset item whose write was not acknowledged",
            )
            .await?
            .is_none()
        {
            continue;
        }
        out.push(r.source_id.clone());
    }
    Ok(out)
}

/// 2.–4. Scores whose trace stays, dataset items, then traces in bulk.
fn tracing_deletes(p: &mut Planner<'_>, items: Vec<String>, t: Tracing) {
    let Tracing {
        traces,
        mut along,
        single_scores,
        orphan_sessions,
    } = t;
    // 2. Scores whose trace stays.
    for id in single_scores {
        p.push(
            Action::DeleteScore { id: id.clone() },
            vec![ObjectRef {
                entity: Entity::Scores,
                id,
                trace_id: None,
            }],
        );
    }

    // 3. Dataset items.
    for id in items {
        p.push(
            Action::DeleteDatasetItem { id: id.clone() },
            vec![ObjectRef {
                entity: Entity::DatasetItems,
                id,
                trace_id: None,
            }],
        );
    }

    // 4. Traces in bulk, with what they take along.
    let trace_list: Vec<String> = traces.into_iter().collect();
    for chunk in trace_list.chunks(TRACES_PER_REQUEST) {
        let mut removes = vec![];
        for t in chunk {
            removes.push(ObjectRef {
                entity: Entity::Traces,
                id: t.clone(),
                trace_id: Some(t.clone()),
            });
            removes.extend(along.remove(t).unwrap_or_default());
        }
        p.push(
            Action::DeleteTraces {
                ids: chunk.to_vec(),
            },
            removes,
        );
    }
    for s in orphan_sessions {
        p.by_hand(
            Entity::Sessions,
            &s,
            "This session was named by traces the run created; it stays as an empty session because Langfuse's API cannot delete sessions.".into(),
        );
    }
}

/// Annotation queue items (deleted) and their queues (no delete exists: by hand, named).
async fn annotation_queue_steps(
    p: &mut Planner<'_>,
    rows: &[ObjectRow],
) -> Result<(), EngineError> {
    for r in created(rows, Entity::AnnotationQueueItems) {
        match r.target_id.as_deref().and_then(|t| t.split_once('/')) {
            Some((queue, id)) => p.push(
                Action::DeleteAnnotationQueueItem {
                    queue: queue.to_string(),
                    id: id.to_string(),
                },
                vec![ObjectRef {
                    entity: Entity::AnnotationQueueItems,
                    id: format!("{queue}/{id}"),
                    trace_id: None,
                }],
            ),
            None => p.by_hand(
                Entity::AnnotationQueueItems,
                &r.source_id,
                unknown_outcome(Entity::AnnotationQueueItems),
            ),
        }
    }
    for r in created(rows, Entity::AnnotationQueues) {
        let Some(id) = &r.target_id else {
            p.by_hand(
                Entity::AnnotationQueues,
                &r.source_id,
                unknown_outcome(Entity::AnnotationQueues),
            );
            continue;
        };
        let path = format!(
            "{}/{}",
            crate::connectors::langfuse::annotation_queues::PATH,
            crate::connectors::langfuse::q(id)
        );
        let name = p
            .get_json(
                Bucket::PublicApi,
                &path,
                "reading an annotation queue to name it",
            )
            .await?
            .and_then(|v| v["name"].as_str().map(str::to_string))
            .unwrap_or_else(|| id.clone());
        p.by_hand(
            Entity::AnnotationQueues,
            id,
            format!("Langfuse's API cannot delete annotation queues: delete queue \"{name}\" in the Langfuse UI (Annotation Queues) if you want it gone. Its items were deleted."),
        );
    }
    Ok(())
}

/// 5.–7. Prompt versions, models, score configs.
fn versioned_and_config_deletes(p: &mut Planner<'_>, rows: &[ObjectRow]) {
    // 5. Prompt versions, newest first per prompt (so `latest` moves back step by step).
    let mut versions: Vec<(String, i64)> = vec![];
    for r in created(rows, Entity::Prompts) {
        match r
            .target_id
            .as_deref()
            .and_then(|t| t.rsplit_once(':'))
            .and_then(|(n, v)| Some((n.to_string(), v.parse().ok()?)))
        {
            Some(nv) => versions.push(nv),
            None => p.by_hand(
                Entity::Prompts,
                &r.source_id,
                unknown_outcome(Entity::Prompts),
            ),
        }
    }
    versions.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    for (name, version) in versions {
        p.push(
            Action::DeletePromptVersion {
                name: name.clone(),
                version,
            },
            vec![ObjectRef {
                entity: Entity::Prompts,
                id: format!("{name}:{version}"),
                trace_id: None,
            }],
        );
    }

    // 6. LLM connections (Langfuse pauses the evaluators that used them), 7. models,
    // 8. score configs (archived: no delete exists).
    for r in created(rows, Entity::LlmConnections) {
        match &r.target_id {
            Some(id) => p.push(
                Action::DeleteLlmConnection { id: id.clone() },
                vec![ObjectRef {
                    entity: Entity::LlmConnections,
                    id: id.clone(),
                    trace_id: None,
                }],
            ),
            None => p.by_hand(
                Entity::LlmConnections,
                &r.source_id,
                unknown_outcome(Entity::LlmConnections),
            ),
        }
    }
    for r in created(rows, Entity::Models) {
        match &r.target_id {
            Some(id) => p.push(
                Action::DeleteModel { id: id.clone() },
                vec![ObjectRef {
                    entity: Entity::Models,
                    id: id.clone(),
                    trace_id: None,
                }],
            ),
            None => p.by_hand(
                Entity::Models,
                &r.source_id,
                unknown_outcome(Entity::Models),
            ),
        }
    }
    for r in created(rows, Entity::ScoreConfigs) {
        match &r.target_id {
            Some(id) => {
                p.push(
                    Action::ArchiveScoreConfig { id: id.clone() },
                    vec![ObjectRef {
                        entity: Entity::ScoreConfigs,
                        id: id.clone(),
                        trace_id: None,
                    }],
                );
                p.by_hand(
                    Entity::ScoreConfigs,
                    id,
                    "Langfuse's API cannot delete score configs, so the rollback archives it: it is hidden when new scores are added. Nothing else to do unless you want it gone from the settings page.".into(),
                );
            }
            None => p.by_hand(
                Entity::ScoreConfigs,
                &r.source_id,
                unknown_outcome(Entity::ScoreConfigs),
            ),
        }
    }
}

/// Every dataset of the target, id → name (all pages).
async fn dataset_names(p: &Planner<'_>) -> Result<HashMap<String, String>, EngineError> {
    let mut names = HashMap::new();
    let mut page = 1u64;
    loop {
        let v = p
            .get_json(
                Bucket::Datasets,
                &format!("/api/public/v2/datasets?limit=100&page={page}"),
                "listing datasets to name them in the rollback's steps by hand",
            )
            .await?
            .unwrap_or_default();
        let data = v["data"].as_array().cloned().unwrap_or_default();
        names.extend(data.iter().filter_map(|d| {
            Some((
                d["id"].as_str()?.to_string(),
                d["name"].as_str()?.to_string(),
            ))
        }));
        let total = v["meta"]["totalPages"].as_u64().unwrap_or(0);
        if data.is_empty() || page >= total {
            return Ok(names);
        }
        page += 1;
    }
}

/// What no API deletes: datasets and comments.
/// Dashboards, then their widgets; the rules, then the evaluators they assigned (all have a
/// delete).
fn settings_deletes(p: &mut Planner<'_>, rows: &[ObjectRow]) {
    for (entity, delete) in [
        (
            Entity::Dashboards,
            (|id| Action::DeleteDashboard { id }) as fn(String) -> Action,
        ),
        (Entity::DashboardWidgets, |id| {
            Action::DeleteDashboardWidget { id }
        }),
        (Entity::EvaluationRules, |id| Action::DeleteEvaluationRule {
            id,
        }),
        (Entity::Evaluators, |id| Action::DeleteEvaluator { id }),
    ] {
        for r in created(rows, entity) {
            match &r.target_id {
                Some(id) => p.push(
                    delete(id.clone()),
                    vec![ObjectRef {
                        entity,
                        id: id.clone(),
                        trace_id: None,
                    }],
                ),
                None => p.by_hand(entity, &r.source_id, unknown_outcome(entity)),
            }
        }
    }
}

async fn undeletable(p: &mut Planner<'_>, rows: &[ObjectRow]) -> Result<(), EngineError> {
    // Datasets and comments: no delete in the API.
    let datasets = created(rows, Entity::Datasets);
    if !datasets.is_empty() {
        let names = dataset_names(p).await?;
        for r in datasets {
            let Some(id) = r.target_id.clone() else {
                p.by_hand(
                    Entity::Datasets,
                    &r.source_id,
                    unknown_outcome(Entity::Datasets),
                );
                continue;
            };
            let name = names.get(&id).cloned().unwrap_or_else(|| id.clone());
            p.by_hand(
                Entity::Datasets,
                &id,
                format!("Langfuse's API cannot delete datasets. In the Langfuse UI open Datasets, then \"{name}\", and delete it (its items are deleted by this rollback)."),
            );
        }
    }
    for r in created(rows, Entity::Comments) {
        let Some(id) = r.target_id.clone() else {
            p.by_hand(
                Entity::Comments,
                &r.source_id,
                unknown_outcome(Entity::Comments),
            );
            continue;
        };
        p.by_hand(
            Entity::Comments,
            &id,
            "Langfuse's API cannot delete comments. In the Langfuse UI open the trace, observation, session or prompt it is on and delete the comment there.".into(),
        );
    }
    // Media: the API has no delete. The trace deletions above take the traces that showed it.
    for r in created(rows, Entity::Media) {
        let id = r.target_id.clone().unwrap_or_else(|| r.source_id.clone());
        p.by_hand(
            Entity::Media,
            &id,
            format!("Langfuse's API cannot delete media files. This one stays in the target project's media storage; on a self-hosted Langfuse delete the object named {id} under the project's folder in the media bucket, or let the project's data retention remove it."),
        );
    }
    Ok(())
}

fn unknown_outcome(entity: Entity) -> String {
    format!(
        "The run could not learn whether this {} arrived (the server did not answer) nor which id the target gave it. Look for it in the Langfuse UI and delete it by hand if it is there.",
        entity.as_str().trim_end_matches('s').replace('_', " ")
    )
}
