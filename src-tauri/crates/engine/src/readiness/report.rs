//! What a readiness check reports: findings, SDKs, settings and the verdict.

use super::target::TargetServer;
use serde::{Deserialize, Serialize};
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
