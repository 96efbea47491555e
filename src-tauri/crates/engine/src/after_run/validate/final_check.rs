//! The validation a finishing live sync runs over its whole window (handed to the run
//! machinery, which may not reach up into validation itself).

use super::ValidationReport;
use super::run::{ValidateOptions, validate_run};
use crate::run::plan::{EndpointSpec, Plan};
use crate::run::runner::Secrets;
use crate::run::sync::FinalCheck;
use crate::vocab::EngineError;
use std::path::Path;

pub struct WholeWindow;

fn secret_of(side: &EndpointSpec) -> Option<crate::vocab::SecretString> {
    match side {
        EndpointSpec::Langfuse(l) => l.secret_key.clone(),
        EndpointSpec::Langsmith(l) => l.api_key.clone(),
        EndpointSpec::Archive { .. } => None,
    }
}

#[async_trait::async_trait]
impl FinalCheck for WholeWindow {
    async fn validate(
        &self,
        run_id: &str,
        data_dir: &Path,
        plan: &Plan,
    ) -> Result<(bool, String), EngineError> {
        let options = ValidateOptions {
            secrets: Secrets {
                source: secret_of(&plan.source),
                target: secret_of(&plan.target),
                ..Secrets::default()
            },
            ..ValidateOptions::default()
        };
        let report = validate_run(run_id, data_dir, &options, &|_| {})
            .await
            .map_err(|e| match e {
                super::ValidationError::Engine(e) => e,
                other => EngineError::Journal(other.to_string()),
            })?;
        Ok(window_summary(&report))
    }
}

/// Whether a validation of a sync's whole window is clean, and its findings in one sentence.
pub(crate) fn window_summary(report: &ValidationReport) -> (bool, String) {
    if report.is_clean() {
        return (true, "validation of the whole window is clean".into());
    }
    let findings: Vec<String> = report
        .entities
        .iter()
        .filter(|e| !e.is_clean())
        .map(|e| {
            format!(
                "{}: {} missing, {} extra, {} differing, {} conflicting",
                e.entity, e.missing_count, e.extra_count, e.differing_count, e.conflict_count
            )
        })
        .collect();
    let mut summary = format!(
        "validation of the whole window found {}",
        findings.join("; ")
    );
    if !report.settle.settled {
        summary.push_str("; the target's counts were still moving");
    }
    (false, summary)
}
