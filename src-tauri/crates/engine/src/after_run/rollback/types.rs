//! The rollback's public types: options, preview, report, progress and errors.

use crate::after_run::cutover::env_file::CutoverError;
use crate::run::runner::Secrets;
use crate::vocab::{EngineError, Entity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// One request of a rollback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// `DELETE /api/public/datasets/{dataset}/runs/{run}`: the run and all its items.
    DeleteDatasetRun { dataset: String, run: String },
    /// `DELETE /api/public/scores/{id}` for a score whose trace stays.
    DeleteScore { id: String },
    /// `DELETE /api/public/dataset-items/{id}`.
    DeleteDatasetItem { id: String },
    /// `DELETE /api/public/traces` with up to 100 ids: the traces, their observations and scores.
    DeleteTraces { ids: Vec<String> },
    /// `DELETE /api/public/v2/prompts/{name}?version=N`.
    DeletePromptVersion { name: String, version: i64 },
    /// `DELETE /api/public/models/{id}`.
    DeleteModel { id: String },
    /// `DELETE /api/public/annotation-queues/{queue}/items/{id}`.
    DeleteAnnotationQueueItem { queue: String, id: String },
    /// `DELETE /api/public/llm-connections/{id}`.
    DeleteLlmConnection { id: String },
    /// `DELETE /api/public/v2/evaluation-rules/{id}`.
    DeleteEvaluationRule { id: String },
    /// `DELETE /api/public/v2/evaluators/{id}` (every version; scores it gave stay).
    DeleteEvaluator { id: String },
    /// `DELETE /api/public/unstable/dashboards/{id}`.
    DeleteDashboard { id: String },
    /// `DELETE /api/public/unstable/dashboard-widgets/{id}`.
    DeleteDashboardWidget { id: String },
    /// `PATCH /api/public/score-configs/{id}` with `isArchived: true` (no delete exists).
    ArchiveScoreConfig { id: String },
    /// Puts `label` back on `version` of `prompt` (a version from before the run), unless
    /// another version holds it by now: `PATCH /api/public/v2/prompts/{name}/versions/{v}`.
    RestorePromptLabel {
        prompt: String,
        version: i64,
        label: String,
    },
}

/// What the step does, for people (reports, failure lists).
impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::DeleteDatasetRun { dataset, run } => {
                write!(f, "delete dataset run {run} of dataset {dataset}")
            }
            Action::DeleteScore { id } => write!(f, "delete score {id}"),
            Action::DeleteDatasetItem { id } => write!(f, "delete dataset item {id}"),
            Action::DeleteTraces { ids } => match ids.as_slice() {
                [one] => write!(f, "delete trace {one}"),
                [first, ..] => write!(f, "delete {} traces ({first}, …)", ids.len()),
                [] => write!(f, "delete no traces"),
            },
            Action::DeletePromptVersion { name, version } => {
                write!(f, "delete version {version} of prompt {name}")
            }
            Action::DeleteModel { id } => write!(f, "delete model {id}"),
            Action::DeleteLlmConnection { id } => write!(f, "delete LLM connection {id}"),
            Action::DeleteEvaluationRule { id } => write!(f, "delete evaluation rule {id}"),
            Action::DeleteEvaluator { id } => write!(f, "delete evaluator {id}"),
            Action::DeleteDashboard { id } => write!(f, "delete dashboard {id}"),
            Action::DeleteDashboardWidget { id } => write!(f, "delete dashboard widget {id}"),
            Action::DeleteAnnotationQueueItem { queue, id } => {
                write!(f, "delete item {id} of annotation queue {queue}")
            }
            Action::ArchiveScoreConfig { id } => write!(f, "archive score config {id}"),
            Action::RestorePromptLabel {
                prompt,
                version,
                label,
            } => write!(
                f,
                "move label \"{label}\" back to version {version} of prompt {prompt}"
            ),
        }
    }
}

impl Action {
    /// Whether the request counts against the target's daily delete budget.
    pub fn is_delete(&self) -> bool {
        !matches!(
            self,
            Action::ArchiveScoreConfig { .. } | Action::RestorePromptLabel { .. }
        )
    }
}

/// An object a step removes (or archives), by its id in the target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub entity: Entity,
    pub id: String,
    /// The trace it belongs to (observations and scores), for verification on v4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// Something the run created that the API cannot remove, with what the user must do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualItem {
    pub entity: Entity,
    pub id: String,
    pub instruction: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    Done,
    Failed,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Done => "done",
            StepState::Failed => "failed",
        }
    }
    /// A state this version wrote; anything else comes from a newer version and is refused.
    pub fn parse(s: &str) -> Result<StepState, crate::error::EngineError> {
        Ok(match s {
            "pending" => StepState::Pending,
            "done" => StepState::Done,
            "failed" => StepState::Failed,
            _ => {
                return Err(crate::error::EngineError::NewerJournal {
                    what: "the rollback step state".into(),
                    value: s.into(),
                });
            }
        })
    }
}

#[derive(Clone, Debug)]
pub struct RollbackOptions {
    /// The target's secret (the app's keychain); `None` reads the plan's environment variable.
    /// The source's secret is optional: it is used only to find objects whose target id the
    /// journal lacks (a write whose answer was lost).
    pub secrets: Secrets,
    /// Delete requests the target allows per day; `None` = from the target's Cloud plan.
    pub daily_delete_budget: Option<u64>,
    /// The longest `Retry-After` the rollback waits out; a longer one means the delete budget is
    /// spent, and the rollback stops and says when it can continue.
    pub max_wait: Duration,
    /// How long verification waits for deletes to become visible.
    pub verify_limit: Duration,
    /// Restore the application's `.env` file if a cutover was recorded for the run.
    pub restore_cutover: bool,
}

impl Default for RollbackOptions {
    fn default() -> Self {
        Self {
            secrets: Secrets::default(),
            daily_delete_budget: None,
            max_wait: Duration::from_secs(120),
            verify_limit: Duration::from_secs(60),
            restore_cutover: true,
        }
    }
}

/// What a rollback will do, before it does it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RollbackPreview {
    pub run_id: String,
    pub target: String,
    /// Objects that will be deleted, per entity (including those a trace delete takes along).
    pub delete: BTreeMap<Entity, u64>,
    /// Objects that will be archived (score configs).
    pub archive: BTreeMap<Entity, u64>,
    /// Requests still to send, and how many of them count against the delete budget.
    pub requests: u64,
    pub delete_requests: u64,
    /// Requests already done by an earlier, interrupted rollback.
    pub requests_done: u64,
    pub daily_delete_budget: Option<u64>,
    /// Days the remaining deletes need under that budget (1 = today).
    pub days_needed: Option<u64>,
    /// A plain sentence: how long it will take.
    pub estimate: String,
    /// What the API cannot delete, with instructions.
    pub manual: Vec<ManualItem>,
    /// Objects the run found already in the target (the same, or conflicting): not deleted.
    pub untouched_preexisting: u64,
    pub restores_cutover: bool,
    /// Prompt labels the run moved off older versions, which go back (plain sentences).
    pub restores_labels: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackState {
    /// Every request was done and verification found nothing left.
    Completed,
    /// The daily delete budget is spent; run the rollback again after `resume_after`.
    WaitingForBudget,
    /// Some requests failed, or verification still found objects; see the report.
    Incomplete,
}

/// An object that should be gone but is still there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leftover {
    pub entity: Entity,
    pub id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub checked: u64,
    pub still_present: Vec<Leftover>,
    pub waited_ms: u64,
    /// False when it gave up waiting for deletes to show.
    pub settled: bool,
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FailedStep {
    pub action: Action,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RollbackReport {
    pub run_id: String,
    pub state: RollbackState,
    /// A plain sentence saying what happened and what to do next.
    pub message: String,
    pub requests_done: u64,
    pub requests_total: u64,
    pub deleted: BTreeMap<Entity, u64>,
    pub archived: BTreeMap<Entity, u64>,
    pub failed: Vec<FailedStep>,
    pub manual: Vec<ManualItem>,
    /// RFC 3339 instant after which the delete budget allows continuing.
    pub resume_after: Option<String>,
    pub verification: Option<Verification>,
    /// `Some(true)` when the run's `.env` cutover was restored, `Some(false)` when that failed.
    pub cutover_restored: Option<bool>,
    pub cutover_note: Option<String>,
}

/// What a rollback is doing, for a progress display.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RollbackProgress {
    Planning {
        entity: Entity,
    },
    Request {
        done: u64,
        total: u64,
        action: Action,
    },
    Waiting {
        seconds: f64,
        reason: String,
    },
    Verifying {
        checked: u64,
        remaining: u64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error("{0}")]
    Engine(#[from] EngineError),
    #[error("Run {0} was a dry run: it wrote nothing, so there is nothing to roll back.")]
    DryRun(String),
    #[error(
        "Run {0} wrote into the archive folder {1}; delete that folder instead of rolling back."
    )]
    ArchiveTarget(String, String),
    #[error("The run's .env cutover could not be restored: {0}")]
    Cutover(#[from] CutoverError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bulk_delete_is_described_in_one_short_line() {
        let ids: Vec<String> = (0..100).map(|i| format!("trace-{i:03}")).collect();
        let text = Action::DeleteTraces { ids }.to_string();
        assert!(
            text.contains("100 traces") && text.contains("trace-000"),
            "{text}"
        );
        assert!(!text.contains("trace-099"), "{text}");
        let one = Action::DeletePromptVersion {
            name: "support-answer".into(),
            version: 3,
        };
        assert_eq!(one.to_string(), "delete version 3 of prompt support-answer");
    }
}
