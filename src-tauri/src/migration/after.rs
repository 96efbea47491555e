//! After a run: validation (reconciliation report, saved as HTML or Markdown), rollback (preview,
//! typed confirmation, progress, verification) and the `.env` cutover with its restore.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use migrator_engine::journal::run_dir;
use migrator_engine::validate::ChecklistLine;
use migrator_engine::{
    CutoverStatus, EndpointSpec, Entity, Journal, RollbackOptions, RollbackPreview,
    RollbackProgress, RollbackReport, RollbackState, ValidateOptions, ValidationProgress,
};
use serde::{Deserialize, Serialize};
use tauri::State;
use tauri::ipc::Channel;
use ts_rs::TS;

use super::checklist::{self, AutoFacts};
use super::validation_views::ValidationView;
use super::{MigrationError, Migrations, Result, blocking, current_view, run_secrets};
use crate::AppState;
use crate::progress::{RunEvent, RunStream};
use crate::sample;

/// One plain-language step of a long operation (validation, rollback), for a live status line.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StepEvent {
    pub message: String,
    /// 0..=1 when the share done is known.
    pub fraction: Option<f64>,
}

/// An engine error of validation, rollback or cutover, as the sentence it already is.
fn failed(e: impl std::fmt::Display) -> MigrationError {
    MigrationError::Failed(e.to_string())
}

fn step(message: String, fraction: Option<f64>) -> StepEvent {
    StepEvent { message, fraction }
}

fn label(entity: Entity) -> String {
    entity.as_str().replace('_', " ")
}

/// Sends a validation step to the window: one that finishes something at once, the rest
/// throttled.
pub(super) fn send_validation_step(stream: &Mutex<RunStream<StepEvent>>, p: &ValidationProgress) {
    let (event, urgent) = validation_step(p);
    let mut s = stream.lock().unwrap();
    if urgent {
        s.send(event);
    } else {
        s.send_throttled(event);
    }
}

fn validation_step(p: &ValidationProgress) -> (StepEvent, bool) {
    match p {
        ValidationProgress::Settling {
            entity,
            visible,
            expected,
            waited_ms,
        } => (
            step(
                format!(
                    "Waiting for the target to show every {}: {visible} of {expected} visible after {:.0} s",
                    label(*entity),
                    *waited_ms as f64 / 1000.0
                ),
                None,
            ),
            false,
        ),
        ValidationProgress::Reading {
            entity,
            side,
            objects,
        } => (
            step(
                format!("Reading {} from the {side}: {objects}", label(*entity)),
                None,
            ),
            false,
        ),
        ValidationProgress::Compared {
            entity,
            discrepancies,
        } => (
            step(
                format!(
                    "Compared {}: {discrepancies} discrepanc{}",
                    label(*entity),
                    if *discrepancies == 1 { "y" } else { "ies" }
                ),
                None,
            ),
            true,
        ),
    }
}

/// The last validation of a run in a few words, for the runs list.
pub fn validation_summary(
    data_dir: &std::path::Path,
    run_id: &str,
) -> Option<super::views::ValidationSummary> {
    let r = migrator_engine::latest_report(run_id, data_dir).ok()??;
    Some(super::views::ValidationSummary {
        clean: r.is_clean(),
        discrepancies: r.discrepancy_count(),
        generated_at: r.generated_at,
    })
}

/// The last rollback of a run in a few words, for the runs list.
pub fn rollback_summary(
    data_dir: &std::path::Path,
    run_id: &str,
) -> Option<super::views::RollbackSummary> {
    let r = migrator_engine::rollback_status(run_id, data_dir).ok()??;
    let view = RollbackView::from(&r);
    Some(super::views::RollbackSummary {
        state: view.state,
        resume_after: view.resume_after,
    })
}

/// What the app knows it did for a run, for the checklist's automatic steps.
pub fn auto_facts(migrations: &Migrations, run_id: &str) -> AutoFacts {
    let cutover = migrator_engine::cutover_status(run_id, &migrations.data_dir)
        .ok()
        .flatten();
    let switch = AutoFacts {
        switched: cutover.as_ref().is_some_and(|c| c.restored_at.is_none()),
        ever_switched: cutover.is_some(),
        ..AutoFacts::default()
    };
    match migrator_engine::latest_report(run_id, &migrations.data_dir) {
        Ok(Some(r)) => AutoFacts {
            validated_clean: r.is_clean(),
            validated_pairs: r.entities.iter().any(|e| e.compared > 0),
            ..switch
        },
        _ => switch,
    }
}

/// Reconciles source and target for the run's window; saves the report with the run.
#[tauri::command]
pub async fn validate_run(
    app: State<'_, Arc<AppState>>,
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
    on_event: Channel<RunEvent<StepEvent>>,
) -> Result<ValidationView> {
    validate(&app, &migrations, run_id, on_event).await
}

/// [`validate_run`] without Tauri's state wrappers.
pub async fn validate(
    app: &Arc<AppState>,
    migrations: &Migrations,
    run_id: String,
    on_event: Channel<RunEvent<StepEvent>>,
) -> Result<ValidationView> {
    let secrets = run_secrets(app, migrations, &run_id).await?;
    let options = ValidateOptions {
        secrets,
        ..ValidateOptions::default()
    };
    let stream = Mutex::new(RunStream::new(on_event, Duration::from_millis(150)));
    let report = migrator_engine::validate_run(&run_id, &migrations.data_dir, &options, &|p| {
        send_validation_step(&stream, &p)
    })
    .await
    .map_err(failed)?;
    Ok(ValidationView::from(&report))
}

/// The report of the run's last validation, if it was validated.
#[tauri::command]
pub async fn validation_report(
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
) -> Result<Option<ValidationView>> {
    let dir = migrations.data_dir.clone();
    blocking(move || {
        Ok(migrator_engine::latest_report(&run_id, &dir)
            .map_err(failed)?
            .as_ref()
            .map(ValidationView::from))
    })
    .await
}

#[derive(Clone, Copy, Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum ReportFormat {
    Html,
    Markdown,
}

/// Writes the last validation report, with the run's checklist, to a path the user picked in
/// the native save dialog.
#[tauri::command]
pub async fn save_validation_report(
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
    path: PathBuf,
    format: ReportFormat,
) -> Result<()> {
    let migrations = Arc::clone(&migrations);
    blocking(move || write_report(&migrations, &run_id, &path, format)).await
}

/// Writes the run's last validation report, with its checklist, as HTML or Markdown.
pub fn write_report(
    migrations: &Migrations,
    run_id: &str,
    path: &std::path::Path,
    format: ReportFormat,
) -> Result<()> {
    let mut report = migrator_engine::latest_report(run_id, &migrations.data_dir)
        .map_err(failed)?
        .ok_or(MigrationError::NotValidated)?;
    let view = current_view(migrations, run_id)?;
    let facts = auto_facts(migrations, run_id);
    report.checklist = checklist::checklist(&run_dir(&migrations.data_dir, run_id), &view, facts)
        .into_iter()
        .map(|i| ChecklistLine {
            phase: i.phase,
            label: i.label,
            done: i.done,
        })
        .collect();
    let text = match format {
        ReportFormat::Html => report.to_html(),
        ReportFormat::Markdown => report.to_markdown(),
    };
    std::fs::write(path, text).map_err(|e| MigrationError::Write(e.to_string()))
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct EntityCount {
    pub entity: String,
    #[ts(type = "number")]
    pub count: u64,
}

fn counts(map: &BTreeMap<Entity, u64>) -> Vec<EntityCount> {
    map.iter()
        .filter(|(_, n)| **n > 0)
        .map(|(e, n)| EntityCount {
            entity: e.as_str().to_owned(),
            count: *n,
        })
        .collect()
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ManualStep {
    pub entity: String,
    pub id: String,
    pub instruction: String,
}

impl From<&migrator_engine::rollback::ManualItem> for ManualStep {
    fn from(m: &migrator_engine::rollback::ManualItem) -> Self {
        ManualStep {
            entity: m.entity.as_str().to_owned(),
            id: m.id.clone(),
            instruction: m.instruction.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RollbackPreviewView {
    pub run_id: String,
    pub target: String,
    /// What the user must type to confirm: the target project's name (or its URL when the
    /// server does not name the project).
    pub confirm_text: String,
    pub delete: Vec<EntityCount>,
    pub archive: Vec<EntityCount>,
    #[ts(type = "number")]
    pub requests: u64,
    #[ts(type = "number")]
    pub delete_requests: u64,
    #[ts(type = "number")]
    pub requests_done: u64,
    #[ts(type = "number | null")]
    pub daily_delete_budget: Option<u64>,
    #[ts(type = "number | null")]
    pub days_needed: Option<u64>,
    pub estimate: String,
    pub manual: Vec<ManualStep>,
    #[ts(type = "number")]
    pub untouched_preexisting: u64,
    pub restores_cutover: bool,
    /// Prompt labels that go back to the versions they were on before the run.
    pub restores_labels: Vec<String>,
    pub warnings: Vec<String>,
}

impl RollbackPreviewView {
    fn new(p: &RollbackPreview, confirm_text: String) -> Self {
        RollbackPreviewView {
            run_id: p.run_id.clone(),
            target: p.target.clone(),
            confirm_text,
            delete: counts(&p.delete),
            archive: counts(&p.archive),
            requests: p.requests,
            delete_requests: p.delete_requests,
            requests_done: p.requests_done,
            daily_delete_budget: p.daily_delete_budget,
            days_needed: p.days_needed,
            estimate: p.estimate.clone(),
            manual: p.manual.iter().map(ManualStep::from).collect(),
            untouched_preexisting: p.untouched_preexisting,
            restores_cutover: p.restores_cutover,
            restores_labels: p.restores_labels.clone(),
            warnings: p.warnings.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RollbackView {
    pub run_id: String,
    /// `completed`, `waitingForBudget` or `incomplete`.
    pub state: String,
    pub message: String,
    #[ts(type = "number")]
    pub requests_done: u64,
    #[ts(type = "number")]
    pub requests_total: u64,
    pub deleted: Vec<EntityCount>,
    pub archived: Vec<EntityCount>,
    pub failed: Vec<String>,
    pub manual: Vec<ManualStep>,
    pub resume_after: Option<String>,
    /// `null` before verification ran.
    #[ts(type = "number | null")]
    pub verified_checked: Option<u64>,
    /// Objects still present after the rollback (should be none).
    pub still_present: Vec<String>,
    pub verification_settled: Option<bool>,
    pub verification_note: Option<String>,
    pub cutover_restored: Option<bool>,
    pub cutover_note: Option<String>,
}

impl From<&RollbackReport> for RollbackView {
    fn from(r: &RollbackReport) -> Self {
        RollbackView {
            run_id: r.run_id.clone(),
            state: match r.state {
                RollbackState::Completed => "completed",
                RollbackState::WaitingForBudget => "waitingForBudget",
                RollbackState::Incomplete => "incomplete",
            }
            .to_owned(),
            message: r.message.clone(),
            requests_done: r.requests_done,
            requests_total: r.requests_total,
            deleted: counts(&r.deleted),
            archived: counts(&r.archived),
            failed: r
                .failed
                .iter()
                .map(|f| format!("Could not {}: {}", f.action, f.reason))
                .collect(),
            manual: r.manual.iter().map(ManualStep::from).collect(),
            resume_after: r.resume_after.clone(),
            verified_checked: r.verification.as_ref().map(|v| v.checked),
            still_present: r
                .verification
                .iter()
                .flat_map(|v| &v.still_present)
                .map(|l| format!("{} {}", l.entity.as_str(), l.id))
                .collect(),
            verification_settled: r.verification.as_ref().map(|v| v.settled),
            verification_note: r.verification.as_ref().and_then(|v| v.note.clone()),
            cutover_restored: r.cutover_restored,
            cutover_note: r.cutover_note.clone(),
        }
    }
}

/// The text the user types to confirm a rollback: the target project's name as the server
/// reports it, else the target's URL.
async fn confirm_text(
    migrations: &Migrations,
    run_id: &str,
    secrets: &migrator_engine::Secrets,
) -> Result<String> {
    let plan = Journal::open(&migrations.data_dir, run_id)?.plan()?;
    let EndpointSpec::Langfuse(mut target) = plan.target else {
        return Err(MigrationError::Failed(
            "This run wrote into an archive folder; delete that folder instead of rolling back."
                .into(),
        ));
    };
    if let Some(s) = &secrets.target {
        target.secret_key = Some(s.clone());
    }
    let info = migrator_engine::check_connection(&target).await?;
    Ok(info.project_name.unwrap_or(target.url))
}

/// What a rollback would delete, how long it takes under the delete budget, and what must be
/// done by hand. Deletes nothing.
#[tauri::command]
pub async fn rollback_preview(
    app: State<'_, Arc<AppState>>,
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
) -> Result<RollbackPreviewView> {
    let secrets = run_secrets(&app, &migrations, &run_id).await?;
    let confirm = confirm_text(&migrations, &run_id, &secrets).await?;
    let options = RollbackOptions {
        secrets,
        ..RollbackOptions::default()
    };
    let dir = migrations.data_dir.clone();
    let preview = on_own_runtime(move || async move {
        migrator_engine::rollback_preview(&run_id, &dir, &options).await
    })
    .await?
    .map_err(failed)?;
    Ok(RollbackPreviewView::new(&preview, confirm))
}

/// Removes what the run created in the target, then verifies it is gone. Refuses unless
/// `confirmation` is the target project's name, typed by the user.
#[tauri::command]
pub async fn rollback_run(
    app: State<'_, Arc<AppState>>,
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
    confirmation: String,
    on_event: Channel<RunEvent<StepEvent>>,
) -> Result<RollbackView> {
    rollback(&app, &migrations, run_id, confirmation, on_event).await
}

/// [`rollback_run`] without Tauri's state wrappers.
pub async fn rollback(
    app: &Arc<AppState>,
    migrations: &Migrations,
    run_id: String,
    confirmation: String,
    on_event: Channel<RunEvent<StepEvent>>,
) -> Result<RollbackView> {
    if migrations.hub.is_live(&run_id) {
        return Err(MigrationError::Failed(
            "This run is still going. Cancel it first, then roll back what it wrote.".into(),
        ));
    }
    let secrets = run_secrets(app, migrations, &run_id).await?;
    let expected = confirm_text(migrations, &run_id, &secrets).await?;
    if confirmation.trim() != expected {
        return Err(MigrationError::Failed(format!(
            "The confirmation does not match. Type the target project's name, “{expected}”, to roll back."
        )));
    }
    let options = RollbackOptions {
        secrets,
        ..RollbackOptions::default()
    };
    let stream = Mutex::new(RunStream::new(on_event, Duration::from_millis(150)));
    let dir = migrations.data_dir.clone();
    let run_id_kept = run_id.clone();
    let report = on_own_runtime(move || async move {
        let control = migrator_engine::RunControl::new();
        migrator_engine::rollback(&run_id, &dir, &options, &control, &|p| {
            let (event, urgent) = match &p {
                RollbackProgress::Planning { entity } => (
                    step(
                        format!("Listing what the run created: {}", label(*entity)),
                        None,
                    ),
                    true,
                ),
                RollbackProgress::Request { done, total, .. } => (
                    step(
                        format!("Deleting: request {done} of {total}"),
                        Some(*done as f64 / (*total).max(1) as f64),
                    ),
                    false,
                ),
                RollbackProgress::Waiting { seconds, reason } => (
                    step(format!("Waiting {seconds:.0} s: {reason}"), None),
                    true,
                ),
                RollbackProgress::Verifying { checked, remaining } => (
                    step(
                        format!("Verifying: {checked} checked, {remaining} still visible"),
                        None,
                    ),
                    false,
                ),
            };
            let mut s = stream.lock().unwrap();
            if urgent {
                s.send(event);
            } else {
                s.send_throttled(event);
            }
        })
        .await
    })
    .await?
    .map_err(failed)?;
    // Rolled back, the run will not be resumed: its LLM connection keys go.
    let (dir, id) = (migrations.data_dir.clone(), run_id_kept.clone());
    if let Ok(plan) = blocking(move || Ok(migrator_engine::Journal::open(&dir, &id)?.plan()?)).await
    {
        super::forget_llm_keys(app, migrations, &plan, &run_id_kept).await;
    }
    Ok(RollbackView::from(&report))
}

/// Runs an engine future that is not `Send` (it holds the journal's SQLite connection across
/// awaits) on a thread of its own with its own runtime, off the UI thread.
async fn on_own_runtime<T, F, Fut>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
{
    blocking(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| MigrationError::Internal(e.to_string()))?;
        Ok(runtime.block_on(work()))
    })
    .await
}

/// The outcome of the run's last rollback, if one ran.
#[tauri::command]
pub async fn rollback_report(
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
) -> Result<Option<RollbackView>> {
    let dir = migrations.data_dir.clone();
    blocking(move || {
        Ok(migrator_engine::rollback_status(&run_id, &dir)
            .map_err(failed)?
            .as_ref()
            .map(RollbackView::from))
    })
    .await
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct EnvChange {
    pub variable: String,
    pub line: Option<u32>,
    /// The secret key's values are masked.
    pub old_value: Option<String>,
    pub new_value: String,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CutoverView {
    pub env_path: String,
    pub backup_path: String,
    pub applied_at: String,
    pub restored_at: Option<String>,
}

impl From<&CutoverStatus> for CutoverView {
    fn from(s: &CutoverStatus) -> Self {
        CutoverView {
            env_path: s.record.env_path.display().to_string(),
            backup_path: s.record.backup_path.display().to_string(),
            applied_at: s.applied_at.clone(),
            restored_at: s.restored_at.clone(),
        }
    }
}

/// A `.env` cutover of a run that touches the sample servers: their keys are made up for one
/// session, so only the sample application's own `.env` may point at them, and only for a run
/// from the sample source to the sample target (the one the sample application writes to).
/// Returns whether `env_path` is the sample application's `.env` of such a run; any other path
/// of a sample run is refused.
async fn check_sample_cutover(
    migrations: &Migrations,
    run_id: &str,
    env_path: &Path,
) -> Result<bool> {
    let (dir, id) = (migrations.data_dir.clone(), run_id.to_owned());
    let plan = blocking(move || Ok(Journal::open(&dir, &id)?.plan()?)).await?;
    if !super::touches_sample(&plan) {
        return Ok(false);
    }
    if !super::sample_matches(migrations, &plan).await {
        return Err(MigrationError::SampleRunGone);
    }
    let (source, target) = super::request::plan_profiles(&plan);
    let between_sample_projects = source.as_ref().map(|p| p.as_str()) == Some(sample::SOURCE_ID)
        && target.as_ref().map(|p| p.as_str()) == Some(sample::TARGET_ID);
    let guard = migrations.sample.lock().await;
    let app_env = guard.as_ref().map(|set| set.app_env().to_path_buf());
    drop(guard);
    match app_env {
        Some(app_env) if between_sample_projects && same_file(&app_env, env_path) => Ok(true),
        Some(app_env) => Err(MigrationError::SampleCutover {
            app_env: app_env.display().to_string(),
        }),
        None => Err(MigrationError::SampleRunGone),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Makes the sample application take its `.env` as it is now, as a restarted application
/// would (its next trace goes where the `.env` points).
async fn sample_app_follows(migrations: &Migrations) {
    let guard = migrations.sample.lock().await;
    if let Some(app) = guard.as_ref().and_then(|set| set.app()) {
        app.follow_now().await;
    }
}

/// The lines a `.env` cutover would change (secrets masked), without writing.
#[tauri::command]
pub async fn cutover_preview(
    app: State<'_, Arc<AppState>>,
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
    env_path: PathBuf,
) -> Result<Vec<EnvChange>> {
    check_sample_cutover(&migrations, &run_id, &env_path).await?;
    let secrets = run_secrets(&app, &migrations, &run_id).await?;
    let dir = migrations.data_dir.clone();
    blocking(move || {
        Ok(
            migrator_engine::cutover_preview(&run_id, &dir, &env_path, &secrets)
                .map_err(failed)?
                .into_iter()
                .map(|c| EnvChange {
                    variable: c.variable,
                    line: c.line.map(|l| l.min(u32::MAX as usize) as u32),
                    old_value: c.old_value,
                    new_value: c.new_value,
                })
                .collect(),
        )
    })
    .await
}

/// Writes the run's target host and keys into the picked `.env` file (a backup is kept).
#[tauri::command]
pub async fn cutover_apply(
    app: State<'_, Arc<AppState>>,
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
    env_path: PathBuf,
) -> Result<CutoverView> {
    apply_cutover(&app, &migrations, run_id, env_path).await
}

/// [`cutover_apply`] without Tauri's state wrappers.
pub async fn apply_cutover(
    app: &Arc<AppState>,
    migrations: &Migrations,
    run_id: String,
    env_path: PathBuf,
) -> Result<CutoverView> {
    let sample_app = check_sample_cutover(migrations, &run_id, &env_path).await?;
    let secrets = run_secrets(app, migrations, &run_id).await?;
    let dir = migrations.data_dir.clone();
    let view = blocking(move || {
        let status =
            migrator_engine::cutover_apply(&run_id, &dir, &env_path, &secrets).map_err(failed)?;
        Ok(CutoverView::from(&status))
    })
    .await?;
    if sample_app {
        sample_app_follows(migrations).await;
    }
    Ok(view)
}

/// Puts the `.env` file back exactly as it was before the cutover.
#[tauri::command]
pub async fn cutover_restore(
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
) -> Result<CutoverView> {
    restore_cutover(&migrations, run_id).await
}

/// [`cutover_restore`] without Tauri's state wrappers.
pub async fn restore_cutover(migrations: &Migrations, run_id: String) -> Result<CutoverView> {
    let (dir, id) = (migrations.data_dir.clone(), run_id.clone());
    let env_path = blocking(move || migrator_engine::cutover_status(&id, &dir).map_err(failed))
        .await?
        .map(|s| s.record.env_path);
    let guard = migrations.sample.lock().await;
    let sample_app = guard.as_ref().filter(|set| {
        env_path
            .as_deref()
            .is_some_and(|p| same_file(set.app_env(), p))
    });
    // The sample application's own `.env`: the application is held still while the file goes
    // back, so all it wrote to the target is before the moment noted here and all it writes to
    // the source after (its copy-back's window ends there).
    let held = match sample_app.and_then(|set| set.app()) {
        Some(app) => Some(app.hold().await),
        None => None,
    };
    let (dir, id) = (migrations.data_dir.clone(), run_id.clone());
    let status =
        blocking(move || migrator_engine::cutover_restore(&id, &dir, false).map_err(failed)).await;
    if let (Some(set), Ok(_)) = (sample_app, &status) {
        set.note_app_restored(&run_id, chrono::Utc::now());
    }
    let was_sample_app = sample_app.is_some();
    drop(held);
    drop(guard);
    let status = status?;
    if was_sample_app {
        // The copy-back that follows reads the target: let it show the application's last trace.
        tokio::time::sleep(sample::VISIBILITY_DELAY + Duration::from_millis(400)).await;
    }
    Ok(CutoverView::from(&status))
}

#[tauri::command]
pub async fn cutover_state(
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
) -> Result<Option<CutoverView>> {
    let dir = migrations.data_dir.clone();
    blocking(move || {
        Ok(migrator_engine::cutover_status(&run_id, &dir)
            .map_err(failed)?
            .as_ref()
            .map(CutoverView::from))
    })
    .await
}
