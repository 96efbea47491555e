//! The migration workflow behind the window: sample data, connection tests, pre-flight, runs
//! (start, pause, resume, cancel, re-attach), the runs history and each run's checklist.
//!
//! Secrets are looked up here (keychain, session store, or the sample sandboxes' session keys)
//! and go straight into the engine's plan; no command returns one.

pub mod after;
pub mod checklist;
pub mod copy_missing;
pub mod hub;
pub mod llm_keys;
pub mod preview;
pub mod request;
pub mod sync;
pub mod validation_views;
pub mod views;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use migrator_engine::journal::run_dir;
use migrator_engine::profile::{Credentials, ProfileId};
use migrator_engine::{EndpointSpec, Journal, ObjectState, Plan};
use serde::{Deserialize, Serialize, Serializer};
use tauri::State;
use ts_rs::TS;

use crate::AppState;
use crate::profiles::{ProfileError, SecretStatus};
use crate::sample::{self, SampleError, SampleInfo, SampleSet};
use checklist::{ChecklistError, ChecklistItem};
use hub::{ActiveRun, HubSink, RunChannel, RunHub};
use request::{OperatingSettings, PlanRequest, PlanRequestError};
use views::{ConnectionCheck, PreflightView, RunPhase, RunView};

/// State of the workflow, next to [`AppState`].
pub struct Migrations {
    /// Runs are journaled under `<data_dir>/runs/<run id>/`.
    pub data_dir: PathBuf,
    pub hub: Arc<RunHub>,
    pub sample: tokio::sync::Mutex<Option<SampleSet>>,
    /// Sample info without taking the async lock (for profile lists).
    sample_info: Mutex<Option<SampleInfo>>,
    /// LLM connection keys of sample runs: in memory, like the sample keys themselves.
    sample_llm_keys: Arc<crate::secrets::SessionStore>,
}

impl Migrations {
    pub fn new(data_dir: PathBuf) -> Self {
        Migrations {
            data_dir,
            hub: Arc::new(RunHub::default()),
            sample: tokio::sync::Mutex::new(None),
            sample_info: Mutex::new(None),
            sample_llm_keys: Arc::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Request(#[from] PlanRequestError),
    #[error(transparent)]
    Engine(#[from] migrator_engine::EngineError),
    #[error(transparent)]
    Preview(#[from] migrator_engine::langsmith::preview::PreviewError),
    #[error(
        "The mapping preview is for a LangSmith source; this source is a Langfuse project or an archive folder."
    )]
    NotLangsmith,
    #[error(transparent)]
    Sample(#[from] SampleError),
    #[error(transparent)]
    Checklist(#[from] ChecklistError),
    #[error(
        "The sample servers are not running (they stop when the app quits, and their data with them). Start them again with “Try with sample data”."
    )]
    SampleNotRunning,
    #[error("This run is already running.")]
    AlreadyRunning,
    #[error("This run is not running in this window any more.")]
    NotLive,
    #[error(
        "This run used the sample servers of an earlier session; they stopped when the app quit, and their data with them. Start a new sample migration instead."
    )]
    SampleRunGone,
    #[error(
        "This run touches the sample servers, whose keys are made up for this session: the only .env that can be switched to them is the sample application's, {app_env}, and only by a sync from the sample source to the sample target. Choose that folder, or connect servers of your own to switch your application."
    )]
    SampleCutover { app_env: String },
    #[error("The file could not be written: {0}")]
    Write(String),
    #[error("{0}")]
    NotStarted(String),
    #[error("{0}")]
    Failed(String),
    #[error("This run has not been validated yet. Validate it first.")]
    NotValidated,
    #[error("Internal error: {0}")]
    Internal(String),
}

impl Serialize for MigrationError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

type Result<T, E = MigrationError> = std::result::Result<T, E>;

/// A profile the migration pickers may offer, with where its secret is.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MigrationProfile {
    pub profile: migrator_engine::profile::Profile,
    pub secret: SecretStatus,
    /// One of the sample sandboxes (session only, keys are not real secrets).
    pub sample: bool,
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| MigrationError::Internal(e.to_string()))?
}

/// The profile joined with its secret, from the sample set or the secret store.
async fn credentials(
    app: &Arc<AppState>,
    migrations: &Migrations,
    id: &ProfileId,
) -> Result<Credentials> {
    if sample::is_sample_id(id) {
        let guard = migrations.sample.lock().await;
        let set = guard.as_ref().ok_or(MigrationError::SampleNotRunning)?;
        let (profile, secret) = set.lookup(id).ok_or(MigrationError::SampleNotRunning)?;
        return Ok(Credentials::for_profile(&profile, Some(secret)).map_err(ProfileError::from)?);
    }
    let app = Arc::clone(app);
    let id = id.clone();
    blocking(move || Ok(app.profiles.credentials(&id)?)).await
}

async fn plan_for(
    app: &Arc<AppState>,
    migrations: &Migrations,
    request: &PlanRequest,
) -> Result<Plan> {
    let source = credentials(app, migrations, &request.source_id).await?;
    let target = credentials(app, migrations, &request.target_id).await?;
    Ok(request.to_plan(&source, &target)?)
}

fn touches_sample(plan: &Plan) -> bool {
    let (s, t) = request::plan_profiles(plan);
    [s, t].iter().flatten().any(sample::is_sample_id)
}

/// What the sides of a run's plan mean for the window: sample data, and whether pointing an
/// application's `.env` at the target makes sense (a real Langfuse project, not an archive
/// folder and not a sample server whose keys are made up for one session).
fn describe_sides(view: &mut RunView, plan: &Plan) {
    view.sample = touches_sample(plan);
    view.cutover_applies = cutover_applies(plan);
}

pub(crate) fn cutover_applies(plan: &Plan) -> bool {
    matches!(plan.target, EndpointSpec::Langfuse(_)) && !touches_sample(plan)
}

/// Starts the two sample sandboxes (once per session) and returns their profiles.
#[tauri::command]
pub async fn start_sample_data(migrations: State<'_, Arc<Migrations>>) -> Result<SampleInfo> {
    if let Some(info) = migrations.sample_info.lock().unwrap().clone() {
        return Ok(info);
    }
    let guard = migrations.sample.lock().await;
    if guard.is_none() {
        let set = SampleSet::start(&migrations.data_dir).await?;
        drop(guard);
        return Ok(remember_sample(&migrations, set).await);
    }
    Ok(guard.as_ref().expect("checked").info())
}

/// Keeps a started sample set for the session.
pub async fn remember_sample(migrations: &Migrations, set: SampleSet) -> SampleInfo {
    let info = set.info();
    let mut guard = migrations.sample.lock().await;
    if let Some(old) = guard.replace(set) {
        old.stop().await;
    }
    *migrations.sample_info.lock().unwrap() = Some(info.clone());
    info
}

#[tauri::command]
pub fn sample_data(migrations: State<'_, Arc<Migrations>>) -> Option<SampleInfo> {
    migrations.sample_info.lock().unwrap().clone()
}

/// Saved profiles plus, when started, the two sample ones.
#[tauri::command]
pub async fn migration_profiles(
    app: State<'_, Arc<AppState>>,
    migrations: State<'_, Arc<Migrations>>,
) -> Result<Vec<MigrationProfile>> {
    let mut out: Vec<MigrationProfile> = migrations
        .sample_info
        .lock()
        .unwrap()
        .iter()
        .flat_map(|i| {
            [
                i.source.clone(),
                i.target.clone(),
                i.langsmith_source.clone(),
            ]
        })
        .map(|profile| MigrationProfile {
            profile,
            secret: SecretStatus::ForThisSession,
            sample: true,
        })
        .collect();
    let app = Arc::clone(&app);
    let saved = blocking(move || Ok(app.profiles.list()?)).await?;
    out.extend(saved.into_iter().map(|v| MigrationProfile {
        profile: v.profile,
        secret: v.secret,
        sample: false,
    }));
    Ok(out)
}

/// Connects with the saved keys and reports who answered, or why it failed, in plain words.
#[tauri::command]
pub async fn test_connection(
    app: State<'_, Arc<AppState>>,
    migrations: State<'_, Arc<Migrations>>,
    profile_id: ProfileId,
) -> Result<ConnectionCheck> {
    let creds = match credentials(&app, &migrations, &profile_id).await {
        Ok(c) => c,
        Err(e) => {
            return Ok(ConnectionCheck::Failed {
                message: e.to_string(),
            });
        }
    };
    Ok(match creds {
        Credentials::Langfuse { .. } => {
            let endpoint = request::langfuse_endpoint(&creds).expect("a Langfuse connection");
            match migrator_engine::check_connection(&endpoint).await {
                Ok(info) => ConnectionCheck::from_info(&info),
                Err(e) => ConnectionCheck::Failed {
                    message: e.to_string(),
                },
            }
        }
        Credentials::Archive { folder } => ConnectionCheck::Folder {
            exists: folder.is_dir(),
            path: folder.display().to_string(),
        },
        Credentials::LangSmith { .. } => {
            let endpoint = request::langsmith_endpoint(&creds).expect("a LangSmith connection");
            match check_langsmith(&endpoint).await {
                Ok(info) => ConnectionCheck::from_langsmith(&info),
                Err(e) => ConnectionCheck::Failed {
                    message: e.to_string(),
                },
            }
        }
    })
}

/// Connects as a run would (server info, every project, the v2 probe) and reads nothing else.
pub async fn check_langsmith(
    endpoint: &migrator_engine::LangsmithEndpoint,
) -> std::result::Result<migrator_engine::LangsmithInfo, migrator_engine::EngineError> {
    let counters = Arc::new(migrator_engine::vocab::Counters::default());
    let ls = migrator_engine::langsmith::LangSmith::connect(
        endpoint,
        std::time::Duration::from_secs(30),
        1,
        counters,
    )
    .await?;
    Ok(ls.info)
}

/// Checks both sides, counts what would move and what the target already has. Writes nothing.
#[tauri::command]
pub async fn preflight(
    app: State<'_, Arc<AppState>>,
    migrations: State<'_, Arc<Migrations>>,
    request: PlanRequest,
) -> Result<PreflightView> {
    let plan = plan_for(&app, &migrations, &request).await?;
    let report = migrator_engine::preflight(&plan).await?;
    Ok(PreflightView::from_report(
        &report,
        &plan.scope,
        request::rollback_warnings(&plan),
    ))
}

/// Starts a run (or a dry run) off the UI thread and returns as soon as the engine has named
/// and journaled it; progress then arrives on `on_event`. `llm_keys` are the LLM connection keys
/// the user typed (by provider; a skipped connection has none): they go to the engine in memory
/// and, for a resume, to the secret store under the run's id (see [`llm_keys`]).
#[tauri::command]
#[allow(clippy::too_many_arguments)]
pub async fn start_run(
    app: State<'_, Arc<AppState>>,
    migrations: State<'_, Arc<Migrations>>,
    request: PlanRequest,
    dry_run: bool,
    expected: HashMap<String, u64>,
    llm_keys: Option<llm_keys::LlmKeys>,
    on_event: RunChannel,
) -> Result<RunView> {
    start(
        &app,
        &migrations,
        request,
        dry_run,
        expected,
        llm_keys.unwrap_or_default(),
        on_event,
    )
    .await
}

/// [`start_run`] without Tauri's state wrappers.
pub async fn start(
    app: &Arc<AppState>,
    migrations: &Migrations,
    request: PlanRequest,
    dry_run: bool,
    expected: HashMap<String, u64>,
    keys: llm_keys::LlmKeys,
    on_event: RunChannel,
) -> Result<RunView> {
    let mut plan = plan_for(app, migrations, &request).await?;
    // A dry run writes nothing, so it needs no key and keeps none.
    let keys = if dry_run {
        llm_keys::LlmKeys::new()
    } else {
        llm_keys::typed(keys)
    };
    if let EndpointSpec::Langfuse(t) = &mut plan.target {
        t.llm_keys.extend(keys.clone());
    }
    let mut view = RunView::new(
        String::new(),
        plan.source.describe(),
        plan.target.describe(),
        dry_run,
    );
    describe_sides(&mut view, &plan);
    let run = Arc::new(ActiveRun::new(view, Some(on_event), expected));
    let data_dir = migrations.data_dir.clone();
    let key_plan = plan.clone();
    launch_keeping_keys(
        app,
        migrations,
        &key_plan,
        keys,
        run,
        move |sink, control| async move {
            migrator_engine::run(plan, &data_dir, sink, control, dry_run).await
        },
    )
    .await
}

/// Launches the engine work of a new run (or sync) whose typed LLM connection keys are kept
/// under its id for a resume, and deleted once it ends in a state no resume continues.
pub(crate) async fn launch_keeping_keys<F, Fut>(
    app: &Arc<AppState>,
    migrations: &Migrations,
    plan: &Plan,
    keys: llm_keys::LlmKeys,
    run: Arc<ActiveRun>,
    work: F,
) -> Result<RunView>
where
    F: FnOnce(HubSink, migrator_engine::RunControl) -> Fut + Send + 'static,
    Fut: std::future::Future<
            Output = std::result::Result<migrator_engine::RunReport, migrator_engine::EngineError>,
        > + Send
        + 'static,
{
    let key_store = (!keys.is_empty())
        .then(|| llm_key_store(app, migrations, plan))
        .transpose();
    // The run waits with deleting the keys until they were stored (a quick run may end first).
    let (stored_tx, stored_rx) = tokio::sync::oneshot::channel::<()>();
    let forget_store = key_store.as_ref().ok().cloned().flatten();
    let started = launch(
        &migrations.hub,
        Arc::clone(&run),
        move |sink, control| async move {
            let outcome = work(sink, control).await;
            if let Some(store) = forget_store {
                let _ = stored_rx.await;
                forget_when_done(store.as_ref(), &outcome);
            }
            outcome
        },
    )
    .await?;
    if !keys.is_empty() {
        let kept = key_store.and_then(|s| {
            let s = s.expect("keys were typed");
            llm_keys::store(s.as_ref(), &started.run_id, &keys)
        });
        if let Err(e) = kept {
            tracing::warn!(error = %e, "the LLM connection keys could not be kept for a resume");
            run.apply(&migrator_engine::ProgressEvent::Warning {
                message: format!(
                    "The LLM connection keys you typed are used by this run, but could not be kept for a resume ({e}). If the run stops before it creates the connections, type the keys again in a new plan or add the connections in Langfuse by hand."
                ),
            });
        }
        let _ = stored_tx.send(());
    }
    Ok(run.view())
}

/// Where a run's LLM connection keys are kept: memory for sample runs, else the app's secret
/// store (the keychain, or memory when the user chose that).
fn llm_key_store(
    app: &Arc<AppState>,
    migrations: &Migrations,
    plan: &Plan,
) -> std::result::Result<Arc<dyn crate::secrets::SecretStore>, crate::secrets::SecretError> {
    if touches_sample(plan) {
        return Ok(migrations.sample_llm_keys.clone());
    }
    app.profiles.secrets().store()
}

/// Deletes a run's keys once the run ended in a state no resume continues.
fn forget_when_done(
    store: &dyn crate::secrets::SecretStore,
    outcome: &std::result::Result<migrator_engine::RunReport, migrator_engine::EngineError>,
) {
    if let Ok(report) = outcome
        && !llm_keys::still_needed(report.state)
        && let Err(e) = llm_keys::forget(store, &report.run_id)
    {
        tracing::warn!(error = %e, run = %report.run_id, "the run's LLM connection keys could not be deleted");
    }
}

/// Deletes a run's LLM connection keys (after a rollback); a failure is logged, not shown.
pub(crate) async fn forget_llm_keys(
    app: &Arc<AppState>,
    migrations: &Migrations,
    plan: &Plan,
    run_id: &str,
) {
    if let Ok(store) = llm_key_store(app, migrations, plan) {
        let run_id = run_id.to_owned();
        let _ = tauri::async_runtime::spawn_blocking(move || {
            if let Err(e) = llm_keys::forget(store.as_ref(), &run_id) {
                tracing::warn!(error = %e, run = %run_id, "the run's LLM connection keys could not be deleted");
            }
        })
        .await;
    }
}

/// Continues a cancelled, failed or interrupted run with the secrets of the profiles its plan
/// names.
#[tauri::command]
pub async fn resume_run(
    app: State<'_, Arc<AppState>>,
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
    settings: Option<OperatingSettings>,
    on_event: RunChannel,
) -> Result<RunView> {
    resume(&app, &migrations, run_id, settings, on_event).await
}

/// [`resume_run`] without Tauri's state wrappers.
pub async fn resume(
    app: &Arc<AppState>,
    migrations: &Migrations,
    run_id: String,
    settings: Option<OperatingSettings>,
    on_event: RunChannel,
) -> Result<RunView> {
    if migrations.hub.is_live(&run_id) {
        return Err(MigrationError::AlreadyRunning);
    }
    let data_dir = migrations.data_dir.clone();
    let summary = {
        let (dir, id) = (data_dir.clone(), run_id.clone());
        blocking(move || {
            Ok(migrator_engine::list_runs(&dir)?
                .into_iter()
                .find(|s| s.run_id == id)
                .ok_or(migrator_engine::EngineError::UnknownRun(id))?)
        })
        .await?
    };
    if summary.locked {
        return Err(migrator_engine::EngineError::RunBusy(run_id).into());
    }
    let plan = {
        let (dir, id) = (data_dir.clone(), run_id.clone());
        blocking(move || Ok(Journal::open(&dir, &id)?.plan()?)).await?
    };
    let sample_run = touches_sample(&plan);
    if sample_run && !sample_matches(migrations, &plan).await {
        return Err(MigrationError::SampleRunGone);
    }
    let mut secrets = secrets_for(app, migrations, &plan).await?;
    // The LLM connection keys typed when the run started, if it still has them.
    let key_store = llm_key_store(app, migrations, &plan).ok();
    if let Some(store) = &key_store {
        let (store, id) = (Arc::clone(store), run_id.clone());
        // Unreadable keys are no reason to refuse the resume: those connections become manual
        // steps, as without keys.
        secrets.llm_keys = blocking(move || {
            Ok(llm_keys::load(store.as_ref(), &id).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the run's LLM connection keys could not be read");
                llm_keys::LlmKeys::new()
            }))
        })
        .await?;
    }
    let key_store = key_store.filter(|_| !secrets.llm_keys.is_empty());
    let mut view = RunView::from_summary(&summary);
    view.sync = {
        let (dir, id) = (data_dir.clone(), run_id.clone());
        blocking(move || Ok(sync::stored_sync_view(&dir, &id))).await?
    };
    view.phase = RunPhase::Starting;
    view.live = true;
    describe_sides(&mut view, &plan);
    let run = Arc::new(ActiveRun::new(view, Some(on_event), HashMap::new()));
    // The engine's run lock keeps other processes out; this keeps a second click out.
    if !migrations.hub.claim(&run_id, Arc::clone(&run)) {
        return Err(MigrationError::AlreadyRunning);
    }
    // Other operating settings travel as a plan the engine compares with the journaled one.
    let plan = settings.map(|s| s.apply(plan));
    let started = launch(&migrations.hub, Arc::clone(&run), {
        let run_id = run_id.clone();
        move |sink, control| async move {
            let outcome =
                migrator_engine::resume(&run_id, &data_dir, plan, secrets, sink, control).await;
            if let Some(store) = key_store {
                forget_when_done(store.as_ref(), &outcome);
            }
            outcome
        }
    })
    .await;
    if started.is_err() {
        migrations.hub.release(&run_id, &run);
    }
    started
}

/// The secrets of the profiles a journaled plan names, looked up again (keychain or session).
async fn secrets_for(
    app: &Arc<AppState>,
    migrations: &Migrations,
    plan: &Plan,
) -> Result<migrator_engine::Secrets> {
    let (source_id, target_id) = request::plan_profiles(plan);
    let mut secrets = migrator_engine::Secrets::default();
    if let Some(id) = source_id {
        secrets.source = request::secret_of(&credentials(app, migrations, &id).await?);
    }
    if let Some(id) = target_id {
        secrets.target = request::secret_of(&credentials(app, migrations, &id).await?);
    }
    Ok(secrets)
}

/// The secrets for work on a finished run (validation, rollback, cutover).
async fn run_secrets(
    app: &Arc<AppState>,
    migrations: &Migrations,
    run_id: &str,
) -> Result<migrator_engine::Secrets> {
    let (dir, id) = (migrations.data_dir.clone(), run_id.to_owned());
    let plan = blocking(move || Ok(Journal::open(&dir, &id)?.plan()?)).await?;
    if touches_sample(&plan) && !sample_matches(migrations, &plan).await {
        return Err(MigrationError::SampleRunGone);
    }
    secrets_for(app, migrations, &plan).await
}

/// A sample run can only continue against the very sandboxes it started with.
async fn sample_matches(migrations: &Migrations, plan: &Plan) -> bool {
    let guard = migrations.sample.lock().await;
    let Some(set) = guard.as_ref() else {
        return false;
    };
    let urls: Vec<&str> = set.profiles().into_iter().map(sample::sample_url).collect();
    [&plan.source, &plan.target].iter().all(|side| match side {
        EndpointSpec::Langfuse(l) => urls.contains(&l.url.as_str()),
        EndpointSpec::Langsmith(l) => urls.contains(&l.url.as_str()),
        EndpointSpec::Archive { .. } => true,
    })
}

/// Spawns the engine call and waits until it has started (or failed before starting).
async fn launch<F, Fut>(hub: &Arc<RunHub>, run: Arc<ActiveRun>, work: F) -> Result<RunView>
where
    F: FnOnce(HubSink, migrator_engine::RunControl) -> Fut + Send + 'static,
    Fut: std::future::Future<
            Output = std::result::Result<migrator_engine::RunReport, migrator_engine::EngineError>,
        > + Send
        + 'static,
{
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let sink = HubSink {
        run: Arc::clone(&run),
        hub: Arc::clone(hub),
        started: Mutex::new(Some(started_tx)),
    };
    let control = run.control.clone();
    let task_run = Arc::clone(&run);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Option<String>>();
    tauri::async_runtime::spawn(async move {
        let outcome = work(sink, control).await;
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, "run stopped with an error");
        }
        task_run.finish(&outcome);
        let _ = done_tx.send(outcome.err().map(|e| e.to_string()));
    });
    match started_rx.await {
        Ok(_) => Ok(run.view()),
        // The engine dropped the sink without starting: it failed before naming the run.
        Err(_) => Err(MigrationError::NotStarted(
            done_rx
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| "the engine ended without starting".into()),
        )),
    }
}

/// Re-attaches the window to a run: a live one streams on, a finished one is read back.
#[tauri::command]
pub async fn attach_run(
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
    on_event: RunChannel,
) -> Result<RunView> {
    if let Some(run) = migrations.hub.get(&run_id) {
        return Ok(run.attach(on_event));
    }
    let dir = migrations.data_dir.clone();
    blocking(move || stored_view(&dir, &run_id)).await
}

fn stored_view(data_dir: &Path, run_id: &str) -> Result<RunView> {
    let summary = migrator_engine::list_runs(data_dir)?
        .into_iter()
        .find(|s| s.run_id == run_id)
        .ok_or_else(|| migrator_engine::EngineError::UnknownRun(run_id.to_owned()))?;
    let journal = Journal::open(data_dir, run_id)?;
    let mut view = RunView::from_summary(&summary);
    describe_sides(&mut view, &journal.plan()?);
    view.validation = after::validation_summary(data_dir, run_id);
    view.rollback = after::rollback_summary(data_dir, run_id);
    view.sync = sync::stored_sync_view(data_dir, run_id);
    view.failures = journal
        .rows_where(None, Some(ObjectState::Failed))?
        .iter()
        .take(200)
        .map(|r| views::FailedItem {
            entity: r.entity.as_str().to_owned(),
            id: r.source_id.clone(),
            reason: r.reason.clone().unwrap_or_default(),
        })
        .collect();
    Ok(view)
}

#[derive(Clone, Copy, Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum RunAction {
    Pause,
    Resume,
    Cancel,
}

/// Pauses, continues or cancels a live run. A cancelled run can be resumed later from Runs.
#[tauri::command]
pub fn control_run(
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
    action: RunAction,
) -> Result<RunView> {
    let run = migrations
        .hub
        .get(&run_id)
        .filter(|r| r.view().live)
        .ok_or(MigrationError::NotLive)?;
    match action {
        RunAction::Pause => run.control.pause(),
        RunAction::Resume => run.control.resume(),
        RunAction::Cancel => run.control.cancel(),
    }
    Ok(run.view())
}

/// Every run in the data folder, newest first; runs of this session show their live state.
#[tauri::command]
pub async fn list_runs(migrations: State<'_, Arc<Migrations>>) -> Result<Vec<RunView>> {
    run_views(&migrations).await
}

/// [`list_runs`] without Tauri's state wrappers.
pub async fn run_views(migrations: &Migrations) -> Result<Vec<RunView>> {
    let dir = migrations.data_dir.clone();
    let hub = Arc::clone(&migrations.hub);
    blocking(move || {
        Ok(migrator_engine::list_runs(&dir)?
            .iter()
            .map(|s| match hub.get(&s.run_id) {
                Some(run) => run.view(),
                None => {
                    let mut v = RunView::from_summary(s);
                    if let Ok(plan) = Journal::open(&dir, &s.run_id).and_then(|j| j.plan()) {
                        describe_sides(&mut v, &plan);
                    }
                    v
                }
            })
            .map(|mut v| {
                v.validation = after::validation_summary(&dir, &v.run_id);
                v.rollback = after::rollback_summary(&dir, &v.run_id);
                if v.sync.is_none() {
                    v.sync = sync::stored_sync_view(&dir, &v.run_id);
                }
                v
            })
            .collect())
    })
    .await
}

fn current_view(migrations: &Migrations, run_id: &str) -> Result<RunView> {
    match migrations.hub.get(run_id) {
        Some(run) => Ok(run.view()),
        None => stored_view(&migrations.data_dir, run_id),
    }
}

#[tauri::command]
pub async fn run_checklist(
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
) -> Result<Vec<ChecklistItem>> {
    let migrations = Arc::clone(&migrations);
    blocking(move || {
        let view = current_view(&migrations, &run_id)?;
        let dir = run_dir(&migrations.data_dir, &run_id);
        let facts = after::auto_facts(&migrations, &run_id);
        Ok(checklist::checklist(&dir, &view, facts))
    })
    .await
}

/// Ticks or unticks a step only a person can do; saved with the run.
#[tauri::command]
pub async fn set_checklist_step(
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
    key: String,
    done: bool,
) -> Result<Vec<ChecklistItem>> {
    let migrations = Arc::clone(&migrations);
    blocking(move || {
        let view = current_view(&migrations, &run_id)?;
        let dir = run_dir(&migrations.data_dir, &run_id);
        checklist::set_manual(&dir, &view, &key, done)?;
        let facts = after::auto_facts(&migrations, &run_id);
        Ok(checklist::checklist(&dir, &view, facts))
    })
    .await
}

/// Writes every failed object of a run (from its journal) as CSV to a path the user picked in
/// the native save dialog.
#[tauri::command]
pub async fn export_failures(
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
    path: PathBuf,
) -> Result<u64> {
    let dir = migrations.data_dir.clone();
    blocking(move || write_failures_csv(&dir, &run_id, &path)).await
}

/// Writes every failed object of a run as CSV (entity, id, reason); returns how many.
pub fn write_failures_csv(data_dir: &Path, run_id: &str, path: &Path) -> Result<u64> {
    let journal = Journal::open(data_dir, run_id)?;
    let rows = journal.rows_where(None, Some(ObjectState::Failed))?;
    let mut csv = String::from("entity,id,reason\n");
    for r in &rows {
        csv.push_str(&format!(
            "{},{},{}\n",
            r.entity.as_str(),
            csv_field(&r.source_id),
            csv_field(r.reason.as_deref().unwrap_or(""))
        ));
    }
    std::fs::write(path, csv).map_err(|e| MigrationError::Write(e.to_string()))?;
    Ok(rows.len() as u64)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Runs of this session still going (the window shows them after a reload).
#[tauri::command]
pub fn live_runs(migrations: State<'_, Arc<Migrations>>) -> Vec<RunView> {
    migrations.hub.live()
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_with_commas_quotes_or_newlines_are_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"\n"), "\"say \"\"hi\"\"\n\"");
    }
}
