//! Rollback: remove from the target exactly what a run created, as its journal records it.
//!
//! - [`plan`]: which requests, in which order (children before parents, bulk where possible),
//!   and what only a person can remove;
//! - [`execute`]: the requests, journaled, stopping when the day's delete budget is spent;
//! - [`verify`]: afterwards, every removed object is really gone (allowing for the delay).
//!
//! The plan is computed once and stored in the run's journal file, so a rollback that stopped
//! (budget, crash, cancel) continues where it was, across days.

mod execute;
mod plan;
mod store;
mod types;
mod verify;
mod whole_trace;

pub use types::{
    Action, FailedStep, Leftover, ManualItem, ObjectRef, RollbackError, RollbackOptions,
    RollbackPreview, RollbackProgress, RollbackReport, RollbackState, StepState, Verification,
};

use crate::after_run::cutover::{self, CutoverRunError};
use crate::after_run::reconnect::{Side, langfuse, with_secret};
use crate::connectors::langfuse::Langfuse;
use crate::run::control::RunControl;
use crate::run::journal::{Journal, ObjectState};
use crate::run::plan::{CloudPlan, EndpointSpec, LangfuseEndpoint, Plan};
use crate::vocab::Entity;
use execute::Ended;
use std::collections::BTreeMap;
use std::path::Path;
use store::{RollbackStore, Step};

const LAST_REPORT: &str = "last_report";
const RESUME_AFTER: &str = "resume_after";
const PLANNED_FOR: &str = "planned_for";

/// Delete requests per day that Langfuse Cloud allows on each plan (self-hosted: no budget).
pub fn daily_delete_budget(plan: CloudPlan) -> Option<u64> {
    match plan {
        CloudPlan::None => None,
        CloudPlan::Hobby => Some(25),
        CloudPlan::Core => Some(100),
        CloudPlan::Pro => Some(1_000),
    }
}

struct Opened {
    journal: Journal,
    plan: Plan,
    endpoint: LangfuseEndpoint,
    store: RollbackStore,
}

fn open(run_id: &str, data_dir: &Path, options: &RollbackOptions) -> Result<Opened, RollbackError> {
    let journal = Journal::open(data_dir, run_id)?;
    if journal.meta("dry_run")?.as_deref() == Some("1") {
        return Err(RollbackError::DryRun(run_id.to_string()));
    }
    let plan = journal.plan()?;
    let endpoint = match with_secret(&plan.target, options.secrets.target.as_ref()) {
        EndpointSpec::Langfuse(l) => l,
        EndpointSpec::Archive { path } => {
            return Err(RollbackError::ArchiveTarget(
                run_id.to_string(),
                path.display().to_string(),
            ));
        }
        EndpointSpec::Langsmith(l) => {
            return Err(RollbackError::ArchiveTarget(
                run_id.to_string(),
                l.url.clone(),
            ));
        }
    };
    let store = RollbackStore::open(&journal.path)?;
    Ok(Opened {
        journal,
        plan,
        endpoint,
        store,
    })
}

/// Plans from the journal. The source is opened only when the journal lacks target ids that
/// only the source's objects can find; if it cannot be reached, those objects go on the manual
/// list instead.
async fn build_plan(
    o: &Opened,
    lf: &Langfuse,
    options: &RollbackOptions,
    progress: &(dyn Fn(RollbackProgress) + Send + Sync),
) -> Result<plan::Planned, RollbackError> {
    let lacks_ids = o
        .journal
        .rows_where(None, None)?
        .iter()
        .any(|r| r.entity.target_assigns_ids() && r.target_id.is_none() && r.may_have_landed());
    let source = if lacks_ids {
        let spec = with_secret(&o.plan.source, options.secrets.source.as_ref());
        Side::open(&spec, &o.plan).await.ok()
    } else {
        None
    };
    let reader = source.as_ref().map(Side::reader);
    Ok(plan::build(
        &o.journal,
        &o.store,
        &o.plan.scope,
        lf,
        reader.as_deref(),
        progress,
    )
    .await?)
}

/// What the journal held when the plan was made: a copy resumed after that wrote more, and the
/// plan must be made again.
fn fingerprint(journal: &Journal) -> Result<String, RollbackError> {
    Ok(serde_json::to_string(&journal.counts()?).expect("counts serialise"))
}

/// The plan to follow: the stored one while the journal is unchanged, otherwise a new one in
/// which every step whose objects an earlier attempt already removed counts as done. The bool
/// says whether it is new (and must be stored before use).
async fn current_plan(
    o: &Opened,
    lf: &Langfuse,
    options: &RollbackOptions,
    progress: &(dyn Fn(RollbackProgress) + Send + Sync),
) -> Result<(Vec<Step>, Vec<ManualItem>, bool), RollbackError> {
    let stored = o.store.has_plan()?;
    if stored && o.store.meta(PLANNED_FOR)? == Some(fingerprint(&o.journal)?) {
        return Ok((o.store.steps()?, o.store.manual()?, false));
    }
    let removed: std::collections::HashSet<(Entity, String)> = if stored {
        o.store
            .steps()?
            .into_iter()
            .filter(|s| s.state == StepState::Done)
            .flat_map(|s| s.removes.into_iter().map(|r| (r.entity, r.id)))
            .collect()
    } else {
        Default::default()
    };
    let mut planned = build_plan(o, lf, options, progress).await?;
    for s in &mut planned.steps {
        if !s.removes.is_empty()
            && s.removes
                .iter()
                .all(|r| removed.contains(&(r.entity, r.id.clone())))
        {
            s.state = StepState::Done;
        }
    }
    Ok((planned.steps, planned.manual, true))
}

fn count_removed(
    steps: &[Step],
    pending_only: bool,
) -> (BTreeMap<Entity, u64>, BTreeMap<Entity, u64>) {
    let mut delete = BTreeMap::new();
    let mut archive = BTreeMap::new();
    for s in steps {
        if pending_only == (s.state == StepState::Done) {
            continue;
        }
        let into = if s.action.is_delete() {
            &mut delete
        } else {
            &mut archive
        };
        for r in &s.removes {
            *into.entry(r.entity).or_insert(0) += 1;
        }
    }
    (delete, archive)
}

fn estimate(delete_requests: u64, other: u64, budget: Option<u64>) -> (Option<u64>, String) {
    // Sequential requests at roughly five a second against a healthy server.
    let secs = (delete_requests + other) as f64 / 5.0;
    let quick = if secs < 90.0 {
        format!("about {} seconds", secs.ceil().max(1.0))
    } else {
        format!("about {} minutes", (secs / 60.0).ceil())
    };
    match budget {
        None => (
            None,
            format!(
                "{delete_requests} delete and {other} other requests; no daily delete budget applies, so it takes {quick}."
            ),
        ),
        Some(b) => {
            let days = delete_requests.div_ceil(b.max(1)).max(1);
            let text = if days <= 1 {
                format!(
                    "{delete_requests} delete requests fit in one day's budget of {b} (if it was not used today); it takes {quick}."
                )
            } else {
                format!(
                    "{delete_requests} delete requests at {b} a day need {days} days: the rollback stops each time the day's budget is spent, says when it can continue, and continues when you start it again."
                )
            };
            (Some(days), text)
        }
    }
}

/// What a rollback of `run_id` would do: objects per entity, requests, how long under the
/// target's daily delete budget, and what must be done by hand. Deletes nothing.
pub async fn rollback_preview(
    run_id: &str,
    data_dir: &Path,
    options: &RollbackOptions,
) -> Result<RollbackPreview, RollbackError> {
    let o = open(run_id, data_dir, options)?;
    let lf = langfuse(&o.endpoint, &o.plan).await?;
    let (steps, manual, _) = current_plan(&o, &lf, options, &|_| {}).await?;
    let pending: Vec<&Step> = steps
        .iter()
        .filter(|s| s.state != StepState::Done)
        .collect();
    let delete_requests = pending.iter().filter(|s| s.action.is_delete()).count() as u64;
    let other = pending.len() as u64 - delete_requests;
    let budget = options
        .daily_delete_budget
        .or_else(|| daily_delete_budget(o.endpoint.cloud_plan));
    let (days_needed, estimate) = estimate(delete_requests, other, budget);
    let (delete, archive) = count_removed(&steps, true);
    let restores_labels = pending
        .iter()
        .filter(|s| matches!(s.action, Action::RestorePromptLabel { .. }))
        .map(|s| {
            let mut text = s.action.to_string();
            text[..1].make_ascii_uppercase();
            format!("{text}, unless another version holds it by then.")
        })
        .collect();
    let untouched_preexisting = [ObjectState::SkippedExisting, ObjectState::Conflict]
        .into_iter()
        .map(|s| o.journal.rows_where(None, Some(s)).map(|r| r.len() as u64))
        .sum::<Result<u64, _>>()?;
    let mut warnings = vec![];
    if o.journal.state()? == crate::run::journal::RunState::Running {
        warnings.push("The run is marked as still running. If it is, cancel it first: objects it writes after the rollback starts are not removed.".into());
    }
    if let Some(at) = o.store.meta(RESUME_AFTER)? {
        warnings.push(format!(
            "An earlier rollback stopped because the day's delete budget was spent; it can continue after {at}."
        ));
    }
    Ok(RollbackPreview {
        run_id: run_id.to_string(),
        target: o.endpoint.url.clone(),
        delete,
        archive,
        requests: pending.len() as u64,
        delete_requests,
        requests_done: (steps.len() - pending.len()) as u64,
        daily_delete_budget: budget,
        days_needed,
        estimate,
        manual,
        untouched_preexisting,
        restores_labels,
        restores_cutover: options.restore_cutover
            && cutover::cutover_status(run_id, data_dir)
                .ok()
                .flatten()
                .is_some_and(|s| s.restored_at.is_none()),
        warnings,
    })
}

/// Rolls back run `run_id`: deletes what it created (resuming an earlier, interrupted rollback),
/// verifies that it is gone, and restores the run's `.env` cutover. Stops with
/// [`RollbackState::WaitingForBudget`] when the target's daily delete budget is spent.
pub async fn rollback(
    run_id: &str,
    data_dir: &Path,
    options: &RollbackOptions,
    control: &RunControl,
    progress: &(dyn Fn(RollbackProgress) + Send + Sync),
) -> Result<RollbackReport, RollbackError> {
    let mut o = open(run_id, data_dir, options)?;
    let lf = langfuse(&o.endpoint, &o.plan).await?;
    let (steps, manual, fresh) = current_plan(&o, &lf, options, progress).await?;
    if fresh {
        o.store.save_plan(&steps, &manual)?;
        o.store.set_meta(PLANNED_FOR, &fingerprint(&o.journal)?)?;
        o.journal.log(
            "info",
            &format!("rollback planned: {} requests", steps.len()),
        )?;
    }
    let ended = execute::run_steps(&lf, &o.store, options.max_wait, control, progress).await?;
    let steps = o.store.steps()?;
    let manual = o.store.manual()?;
    let (deleted, archived) = count_removed(&steps, false);
    let failed: Vec<FailedStep> = steps
        .iter()
        .filter(|s| s.state == StepState::Failed)
        .map(|s| FailedStep {
            action: s.action.clone(),
            reason: s.detail.clone().unwrap_or_default(),
        })
        .collect();
    let requests_done = steps.iter().filter(|s| s.state == StepState::Done).count() as u64;
    let mut report = RollbackReport {
        run_id: run_id.to_string(),
        state: RollbackState::Incomplete,
        message: String::new(),
        requests_done,
        requests_total: steps.len() as u64,
        deleted,
        archived,
        failed,
        manual,
        resume_after: None,
        verification: None,
        cutover_restored: None,
        cutover_note: None,
    };
    match ended {
        Ended::BudgetSpent { resume_after } => {
            let at = crate::vocab::time::iso_secs(&resume_after);
            o.store.set_meta(RESUME_AFTER, &at)?;
            report.state = RollbackState::WaitingForBudget;
            report.message = format!(
                "The target's daily delete budget is spent after {} of {} requests. Nothing is lost: start the rollback again after {at} and it continues where it stopped.",
                report.requests_done, report.requests_total
            );
            report.resume_after = Some(at);
        }
        Ended::Cancelled => {
            report.message = format!(
                "The rollback was cancelled after {} of {} requests; start it again to continue.",
                report.requests_done, report.requests_total
            );
        }
        Ended::Finished => {
            o.store.clear_meta(RESUME_AFTER)?;
            let v =
                verify::verify(&lf, &steps, &o.plan.scope, options.verify_limit, progress).await?;
            if options.restore_cutover {
                restore_cutover(&o.journal, run_id, &mut report);
            }
            conclude(&mut report, v);
        }
    }
    o.store.set_meta(
        LAST_REPORT,
        &serde_json::to_string(&report).expect("report serialises"),
    )?;
    o.journal
        .log("info", &format!("rollback: {}", report.message))?;
    Ok(report)
}

/// Puts the run's `.env` cutover back, if it has one that was not restored yet.
fn restore_cutover(journal: &Journal, run_id: &str, report: &mut RollbackReport) {
    match cutover::restore_in(journal, run_id, false) {
        Ok(_) => report.cutover_restored = Some(true),
        Err(CutoverRunError::NothingToRestore(_)) => {}
        Err(e) => {
            report.cutover_restored = Some(false);
            report.cutover_note = Some(e.to_string());
        }
    }
}

/// The state and message of a rollback whose every step was tried, from what failed and what
/// verification still found.
fn conclude(report: &mut RollbackReport, v: Verification) {
    let clean = report.failed.is_empty() && v.settled && v.still_present.is_empty();
    report.state = if clean && report.cutover_restored != Some(false) {
        RollbackState::Completed
    } else {
        RollbackState::Incomplete
    };
    report.message = match (clean, report.failed.len()) {
        (true, _) => format!(
            "Rolled back: {} requests done and every removed object verified gone.{}",
            report.requests_done,
            if report.manual.is_empty() {
                String::new()
            } else {
                format!(
                    " {} objects need a step by hand (see the list).",
                    report.manual.len()
                )
            }
        ),
        (false, 0) => v
            .note
            .clone()
            .unwrap_or_else(|| "Some removed objects are still visible.".into()),
        (false, n) => {
            format!("{n} requests failed (see the list); start the rollback again to retry them.")
        }
    };
    report.verification = Some(v);
}

/// The report of the last rollback attempt of `run_id`, if there was one.
pub fn rollback_status(
    run_id: &str,
    data_dir: &Path,
) -> Result<Option<RollbackReport>, RollbackError> {
    let journal = Journal::open(data_dir, run_id)?;
    let store = RollbackStore::open(&journal.path)?;
    Ok(store
        .meta(LAST_REPORT)?
        .and_then(|t| serde_json::from_str(&t).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_say_how_many_days_the_budget_needs() {
        let (days, text) = estimate(60, 2, Some(25));
        assert_eq!(days, Some(3));
        assert!(text.contains("need 3 days"), "{text}");
        let (days, text) = estimate(10, 0, Some(25));
        assert_eq!(days, Some(1));
        assert!(text.contains("fit in one day's budget of 25"), "{text}");
        let (days, text) = estimate(10, 0, None);
        assert_eq!(days, None);
        assert!(text.contains("no daily delete budget"), "{text}");
    }
}
