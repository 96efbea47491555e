//! Application readiness: can an application's Langfuse (or LangSmith) SDK talk to the server it
//! is about to be pointed at, and what in its code must change first?
//!
//! [`check_app`] walks an application's folder once (`walk`), reads the SDK versions from its
//! manifests and lockfiles (`manifests`, `resolve`: the locked version wins over the declared
//! range), looks for API usage that changed between major SDK versions (`rules`), reads its
//! `.env`-style files (`envfiles`, values of secrets are never kept), and weighs everything
//! against the target server (`compat`) into a verdict. `dual_export` writes the
//! OpenTelemetry Collector configuration for teams that fan out before they cut over;
//! `render` turns a report into Markdown or HTML. The facts come from Langfuse's SDK upgrade
//! guides, linked from every finding (`guides`).

mod compat;
pub mod dual_export;
mod ecosystem;
mod envfiles;
mod error;
mod guides;
mod manifests;
pub mod render;
mod report;
mod resolve;
mod rules;
mod target;
mod walk;

pub use error::ReadinessError;
pub use report::{
    AppFinding, AppReport, AppVerdict, EnvSetting, FindingKind, FindingSeverity, SdkUse, Skipped,
};
pub use target::{AppTarget, TargetServer, detect_target};
pub use walk::Limits;

use std::path::Path;
use std::time::Instant;

/// Checks the application in `root` against `target`.
pub fn check_app(
    root: &Path,
    target: &TargetServer,
    limits: &Limits,
) -> Result<AppReport, ReadinessError> {
    let started = Instant::now();
    let shown = root.display().to_string();
    let meta = std::fs::metadata(root).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ReadinessError::NoSuchFolder(shown.clone()),
        _ => ReadinessError::Unreadable(shown.clone(), e.to_string()),
    })?;
    if !meta.is_dir() {
        return Err(ReadinessError::NotAFolder(shown));
    }
    std::fs::read_dir(root)
        .map_err(|e| ReadinessError::Unreadable(shown.clone(), e.to_string()))?;

    let walked = walk::walk(root, limits);
    let mut findings = walked.problems;
    let projects = resolve::projects(&walked.manifests);
    let sdks: Vec<SdkUse> = projects.iter().flat_map(|p| p.sdks.clone()).collect();
    findings.extend(compat::sdk_findings(&projects, target));
    findings.extend(rules::api_findings(&walked.hits, &projects, target));
    let env = envfiles::read_all(root, &walked.env_files, &mut findings);
    findings.extend(compat::config_findings(&env, &projects, target));
    if sdks.is_empty() {
        findings.push(AppFinding {
            severity: FindingSeverity::Warning,
            kind: FindingKind::Sdk,
            file: ".".into(),
            line: None,
            subject: "no SDK found".into(),
            message: "No Langfuse or LangSmith SDK is declared in a requirements file, pyproject.toml, Pipfile.lock or package.json of this folder, so its SDK version could not be checked.".into(),
            action: "Choose the folder that holds the application's manifest (package.json, pyproject.toml or requirements.txt).".into(),
            guide: Some(guides::COMPATIBILITY.into()),
        });
    }
    findings.sort_by(|a, b| {
        (a.severity, &a.file, a.line, &a.subject).cmp(&(b.severity, &b.file, b.line, &b.subject))
    });
    findings.dedup();
    let verdict = if findings
        .iter()
        .any(|f| f.severity == FindingSeverity::Blocker)
    {
        AppVerdict::Blocked
    } else if findings
        .iter()
        .any(|f| f.severity == FindingSeverity::Warning)
    {
        AppVerdict::ReadyWithWarnings
    } else {
        AppVerdict::Ready
    };
    Ok(AppReport {
        root: shown,
        target: target.clone(),
        verdict,
        sdks,
        points_at: envfiles::points_at(&env),
        settings: env,
        findings,
        skipped: walked.skipped,
        complete: walked.complete,
        files_scanned: walked.files_scanned,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}
