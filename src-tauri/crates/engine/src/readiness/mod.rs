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
mod envfiles;
mod guides;
mod manifests;
pub mod render;
mod resolve;
mod rules;
mod target;
mod walk;

pub use target::{AppTarget, TargetServer, detect_target};
pub use walk::Limits;

use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;
use ts_rs::TS;

/// How much a finding matters for the switch to the target server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum FindingSeverity {
    /// Will not work against the target: fix before the switch.
    Blocker,
    /// Works, but deprecated, delayed or due to break: plan the change.
    Warning,
    /// Worth knowing; nothing to do for the switch.
    Info,
}

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum FindingKind {
    /// An SDK version against the target server.
    Sdk,
    /// Code that uses an API that changed between major SDK versions.
    Api,
    /// A setting in a `.env`-style file.
    Config,
    /// A file the check could not read or parse (the rest was still checked).
    Problem,
}

/// One thing the application must (or should) change, where, and the guide to follow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AppFinding {
    pub severity: FindingSeverity,
    pub kind: FindingKind,
    /// Path relative to the checked folder, with `/` separators.
    pub file: String,
    /// 1-based line; `null` when the finding is about the whole file.
    pub line: Option<u32>,
    /// The package or API concerned, e.g. `langfuse 2.60.3` or `langfuse_context`.
    pub subject: String,
    /// What changed, or why this matters for the target.
    pub message: String,
    /// What to do.
    pub action: String,
    /// The official guide to follow.
    pub guide: Option<String>,
}

/// A Langfuse or LangSmith SDK the application depends on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SdkUse {
    /// `python` or `javascript`.
    pub ecosystem: String,
    pub package: String,
    /// The folder of the project that declares it (relative; `.` for the root).
    pub project: String,
    /// The manifest that declares it and the line.
    pub file: String,
    pub line: Option<u32>,
    /// As declared (`^3.2.0`, `>=2,<3`), if declared.
    pub declared: Option<String>,
    /// The version a lockfile pins, and which lockfile.
    pub locked: Option<String>,
    pub lock_file: Option<String>,
    /// The version the check used: the locked one, else the lowest the declared range allows.
    pub version: Option<String>,
}

/// A setting in a `.env`-style file. Secret values are never read into the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct EnvSetting {
    pub file: String,
    pub line: u32,
    pub key: String,
    /// The value for settings that are not secret (hosts, switches, project names), with any
    /// user:password part of a URL removed; `null` for secrets.
    pub value: Option<String>,
    pub secret: bool,
}

/// Something the walk left out, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Skipped {
    pub reason: String,
    #[ts(type = "number")]
    pub count: u64,
    /// A few examples (relative paths).
    pub examples: Vec<String>,
}

/// The overall answer for the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AppVerdict {
    Ready,
    ReadyWithWarnings,
    Blocked,
}

impl AppVerdict {
    pub fn describe(self) -> &'static str {
        match self {
            AppVerdict::Ready => "ready",
            AppVerdict::ReadyWithWarnings => "ready with warnings",
            AppVerdict::Blocked => "blocked",
        }
    }
}

/// The result of [`check_app`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AppReport {
    /// The folder as given.
    pub root: String,
    pub target: TargetServer,
    pub verdict: AppVerdict,
    pub sdks: Vec<SdkUse>,
    pub settings: Vec<EnvSetting>,
    /// The servers the application's settings point at now (hosts and endpoints).
    pub points_at: Vec<String>,
    /// Sorted: blockers first, then by file and line.
    pub findings: Vec<AppFinding>,
    pub skipped: Vec<Skipped>,
    /// `false` when a limit stopped the walk before every file was seen.
    pub complete: bool,
    #[ts(type = "number")]
    pub files_scanned: u64,
    #[ts(type = "number")]
    pub elapsed_ms: u64,
}

/// Why a folder could not be checked at all.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReadinessError {
    #[error("the folder {0} does not exist")]
    NoSuchFolder(String),
    #[error("{0} is a file, not a folder: choose the application's folder")]
    NotAFolder(String),
    #[error("the folder {0} cannot be read: {1}")]
    Unreadable(String, String),
    #[error(
        "the target version \"{0}\" is not understood: give a server version such as 4.59.0, or v2, v3, v4"
    )]
    BadTarget(String),
}

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
