//! Sending a rollback's requests one at a time, journaling each as it is acknowledged.
//!
//! Deletes are idempotent, so transient failures (5xx, resets, timeouts) are retried and a 404
//! means the object is already gone. A 429 whose `Retry-After` is short is waited out; a long one
//! means the day's delete budget is spent: the rollback stops and says when it can continue.

use super::store::RollbackStore;
use super::types::{Action, RollbackProgress, StepState};
use crate::connectors::http::retry_after;
use crate::connectors::langfuse::{Langfuse, q};
use crate::run::control::RunControl;
use crate::vocab::EngineError;
use reqwest::RequestBuilder;
use std::time::Duration;

/// How the step loop ended.
pub(crate) enum Ended {
    /// Every step was tried (some may have failed).
    Finished,
    /// The delete budget is spent; continue after this instant.
    BudgetSpent {
        resume_after: chrono::DateTime<chrono::Utc>,
    },
    Cancelled,
}

enum Sent {
    Done,
    Budget(Duration),
    Failed(String),
}

const MAX_ATTEMPTS: u32 = 8;
const MAX_SHORT_WAITS: u32 = 60;

fn request(lf: &Langfuse, action: &Action) -> RequestBuilder {
    let h = &lf.http;
    match action {
        Action::DeleteDatasetRun { dataset, run } => h.delete(&format!(
            "/api/public/datasets/{}/runs/{}",
            q(dataset),
            q(run)
        )),
        Action::DeleteScore { id } => h.delete(&format!("/api/public/scores/{}", q(id))),
        Action::DeleteDatasetItem { id } => {
            h.delete(&format!("/api/public/dataset-items/{}", q(id)))
        }
        Action::DeleteTraces { ids } => h
            .delete("/api/public/traces")
            .json(&serde_json::json!({ "traceIds": ids })),
        Action::DeletePromptVersion { name, version } => h.delete(&format!(
            "/api/public/v2/prompts/{}?version={version}",
            q(name)
        )),
        Action::DeleteModel { id } => h.delete(&format!("/api/public/models/{}", q(id))),
        Action::DeleteAnnotationQueueItem { queue, id } => h.delete(&format!(
            "{}/{}/items/{}",
            crate::connectors::langfuse::annotation_queues::PATH,
            q(queue),
            q(id)
        )),
        Action::DeleteLlmConnection { id } => h.delete(&format!(
            "{}/{}",
            crate::connectors::langfuse::llm_connections::PATH,
            q(id)
        )),
        Action::DeleteEvaluationRule { id } => h.delete(&format!(
            "{}/{}",
            crate::connectors::langfuse::evaluators::RULES,
            q(id)
        )),
        Action::DeleteEvaluator { id } => h.delete(&format!(
            "{}/{}",
            crate::connectors::langfuse::evaluators::EVALUATORS,
            q(id)
        )),
        Action::DeleteDashboard { id } => h.delete(&format!(
            "{}/{}",
            crate::connectors::langfuse::dashboards::DASHBOARDS,
            q(id)
        )),
        Action::DeleteDashboardWidget { id } => h.delete(&format!(
            "{}/{}",
            crate::connectors::langfuse::dashboards::WIDGETS,
            q(id)
        )),
        Action::ArchiveScoreConfig { id } => h
            .patch(&format!("/api/public/score-configs/{}", q(id)))
            .json(&serde_json::json!({ "isArchived": true })),
        Action::RestorePromptLabel { .. } => unreachable!("sent by restore_label"),
    }
}

/// Puts a label back on an older prompt version: only when no version holds it now (so a label
/// someone moved since the run stays where they put it), keeping the version's other labels.
async fn restore_label(lf: &Langfuse, prompt: &str, version: i64, label: &str) -> Sent {
    let outcome = async {
        if lf
            .prompt_version_by(prompt, "label", label)
            .await?
            .is_some()
        {
            return Ok(None);
        }
        let Some((_, mut labels)) = lf
            .prompt_version_by(prompt, "version", &version.to_string())
            .await?
        else {
            return Ok(Some(format!(
                "version {version} of prompt {prompt} no longer exists; set the label \"{label}\" by hand where it belongs"
            )));
        };
        labels.push(label.to_string());
        lf.patch_prompt_labels(prompt, version, &labels).await?;
        Ok::<_, EngineError>(None)
    };
    match outcome.await {
        Ok(None) => Sent::Done,
        Ok(Some(problem)) => Sent::Failed(problem),
        Err(e) => Sent::Failed(e.to_string()),
    }
}

async fn send(
    lf: &Langfuse,
    action: &Action,
    max_wait: Duration,
    progress: &(dyn Fn(RollbackProgress) + Send + Sync),
) -> Sent {
    let mut attempts = 0;
    let mut short_waits = 0;
    let mut delay = Duration::from_millis(200);
    loop {
        let problem = match request(lf, action).send().await {
            Ok(resp) if resp.status().is_success() => return Sent::Done,
            Ok(resp) => match resp.status().as_u16() {
                // A bulk trace delete never answers 404 for missing ids: the route is missing.
                404 | 405 if matches!(action, Action::DeleteTraces { .. }) => {
                    return Sent::Failed(
                        "this Langfuse server does not delete traces through its API".into(),
                    );
                }
                // Already gone (deleted by an earlier attempt whose answer was lost, or by hand).
                404 => return Sent::Done,
                405 => {
                    return Sent::Failed(
                        "this Langfuse server does not offer this delete through its API".into(),
                    );
                }
                429 => {
                    let wait = retry_after(&resp).unwrap_or(Duration::from_secs(1));
                    if wait > max_wait {
                        return Sent::Budget(wait);
                    }
                    short_waits += 1;
                    if short_waits > MAX_SHORT_WAITS {
                        return Sent::Failed("the server kept asking to slow down (429)".into());
                    }
                    progress(RollbackProgress::Waiting {
                        seconds: wait.as_secs_f64(),
                        reason: "the server asked to slow down (429)".into(),
                    });
                    tokio::time::sleep(wait).await;
                    continue;
                }
                s @ (408 | 500..=599) => format!("server error {s}"),
                s => {
                    let body = resp.text().await.unwrap_or_default();
                    return Sent::Failed(format!(
                        "the server refused it ({s}): {}",
                        crate::connectors::http::truncate(&body, 200)
                    ));
                }
            },
            Err(e) => crate::connectors::http::describe_reqwest_error(&e),
        };
        attempts += 1;
        if attempts >= MAX_ATTEMPTS {
            return Sent::Failed(format!("it kept failing ({problem})"));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// Sends every step not yet done, in order. Failed steps of an earlier attempt are tried again.
pub(crate) async fn run_steps(
    lf: &Langfuse,
    store: &RollbackStore,
    max_wait: Duration,
    control: &RunControl,
    progress: &(dyn Fn(RollbackProgress) + Send + Sync),
) -> Result<Ended, EngineError> {
    let steps = store.steps()?;
    let total = steps.len() as u64;
    let mut done = steps.iter().filter(|s| s.state == StepState::Done).count() as u64;
    for step in steps.into_iter().filter(|s| s.state != StepState::Done) {
        if control.is_cancelled() {
            return Ok(Ended::Cancelled);
        }
        progress(RollbackProgress::Request {
            done,
            total,
            action: step.action.clone(),
        });
        let sent = match &step.action {
            Action::RestorePromptLabel {
                prompt,
                version,
                label,
            } => restore_label(lf, prompt, *version, label).await,
            action => send(lf, action, max_wait, progress).await,
        };
        match sent {
            Sent::Done => {
                store.mark(step.seq, StepState::Done, None)?;
                done += 1;
            }
            Sent::Failed(reason) => store.mark(step.seq, StepState::Failed, Some(&reason))?,
            Sent::Budget(wait) => {
                let resume_after = chrono::Utc::now()
                    + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::days(1));
                return Ok(Ended::BudgetSpent { resume_after });
            }
        }
    }
    Ok(Ended::Finished)
}
