//! Live sync: copy the history as a run does, then follow the source. Every `poll` seconds a
//! pass reads a time window up to now (`window`: a short overlap before the watermark, and now
//! and then the whole lookback for objects that show up late), lets through only what has settled
//! (see `gate`), and copies it through the same journal and pipeline as a run, so what the
//! journal holds is never written twice.
//!
//! - Each pass is journaled (`status`): started in one transaction with its window and fresh
//!   read checkpoints, finished with what it saw, copied and skipped, what waits, the watermark
//!   and the lag. A pass a crash or an outage interrupted is finished on resume, over the same
//!   window, before a new one starts.
//! - The watermark is the window's end, or the earliest time of an object still waiting to
//!   settle: everything before it is copied. Validation of a sync run stops there.
//! - Cancelling lets a follow pass finish and journals it (the first pass, the backfill, stops
//!   at once and is finished on resume); `until_idle` ends the sync once nothing new has
//!   arrived for that long and nothing is about to settle.
//! - An unreachable side does not end the sync: the pass is tried again, backing off, and the
//!   wait is reported.

pub mod copy_back;
pub mod drain;
pub mod gate;
mod revisit;
pub mod settings;
pub mod share;
pub mod status;
pub(crate) mod window;

pub use copy_back::copy_back_plan;
pub use drain::{CutOver, SenderSeen, mark_switched, mark_switched_back, request_finish};
pub use settings::{Followed, SyncSettings, SyncTiming};
pub use share::share_cloud_limits;
pub use status::{SyncPass, SyncStatus};

/// What a sync checks with machinery above it: conflicts in the target after the backfill, and
/// the full validation when it finishes.
pub struct Checks<'a> {
    pub conflicts: &'a dyn FindConflicts,
    pub last: &'a dyn FinalCheck,
}

/// The full validation a finishing sync runs over its whole window (validation lives above the
/// run machinery, so the caller hands it in). Returns whether it was clean, and its findings
/// in one sentence.
#[async_trait::async_trait]
pub trait FinalCheck: Send + Sync {
    async fn validate(
        &self,
        run_id: &str,
        data_dir: &Path,
        plan: &Plan,
    ) -> Result<(bool, String), EngineError>;
}

use crate::run::conflict_check::FindConflicts;
use crate::run::control::RunControl;
use crate::run::journal::Journal;
use crate::run::pipeline::Ctx;
use crate::run::plan::{EndpointSpec, Plan};
use crate::run::progress::{Counters, ProgressEvent, ProgressSink};
use crate::run::run_lock::RunLock;
use crate::run::runner::{self, RunReport, Secrets, Sides};
use crate::vocab::{EngineError, Entity};
use chrono::Utc;
use gate::SettleGate;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Starts a live sync of `plan`: backfill, then follow until cancelled or idle.
pub async fn sync(
    plan: Plan,
    data_dir: &Path,
    settings: SyncSettings,
    sink: impl ProgressSink,
    control: RunControl,
    checks: Checks<'_>,
) -> Result<RunReport, EngineError> {
    plan.validate()?;
    refuse_unsyncable(&plan)?;
    let (run_id, lock) = runner::claim_new_run(data_dir)?;
    let settings_json = serde_json::to_string(&settings).expect("settings serialise");
    let journal = Journal::create_sync(data_dir, &run_id, &plan, &settings_json)?;
    follow(
        plan,
        (run_id, data_dir),
        (journal, lock),
        Arc::new(sink),
        control,
        false,
        checks,
    )
    .await
}

/// Continues a sync run that was interrupted, cancelled or ended idle: the unfinished pass
/// first, then following again with the journaled timing.
pub async fn resume(
    run_id: &str,
    data_dir: &Path,
    plan: Option<Plan>,
    secrets: Secrets,
    sink: impl ProgressSink,
    control: RunControl,
    checks: Checks<'_>,
) -> Result<RunReport, EngineError> {
    let r = runner::reopen(run_id, data_dir, plan, secrets)?;
    follow(
        r.plan,
        (run_id.to_string(), data_dir),
        (r.journal, r.lock),
        Arc::new(sink),
        control,
        true,
        checks,
    )
    .await
}

/// Whether `run_id` in `data_dir` is a sync run (resume dispatches on it).
pub fn is_sync_run(data_dir: &Path, run_id: &str) -> Result<bool, EngineError> {
    status::is_sync(&Journal::open(data_dir, run_id)?)
}

fn refuse_unsyncable(plan: &Plan) -> Result<(), EngineError> {
    if let EndpointSpec::Langsmith(l) = &plan.source {
        crate::langsmith::follow::refuse_unfollowable(l)?;
    }
    if matches!(plan.source, EndpointSpec::Archive { .. }) {
        return Err(EngineError::InvalidPlan(
            "an archive folder receives nothing new, so there is nothing to follow; copy it with a run instead of a sync".into(),
        ));
    }
    if crate::run::trace_scope::filters_traces(&plan.scope) {
        return Err(EngineError::InvalidPlan(
            "a sync cannot follow trace-name or tag filters yet (they choose traces once, at the start); remove them or copy with a run".into(),
        ));
    }
    Ok(())
}

async fn follow(
    plan: Plan,
    (run_id, data_dir): (String, &Path),
    (journal, _lock): (Journal, RunLock),
    sink: Arc<dyn ProgressSink>,
    control: RunControl,
    resumed: bool,
    Checks {
        conflicts,
        last: check,
    }: Checks<'_>,
) -> Result<RunReport, EngineError> {
    let started = Instant::now();
    let journal = Arc::new(journal);
    status::ensure_tables(&journal)?;
    let settings: SyncSettings = journal
        .meta("sync")?
        .map(|s| serde_json::from_str(&s))
        .transpose()
        .map_err(|e| EngineError::Journal(format!("the sync settings cannot be read: {e}")))?
        .unwrap_or_default();
    let counters = Arc::new(Counters::default());
    sink.emit(ProgressEvent::RunStarted {
        run_id: run_id.clone(),
        resumed,
    });
    let run_tag = plan.options.run_tag.then(|| run_id.clone());
    let connect = followed(&plan);
    let sides = match runner::connect(&connect, Some(&run_id), run_tag, counters.clone()).await {
        Ok(s) => s,
        Err(e) => {
            journal.set_state(crate::vocab::RunState::Failed)?;
            journal.log("error", &e.to_string())?;
            return Err(e);
        }
    };
    let timing = settings.resolve_for(settings::Followed::of(
        &plan.source,
        sides.source_info.as_ref().map(|i| i.generation),
    ));
    let mut warnings = runner::warnings_for(&plan, &sides);
    if plan.scope.to != crate::vocab::Scope::default().to {
        warnings.push(
            "A sync follows the source past the plan's `to`: its window has no end until it stops."
                .into(),
        );
    }
    for w in &warnings {
        sink.emit(ProgressEvent::Warning { message: w.clone() });
    }
    let entities = runner::selected(&plan, &sides);
    let base = Ctx {
        run_id: run_id.clone(),
        plan: plan.clone(),
        journal: journal.clone(),
        source: sides.source.clone(),
        target: sides.target.clone(),
        source_dialect: sides.source_dialect,
        counters: counters.clone(),
        sink: sink.clone(),
        control: control.clone(),
        dry_run: false,
        experiments: Default::default(),
        media: None,
    };
    let reporter = runner::spawn_reporter(
        run_id.clone(),
        counters.clone(),
        sink.clone(),
        control.clone(),
    );
    let follower = Follower {
        base: &base,
        data_dir,
        check,
        sides: &sides,
        timing: &timing,
        entities: &entities,
    };
    let mut outcome = follower.run().await;
    if outcome.is_ok()
        && !control.is_cancelled()
        && let Err(e) = runner::name_conflicts(&plan, &journal, &sink, conflicts).await
    {
        outcome = Err(e);
    }
    reporter.abort();
    let (last_snapshot, _) = runner::snapshot(
        &run_id,
        &counters,
        &control,
        &BTreeMap::new(),
        f64::INFINITY,
    );
    sink.emit(last_snapshot);
    let state = runner::end_run(&base, &outcome).await?;
    outcome?;
    let mut report = runner::build_report(
        &journal,
        &run_id,
        state,
        false,
        warnings,
        started.elapsed(),
        &counters,
    )?;
    report.sync = status::status(&journal, Some(timing))?;
    Ok(report)
}

/// The read checkpoints a new pass starts afresh: each entity's stream. What the target held
/// is listed once, before the backfill writes (as a run does): listing it again per pass would
/// take the traces a v4 target derives from the sync's own spans for someone else's. A sync
/// therefore assumes nothing else writes the same objects into the target while it follows.
fn pass_streams(entities: &[Entity]) -> Vec<String> {
    entities.iter().map(|e| e.as_str().to_string()).collect()
}

/// The errors a pass is tried again after: a side that cannot be reached or answers with a
/// server error for a while. Anything else (wrong keys, a refused plan, the journal) ends the
/// sync with its sentence.
fn passing(e: &EngineError) -> bool {
    use crate::vocab::ConnectionError as C;
    match e {
        EngineError::Connection(c) => {
            matches!(c, C::Unreachable(..) | C::Timeout(..) | C::Unhealthy(..))
        }
        // Status 0: no answer at all (refused, reset, timed out).
        EngineError::Http { status, .. } => {
            *status == 0 || *status >= 500 || *status == 429 || *status == 408
        }
        EngineError::Protocol { .. } => true,
        _ => false,
    }
}

struct Follower<'a> {
    base: &'a Ctx,
    data_dir: &'a Path,
    check: &'a dyn FinalCheck,
    sides: &'a Sides,
    timing: &'a SyncTiming,
    entities: &'a [Entity],
}

impl Follower<'_> {
    /// Passes until cancelled (`end_run` then says `cancelled`), idle (`completed`) or
    /// finished (`completed`, and cut over).
    async fn run(&self) -> Result<(), EngineError> {
        let journal = &self.base.journal;
        let control = &self.base.control;
        let mut last_news = Instant::now();
        let mut outage: u32 = 0;
        // Follow passes pause with the run but finish when it is cancelled.
        let follow_control = control.shielded();
        // A deep pass is asked for before stopping idle: late objects show only to one.
        let mut deep_next = false;
        loop {
            // Paused: no new pass starts until the run goes on.
            if !control.proceed().await {
                return Ok(());
            }
            let finishing = self.finishing()?;
            let final_pass = drain::final_pass(journal)?;
            let pass = match status::open_pass(journal)? {
                Some(p) => {
                    status::again(journal, p.pass)?;
                    p
                }
                // The last pass ran (a crash or a cancel came before the validation).
                None if finishing && final_pass.is_some() => return self.cut_over().await,
                None => {
                    let w = window::next(
                        journal,
                        self.timing,
                        self.base.plan.scope.from,
                        finishing || std::mem::take(&mut deep_next),
                    )?;
                    let p =
                        status::start_pass(journal, w.from, w.to, &pass_streams(self.entities))?;
                    if w.deep {
                        window::mark_deep(journal, p.pass)?;
                    }
                    if finishing {
                        drain::set_final_pass(journal, p.pass, &p.window_to)?;
                    }
                    p
                }
            };
            let last = drain::final_pass(journal)? == Some(pass.pass);
            let backfill = pass.pass == 1;
            // A follow pass is small and finishes even when cancelled; the backfill may be
            // long, so it stops at once and is finished on resume.
            let pass_control = if backfill {
                control.clone()
            } else {
                follow_control.clone()
            };
            // The last pass copies whatever has ended without waiting for it to rest: nothing
            // follows it that could copy it later (what is still open is named by validation).
            let settle = if last {
                Duration::ZERO
            } else {
                self.timing.settle()
            };
            let mut gate = SettleGate::new(
                self.sides.source.clone(),
                journal.clone(),
                settle,
                self.timing.lookback(),
            )?;
            // A LangSmith run tree is copied whole, once no run of it is pending.
            if matches!(self.base.plan.source, EndpointSpec::Langsmith(_)) {
                gate = gate.whole_trees(crate::langsmith::follow::run_is_open);
            }
            let gate = Arc::new(gate);
            let ctx = Arc::new(self.pass_ctx(&pass, gate.clone(), pass_control)?);
            let before = journal.counts()?;
            match runner::run_phases(&ctx, self.entities).await {
                Ok(()) if backfill && control.is_cancelled() => return Ok(()),
                Ok(()) => {
                    outage = 0;
                    let copied = self.end_pass(&pass, &gate, &before)?;
                    if copied > 0 || gate.counts.new.load(Ordering::Relaxed) > 0 {
                        last_news = Instant::now();
                    }
                }
                Err(e) if passing(&e) => {
                    outage += 1;
                    let wait = Duration::from_secs(1u64 << outage.min(5));
                    let message = format!(
                        "sync pass {} could not finish ({e}); trying it again in {} s",
                        pass.pass,
                        wait.as_secs()
                    );
                    journal.log(crate::journal::WARNING, &message)?;
                    self.base.sink.emit(ProgressEvent::Warning { message });
                    if !wait_or_cancel(control, wait).await {
                        return Ok(());
                    }
                    continue;
                }
                Err(e) => return Err(e),
            }
            if last {
                if control.is_cancelled() {
                    return Ok(());
                }
                return self.cut_over().await;
            }
            if control.is_cancelled() {
                return Ok(());
            }
            if self.finishing()? {
                continue;
            }
            if self.drained()? {
                drain::request_finish_in(journal, "the source was quiet for the drain time")?;
                continue;
            }
            if let Some(idle) = self.timing.until_idle() {
                let (waiting, open) = status::count_waiting(journal)?;
                // Objects that have ended and only wait out the settle time are about to
                // arrive; open ones may stay open for any time and do not keep a sync alive.
                if last_news.elapsed() >= idle && waiting == open {
                    if !window::was_deep(journal, pass.pass)? {
                        deep_next = true;
                        continue;
                    }
                    journal.log(
                        "info",
                        &format!(
                            "the source had nothing new for {} s: the sync stopped",
                            idle.as_secs_f64()
                        ),
                    )?;
                    return Ok(());
                }
            }
            if !self.wait_for_next_pass().await? {
                return Ok(());
            }
        }
    }

    /// Journals a finished pass and tells the sink; returns how many objects it copied.
    fn end_pass(
        &self,
        pass: &SyncPass,
        gate: &SettleGate,
        before: &BTreeMap<Entity, crate::vocab::EntityCounts>,
    ) -> Result<u64, EngineError> {
        let journal = &self.base.journal;
        let after = journal.counts()?;
        let copied = total(&after, |c| c.written) - total(before, |c| c.written);
        let skipped_existing = total(&after, |c| c.skipped) - total(before, |c| c.skipped);
        let news = *gate.counts.latest_news.lock().expect("gate");
        if let Some(at) = news {
            drain::set_quiet_since(journal, at)?;
        }
        let done = status::finish_pass(
            journal,
            pass,
            &status::PassOutcome {
                seen: gate.counts.seen.load(Ordering::Relaxed),
                copied,
                skipped: gate.counts.held.load(Ordering::Relaxed) + skipped_existing,
            },
        )?;
        journal.log(
            "info",
            &format!(
                "sync pass {} read {} → {}: {} seen, {} copied, {} skipped, {} waiting to settle",
                done.pass,
                done.window_from,
                done.window_to,
                done.seen,
                done.copied,
                done.skipped,
                done.waiting
            ),
        )?;
        let (waiting, waiting_open) = status::count_waiting(journal)?;
        self.base.sink.emit(ProgressEvent::SyncPassEnded {
            run_id: self.base.run_id.clone(),
            pass: done,
            waiting,
            waiting_open,
            senders: drain::senders(journal)?,
            quiet_since: drain::quiet_since(journal)?
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        });
        Ok(copied)
    }

    /// Whether finishing was asked for, here (the control) or by another process (the
    /// journal's flag). A request through the control is journaled, so a crash does not lose it.
    fn finishing(&self) -> Result<bool, EngineError> {
        let journal = &self.base.journal;
        if drain::finish_requested(journal)? {
            return Ok(true);
        }
        if self.base.control.is_finishing() {
            drain::request_finish_in(journal, "finishing was asked for")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Whether the drain is over: a switch stands, the source has shown nothing new for the
    /// drain time since it (or since its last news), and nothing that has ended is about to
    /// settle.
    fn drained(&self) -> Result<bool, EngineError> {
        let journal = &self.base.journal;
        let (Some(drain), Some(switched)) = (self.timing.drain(), drain::current_switch(journal)?)
        else {
            return Ok(false);
        };
        let quiet = drain::quiet_since(journal)?.map_or(switched, |q| q.max(switched));
        let (waiting, open) = status::count_waiting(journal)?;
        Ok((Utc::now() - quiet).to_std().unwrap_or_default() >= drain && waiting == open)
    }

    /// Waits `poll` before the next pass; a finish request cuts the wait short. `false` when
    /// the run was cancelled.
    async fn wait_for_next_pass(&self) -> Result<bool, EngineError> {
        let control = &self.base.control;
        let until = Instant::now() + self.timing.poll();
        while Instant::now() < until {
            if !wait_or_cancel(
                control,
                (until - Instant::now()).min(Duration::from_millis(500)),
            )
            .await
            {
                return Ok(false);
            }
            if self.finishing()? {
                return Ok(true);
            }
        }
        Ok(!control.is_cancelled())
    }

    /// After the last pass: validates the whole window `[from, end of the last pass)` and
    /// journals the cut-over with what validation found.
    async fn cut_over(&self) -> Result<(), EngineError> {
        let journal = &self.base.journal;
        let window_to = drain::final_window_to(journal)?
            .ok_or_else(|| EngineError::Journal("the last sync pass has no window".into()))?;
        journal.log("info", "the last pass ran: validating the whole window")?;
        let (clean, summary) = self
            .check
            .validate(&self.base.run_id, self.data_dir, &self.base.plan)
            .await?;
        drain::mark_cut_over(
            journal,
            &drain::CutOver {
                at: crate::vocab::time::now_iso_millis(),
                window_to: window_to.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                validation_clean: clean,
                validation_summary: summary,
            },
        )
    }

    /// The run's context for one pass: the pass's window, the gated source, the pass's control.
    fn pass_ctx(
        &self,
        pass: &SyncPass,
        gate: Arc<SettleGate>,
        control: RunControl,
    ) -> Result<Ctx, EngineError> {
        let base = self.base;
        let mut plan = base.plan.clone();
        let when = |s: &str| {
            crate::vocab::filter::parse_time(s).ok_or_else(|| {
                EngineError::Journal(format!("sync pass {} has an unreadable window", pass.pass))
            })
        };
        plan.scope.from = when(&pass.window_from)?;
        plan.scope.to = when(&pass.window_to)?;
        let source: Arc<dyn crate::connectors::SourceConnector> = gate;
        let media = if plan.scope.entities.includes(Entity::Media) {
            crate::run::media_copy::MediaCopier::new(
                base.journal.clone(),
                source.clone(),
                base.target.clone(),
                base.counters.clone(),
                base.sink.clone(),
            )?
        } else {
            None
        };
        Ok(Ctx {
            run_id: base.run_id.clone(),
            plan,
            journal: base.journal.clone(),
            source,
            target: base.target.clone(),
            source_dialect: base.source_dialect,
            counters: base.counters.clone(),
            sink: base.sink.clone(),
            control,
            dry_run: false,
            experiments: Default::default(),
            media,
        })
    }
}

fn total(
    counts: &BTreeMap<Entity, crate::vocab::EntityCounts>,
    f: impl Fn(&crate::vocab::EntityCounts) -> u64,
) -> u64 {
    counts.values().map(f).sum()
}

/// Sleeps `d` unless the run is cancelled first; `false` when it was.
async fn wait_or_cancel(control: &RunControl, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if control.is_cancelled() {
            return false;
        }
        tokio::time::sleep((until - Instant::now()).min(Duration::from_millis(100))).await;
    }
    !control.is_cancelled()
}

/// The plan a sync connects with: a LangSmith source learns that it is followed from the plan's
/// `from` (`connectors::langsmith::follow`; nothing else changes, and nothing of it is journaled).
fn followed(plan: &Plan) -> Plan {
    let mut p = plan.clone();
    if let EndpointSpec::Langsmith(l) = &mut p.source {
        l.follow_from = Some(plan.scope.from);
    }
    p
}
