//! The public entry points: pre-flight, run, resume, list runs.

use crate::connectors::archive::{ArchiveReader, ArchiveWriter};
use crate::connectors::langfuse::experiments::ExperimentIndex;
use crate::connectors::langfuse::{ConnectionInfo, Langfuse};
use crate::connectors::{SourceConnector, TargetConnector, for_each_existing_key_page};
use crate::run::conflict_check::FindConflicts;
use crate::run::control::RunControl;
use crate::run::journal::{Journal, ObjectState, RunState, run_dir};
use crate::run::pipeline::{Ctx, run_entity};
use crate::run::plan::{EndpointSpec, Plan};
use crate::run::progress::{Counters, EntityCounts, EntityProgress, ProgressEvent, ProgressSink};
use crate::run::run_lock::RunLock;
use crate::vocab::{Dialect, EngineError, Entity, Generation, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The order entities are copied in: what others refer to goes first.
pub const PHASES: [Entity; 17] = [
    Entity::LlmConnections,
    Entity::ScoreConfigs,
    Entity::AnnotationQueues,
    Entity::Models,
    Entity::Datasets,
    Entity::Prompts,
    // After the LLM connections they judge with and the datasets rules may filter on.
    Entity::Evaluators,
    Entity::EvaluationRules,
    // Widgets before the dashboards that place them.
    Entity::DashboardWidgets,
    Entity::Dashboards,
    Entity::Traces,
    Entity::Observations,
    Entity::DatasetItems,
    Entity::Scores,
    Entity::DatasetRunItems,
    Entity::Comments,
    Entity::AnnotationQueueItems,
];

/// The final report of a run (CLI `--json`, the app's summary screen).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    pub run_id: String,
    pub state: RunState,
    pub dry_run: bool,
    pub source: String,
    pub target: String,
    /// Per entity: read, written, skipped (already in the target), failed.
    pub entities: BTreeMap<Entity, EntityCounts>,
    /// Dry runs: per entity, how many objects would be written.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub would_write: BTreeMap<Entity, u64>,
    /// The first failures with their reasons.
    pub failures: Vec<FailedObject>,
    /// Objects the target held with other content under the same id (or key): not written,
    /// not counted as already copied; the user decides (the first 1000, with what differs).
    #[serde(default)]
    pub conflicts: Vec<FailedObject>,
    pub warnings: Vec<String>,
    /// What the source mapped approximately, runs still running at the source, orphans
    /// re-attached to their trace's root: per entity and sentence, a count and examples.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mapping_notes: Vec<crate::vocab::MappingNote>,
    pub seconds: f64,
    pub retries: u64,
    pub rate_limit_waits: u64,
    /// Requests sent per rate-limit bucket (`ingestion`, `legacy_read`, `datasets`, `prompts`,
    /// `public_api`), both sides together.
    pub requests: BTreeMap<String, u64>,
    /// A live sync's passes, watermark and lag (`None` for a plain run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<crate::run::sync::status::SyncStatus>,
}

impl RunReport {
    pub fn failed_total(&self) -> u64 {
        self.entities.values().map(|c| c.failed).sum()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FailedObject {
    pub entity: Entity,
    pub id: String,
    pub reason: String,
}

/// One line of `list_runs`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    pub run_id: String,
    pub state: RunState,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub source: String,
    pub target: String,
    pub dry_run: bool,
    pub entities: BTreeMap<Entity, EntityCounts>,
    /// A process (possibly this one) drives the run right now: it must not be resumed.
    #[serde(default)]
    pub locked: bool,
    /// A live sync's passes, watermark and lag (`None` for a plain run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<crate::run::sync::status::SyncStatus>,
}

impl RunSummary {
    /// The state in words for a reader that does not drive the run itself (the CLI).
    pub fn state_words(&self) -> String {
        match (self.state, self.locked) {
            (RunState::Running, true) => "running in another process".into(),
            (RunState::Running, false) => "interrupted".into(),
            (state, _) => state.to_string(),
        }
    }
}

/// Secrets supplied by the caller (the app's keychain) for a resume; the plan stored in the
/// journal never holds them.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    pub source: Option<SecretString>,
    pub target: Option<SecretString>,
    /// The target's LLM connection keys by provider, as a start takes them in
    /// [`crate::LangfuseEndpoint::llm_keys`] (they win over the plan's `llm_key_env`).
    pub llm_keys: BTreeMap<String, SecretString>,
}

pub use crate::connectors::langfuse::llm_connections::SourceLlmConnection;

/// Everything the pre-flight found out.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PreflightReport {
    pub source: EndpointReport,
    pub target: EndpointReport,
    /// Objects per entity in the source's window, when the source can count them.
    pub counts: BTreeMap<Entity, Option<u64>>,
    /// Objects per entity the target already holds (they will be skipped, or stop the run).
    pub existing_in_target: BTreeMap<Entity, u64>,
    /// A few of those ids per entity.
    pub existing_examples: BTreeMap<Entity, Vec<String>>,
    /// Objects the target holds under a source object's id (or key) with other content: the run
    /// would leave them alone, and the user decides which one stays.
    #[serde(default)]
    pub conflicts: Vec<crate::vocab::conflict::Conflict>,
    /// The least time the request budgets allow (see [`crate::eta`]); `None` when no budget
    /// applies and only the run's measured throughput can tell.
    pub eta_seconds: Option<f64>,
    pub warnings: Vec<String>,
    /// The source's LLM connections when they are selected and both sides offer them.
    #[serde(default)]
    pub llm_connections: Vec<SourceLlmConnection>,
    /// What the source said about itself (a LangSmith source: traces and runs per project, and
    /// the least time its rate limits allow).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_notes: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EndpointReport {
    pub description: String,
    pub connection: Option<ConnectionInfo>,
}

/// A new run's id and folder, locked before its journal exists: no other process ever sees the
/// run undriven.
pub(crate) fn claim_new_run(data_dir: &Path) -> Result<(String, RunLock), EngineError> {
    let run_id = new_run_id();
    let dir = run_dir(data_dir, &run_id);
    std::fs::create_dir_all(&dir)
        .map_err(|e| EngineError::Journal(format!("cannot create {}: {e}", dir.display())))?;
    let lock = RunLock::acquire(data_dir, &run_id)?;
    Ok((run_id, lock))
}

fn new_run_id() -> String {
    let t = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("{t}-{}", &u[..6])
}

pub(crate) struct Sides {
    pub source: Arc<dyn SourceConnector>,
    pub target: Arc<dyn TargetConnector>,
    pub source_dialect: Dialect,
    pub source_info: Option<ConnectionInfo>,
    pub target_info: Option<ConnectionInfo>,
}

/// Connects both sides. `run_id` is `None` for a pre-flight, which writes nothing anywhere.
pub(crate) async fn connect(
    plan: &Plan,
    run_id: Option<&str>,
    run_tag: Option<String>,
    counters: Arc<Counters>,
) -> Result<Sides, EngineError> {
    let timeout = Duration::from_secs(plan.options.request_timeout_secs);
    let c = plan.options.concurrency;
    let (source, source_info): (Arc<dyn SourceConnector>, _) = match &plan.source {
        EndpointSpec::Langfuse(l) => {
            let lf = Langfuse::connect(l, timeout, c, None, counters.clone()).await?;
            let info = lf.info.clone();
            (Arc::new(lf), Some(info))
        }
        EndpointSpec::Archive { path } => (
            Arc::new(tokio::task::block_in_place(|| ArchiveReader::open(path))?),
            None,
        ),
        EndpointSpec::Langsmith(l) => (
            Arc::new(crate::langsmith::LangSmith::connect(l, timeout, c, counters.clone()).await?),
            None,
        ),
    };
    let source = crate::run::trace_scope::scoped_source(source, &plan.scope).await?;
    let source = crate::run::sync::copy_back::scoped(source, &plan.scope)?;
    let source_dialect = source.payloads().dialect;
    let (target, target_info): (Arc<dyn TargetConnector>, _) = match &plan.target {
        EndpointSpec::Langfuse(l) => {
            let lf = Langfuse::connect(l, timeout, c, run_tag, counters.clone()).await?;
            let info = lf.info.clone();
            (Arc::new(lf), Some(info))
        }
        EndpointSpec::Archive { path } => (
            Arc::new(ArchiveWriter::new(
                path,
                source.describe(),
                source.payloads(),
                &plan.scope,
                run_id,
            )?),
            None,
        ),
        EndpointSpec::Langsmith(_) => {
            return Err(EngineError::InvalidPlan(
                "LangSmith can only be a source".into(),
            ));
        }
    };
    if let (Some(s), Some(t)) = (&source_info, &target_info)
        && same_project(s, t).await
    {
        return Err(EngineError::InvalidPlan(format!(
            "the source and the target are the same project ({} at {}); a copy onto itself would skip or duplicate everything, and a rollback would delete the source's data. Pick two different projects",
            s.project_name.as_deref().unwrap_or("unnamed"),
            s.url
        )));
    }
    Ok(Sides {
        source,
        target,
        source_dialect,
        source_info,
        target_info,
    })
}

/// Whether two connections reach one project: the same project id on the same server, however
/// the two addresses spell it (`localhost` and `127.0.0.1`, say). A restored copy of a database
/// on another server has the same project ids and is a legitimate target.
async fn same_project(a: &ConnectionInfo, b: &ConnectionInfo) -> bool {
    if a.project_id.is_none() || a.project_id != b.project_id {
        return false;
    }
    if a.url == b.url {
        return true;
    }
    let (Ok(ua), Ok(ub)) = (url::Url::parse(&a.url), url::Url::parse(&b.url)) else {
        return false;
    };
    let (Some(pa), Some(pb)) = (ua.port_or_known_default(), ub.port_or_known_default()) else {
        return false;
    };
    let (Some(ha), Some(hb)) = (ua.host_str(), ub.host_str()) else {
        return false;
    };
    if pa != pb {
        return false;
    }
    let resolve = |h: &str| {
        let h = h.trim_start_matches('[').trim_end_matches(']').to_owned();
        async move {
            tokio::net::lookup_host((h.as_str(), pa))
                .await
                .map(|it| it.map(|sa| sa.ip()).collect::<Vec<_>>())
                .unwrap_or_default()
        }
    };
    let (ia, ib) = (resolve(ha).await, resolve(hb).await);
    ia.iter().any(|ip| ib.contains(ip))
}

pub(crate) fn warnings_for(plan: &Plan, sides: &Sides) -> Vec<String> {
    let mut w = vec![];
    if let Some(t) = &sides.target_info {
        if t.url.contains("langfuse.com") {
            w.push("The target is Langfuse Cloud: every migrated trace, observation and score counts as billed ingestion usage.".into());
        }
        if t.generation == Generation::V4 && !sides.source_dialect.is_v4() {
            w.push("The source is an older Langfuse: on v4 each trace becomes a root span `t-<trace id>` that carries the trace's name, input, output and metadata, with the trace's top-level observations under it.".into());
        }
        if t.generation != Generation::V4 && sides.source_dialect.is_v4() {
            w.push("The source is Langfuse v4, whose metadata values are strings; they arrive as strings.".into());
        }
    }
    if sides.source_dialect.is_v4() {
        w.push("On Langfuse v4, `endTime` of an observation without one becomes its start time (OTLP spans always end).".into());
    }
    // Langfuse sources only (the source connection is known): a LangSmith source has none of these.
    if let Some(s) = &sides.source_info
        && matches!(plan.target, EndpointSpec::Langfuse(_))
    {
        w.extend(evaluation_words(plan, s, sides.target_info.as_ref()));
        w.extend(dashboard_words(plan, s, sides.target_info.as_ref()));
    }
    if plan.scope.entities.includes(Entity::Sessions) {
        w.push(
            "Sessions are not copied on their own: they arrive with the traces that name them."
                .into(),
        );
    }
    w
}

/// What happens to evaluators and their rules: copied, or why not (a side lacks the API).
fn evaluation_words(
    plan: &Plan,
    source: &ConnectionInfo,
    target: Option<&ConnectionInfo>,
) -> Option<String> {
    use crate::connectors::langfuse::evaluators::lacking;
    if !plan.scope.entities.includes(Entity::Evaluators)
        && !plan.scope.entities.includes(Entity::EvaluationRules)
    {
        return None;
    }
    if !source.capabilities.evaluators {
        return Some(lacking("source", &source.server_version));
    }
    if let Some(t) = target.filter(|t| !t.capabilities.evaluators) {
        return Some(lacking("target", &t.server_version));
    }
    Some("LLM-as-judge evaluators are copied with their latest version (the target starts each at version 1), and judge in the target with its LLM connection of the same provider: copy the connections with their keys too. Evaluation rules follow with their filters, sampling and variable mappings.".into())
}

/// What happens to dashboards and their widgets: copied, or why not.
fn dashboard_words(
    plan: &Plan,
    source: &ConnectionInfo,
    target: Option<&ConnectionInfo>,
) -> Option<String> {
    use crate::connectors::langfuse::dashboards::lacking;
    if !plan.scope.entities.includes(Entity::Dashboards)
        && !plan.scope.entities.includes(Entity::DashboardWidgets)
    {
        return None;
    }
    if !source.capabilities.dashboards {
        return Some(lacking("source", &source.server_version));
    }
    if let Some(t) = target.filter(|t| !t.capabilities.dashboards) {
        return Some(lacking("target", &t.server_version));
    }
    Some("Dashboards are copied with their widgets, filters and layout through an API Langfuse marks unstable; Langfuse's own preset charts are placed as they are.".into())
}

pub(crate) fn selected(plan: &Plan, sides: &Sides) -> Vec<Entity> {
    PHASES
        .into_iter()
        .filter(|e| plan.scope.entities.includes(*e) && sides.source.supports(*e))
        .collect()
}

/// Checks both sides and reports versions, counts, objects already in the target, an ETA and
/// warnings. Writes nothing anywhere.
pub async fn preflight(
    plan: &Plan,
    conflicts: &dyn FindConflicts,
) -> Result<PreflightReport, EngineError> {
    plan.validate()?;
    let counters = Arc::new(Counters::default());
    let sides = connect(plan, None, None, counters).await?;
    let mut counts = BTreeMap::new();
    let mut existing_in_target = BTreeMap::new();
    let mut existing_examples = BTreeMap::new();
    let mut existing_keys: std::collections::HashMap<Entity, std::collections::HashSet<String>> =
        Default::default();
    let source_counts = sides
        .source
        .preflight_counts(&selected(plan, &sides), &plan.scope)
        .await?;
    for e in selected(plan, &sides) {
        counts.insert(e, source_counts.counts.get(&e).copied().flatten());
        // Existing ids in the target that the source also has would be skipped; count what the
        // target holds in the window.
        let mut n = 0u64;
        let mut examples = vec![];
        let keys_of_e = existing_keys.entry(e).or_default();
        for_each_existing_key_page(sides.target.as_ref(), e, &plan.scope, |keys| {
            n += keys.len() as u64;
            for k in keys {
                if examples.len() < 5 {
                    examples.push(k.key.clone());
                }
                keys_of_e.insert(k.key);
            }
        })
        .await?;
        if n > 0 {
            existing_in_target.insert(e, n);
            existing_examples.insert(e, examples);
        }
    }
    // Which of those hold other content than the source's object of the same id.
    let conflicts = conflicts.find(plan, None, &existing_keys).await?;
    let mut warnings = warnings_for(plan, &sides);
    if selected(plan, &sides).contains(&Entity::AnnotationQueues) {
        warnings.extend(
            crate::connectors::langfuse::annotation_queues::preflight_notes(
                sides.source.as_ref(),
                &plan.scope,
            )
            .await?,
        );
    }
    let mut llm_connections = vec![];
    if selected(plan, &sides).contains(&Entity::LlmConnections) {
        let (notes, found) = crate::connectors::langfuse::llm_connections::preflight_notes(
            sides.source.as_ref(),
            sides.source_info.as_ref(),
            match &plan.target {
                EndpointSpec::Langfuse(t) => Some(t),
                _ => None,
            },
            sides.target_info.as_ref(),
            &plan.scope,
        )
        .await?;
        warnings.extend(notes);
        llm_connections = found;
    }
    // From the request budgets that apply; without one, the run measures its own throughput.
    // Only a Langfuse source has a read budget, and only its generation changes the read cost.
    let source_gen = sides
        .source_info
        .as_ref()
        .map_or(Generation::V3, |i| i.generation);
    // The source's own limits (LangSmith's per-key limits) bound the copy too.
    let eta_seconds = match (
        crate::eta::budget_eta(plan, source_gen, &counts),
        source_counts.least_seconds,
    ) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    Ok(PreflightReport {
        source: EndpointReport {
            description: sides.source.describe(),
            connection: sides.source_info.clone(),
        },
        target: EndpointReport {
            description: sides.target.describe(),
            connection: sides.target_info.clone(),
        },
        counts,
        existing_in_target,
        existing_examples,
        conflicts,
        eta_seconds,
        warnings,
        llm_connections,
        source_notes: source_counts.notes,
    })
}

/// Starts a new run of `plan`, journaled under `data_dir/runs/<run_id>/`.
pub async fn run(
    plan: Plan,
    data_dir: &Path,
    sink: impl ProgressSink,
    control: RunControl,
    dry_run: bool,
    conflicts: &dyn FindConflicts,
) -> Result<RunReport, EngineError> {
    plan.validate()?;
    let (run_id, lock) = claim_new_run(data_dir)?;
    let journal = Journal::create(data_dir, &run_id, &plan, dry_run)?;
    execute(
        plan,
        run_id,
        (journal, lock),
        Arc::new(sink),
        control,
        Start {
            dry_run,
            resumed: false,
        },
        conflicts,
    )
    .await
}

/// Continues an interrupted or cancelled run. Refuses when the plan file changed since (pass the
/// current plan as `plan` to have it compared; `None` uses the journaled plan).
pub async fn resume(
    run_id: &str,
    data_dir: &Path,
    plan: Option<Plan>,
    secrets: Secrets,
    sink: impl ProgressSink,
    control: RunControl,
    conflicts: &dyn FindConflicts,
) -> Result<RunReport, EngineError> {
    let Resumable {
        plan,
        journal,
        lock,
        dry_run,
    } = reopen(run_id, data_dir, plan, secrets)?;
    execute(
        plan,
        run_id.to_string(),
        (journal, lock),
        Arc::new(sink),
        control,
        Start {
            dry_run,
            resumed: true,
        },
        conflicts,
    )
    .await
}

/// A run reopened for resuming: locked, its plan checked and given the secrets.
pub(crate) struct Resumable {
    pub plan: Plan,
    pub journal: Journal,
    pub lock: RunLock,
    pub dry_run: bool,
}

/// Opens run `run_id` to resume it: one driver per run, every row in words this version
/// knows, the plan unchanged in what it copies (a sync run's window end is open), the secrets
/// set, the state back to running.
pub(crate) fn reopen(
    run_id: &str,
    data_dir: &Path,
    plan: Option<Plan>,
    secrets: Secrets,
) -> Result<Resumable, EngineError> {
    let journal = Journal::open(data_dir, run_id)?;
    // Before anything is read or changed: one driver per run.
    let lock = RunLock::acquire(data_dir, run_id)?;
    // Every row in words this version knows (a newer version's journal is refused here).
    journal.state()?;
    journal.counts()?;
    let stored = journal.plan()?;
    let hash = if crate::run::sync::status::is_sync(&journal)? {
        Plan::open_end_hash
    } else {
        Plan::hash
    };
    let mut plan = match plan {
        Some(p) if hash(&p) != hash(&stored) => {
            return Err(EngineError::PlanChanged(run_id.to_string()));
        }
        // Same data, maybe other operating knobs: they apply from now on.
        Some(p) => {
            p.validate()?;
            journal.set_meta("plan", &p.canonical_json())?;
            p
        }
        None => stored,
    };
    apply_secrets(&mut plan, secrets);
    let dry_run = journal.meta("dry_run")?.as_deref() == Some("1");
    journal.set_state(RunState::Running)?;
    journal.log("info", "run resumed")?;
    Ok(Resumable {
        plan,
        journal,
        lock,
        dry_run,
    })
}

/// Gives a journaled plan (which never holds secrets) the keys of its sides.
pub(crate) fn apply_secrets(plan: &mut Plan, secrets: Secrets) {
    match (&mut plan.source, secrets.source) {
        (EndpointSpec::Langfuse(l), Some(s)) => l.secret_key = Some(s),
        (EndpointSpec::Langsmith(l), Some(s)) => l.api_key = Some(s),
        _ => {}
    }
    if let EndpointSpec::Langfuse(l) = &mut plan.target {
        if let Some(s) = secrets.target {
            l.secret_key = Some(s);
        }
        l.llm_keys.extend(secrets.llm_keys);
    }
}

/// How a run starts: for real or as a dry run, new or resumed.
struct Start {
    dry_run: bool,
    resumed: bool,
}

async fn execute(
    plan: Plan,
    run_id: String,
    // The lock is held until the run's last journal write; released on return (or by the OS
    // on a crash).
    (journal, _lock): (Journal, RunLock),
    sink: Arc<dyn ProgressSink>,
    control: RunControl,
    start: Start,
    conflicts: &dyn FindConflicts,
) -> Result<RunReport, EngineError> {
    let Start { dry_run, resumed } = start;
    let started = Instant::now();
    let journal = Arc::new(journal);
    let counters = Arc::new(Counters::default());
    sink.emit(ProgressEvent::RunStarted {
        run_id: run_id.clone(),
        resumed,
    });
    let run_tag = plan.options.run_tag.then(|| run_id.clone());
    let sides = match connect(&plan, Some(&run_id), run_tag, counters.clone()).await {
        Ok(s) => s,
        Err(e) => {
            journal.set_state(RunState::Failed)?;
            journal.log("error", &e.to_string())?;
            return Err(e);
        }
    };
    let warnings = warnings_for(&plan, &sides);
    for w in &warnings {
        sink.emit(ProgressEvent::Warning { message: w.clone() });
    }
    let entities = selected(&plan, &sides);
    let media = if plan.scope.entities.includes(Entity::Media) {
        crate::run::media_copy::MediaCopier::new(
            journal.clone(),
            sides.source.clone(),
            sides.target.clone(),
            counters.clone(),
            sink.clone(),
        )?
    } else {
        None
    };
    let ctx = Arc::new(Ctx {
        run_id: run_id.clone(),
        plan: plan.clone(),
        journal: journal.clone(),
        source: sides.source.clone(),
        target: sides.target.clone(),
        source_dialect: sides.source_dialect,
        counters: counters.clone(),
        sink: sink.clone(),
        control: control.clone(),
        dry_run,
        experiments: Default::default(),
        media,
    });

    let reporter = spawn_reporter(
        run_id.clone(),
        counters.clone(),
        sink.clone(),
        control.clone(),
    );
    let mut outcome = run_phases(&ctx, &entities).await;
    if outcome.is_ok()
        && !dry_run
        && !control.is_cancelled()
        && let Err(e) = name_conflicts(&plan, &journal, &sink, conflicts).await
    {
        outcome = Err(e);
    }
    reporter.abort();
    // A last snapshot, so the final counts always reach the UI.
    let (last_snapshot, _) = snapshot(
        &run_id,
        &counters,
        &control,
        &BTreeMap::new(),
        f64::INFINITY,
    );
    sink.emit(last_snapshot);

    let state = end_run(&ctx, &outcome).await?;
    outcome?;
    build_report(
        &journal,
        &run_id,
        state,
        dry_run,
        warnings,
        started.elapsed(),
        &counters,
    )
}

/// Objects the run skipped as already in the target are compared with the source's: those
/// with other content are conflicts, not "already copied" (journaled as such, with what
/// differs).
pub(crate) async fn name_conflicts(
    plan: &Plan,
    journal: &Journal,
    sink: &Arc<dyn ProgressSink>,
    conflicts: &dyn FindConflicts,
) -> Result<(), EngineError> {
    let mut keys: std::collections::HashMap<Entity, std::collections::HashSet<String>> =
        Default::default();
    for e in PHASES {
        if !journal
            .rows_in_state(e, ObjectState::SkippedExisting)?
            .is_empty()
        {
            keys.insert(e, journal.preexisting_keys(e)?.into_iter().collect());
        }
    }
    let found = conflicts.find(plan, Some(journal), &keys).await?;
    let mut per_entity: BTreeMap<Entity, Vec<(String, String)>> = BTreeMap::new();
    for c in &found {
        per_entity
            .entry(c.entity)
            .or_default()
            .push((c.id.clone(), c.reason()));
    }
    for (entity, list) in per_entity {
        let marked = journal.mark_conflicts(entity, &list)?;
        if !marked.is_empty() {
            let message = format!(
                "{} {entity} in the target hold other content under the same id as in the source; the run left them as they were (see the conflicts in the report).",
                marked.len()
            );
            journal.log("warning", &message)?;
            sink.emit(ProgressEvent::Warning { message });
        }
    }
    Ok(())
}

/// Copies the entities in phase order until one fails or the run is cancelled.
pub(crate) async fn run_phases(ctx: &Arc<Ctx>, entities: &[Entity]) -> Result<(), EngineError> {
    for &e in entities {
        if ctx.control.is_cancelled() {
            break;
        }
        index_experiments(ctx, e, entities).await?;
        let result = run_entity(ctx.clone(), e).await;
        crate::run::alloc::trim();
        result?;
    }
    Ok(())
}

/// The run's final state from how the phases ended; lets the target finish (the archive writes
/// its manifest), journals the state and tells the UI.
pub(crate) async fn end_run(
    ctx: &Ctx,
    outcome: &Result<(), EngineError>,
) -> Result<RunState, EngineError> {
    let failed: u64 = ctx.journal.counts()?.values().map(|c| c.failed).sum();
    let state = match outcome {
        Err(_) => RunState::Failed,
        Ok(()) if ctx.control.is_cancelled() => RunState::Cancelled,
        Ok(()) if ctx.dry_run => RunState::DryRun,
        Ok(()) if failed > 0 => RunState::CompletedWithFailures,
        Ok(()) => RunState::Completed,
    };
    if !ctx.dry_run {
        ctx.target
            .finish(matches!(
                state,
                RunState::Completed | RunState::CompletedWithFailures
            ))
            .await?;
    }
    ctx.journal.set_state(state)?;
    match outcome {
        Ok(()) => ctx.journal.log("info", &format!("run ended: {state:?}"))?,
        Err(e) => ctx.journal.log("error", &e.to_string())?,
    }
    ctx.sink.emit(ProgressEvent::RunFinished {
        run_id: ctx.run_id.clone(),
        state,
    });
    Ok(state)
}

/// On a v4 target, run items ride on their traces' root spans: read them before the first span
/// is written (and before run items are settled, also when resuming past the span phases).
async fn index_experiments(ctx: &Ctx, e: Entity, entities: &[Entity]) -> Result<(), EngineError> {
    if ctx.experiments.get().is_some()
        || ctx.target.generation() != Some(Generation::V4)
        || !entities.contains(&Entity::DatasetRunItems)
        || !matches!(
            e,
            Entity::Traces | Entity::Observations | Entity::DatasetRunItems
        )
    {
        return Ok(());
    }
    let ix =
        ExperimentIndex::build(ctx.source.as_ref(), &ctx.plan.scope, ctx.journal.as_ref()).await?;
    let _ = ctx.experiments.set(ix);
    Ok(())
}

pub(crate) fn build_report(
    journal: &Journal,
    run_id: &str,
    state: RunState,
    dry_run: bool,
    warnings: Vec<String>,
    elapsed: Duration,
    counters: &Counters,
) -> Result<RunReport, EngineError> {
    let entities = journal.counts()?;
    let mut would_write = BTreeMap::new();
    if dry_run {
        for e in entities.keys() {
            let n = journal.rows_in_state(*e, ObjectState::Pending)?.len() as u64;
            would_write.insert(*e, n);
        }
    }
    let mut warnings = warnings;
    for (_, level, message) in journal.events()? {
        if level == crate::journal::WARNING && !warnings.contains(&message) {
            warnings.push(message);
        }
    }
    let failures = journal
        .rows_where(None, Some(ObjectState::Failed))?
        .into_iter()
        .take(100)
        .map(|r| FailedObject {
            entity: r.entity,
            id: r.source_id,
            reason: r.reason.unwrap_or_default(),
        })
        .collect();
    let conflicts = journal
        .rows_where(None, Some(ObjectState::Conflict))?
        .into_iter()
        .take(1000)
        .map(|r| FailedObject {
            entity: r.entity,
            id: r.source_id,
            reason: r.reason.unwrap_or_default(),
        })
        .collect();
    Ok(RunReport {
        run_id: run_id.to_string(),
        state,
        dry_run,
        source: journal.meta("source")?.unwrap_or_default(),
        target: journal.meta("target")?.unwrap_or_default(),
        entities,
        would_write,
        failures,
        conflicts,
        warnings,
        mapping_notes: crate::run::remarks::notes(journal)?,
        seconds: elapsed.as_secs_f64(),
        retries: counters.retries(),
        rate_limit_waits: counters.rate_limit_waits(),
        requests: [
            "ingestion",
            "legacy_read",
            "datasets",
            "prompts",
            "public_api",
        ]
        .into_iter()
        .map(String::from)
        .zip(counters.requests())
        .collect(),
        sync: None,
    })
}

/// One progress snapshot; `last` and `dt` give the rates since the previous one.
pub(crate) fn snapshot(
    run_id: &str,
    counters: &Counters,
    control: &RunControl,
    last: &BTreeMap<Entity, EntityCounts>,
    dt: f64,
) -> (ProgressEvent, BTreeMap<Entity, EntityCounts>) {
    let now = counters.snapshot();
    let handled = |c: &EntityCounts| c.written + c.skipped + c.failed;
    let entities = now
        .iter()
        .map(|(e, c)| {
            let prev = last.get(e).copied().unwrap_or_default();
            let per_second = (handled(c).saturating_sub(handled(&prev))) as f64 / dt.max(1e-3);
            let expected = counters.expected(*e);
            // Left to do: what the source said it holds (or what was read) and is not handled.
            let remaining = expected
                .unwrap_or(c.read)
                .max(c.read)
                .saturating_sub(handled(c));
            EntityProgress {
                entity: *e,
                counts: *c,
                expected,
                per_second,
                eta_seconds: (per_second > 0.0).then(|| remaining as f64 / per_second),
            }
        })
        .collect();
    let event = ProgressEvent::Progress {
        run_id: run_id.to_string(),
        entities,
        retries: counters.retries(),
        rate_limit_waits: counters.rate_limit_waits(),
        concurrency: 0,
        paused: control.is_paused(),
    };
    (event, now)
}

/// Emits a progress snapshot four times a second.
pub(crate) fn spawn_reporter(
    run_id: String,
    counters: Arc<Counters>,
    sink: Arc<dyn ProgressSink>,
    control: RunControl,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last: BTreeMap<Entity, EntityCounts> = BTreeMap::new();
        let mut last_t = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            let dt = last_t.elapsed().as_secs_f64();
            last_t = Instant::now();
            let (event, now) = snapshot(&run_id, &counters, &control, &last, dt);
            last = now;
            sink.emit(event);
        }
    })
}

/// The runs in a data folder, newest first.
pub fn list_runs(data_dir: &Path) -> Result<Vec<RunSummary>, EngineError> {
    let dir = data_dir.join("runs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(vec![]);
    };
    let mut out = vec![];
    for e in entries.flatten() {
        let Some(id) = e.file_name().to_str().map(String::from) else {
            continue;
        };
        if !run_dir(data_dir, &id).join("journal.sqlite").exists() {
            continue;
        }
        let j = Journal::open(data_dir, &id)?;
        out.push(RunSummary {
            state: j.state()?,
            created_at: j.meta("created_at")?,
            updated_at: j.meta("updated_at")?,
            source: j.meta("source")?.unwrap_or_default(),
            target: j.meta("target")?.unwrap_or_default(),
            dry_run: j.meta("dry_run")?.as_deref() == Some("1"),
            entities: j.counts()?,
            locked: RunLock::is_held(data_dir, &id),
            sync: crate::run::sync::status::status(&j, None)?,
            run_id: id,
        });
    }
    out.sort_by(|a, b| b.run_id.cmp(&a.run_id));
    Ok(out)
}
