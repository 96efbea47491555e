//! Validating a run: wait for the target to settle, read both sides for the run's window and
//! filters through the same connectors the copy used, reconcile entity by entity, and save the
//! report with the run so it can be shown again or re-validated later.

use super::diff::{DiffOptions, diff_objects};
use super::reconcile::{LISTED_IDS, Sample, reconcile_entity};
use super::report::{DayCount, Discrepancy, EntityReconciliation, SettleOutcome, ValidationReport};
use crate::after_run::reconnect::{Side, all_keys, plan_with_secrets};
use crate::connectors::langfuse::otlp::RUN_TAG_KEY;
use crate::connectors::{SourceConnector, TargetConnector, for_each_page};
use crate::run::journal::{Journal, ObjectState, run_dir};
use crate::run::runner::{PHASES, Secrets};
use crate::run::trace_scope::{TraceScoped, TraceSelection};
use crate::vocab::filter::{parse_time, time_field};
use crate::vocab::{Dialect, EngineError, Entity, Scope, natural_key};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Entities whose writes Langfuse v3/v4 show only after a delay (ClickHouse-backed).
const DELAYED: [Entity; 3] = [Entity::Traces, Entity::Observations, Entity::Scores];

#[derive(Clone, Debug)]
pub struct ValidateOptions {
    /// Compare the content of this many pairs per entity (spread over the ids); `None` = all.
    pub sample: Option<usize>,
    /// How long to wait at most for the target's counts to settle.
    pub settle_limit: Duration,
    /// First pause between two counts; doubles up to five seconds.
    pub settle_first_poll: Duration,
    /// A count that has not moved for this long is final even below what the run wrote (the
    /// rest is reported as missing). Must exceed the target's visibility delay.
    pub settle_quiet: Duration,
    /// Secrets for both sides (the app's keychain); `None` falls back to the plan's env vars.
    pub secrets: Secrets,
    /// Save the report in the run's folder (JSON, Markdown, HTML).
    pub save: bool,
    /// Compare an entity in time slices of at most this many objects (as the source counts
    /// them), so memory follows the slice, not the run.
    pub slice_objects: u64,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        Self {
            sample: None,
            settle_limit: Duration::from_secs(120),
            settle_first_poll: Duration::from_millis(250),
            settle_quiet: Duration::from_secs(15),
            secrets: Secrets::default(),
            save: true,
            slice_objects: 10_000,
        }
    }
}

/// What validation is doing, for a progress display.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ValidationProgress {
    Settling {
        entity: Entity,
        visible: u64,
        expected: u64,
        waited_ms: u64,
    },
    Reading {
        entity: Entity,
        side: String,
        objects: u64,
    },
    Compared {
        entity: Entity,
        discrepancies: u64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error("{0}")]
    Engine(#[from] EngineError),
    #[error("Run {0} was a dry run: it wrote nothing, so there is nothing to validate.")]
    DryRun(String),
    #[error("The validation report could not be saved in {path}: {detail}")]
    Save { path: PathBuf, detail: String },
}

/// Where a saved report lives.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedReport {
    pub json: PathBuf,
    pub markdown: PathBuf,
    pub html: PathBuf,
}

/// Summary kept in the journal after each validation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ValidationSummary {
    pub generated_at: String,
    pub clean: bool,
    pub discrepancies: u64,
    pub settled: bool,
    pub report: PathBuf,
}

pub const VALIDATION_META: &str = "validation_latest";

/// Validates run `run_id`: waits for the target to settle, compares source and target for the
/// run's window and filters, saves the report with the run (unless `options.save` is off).
pub async fn validate_run(
    run_id: &str,
    data_dir: &Path,
    options: &ValidateOptions,
    progress: &(dyn Fn(ValidationProgress) + Send + Sync),
) -> Result<ValidationReport, ValidationError> {
    let journal = Journal::open(data_dir, run_id)?;
    if journal.meta("dry_run")?.as_deref() == Some("1") {
        return Err(ValidationError::DryRun(run_id.to_string()));
    }
    let mut plan = plan_with_secrets(journal.plan()?, &options.secrets);
    // A sync run's window has no end: compare up to its watermark (after it, objects may
    // still be waiting to settle at the source).
    if let Some(end) = crate::run::sync::status::validation_end(&journal)? {
        plan.scope.to = plan.scope.to.min(end);
    }
    let source = Side::open(&plan.source, &plan).await?;
    let target = Side::open(&plan.target, &plan).await?;
    let (source_reader, target_reader) = readers(source.reader(), target.reader(), &plan).await?;
    let (target_reader, application_note) = crate::run::sync::copy_back::without_application(
        target_reader,
        &journal,
        data_dir,
        run_id,
    )?;
    let entities: Vec<Entity> = PHASES
        .into_iter()
        .filter(|e| plan.scope.entities.includes(*e) && source_reader.supports(*e))
        .collect();

    let settle = match &target {
        Side::Langfuse(lf) => {
            settle(
                lf.as_ref(),
                &journal,
                &plan.scope,
                &entities,
                options,
                progress,
            )
            .await?
        }
        // A LangSmith side is never a target (plans refuse it); nothing to settle.
        Side::Archive(_) | Side::Langsmith(_) => SettleOutcome {
            waited_ms: 0,
            settled: true,
            note: None,
        },
    };

    let mut report = ValidationReport {
        run_id: run_id.to_string(),
        generated_at: crate::vocab::time::now_iso_secs(),
        source: source_reader.describe(),
        target: target_reader.describe(),
        window_from: Some(plan.scope.from.to_rfc3339()),
        window_to: Some(plan.scope.to.to_rfc3339()),
        sample_size: options.sample,
        settle,
        ..Default::default()
    };
    report.notes.extend(application_note);
    for (entity, c) in journal.counts()? {
        if c.failed > 0 {
            report.notes.push(format!(
                "The run itself could not write {} {entity} (see its report for the reasons); they show as missing here.",
                c.failed
            ));
        }
    }
    let compare = Compare {
        source: source_reader.as_ref(),
        target: target_reader.as_ref(),
        scope: &plan.scope,
        journal: Some(&journal),
        context: Context::new(
            source_reader.payloads().dialect,
            target_reader.payloads().dialect,
        ),
        slice_objects: options.slice_objects,
        sample: options.sample,
        progress,
    };
    let mut ids = IdMaps::from_journal(&journal)?;
    let before = preexisting_keys(&journal)?;
    for entity in entities {
        let Some((mut rec, days)) = compare.entity(entity, &mut ids, &mut report.notes).await?
        else {
            continue;
        };
        set_apart_conflicts(&mut rec, before.get(&entity));
        progress(ValidationProgress::Compared {
            entity,
            discrepancies: rec.missing_count
                + rec.extra_count
                + rec.differing_count
                + rec.conflict_count,
        });
        report.entities.push(rec);
        report.per_day.extend(coalesce_days(days));
    }
    if plan.scope.entities.includes(Entity::Media) {
        // LangSmith is only ever a source, so a target there has no media to check.
        let resolver: Option<&dyn crate::connectors::media::MediaTarget> = match &target {
            Side::Langfuse(lf) => Some(lf.as_ref()),
            Side::Archive(a) => Some(a.as_ref()),
            Side::Langsmith(_) => None,
        };
        let rec = match resolver {
            Some(resolver) => super::media::reconcile_media(&journal, resolver).await?,
            None => None,
        };
        if let Some(rec) = rec {
            progress(ValidationProgress::Compared {
                entity: Entity::Media,
                discrepancies: rec.missing_count + rec.extra_count + rec.differing_count,
            });
            report.entities.push(rec);
        }
    }
    if options.save {
        save_report(&report, &journal, data_dir)?;
    }
    Ok(report)
}

/// Both sides as readers. With a trace-name or tag filter both are compared over the traces the
/// source's filter chooses, and what belongs to them.
async fn readers(
    source: Arc<dyn SourceConnector>,
    target: Arc<dyn SourceConnector>,
    plan: &crate::run::plan::Plan,
) -> Result<(Arc<dyn SourceConnector>, Arc<dyn SourceConnector>), EngineError> {
    // A copy-back compares only what the application wrote: the sync's objects are left out
    // on both sides.
    let source = crate::run::sync::copy_back::scoped(source, &plan.scope)?;
    let target = crate::run::sync::copy_back::scoped(target, &plan.scope)?;
    if !crate::run::trace_scope::filters_traces(&plan.scope) {
        return Ok((source, target));
    }
    let chosen = Arc::new(TraceSelection::of(source.as_ref(), &plan.scope).await?);
    Ok((
        Arc::new(TraceScoped::new(source, chosen.clone())),
        Arc::new(TraceScoped::new(target, chosen)),
    ))
}

/// What one entity's slices add up to, and what they need to know of each other.
struct Slices {
    strays: Strays,
    days: Vec<DayCount>,
    /// Whether the entity is compared in more than one slice.
    split: bool,
    sample: Option<usize>,
}

/// Comparing the two sides of one run, entity by entity and slice by slice.
pub(crate) struct Compare<'a> {
    pub source: &'a dyn SourceConnector,
    pub target: &'a dyn SourceConnector,
    pub scope: &'a Scope,
    /// The run's journal (references mapped back, objects from before the run set apart);
    /// `None` before a run (pre-flight).
    pub journal: Option<&'a Journal>,
    pub context: Context,
    pub slice_objects: u64,
    pub sample: Option<usize>,
    pub progress: &'a (dyn Fn(ValidationProgress) + Send + Sync),
}

impl Compare<'_> {
    /// One entity's reconciliation and per-day counts over all its time slices; `None` when
    /// the entity cannot be compared (the reason goes into `notes`).
    pub(crate) async fn entity(
        &self,
        entity: Entity,
        ids: &mut IdMaps,
        notes: &mut Vec<String>,
    ) -> Result<Option<(EntityReconciliation, Vec<DayCount>)>, EngineError> {
        let windows =
            super::slices::windows(self.source, entity, self.scope, self.slice_objects).await;
        let mut acc = Slices {
            strays: Strays::default(),
            days: vec![],
            split: windows.len() > 1,
            // A sample is spread over the slices.
            sample: self.sample.map(|n| n.div_ceil(windows.len())),
        };
        let mut merged: Option<EntityReconciliation> = None;
        for (from, to) in &windows {
            let scope = Scope {
                from: *from,
                to: *to,
                ..self.scope.clone()
            };
            let s = read_side(self.source, entity, &scope, "source", self.progress).await;
            let t = read_side(self.target, entity, &scope, "target", self.progress).await;
            let (s, t) = match (s, t) {
                (Ok(s), Ok(t)) => (s, t),
                (Err(EngineError::Unsupported(what, why)), _)
                | (_, Err(EngineError::Unsupported(what, why))) => {
                    notes.push(format!(
                        "{entity} were not compared: {what} is not possible ({why})."
                    ));
                    return Ok(None);
                }
                (Err(e), _) | (_, Err(e)) => return Err(e),
            };
            let rec = self.slice(entity, s, t, ids, &mut acc)?;
            merged = Some(match merged {
                None => rec,
                Some(m) => merge(m, rec),
            });
            // Give the slice's memory back to the system: the app lives on after a validation.
            crate::run::alloc::trim();
        }
        let Some(mut rec) = merged else {
            return Ok(None);
        };
        acc.strays.pair_up(&mut rec, entity, &self.context, ids);
        Ok(Some((rec, acc.days)))
    }

    /// Reconciles one slice: both sides brought into the same terms, then compared. Objects
    /// only one side of the slice holds are noted in `strays` when the entity is split.
    fn slice(
        &self,
        entity: Entity,
        mut s: BTreeMap<String, Value>,
        mut t: BTreeMap<String, Value>,
        ids: &mut IdMaps,
        acc: &mut Slices,
    ) -> Result<EntityReconciliation, EngineError> {
        let context = &self.context;
        ids.learn(entity, &s, &t);
        if entity == Entity::Comments {
            t = ids.rekey_prompt_comments(t);
        }
        if entity == Entity::Prompts {
            t = ids.rekey_prompt_versions(t);
        }
        let slice_strays = if acc.split {
            acc.strays.collect(&s, &t)
        } else {
            vec![]
        };
        for (key, v) in t.iter_mut() {
            context.normalise_target(v, s.get(key), ids);
        }
        if context.folds_trace_spans() && entity == Entity::Observations {
            fold_trace_spans(&mut t);
        }
        if entity == Entity::DatasetRunItems && context.target.is_v4() {
            same_carrier_for_item_spans(&s, &mut t);
        }
        if entity == Entity::Observations
            && context.target.is_v4()
            && let Some(j) = self.journal
        {
            let spans = item_spans(j)?;
            t.retain(|id, _| !spans.contains(id));
        }
        // Per-day counts are what each side holds, like the totals.
        acc.days.extend(per_day(entity, &s, &t));
        let preexisting = match self.journal {
            Some(j) => context.preexisting(j, entity, &s, &mut t)?,
            None => 0,
        };
        acc.strays.keep_targets(slice_strays, &t);
        for v in s.values_mut() {
            strip_server_fields(v);
        }
        if entity == Entity::Scores && context.source != context.target {
            for v in s.values_mut().chain(t.values_mut()) {
                drop_text_score_value(v);
            }
        }
        let mut rec = reconcile_entity(
            entity.as_str(),
            &s,
            &t,
            &diff_options(entity, context.source != context.target),
            Sample(acc.sample),
        );
        // The count stays what the target holds; the sentence under the table explains it.
        rec.preexisting_count = preexisting;
        rec.target_count += preexisting;
        Ok(rec)
    }
}

/// Per entity, the keys the target held before the run (as the journal recorded them).
pub(crate) fn preexisting_keys(
    journal: &Journal,
) -> Result<HashMap<Entity, std::collections::HashSet<String>>, EngineError> {
    let mut out: HashMap<Entity, std::collections::HashSet<String>> = HashMap::new();
    for e in Entity::ALL {
        let keys = journal.preexisting_keys(e)?;
        if !keys.is_empty() {
            out.insert(e, keys.into_iter().collect());
        }
    }
    Ok(out)
}

/// A differing object that the target held before the run is not the run's difference but a
/// conflict: the target has another object under the source object's id (or key), which the
/// run left alone. Moves those from `differing` to `conflicts`.
pub(crate) fn set_apart_conflicts(
    rec: &mut EntityReconciliation,
    before: Option<&std::collections::HashSet<String>>,
) {
    let Some(before) = before else { return };
    let (conflicts, differing): (Vec<_>, Vec<_>) = std::mem::take(&mut rec.differing)
        .into_iter()
        .partition(|d| before.contains(&d.id));
    let n = conflicts.len() as u64;
    rec.differing = differing;
    rec.differing_count -= n.min(rec.differing_count);
    rec.conflict_count += n;
    rec.conflicts.extend(conflicts);
}

/// The report saved by the last validation of `run_id`, if any.
pub fn latest_report(
    run_id: &str,
    data_dir: &Path,
) -> Result<Option<ValidationReport>, ValidationError> {
    let path = run_dir(data_dir, run_id)
        .join("validation")
        .join("latest.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        Journal::open(data_dir, run_id)?;
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ValidationError::Save {
            path,
            detail: format!("the saved report cannot be read ({e})"),
        })
}

fn save_report(
    report: &ValidationReport,
    journal: &Journal,
    data_dir: &Path,
) -> Result<SavedReport, ValidationError> {
    let dir = run_dir(data_dir, &report.run_id).join("validation");
    let err = |e: std::io::Error| ValidationError::Save {
        path: dir.clone(),
        detail: e.to_string(),
    };
    std::fs::create_dir_all(&dir).map_err(err)?;
    let json = serde_json::to_string_pretty(report).expect("report serialises");
    let stamp = report.generated_at.replace(':', "");
    std::fs::write(dir.join(format!("report-{stamp}.json")), &json).map_err(err)?;
    let saved = SavedReport {
        json: dir.join("latest.json"),
        markdown: dir.join("latest.md"),
        html: dir.join("latest.html"),
    };
    std::fs::write(&saved.json, &json).map_err(err)?;
    std::fs::write(&saved.markdown, report.to_markdown()).map_err(err)?;
    std::fs::write(&saved.html, report.to_html()).map_err(err)?;
    let summary = ValidationSummary {
        generated_at: report.generated_at.clone(),
        clean: report.is_clean(),
        discrepancies: report.discrepancy_count(),
        settled: report.settle.settled,
        report: saved.json.clone(),
    };
    journal.set_meta(
        VALIDATION_META,
        &serde_json::to_string(&summary).expect("summary serialises"),
    )?;
    journal.log(
        "info",
        &format!(
            "validated: {} discrepancies{}",
            summary.discrepancies,
            if summary.settled {
                ""
            } else {
                " (target had not settled)"
            }
        ),
    )?;
    Ok(saved)
}

/// Polls the target's counts of delayed entities until they reach what the run wrote and stop
/// changing, or until the limit.
async fn settle<T: TargetConnector + ?Sized>(
    target: &T,
    journal: &Journal,
    scope: &Scope,
    entities: &[Entity],
    options: &ValidateOptions,
    progress: &(dyn Fn(ValidationProgress) + Send + Sync),
) -> Result<SettleOutcome, EngineError> {
    let started = Instant::now();
    let mut lagging: Vec<String> = vec![];
    for entity in DELAYED.into_iter().filter(|e| entities.contains(e)) {
        let mut delay = options.settle_first_poll;
        let expected = journal
            .rows_where(Some(entity), None)?
            .iter()
            .filter(|r| {
                matches!(
                    r.state,
                    ObjectState::Confirmed | ObjectState::SkippedExisting
                )
            })
            .count() as u64;
        let mut last = None;
        let mut unchanged_since = Instant::now();
        loop {
            let visible = all_keys(target, entity, scope).await?.len() as u64;
            if last != Some(visible) {
                unchanged_since = Instant::now();
            }
            let waited_ms = started.elapsed().as_millis() as u64;
            progress(ValidationProgress::Settling {
                entity,
                visible,
                expected,
                waited_ms,
            });
            if last == Some(visible)
                && (visible >= expected || unchanged_since.elapsed() >= options.settle_quiet)
            {
                break;
            }
            if started.elapsed() >= options.settle_limit {
                lagging.push(format!("{visible} of {expected} {entity}"));
                break;
            }
            last = Some(visible);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
    let waited_ms = started.elapsed().as_millis() as u64;
    Ok(if lagging.is_empty() {
        SettleOutcome {
            waited_ms,
            settled: true,
            note: None,
        }
    } else {
        SettleOutcome {
            waited_ms,
            settled: false,
            note: Some(format!(
                "Gave up waiting for the target after {:.0} seconds: it shows only {} that the run wrote or found. \
                 Langfuse may still be processing them; validate again later.",
                waited_ms as f64 / 1000.0,
                lagging.join(", ")
            )),
        }
    })
}

/// Every object of `entity` a side holds in the scope, keyed by the id both sides share. A key
/// seen twice (a duplicate on v4) is kept under a second key so it shows as extra.
async fn read_side(
    reader: &dyn SourceConnector,
    entity: Entity,
    scope: &Scope,
    side: &str,
    progress: &(dyn Fn(ValidationProgress) + Send + Sync),
) -> Result<BTreeMap<String, Value>, EngineError> {
    let mut out = BTreeMap::new();
    if !reader.supports(entity) {
        return Ok(out);
    }
    for_each_page(reader, entity, scope, |records| {
        for r in records {
            let key = if entity.target_assigns_ids() {
                natural_key(entity, &r.body).unwrap_or(r.id)
            } else {
                r.id
            };
            let value: Value =
                serde_json::from_str(&r.body.to_json()).map_err(|e| EngineError::Protocol {
                    url: reader.describe(),
                    what: format!("reading {entity}"),
                    detail: e.to_string(),
                })?;
            let key = if out.contains_key(&key) {
                (2..)
                    .map(|n| format!("{key} (copy {n})"))
                    .find(|k| !out.contains_key(k))
                    .expect("a free key")
            } else {
                key
            };
            out.insert(key, value);
        }
        progress(ValidationProgress::Reading {
            entity,
            side: side.to_string(),
            objects: out.len() as u64,
        });
        Ok(())
    })
    .await?;
    Ok(out)
}

/// Target ids of objects whose ids the target assigned, mapped back to the source's ids, so a
/// reference (a score's `configId`, an item's `datasetId`) compares equal.
pub(crate) struct IdMaps {
    target_to_source: HashMap<Entity, HashMap<String, String>>,
    /// Prompt versions the target numbered differently (`name:2` there is `name:3` in a
    /// source with a deleted version), from the journal.
    prompt_versions: HashMap<String, String>,
}

impl IdMaps {
    /// Without a journal (before a run): only what natural keys tell.
    pub(crate) fn empty() -> Self {
        Self {
            target_to_source: HashMap::new(),
            prompt_versions: HashMap::new(),
        }
    }

    pub(crate) fn from_journal(journal: &Journal) -> Result<Self, EngineError> {
        let mut target_to_source: HashMap<Entity, HashMap<String, String>> = HashMap::new();
        for e in [
            Entity::ScoreConfigs,
            Entity::Datasets,
            Entity::Evaluators,
            Entity::DashboardWidgets,
        ] {
            for r in journal.rows_where(Some(e), None)? {
                if let Some(t) = r.target_id {
                    target_to_source
                        .entry(e)
                        .or_default()
                        .insert(t, r.source_id);
                }
            }
        }
        // Prompt versions' own ids (what comments on prompts point at) live in the id map.
        let prompts = journal
            .id_map(Entity::Prompts)?
            .into_iter()
            .map(|(source, target)| (target, source))
            .collect();
        target_to_source.insert(Entity::Prompts, prompts);
        let prompt_versions = journal
            .rows_where(Some(Entity::Prompts), None)?
            .into_iter()
            .filter_map(|r| {
                let t = r.target_id?;
                (t != r.source_id && t.contains(':')).then_some((t, r.source_id))
            })
            .collect();
        Ok(Self {
            target_to_source,
            prompt_versions,
        })
    }

    /// Keys the target's prompt versions by the source's numbers where the journal knows them.
    fn rekey_prompt_versions(&self, target: BTreeMap<String, Value>) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        let mut moved = vec![];
        for (key, v) in target {
            match self.prompt_versions.get(&key) {
                Some(source_key) => moved.push((key, source_key.clone(), v)),
                None => {
                    out.insert(key, v);
                }
            }
        }
        for (key, source_key, mut v) in moved {
            if out.contains_key(&source_key) {
                out.insert(key, v);
            } else {
                // The version number is the target's own: compare the content, not it.
                if let Some(n) = source_key
                    .rsplit_once(':')
                    .and_then(|(_, n)| n.parse::<i64>().ok())
                {
                    v["version"] = Value::from(n);
                }
                out.insert(source_key, v);
            }
        }
        out
    }

    /// Adds what the journal does not know (objects that existed before the run) by natural key.
    fn learn(
        &mut self,
        entity: Entity,
        source: &BTreeMap<String, Value>,
        target: &BTreeMap<String, Value>,
    ) {
        if !matches!(entity, Entity::ScoreConfigs | Entity::Datasets) {
            return;
        }
        let map = self.target_to_source.entry(entity).or_default();
        for (key, t) in target {
            if let (Some(tid), Some(sid)) = (
                t.get("id").and_then(Value::as_str),
                source
                    .get(key)
                    .and_then(|s| s.get("id"))
                    .and_then(Value::as_str),
            ) {
                map.entry(tid.to_string())
                    .or_insert_with(|| sid.to_string());
            }
        }
    }

    /// Comments on prompts point at the target's prompt id; point them back at the source's and
    /// key them again, so they pair with the source's comments.
    fn rekey_prompt_comments(&self, target: BTreeMap<String, Value>) -> BTreeMap<String, Value> {
        target
            .into_iter()
            .map(|(key, mut v)| {
                let on_prompt = v.get("objectType").and_then(Value::as_str) == Some("PROMPT");
                let source_id = v
                    .get("objectId")
                    .and_then(Value::as_str)
                    .and_then(|id| self.to_source(Entity::Prompts, id))
                    .cloned();
                match source_id {
                    Some(sid) if on_prompt => {
                        v["objectId"] = Value::String(sid);
                        let key = crate::vocab::RawObject::from_json(&v.to_string())
                            .ok()
                            .and_then(|o| natural_key(Entity::Comments, &o))
                            .unwrap_or(key);
                        (key, v)
                    }
                    _ => (key, v),
                }
            })
            .collect()
    }

    fn to_source(&self, entity: Entity, target_id: &str) -> Option<&String> {
        self.target_to_source.get(&entity)?.get(target_id)
    }
}

pub(crate) struct Context {
    /// The dialects both sides are read in.
    source: Dialect,
    target: Dialect,
}

impl Context {
    pub(crate) fn new(source: Dialect, target: Dialect) -> Self {
        Self { source, target }
    }

    /// A v4 target written from an older source carries each trace as a root span `t-<id>`.
    fn folds_trace_spans(&self) -> bool {
        self.target.is_v4() && !self.source.is_v4()
    }

    /// Brings a target object into the source's terms: references mapped back, our run tag
    /// and what v4 adds to span metadata removed.
    fn normalise_target(&self, t: &mut Value, s: Option<&Value>, ids: &IdMaps) {
        strip_server_fields(t);
        let Some(o) = t.as_object_mut() else { return };
        for (field, refers_to) in [
            ("configId", Entity::ScoreConfigs),
            ("datasetId", Entity::Datasets),
        ] {
            if let Some(Value::String(id)) = o.get(field)
                && let Some(sid) = ids.to_source(refers_to, id)
            {
                o.insert(field.into(), Value::String(sid.clone()));
            }
        }
        if let Some(Value::Array(cfgs)) = o.get_mut("scoreConfigIds") {
            for c in cfgs {
                if let Some(sid) = c
                    .as_str()
                    .and_then(|id| ids.to_source(Entity::ScoreConfigs, id))
                {
                    *c = Value::String(sid.clone());
                }
            }
        }
        // A rule's evaluators and datasets, by their source ids.
        if let Some(Value::Array(assigned)) = o.get_mut("evaluatorAssignments") {
            for a in assigned {
                if let Some(sid) = a["evaluatorId"]
                    .as_str()
                    .and_then(|id| ids.to_source(Entity::Evaluators, id))
                {
                    a["evaluatorId"] = Value::String(sid.clone());
                }
            }
        }
        if let Some(Value::Array(filter)) = o.get_mut("filter") {
            for c in filter.iter_mut().filter(|c| c["column"] == "datasetId") {
                for v in c["value"].as_array_mut().into_iter().flatten() {
                    if let Some(sid) = v
                        .as_str()
                        .and_then(|id| ids.to_source(Entity::Datasets, id))
                    {
                        *v = Value::String(sid.clone());
                    }
                }
            }
        }
        // A dashboard's placements, by their widgets' source ids.
        if let Some(Value::Array(placed)) =
            o.get_mut("definition").and_then(|d| d.get_mut("widgets"))
        {
            for p in placed {
                if let Some(sid) = p["widgetId"]
                    .as_str()
                    .and_then(|id| ids.to_source(Entity::DashboardWidgets, id))
                {
                    p["widgetId"] = Value::String(sid.clone());
                }
            }
        }
        if let Some(m) = o.get_mut("metadata") {
            strip_run_tag(m, s.and_then(|s| s.get("metadata")));
        }
        if let Some(s) = s.and_then(Value::as_object) {
            drop_filled_defaults(o, s, self.target.is_v4());
        }
    }

    /// Removes from the target the objects the journal recorded as present before the run
    /// (and that the source does not hold): they are not the run's to explain. Returns how many.
    /// What the slice loop does to each side's maps, for one pair found across slices.
    fn prepare_pair(&self, entity: Entity, mut s: Value, t: Value, ids: &IdMaps) -> (Value, Value) {
        let mut one = BTreeMap::from([(String::new(), t)]);
        if let Some(t) = one.get_mut("") {
            self.normalise_target(t, Some(&s), ids);
        }
        if self.folds_trace_spans() && entity == Entity::Observations {
            fold_trace_spans(&mut one);
        }
        let mut t = one.remove("").unwrap_or(Value::Null);
        strip_server_fields(&mut s);
        if entity == Entity::Scores && self.source != self.target {
            drop_text_score_value(&mut s);
            drop_text_score_value(&mut t);
        }
        (s, t)
    }

    fn preexisting(
        &self,
        journal: &Journal,
        entity: Entity,
        source: &BTreeMap<String, Value>,
        target: &mut BTreeMap<String, Value>,
    ) -> Result<u64, EngineError> {
        let extra: Vec<String> = target
            .keys()
            .filter(|k| !source.contains_key(*k))
            .cloned()
            .collect();
        let mut n = 0;
        for k in extra {
            if journal.preexisting(entity, &k)?.is_some() {
                target.remove(&k);
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Objects one slice holds on one side only. A changed timestamp moves an object into another
/// slice on the target side, so strays of both sides are paired up after the last slice and
/// compared like any pair (a changed `startTime` is a difference, not a missing and an extra).
#[derive(Default)]
struct Strays {
    /// Id → the object as read, kept for the first [`LISTED_IDS`] of each side.
    source: BTreeMap<String, Option<Value>>,
    target: BTreeMap<String, Option<Value>>,
}

impl Strays {
    /// Notes the slice's source strays; returns its target strays as read, for
    /// [`Strays::keep_targets`] once the slice is normalised.
    fn collect(
        &mut self,
        s: &BTreeMap<String, Value>,
        t: &BTreeMap<String, Value>,
    ) -> Vec<(String, Option<Value>)> {
        for (k, v) in s.iter().filter(|(k, _)| !t.contains_key(*k)) {
            let kept = (self.source.len() < LISTED_IDS).then(|| v.clone());
            self.source.insert(k.clone(), kept);
        }
        let room = LISTED_IDS.saturating_sub(self.target.len());
        t.iter()
            .filter(|(k, _)| !s.contains_key(*k))
            .enumerate()
            .map(|(i, (k, v))| (k.clone(), (i < room).then(|| v.clone())))
            .collect()
    }

    /// Keeps the slice's target strays that are still there after normalising: not trace spans
    /// folded away, not objects from before the run.
    fn keep_targets(&mut self, slice: Vec<(String, Option<Value>)>, t: &BTreeMap<String, Value>) {
        self.target
            .extend(slice.into_iter().filter(|(k, _)| t.contains_key(k)));
    }

    fn pair_up(
        self,
        rec: &mut EntityReconciliation,
        entity: Entity,
        context: &Context,
        ids: &IdMaps,
    ) {
        let options = diff_options(entity, context.source != context.target);
        let mut target = self.target;
        for (id, s) in self.source {
            let Some(t) = target.remove(&id) else {
                continue;
            };
            rec.missing_count -= 1;
            rec.extra_count -= 1;
            rec.missing.retain(|m| *m != id);
            rec.extra.retain(|e| *e != id);
            rec.compared += 1;
            let fields = match (s, t) {
                (Some(s), Some(t)) => {
                    let (s, t) = context.prepare_pair(entity, s, t, ids);
                    diff_objects(&s, &t, &options)
                }
                // Beyond the listed strays only the count is kept.
                _ => vec![],
            };
            rec.differing_count += 1;
            if rec.differing.len() < LISTED_IDS {
                rec.differing.push(Discrepancy { id, fields });
            }
        }
    }
}

/// One entity's reconciliation over two consecutive slices.
fn merge(mut a: EntityReconciliation, b: EntityReconciliation) -> EntityReconciliation {
    a.source_count += b.source_count;
    a.target_count += b.target_count;
    a.compared += b.compared;
    a.missing_count += b.missing_count;
    a.extra_count += b.extra_count;
    a.differing_count += b.differing_count;
    a.preexisting_count += b.preexisting_count;
    let room = |len: usize| LISTED_IDS.saturating_sub(len);
    a.missing
        .extend(b.missing.into_iter().take(room(a.missing.len())));
    a.extra
        .extend(b.extra.into_iter().take(room(a.extra.len())));
    a.differing
        .extend(b.differing.into_iter().take(room(a.differing.len())));
    a
}

/// Per-day counts of consecutive slices, with a day two slices share counted once.
fn coalesce_days(days: Vec<DayCount>) -> Vec<DayCount> {
    let mut out: Vec<DayCount> = vec![];
    for d in days {
        match out.last_mut() {
            Some(last) if last.day == d.day && last.entity == d.entity => {
                last.source += d.source;
                last.target += d.target;
            }
            _ => out.push(d),
        }
    }
    out
}

/// Older servers answer `value: 0` for a categorical or text score, v4 no value: the text is in
/// `stringValue` on both.
fn drop_text_score_value(v: &mut Value) {
    let text = v
        .get("dataType")
        .and_then(Value::as_str)
        .is_some_and(|t| !matches!(t, "NUMERIC" | "BOOLEAN"));
    if let (true, Some(o)) = (text, v.as_object_mut()) {
        o.remove("value");
    }
}

/// Applied to both sides: fields no copy can carry, and sets that servers order differently.
fn strip_server_fields(v: &mut Value) {
    if let Some(o) = v.as_object_mut() {
        o.remove("projectId");
        // Prompt labels are a set; the server keeps `latest` on the newest version itself.
        if let Some(Value::Array(labels)) = o.get_mut("labels") {
            labels.sort_by_key(|l| l.to_string());
        }
    }
}

/// Fields a source did not set (a LangSmith or v2 source, say) that the target filled with
/// Langfuse's defaults on ingestion: the default environment, a private trace, no media, no usage
/// or cost, and on v4 (whose OTLP spans always end) the start time as the end of a span that had
/// none. Only the default value is dropped; anything else is still a difference.
fn drop_filled_defaults(t: &mut Map<String, Value>, s: &Map<String, Value>, v4: bool) {
    let unset = |k: &str| s.get(k).is_none_or(Value::is_null);
    let defaults = [
        ("environment", json!("default")),
        ("public", json!(false)),
        ("mediaReferences", json!([])),
        ("usageDetails", json!({})),
        ("costDetails", json!({})),
    ];
    for (k, default) in defaults {
        if unset(k) && t.get(k) == Some(&default) {
            t.remove(k);
        }
    }
    // Derived by a v2/v3 server from other fields (durations, prices and costs, token counts, a
    // trace's lists, a score's trace): a source mapped onto Langfuse (LangSmith) has no such key
    // at all, while a Langfuse source reads them too and keeps comparing them.
    const DERIVED: [&str; 15] = [
        "latency",
        "totalCost",
        "observations",
        "scores",
        "usage",
        "calculatedInputCost",
        "calculatedOutputCost",
        "calculatedTotalCost",
        "timeToFirstToken",
        "inputPrice",
        "outputPrice",
        "totalPrice",
        "promptTokens",
        "completionTokens",
        "totalTokens",
    ];
    for k in DERIVED {
        if !s.contains_key(k) {
            t.remove(k);
        }
    }
    if !s.contains_key("trace") && t.get("trace").is_some_and(Value::is_object) {
        t.remove("trace");
    }
    // A categorical score has no number; a v3 server still answers `value: 0`.
    if !s.contains_key("value") && t.get("dataType").and_then(Value::as_str) == Some("CATEGORICAL")
    {
        t.remove("value");
    }
    if v4
        && unset("endTime")
        && t.get("endTime").is_some()
        && t.get("endTime") == t.get("startTime")
    {
        t.remove("endTime");
    }
}

fn strip_run_tag(v: &mut Value, source: Option<&Value>) {
    let Value::Object(m) = v else { return };
    let tagged = m.remove(RUN_TAG_KEY).is_some();
    let source_keys = source.and_then(Value::as_object);
    // Langfuse v4 adds these to the metadata of every OTLP span.
    for k in ["resourceAttributes", "scope"] {
        if source_keys.is_none_or(|s| !s.contains_key(k)) {
            m.remove(k);
        }
    }
    if m.is_empty() && tagged && source.is_none_or(Value::is_null) {
        *v = Value::Null;
    }
}

/// The spans of their own the run gave run items on a v4 target (see `experiments`): the
/// migrator's carriers, not observations of the source.
fn item_spans(journal: &Journal) -> Result<HashSet<String>, EngineError> {
    Ok(journal
        .rows_where(Some(Entity::DatasetRunItems), None)?
        .iter()
        .map(|r| crate::connectors::langfuse::experiments::item_span_id(&r.source_id))
        .collect())
}

/// A run item that got a span of its own names that span in the target; it stands beside the
/// source's carrier, so it is compared as naming that.
fn same_carrier_for_item_spans(s: &BTreeMap<String, Value>, t: &mut BTreeMap<String, Value>) {
    const FIELD: &str = "experimentObservationId";
    for (key, v) in t.iter_mut() {
        let own = crate::connectors::langfuse::experiments::item_span_id(key);
        if v.get(FIELD).and_then(Value::as_str) == Some(own.as_str())
            && let Some(carrier) = s.get(key).and_then(|s| s.get(FIELD))
        {
            v[FIELD] = carrier.clone();
        }
    }
}

fn fold_trace_spans(target: &mut BTreeMap<String, Value>) {
    target.retain(|id, o| {
        !(id.starts_with("t-") && o.get("traceId").and_then(Value::as_str) == Some(&id[2..]))
    });
    for o in target.values_mut() {
        if o.get("parentObservationId")
            .and_then(Value::as_str)
            .is_some_and(|p| p.starts_with("t-"))
        {
            o["parentObservationId"] = Value::Null;
        }
    }
}

/// Fields that only one API generation's read returns: computed by the server (latency, costs,
/// the legacy `usage` object next to `usageDetails`), or trace attributes that v4 repeats on
/// every observation and older servers keep on the trace (compared there). When source and
/// target are of different generations they are not compared; within one generation they are.
fn read_shape_fields(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Traces => &[
            "latency",
            "totalCost",
            "observations",
            "scores",
            "bookmarked",
        ],
        Entity::Observations => &[
            "usage",
            "latency",
            "timeToFirstToken",
            "calculatedInputCost",
            "calculatedOutputCost",
            "calculatedTotalCost",
            "totalCost",
            "inputPrice",
            "outputPrice",
            "totalPrice",
            "usagePricingTierName",
            "bookmarked",
            "isRootObservation",
            "traceName",
            "userId",
            "sessionId",
            "tags",
            "release",
            "public",
        ],
        // v3 scores carry a summary of their trace.
        Entity::Scores => &["trace"],
        // v4 reads run items from experiment items, which name the observation they ran on.
        Entity::DatasetRunItems => &["experimentObservationId"],
        _ => &[],
    }
}

/// Fields each entity's target copy legitimately differs in: set by the target server itself.
fn diff_options(entity: Entity, cross_generation: bool) -> DiffOptions {
    let mut o = DiffOptions::server_assigned();
    if cross_generation {
        for f in read_shape_fields(entity) {
            o = o.ignoring(*f);
        }
    }
    if entity.target_assigns_ids() {
        o = o.ignoring("id");
    }
    let extra: &[&str] = match entity {
        // Ids of the target's own model and prompt rows.
        Entity::Observations => &["promptId", "modelId", "internalModelId"],
        // The annotating user of the source organisation; the public API cannot set it.
        Entity::Scores => &["authorUserId"],
        Entity::DatasetRunItems => &["datasetRunId", "datasetId"],
        // The current API stamps each item with the dataset version (a time) it was written in.
        // `mediaReferences` is the server's view of the media the item's fields reference, with
        // its own signed download URLs: the fields are compared, and the media by content hash.
        Entity::DatasetItems => &["version", "mediaReferences"],
        // The tail of the key the user supplied, not a copied setting.
        Entity::LlmConnections => &["displaySecretKey"],
        // The target's own queue id, and the moment the target stamped a completed item.
        Entity::AnnotationQueueItems => &["queueId", "completedAt"],
        // The target starts an evaluator at version 1 under its own user and status; the rules
        // using it are compared in their own row.
        Entity::Evaluators => &[
            "version",
            "versionId",
            "versionCreatedAt",
            "versionCreatedBy",
            "createdBy",
            "status",
            "pausedAt",
            "pausedReason",
            "pausedMessage",
            "evaluationRuleAssignments",
        ],
        Entity::EvaluationRules => &["createdBy"],
        _ => &[],
    };
    for p in extra {
        o = o.ignoring(*p);
    }
    o
}

fn per_day(
    entity: Entity,
    source: &BTreeMap<String, Value>,
    target: &BTreeMap<String, Value>,
) -> Vec<DayCount> {
    let Some(field) = time_field(entity) else {
        return vec![];
    };
    let mut days: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let day_of = |v: &Value| {
        v.get(field)
            .and_then(Value::as_str)
            .and_then(parse_time)
            .map(|t| t.format("%Y-%m-%d").to_string())
    };
    for v in source.values() {
        if let Some(d) = day_of(v) {
            days.entry(d).or_default().0 += 1;
        }
    }
    for v in target.values() {
        if let Some(d) = day_of(v) {
            days.entry(d).or_default().1 += 1;
        }
    }
    days.into_iter()
        .map(|(day, (s, t))| DayCount {
            day,
            entity: entity.as_str().to_string(),
            source: s,
            target: t,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_tag_and_v4_span_metadata_are_not_differences() {
        let mut t = json!({"langfuse_migrator_run": "r1", "resourceAttributes": {}, "scope": {}});
        strip_run_tag(&mut t, None);
        assert_eq!(t, Value::Null);
        let mut t = json!({"langfuse_migrator_run": "r1", "user": "a"});
        strip_run_tag(&mut t, Some(&json!({"user": "a"})));
        assert_eq!(t, json!({"user": "a"}));
        // Metadata the source really had stays, even when it is empty.
        let mut t = json!({"langfuse_migrator_run": "r1"});
        strip_run_tag(&mut t, Some(&json!({})));
        assert_eq!(t, json!({}));
    }

    #[test]
    fn trace_spans_of_a_legacy_source_fold_away() {
        let mut t: BTreeMap<String, Value> = [
            ("t-abc".to_string(), json!({"traceId": "abc"})),
            (
                "o1".to_string(),
                json!({"traceId": "abc", "parentObservationId": "t-abc"}),
            ),
            ("t-zzz".to_string(), json!({"traceId": "other"})),
        ]
        .into_iter()
        .collect();
        fold_trace_spans(&mut t);
        assert_eq!(t.len(), 2, "a real span named t-zzz stays");
        assert_eq!(t["o1"]["parentObservationId"], Value::Null);
    }

    #[test]
    fn per_day_counts_both_sides_by_utc_day() {
        let s: BTreeMap<String, Value> = [
            ("a".into(), json!({"timestamp": "2026-01-01T23:59:59Z"})),
            ("b".into(), json!({"timestamp": "2026-01-02T00:00:00Z"})),
        ]
        .into_iter()
        .collect();
        let mut t = s.clone();
        t.remove("b");
        let d = per_day(Entity::Traces, &s, &t);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].source, d[0].target), (1, 1));
        assert_eq!(
            (d[1].day.as_str(), d[1].source, d[1].target),
            ("2026-01-02", 1, 0)
        );
    }
}
