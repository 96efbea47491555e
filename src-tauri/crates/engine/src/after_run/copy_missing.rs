//! "Copy what is missing": the objects a run's last validation found missing in the target
//! (an object that showed up at a sync's source later than its lookback, a write the target
//! dropped, one that failed) are copied through the run's own journal and pipeline, then the
//! run is validated again.
//!
//! - The ids come from the run's latest saved validation report (at most
//!   [`crate::after_run::validate::reconcile::LISTED_IDS`] per entity; a copy after the next
//!   validation takes the rest); its window is the window read. A missing trace brings its
//!   observations and scores.
//! - The connectors read by time window, not by id: the source's window is read again and only
//!   the named objects are let through (`OnlyMissing`). Objects the journal already holds are
//!   skipped as in any run, so a second copy writes nothing twice, and a rollback of the run
//!   covers what this copied (the rows are the run's).
//! - The run's read checkpoints are kept aside while the copy reads (in the journal, so a crash
//!   does not lose them) and put back after: a resume of the run goes on where it was.

use crate::after_run::validate::{
    ValidateOptions, ValidationError, ValidationProgress, ValidationReport, latest_report,
};
use crate::connectors::{Page, SourceConnector};
use crate::run::control::RunControl;
use crate::run::journal::{Journal, RowUpdate};
use crate::run::pipeline::Ctx;
use crate::run::plan::EndpointSpec;
use crate::run::progress::{Counters, ProgressSink};
use crate::run::run_lock::RunLock;
use crate::run::runner::{self, Secrets};
use crate::vocab::{EngineError, Entity, ObjectState, RunState, Scope};
use async_trait::async_trait;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Meta key: the read checkpoints a copy put aside (JSON), until it puts them back.
const SAVED_CHECKPOINTS: &str = "copy_missing_checkpoints";

/// What hangs off a missing trace and comes with it.
const TRACE_CHILDREN: [Entity; 2] = [Entity::Observations, Entity::Scores];

/// What one "copy what is missing" did, and the validation after it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CopyMissingReport {
    pub run_id: String,
    /// Ids the last validation named missing, per entity (what this copy looked for).
    pub asked: BTreeMap<Entity, u64>,
    /// Objects written to the target now, per entity (with a missing trace's observations and
    /// scores).
    pub copied: BTreeMap<Entity, u64>,
    /// Asked ids the source did not hand over in the window (deleted there since, say).
    pub not_found: BTreeMap<Entity, Vec<String>>,
    /// Objects the target refused now (the run's report names them and why).
    pub failed: u64,
    /// The validation of the run after the copy.
    pub validation: ValidationReport,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyMissingError {
    #[error("{0}")]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Validation(#[from] ValidationError),
    #[error(
        "Run {0} has not been validated yet: validate it first, then copy what the validation finds missing."
    )]
    NotValidated(String),
    #[error("Run {0} was a dry run: it wrote nothing, so nothing can be missing from it.")]
    DryRun(String),
    #[error(
        "Run {0} writes to an archive folder; an archive is written once, so copy the missing objects with a new run."
    )]
    ArchiveTarget(String),
}

/// Copies what the latest validation of `run_id` found missing, then validates the run again
/// (saved like any validation; `progress` follows it). The copy's progress goes to `sink`.
/// Nothing missing: nothing is copied and the saved report is returned as it is.
pub async fn copy_missing(
    run_id: &str,
    data_dir: &Path,
    options: &ValidateOptions,
    sink: impl ProgressSink,
    control: RunControl,
    progress: &(dyn Fn(ValidationProgress) + Send + Sync),
) -> Result<CopyMissingReport, CopyMissingError> {
    let report = latest_report(run_id, data_dir)?
        .ok_or_else(|| CopyMissingError::NotValidated(run_id.to_string()))?;
    let wanted = Wanted::from_report(&report);
    let asked = wanted.counts();
    if wanted.is_empty() {
        return Ok(CopyMissingReport {
            run_id: run_id.to_string(),
            asked,
            copied: BTreeMap::new(),
            not_found: BTreeMap::new(),
            failed: 0,
            validation: report,
        });
    }
    let outcome = copy(
        run_id,
        data_dir,
        &report,
        wanted,
        &options.secrets,
        sink,
        control,
    )
    .await?;
    let validation =
        crate::after_run::validate::validate_run(run_id, data_dir, options, progress).await?;
    note_on_cut_over(&Journal::open(data_dir, run_id)?, &validation)?;
    Ok(CopyMissingReport {
        run_id: run_id.to_string(),
        asked,
        copied: outcome.copied,
        not_found: outcome.not_found,
        failed: outcome.failed,
        validation,
    })
}

/// A cut-over sync's record says what its whole window's validation found: after a copy, the
/// validation after it (the runs list and the cutover card read it from there).
fn note_on_cut_over(journal: &Journal, validation: &ValidationReport) -> Result<(), EngineError> {
    let Some(mut cut) = crate::run::sync::drain::cut_over(journal)? else {
        return Ok(());
    };
    let (clean, summary) = crate::after_run::validate::final_check::window_summary(validation);
    cut.validation_clean = clean;
    cut.validation_summary = format!("{summary} (after copying what was missing)");
    crate::run::sync::drain::mark_cut_over(journal, &cut)
}

struct Copied {
    copied: BTreeMap<Entity, u64>,
    not_found: BTreeMap<Entity, Vec<String>>,
    failed: u64,
}

/// The copy itself, under the run's lock (a sync still following refuses it).
async fn copy(
    run_id: &str,
    data_dir: &Path,
    report: &ValidationReport,
    wanted: Wanted,
    secrets: &Secrets,
    sink: impl ProgressSink,
    control: RunControl,
) -> Result<Copied, CopyMissingError> {
    let journal = Journal::open(data_dir, run_id)?;
    let _lock = RunLock::acquire(data_dir, run_id)?;
    if journal.meta("dry_run")?.as_deref() == Some("1") {
        return Err(CopyMissingError::DryRun(run_id.to_string()));
    }
    let mut plan = journal.plan()?;
    if matches!(plan.target, EndpointSpec::Archive { .. }) {
        return Err(CopyMissingError::ArchiveTarget(run_id.to_string()));
    }
    runner::apply_secrets(&mut plan, secrets.clone());
    // The window the validation compared (a sync's ends at its last pass).
    let at = |s: &Option<String>| s.as_deref().and_then(crate::vocab::filter::parse_time);
    if let (Some(from), Some(to)) = (at(&report.window_from), at(&report.window_to)) {
        plan.scope.from = from;
        plan.scope.to = to;
    }
    let before_state = journal.state()?;
    let journal = Arc::new(journal);
    let counters = Arc::new(Counters::default());
    let sides = runner::connect(
        &plan,
        Some(run_id),
        plan.options.run_tag.then(|| run_id.to_string()),
        counters.clone(),
    )
    .await?;
    let entities: Vec<Entity> = runner::selected(&plan, &sides)
        .into_iter()
        .filter(|e| wanted.touches(*e))
        .collect();
    resend(&journal, &wanted, &report.generated_at)?;
    let streams: Vec<String> = entities.iter().map(|e| e.as_str().to_string()).collect();
    put_checkpoints_aside(&journal, &streams)?;
    journal.log(
        "info",
        &format!(
            "copying what validation found missing: {}",
            describe(&wanted.counts())
        ),
    )?;
    let only = Arc::new(OnlyMissing::new(sides.source.clone(), wanted));
    let before = journal.counts()?;
    let sink: Arc<dyn ProgressSink> = Arc::new(sink);
    let reporter = runner::spawn_reporter(
        run_id.to_string(),
        counters.clone(),
        sink.clone(),
        control.clone(),
    );
    let ctx = Arc::new(Ctx {
        run_id: run_id.to_string(),
        plan,
        journal: journal.clone(),
        source: only.clone(),
        target: sides.target.clone(),
        source_dialect: sides.source_dialect,
        counters,
        sink,
        control: control.clone(),
        dry_run: false,
        experiments: Default::default(),
        media: None,
    });
    let outcome = runner::run_phases(&ctx, &entities).await;
    reporter.abort();
    // Whatever the outcome: a copy run again reads its window from the start anyway. Only a
    // crash leaves them aside, for the next copy to put back.
    put_checkpoints_back(&journal)?;
    let after = journal.counts()?;
    let copied: BTreeMap<Entity, u64> = after
        .iter()
        .map(|(e, c)| {
            (
                *e,
                c.written
                    .saturating_sub(before.get(e).map_or(0, |b| b.written)),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    let failed = after.values().map(|c| c.failed).sum::<u64>();
    let failed_before = before.values().map(|c| c.failed).sum::<u64>();
    let state = match (&outcome, before_state) {
        (Ok(()), RunState::Completed) if failed > 0 => RunState::CompletedWithFailures,
        (Ok(()), RunState::CompletedWithFailures) if failed == 0 => RunState::Completed,
        _ => before_state,
    };
    journal.set_state(state)?;
    match &outcome {
        Ok(()) => journal.log(
            "info",
            &format!("copied what was missing: {}", describe(&copied)),
        )?,
        Err(e) => journal.log("error", &format!("copying what was missing stopped: {e}"))?,
    }
    outcome?;
    if control.is_cancelled() {
        return Err(EngineError::Cancelled.into());
    }
    Ok(Copied {
        copied,
        not_found: only.not_found(),
        failed: failed.saturating_sub(failed_before),
    })
}

fn describe(counts: &BTreeMap<Entity, u64>) -> String {
    if counts.is_empty() {
        return "nothing".into();
    }
    counts
        .iter()
        .map(|(e, n)| format!("{n} {e}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Asked objects the journal holds as failed, or as written before the validation ran (the
/// target lost them since), are sent again: back to pending, so the pipeline takes them up like
/// new ones. One written after the validation is there already (a copy that ran before, with
/// the report of before it), and is left alone: nothing is written twice.
fn resend(journal: &Journal, wanted: &Wanted, validated_at: &str) -> Result<(), EngineError> {
    let validated_at = crate::vocab::filter::parse_time(validated_at);
    for (entity, ids) in &wanted.ids {
        let mut again = vec![];
        for id in ids {
            let row: Option<(String, Option<String>, Option<String>)> = journal.with_conn(|c| {
                c.query_row(
                    "SELECT state, target_id, updated_at FROM objects WHERE entity = ?1 AND source_id = ?2",
                    rusqlite::params![entity.as_str(), id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
            })?;
            let Some((state, target_id, updated_at)) = row else {
                continue;
            };
            let before_validation = match (
                updated_at
                    .as_deref()
                    .and_then(crate::vocab::filter::parse_time),
                validated_at,
            ) {
                (Some(at), Some(v)) => at < v,
                _ => false,
            };
            let lost = state == ObjectState::Confirmed.as_str() && before_validation;
            if target_id.is_none() && (lost || state == ObjectState::Failed.as_str()) {
                again.push(id.as_str());
            }
        }
        let rows: Vec<RowUpdate<'_>> = again
            .into_iter()
            .map(|id| RowUpdate {
                source_id: id,
                target_id: None,
                content_hash: None,
                reason: None,
            })
            .collect();
        if !rows.is_empty() {
            journal.mark(*entity, ObjectState::Pending, &rows)?;
        }
    }
    Ok(())
}

/// Keeps the run's read checkpoints of `streams` in the journal and clears them, so the copy
/// reads its window from the start. A copy that was interrupted left them aside already: those
/// are the run's, and stay.
fn put_checkpoints_aside(journal: &Journal, streams: &[String]) -> Result<(), EngineError> {
    if journal.meta(SAVED_CHECKPOINTS)?.is_some() {
        return clear(journal, streams);
    }
    let mut saved: BTreeMap<String, (Option<String>, bool)> = BTreeMap::new();
    for s in streams {
        saved.insert(s.clone(), journal.checkpoint(s)?);
    }
    journal.set_meta(
        SAVED_CHECKPOINTS,
        &serde_json::to_string(&saved).expect("checkpoints serialise"),
    )?;
    clear(journal, streams)
}

fn clear(journal: &Journal, streams: &[String]) -> Result<(), EngineError> {
    journal.with_conn(|c| {
        for s in streams {
            c.execute("DELETE FROM checkpoints WHERE stream = ?1", [s])?;
        }
        Ok(())
    })
}

fn put_checkpoints_back(journal: &Journal) -> Result<(), EngineError> {
    let Some(json) = journal.meta(SAVED_CHECKPOINTS)? else {
        return Ok(());
    };
    let saved: BTreeMap<String, (Option<String>, bool)> =
        serde_json::from_str(&json).map_err(|e| {
            EngineError::Journal(format!("the kept read checkpoints cannot be read: {e}"))
        })?;
    let streams: Vec<String> = saved.keys().cloned().collect();
    clear(journal, &streams)?;
    for (stream, (cursor, done)) in &saved {
        if cursor.is_some() || *done {
            journal.set_checkpoint(stream, cursor.as_deref(), *done)?;
        }
    }
    journal.with_conn(|c| {
        c.execute("DELETE FROM meta WHERE key = ?1", [SAVED_CHECKPOINTS])
            .map(|_| ())
    })
}

/// The ids a validation report names missing, per entity.
struct Wanted {
    ids: HashMap<Entity, HashSet<String>>,
}

impl Wanted {
    fn from_report(report: &ValidationReport) -> Self {
        let mut ids: HashMap<Entity, HashSet<String>> = HashMap::new();
        for e in &report.entities {
            let Some(entity) = Entity::parse(&e.entity) else {
                continue;
            };
            if !e.missing.is_empty() {
                ids.entry(entity)
                    .or_default()
                    .extend(e.missing.iter().cloned());
            }
        }
        Wanted { ids }
    }

    fn is_empty(&self) -> bool {
        self.ids.values().all(HashSet::is_empty)
    }

    fn counts(&self) -> BTreeMap<Entity, u64> {
        self.ids
            .iter()
            .map(|(e, ids)| (*e, ids.len() as u64))
            .collect()
    }

    fn traces(&self) -> Option<&HashSet<String>> {
        self.ids.get(&Entity::Traces).filter(|t| !t.is_empty())
    }

    /// Whether `entity` has objects to copy (its own missing ids, or a missing trace's).
    fn touches(&self, entity: Entity) -> bool {
        self.ids.get(&entity).is_some_and(|i| !i.is_empty())
            || (TRACE_CHILDREN.contains(&entity) && self.traces().is_some())
    }

    fn admits(&self, entity: Entity, record: &crate::vocab::Record) -> bool {
        if self
            .ids
            .get(&entity)
            .is_some_and(|i| i.contains(&record.id))
        {
            return true;
        }
        TRACE_CHILDREN.contains(&entity)
            && self.traces().is_some_and(|t| {
                record
                    .body
                    .str("traceId")
                    .is_some_and(|tid| t.contains(&tid))
            })
    }
}

/// A source that hands over only the missing objects (and a missing trace's children), and
/// notes which of the asked ids it saw.
struct OnlyMissing {
    inner: Arc<dyn SourceConnector>,
    wanted: Wanted,
    seen: Mutex<HashMap<Entity, HashSet<String>>>,
}

impl OnlyMissing {
    fn new(inner: Arc<dyn SourceConnector>, wanted: Wanted) -> Self {
        OnlyMissing {
            inner,
            wanted,
            seen: Mutex::default(),
        }
    }

    fn not_found(&self) -> BTreeMap<Entity, Vec<String>> {
        let seen = self.seen.lock().expect("seen");
        let mut out = BTreeMap::new();
        for (entity, ids) in &self.wanted.ids {
            let lost: BTreeSet<String> = ids
                .iter()
                .filter(|id| !seen.get(entity).is_some_and(|s| s.contains(*id)))
                .cloned()
                .collect();
            if !lost.is_empty() {
                out.insert(*entity, lost.into_iter().collect());
            }
        }
        out
    }
}

#[async_trait]
impl SourceConnector for OnlyMissing {
    crate::connectors::traits::forward_to_inner_source!();

    async fn read_page(
        &self,
        entity: Entity,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let page = self.inner.read_page(entity, scope, cursor).await?;
        let records: Vec<_> = page
            .records
            .into_iter()
            .filter(|r| self.wanted.admits(entity, r))
            .collect();
        {
            let mut seen = self.seen.lock().expect("seen");
            for r in &records {
                seen.entry(entity).or_default().insert(r.id.clone());
            }
        }
        Ok(Page {
            records,
            next: page.next,
        })
    }

    /// How many of the window's objects are missing is known only by reading.
    async fn count(&self, _entity: Entity, _scope: &Scope) -> Result<Option<u64>, EngineError> {
        Ok(None)
    }

    async fn estimate(&self, entity: Entity, scope: &Scope) -> Result<Option<u64>, EngineError> {
        self.inner.estimate(entity, scope).await
    }
}
