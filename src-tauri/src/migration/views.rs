//! What crosses to the window about migrations: plain, camelCase, generated as TypeScript.
//! The engine's own types stay engine-internal; these views are built from them here.

use migrator_engine::{
    ConnectionInfo, EntityCounts, EntityProgress, FailedObject, PreflightReport, RunState,
    RunSummary, Scope,
};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Where a run is. `Interrupted` is a journal that says "running" while no process drives it:
/// the app was closed, crashed or the machine slept. It can be resumed. `RunningElsewhere` is
/// one another window or process drives right now (it holds the run's lock): never resumed here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum RunPhase {
    Starting,
    Running,
    Paused,
    Completed,
    CompletedWithFailures,
    Cancelled,
    Failed,
    DryRun,
    Interrupted,
    RunningElsewhere,
}

impl RunPhase {
    pub fn from_state(state: RunState) -> RunPhase {
        match state {
            RunState::Running => RunPhase::Running,
            RunState::Completed => RunPhase::Completed,
            RunState::CompletedWithFailures => RunPhase::CompletedWithFailures,
            RunState::Cancelled => RunPhase::Cancelled,
            RunState::Failed => RunPhase::Failed,
            RunState::DryRun => RunPhase::DryRun,
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(
            self,
            RunPhase::Starting | RunPhase::Running | RunPhase::Paused | RunPhase::RunningElsewhere
        )
    }

    /// Cancelled, failed and interrupted runs continue where they stopped.
    pub fn can_resume(self) -> bool {
        matches!(
            self,
            RunPhase::Cancelled | RunPhase::Failed | RunPhase::Interrupted
        )
    }
}

/// Progress of one kind of object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct EntityRow {
    pub entity: String,
    /// From the pre-flight count, when known.
    #[ts(type = "number | null")]
    pub expected: Option<u64>,
    #[ts(type = "number")]
    pub read: u64,
    #[ts(type = "number")]
    pub written: u64,
    #[ts(type = "number")]
    pub skipped: u64,
    #[ts(type = "number")]
    pub failed: u64,
    /// The target held other content under the same id: left alone, the user decides.
    #[ts(type = "number")]
    pub conflicts: u64,
    pub per_second: f64,
    pub eta_seconds: Option<f64>,
    /// Dry runs: how many objects a real run would write.
    #[ts(type = "number | null")]
    pub would_write: Option<u64>,
}

impl EntityRow {
    pub fn from_counts(entity: &str, c: &EntityCounts) -> Self {
        EntityRow {
            entity: entity.to_owned(),
            read: c.read,
            written: c.written,
            skipped: c.skipped,
            failed: c.failed,
            conflicts: c.conflicts,
            ..EntityRow::default()
        }
    }

    pub fn from_progress(p: &EntityProgress, expected: Option<u64>) -> Self {
        EntityRow {
            expected: p.expected.or(expected),
            per_second: p.per_second,
            eta_seconds: p.eta_seconds,
            ..EntityRow::from_counts(p.entity.as_str(), &p.counts)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FailedItem {
    pub entity: String,
    pub id: String,
    pub reason: String,
}

impl From<&FailedObject> for FailedItem {
    fn from(f: &FailedObject) -> Self {
        FailedItem {
            entity: f.entity.as_str().to_owned(),
            id: f.id.clone(),
            reason: f.reason.clone(),
        }
    }
}

/// Everything the progress view and the runs list show about one run.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RunView {
    pub run_id: String,
    pub phase: RunPhase,
    pub dry_run: bool,
    pub source: String,
    pub target: String,
    pub created_at: Option<String>,
    pub entities: Vec<EntityRow>,
    #[ts(type = "number")]
    pub retries: u64,
    #[ts(type = "number")]
    pub rate_limit_waits: u64,
    /// Objects handled per second, newest last (the sparkline).
    pub throughput: Vec<f64>,
    pub warnings: Vec<String>,
    /// The most recent failures (the full list is exported from the journal).
    pub failures: Vec<FailedItem>,
    #[ts(type = "number")]
    pub failure_count: u64,
    /// Objects the target held with other content under the same id (the run left them alone;
    /// which one stays is the user's choice), with what differs.
    pub conflicts: Vec<FailedItem>,
    /// Why the run stopped, when it stopped with an error.
    pub message: Option<String>,
    /// A run of this app session drives it right now (pause/cancel apply).
    pub live: bool,
    /// Runs between the sample sandboxes: their data is gone once the app quits.
    pub sample: bool,
    /// The `.env` cutover applies: the target is a Langfuse project with real keys (not an
    /// archive folder, not a sample server).
    pub cutover_applies: bool,
    pub seconds: f64,
    /// The last validation: `null` when the run was not validated.
    pub validation: Option<ValidationSummary>,
    /// The last rollback: `null` when the run was never rolled back.
    pub rollback: Option<RollbackSummary>,
    /// A live sync's standing (`null` for a plain run).
    pub sync: Option<super::sync::SyncView>,
}

/// One line about a run's last rollback, for the runs list.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RollbackSummary {
    /// `completed`, `waitingForBudget` or `incomplete`.
    pub state: String,
    /// When a rollback waiting for the delete budget can continue.
    pub resume_after: Option<String>,
}

/// One line about a run's last validation, for the runs list.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ValidationSummary {
    pub clean: bool,
    #[ts(type = "number")]
    pub discrepancies: u64,
    pub generated_at: String,
}

impl RunView {
    pub fn new(run_id: String, source: String, target: String, dry_run: bool) -> Self {
        RunView {
            run_id,
            phase: RunPhase::Starting,
            dry_run,
            source,
            target,
            created_at: None,
            entities: vec![],
            retries: 0,
            rate_limit_waits: 0,
            throughput: vec![],
            warnings: vec![],
            failures: vec![],
            failure_count: 0,
            conflicts: vec![],
            message: None,
            live: true,
            sample: false,
            cutover_applies: false,
            seconds: 0.0,
            validation: None,
            rollback: None,
            sync: None,
        }
    }

    /// A run read back from its journal (not driven by this app session).
    pub fn from_summary(s: &RunSummary) -> Self {
        let mut phase = RunPhase::from_state(s.state);
        if phase == RunPhase::Running {
            phase = if s.locked {
                RunPhase::RunningElsewhere
            } else {
                RunPhase::Interrupted
            };
        }
        let entities: Vec<EntityRow> = s
            .entities
            .iter()
            .map(|(e, c)| EntityRow::from_counts(e.as_str(), c))
            .collect();
        RunView {
            phase,
            created_at: s.created_at.clone(),
            failure_count: entities.iter().map(|e| e.failed).sum(),
            entities,
            live: false,
            ..RunView::new(
                s.run_id.clone(),
                s.source.clone(),
                s.target.clone(),
                s.dry_run,
            )
        }
    }
}

/// A connection test's outcome: who answered, or a plain-language reason.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "status"
)]
#[ts(export)]
pub enum ConnectionCheck {
    Ok {
        project_name: Option<String>,
        server_version: String,
        generation: String,
        capabilities: Vec<String>,
    },
    Folder {
        path: String,
        exists: bool,
    },
    /// A LangSmith server answered and accepted the key.
    Langsmith {
        url: String,
        server_version: String,
        /// `POST /api/v2/runs/query` exists (1000 runs a page instead of 100).
        v2_queries: bool,
        projects: Vec<LangsmithProjectView>,
    },
    Failed {
        message: String,
    },
}

/// One LangSmith project as the connection check found it.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct LangsmithProjectView {
    pub name: String,
    /// Runs LangSmith counts for the project; `null` when it does not say.
    #[ts(type = "number | null")]
    pub run_count: Option<u64>,
    /// An experiment: the project runs a dataset.
    pub experiment: bool,
}

impl ConnectionCheck {
    pub fn from_langsmith(info: &migrator_engine::LangsmithInfo) -> Self {
        ConnectionCheck::Langsmith {
            url: info.url.clone(),
            server_version: info.version.clone(),
            v2_queries: info.v2_queries,
            projects: info
                .projects
                .iter()
                .map(|p| LangsmithProjectView {
                    name: p.name.clone(),
                    run_count: p.run_count,
                    experiment: p.reference_dataset_id.is_some(),
                })
                .collect(),
        }
    }
}

impl ConnectionCheck {
    pub fn from_info(info: &ConnectionInfo) -> Self {
        let c = &info.capabilities;
        let caps = [
            (c.cursor_observations, "cursor reads of observations (v2)"),
            (c.scores_v3, "cursor reads of scores (v3)"),
            (c.legacy_reads, "page reads of traces and observations"),
            (
                c.legacy_ingestion,
                "legacy ingestion of traces and observations",
            ),
            (c.otlp, "OpenTelemetry (OTLP) ingestion"),
            (c.evaluators, "LLM-as-judge evaluators and evaluation rules"),
            (c.dashboards, "dashboards and widgets (an unstable API)"),
        ];
        ConnectionCheck::Ok {
            project_name: info.project_name.clone(),
            server_version: info.server_version.clone(),
            generation: format!("{:?}", info.generation).to_lowercase(),
            capabilities: caps
                .into_iter()
                .filter(|(on, _)| *on)
                .map(|(_, name)| name.to_owned())
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PreflightEntity {
    pub entity: String,
    /// `null` when the source cannot count this kind of object up front.
    #[ts(type = "number | null")]
    pub count: Option<u64>,
    #[ts(type = "number")]
    pub existing_in_target: u64,
    pub existing_examples: Vec<String>,
}

/// An object the target holds under a source object's id with other content.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ConflictItem {
    pub entity: String,
    pub id: String,
    /// The fields that differ (`input`, `metadata.user`).
    pub fields: Vec<String>,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PreflightView {
    pub source: String,
    pub target: String,
    pub source_check: Option<ConnectionCheck>,
    pub target_check: Option<ConnectionCheck>,
    pub entities: Vec<PreflightEntity>,
    /// Same id, other content: the run would leave these alone; the user decides.
    pub conflicts: Vec<ConflictItem>,
    pub eta_seconds: Option<f64>,
    pub warnings: Vec<String>,
    /// The window the plan covers (RFC 3339): `null` = from the beginning; the end is excluded.
    pub window_from: Option<String>,
    pub window_end: String,
    /// The source's LLM connections, each needing its secret key (Langfuse never returns it).
    pub llm_connections: Vec<LlmConnectionItem>,
    /// What the source said about itself (a LangSmith source: traces and runs per project, and
    /// the least time its rate limits allow).
    pub source_notes: Vec<String>,
}

/// An LLM connection of the source, for the plan's key row.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct LlmConnectionItem {
    pub provider: String,
    pub adapter: Option<String>,
    pub base_url: Option<String>,
    /// A key is already at hand (never in the app, which has no plan file).
    pub has_key: bool,
}

impl PreflightView {
    pub fn from_report(r: &PreflightReport, scope: &Scope, extra_warnings: Vec<String>) -> Self {
        // The plan asks for each of these keys in a row of its own, which says what happens
        // without one; the engine's sentence would say "no key was supplied" next to the field.
        let keyless: Vec<String> = r
            .llm_connections
            .iter()
            .filter(|c| !c.has_key)
            .map(|c| c.provider.clone())
            .collect();
        let keyless_note = migrator_engine::langfuse::llm_connections::keyless_note(&keyless);
        PreflightView {
            window_from: (scope.from.timestamp() > 0).then(|| scope.from.to_rfc3339()),
            window_end: scope.to.to_rfc3339(),
            source: r.source.description.clone(),
            target: r.target.description.clone(),
            source_check: r.source.connection.as_ref().map(ConnectionCheck::from_info),
            target_check: r.target.connection.as_ref().map(ConnectionCheck::from_info),
            entities: r
                .counts
                .iter()
                .map(|(e, count)| PreflightEntity {
                    entity: e.as_str().to_owned(),
                    count: *count,
                    existing_in_target: r.existing_in_target.get(e).copied().unwrap_or(0),
                    existing_examples: r.existing_examples.get(e).cloned().unwrap_or_default(),
                })
                .collect(),
            conflicts: r
                .conflicts
                .iter()
                .map(|c| ConflictItem {
                    entity: c.entity.as_str().to_owned(),
                    id: c.id.clone(),
                    fields: c.fields.clone(),
                })
                .collect(),
            eta_seconds: r.eta_seconds,
            warnings: r
                .warnings
                .iter()
                .filter(|w| Some(w.as_str()) != keyless_note.as_deref())
                .cloned()
                .chain(extra_warnings)
                .collect(),
            llm_connections: r
                .llm_connections
                .iter()
                .map(|c| LlmConnectionItem {
                    provider: c.provider.clone(),
                    adapter: c.adapter.clone(),
                    base_url: c.base_url.clone(),
                    has_key: c.has_key,
                })
                .collect(),
            source_notes: r.source_notes.clone(),
        }
    }
}
