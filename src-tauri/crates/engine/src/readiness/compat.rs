//! Which SDK talks to which server (Langfuse's compatibility table, `shared/notes/sdk-compat.md`)
//! and what the application's settings mean for the switch.
//!
//! | SDK | writes through | v2 | v3 | v4 |
//! |---|---|---|---|---|
//! | Python v1 / JS v1 | legacy | yes | no | no |
//! | Python v2 / JS v2–v3 | legacy batch ingestion | yes | yes | no: traces rejected |
//! | Python v3 / JS v4 | OTLP | no | ≥ 3.63.0 | deprecated (up to ~15 min late) |
//! | Python v4 / JS v5 | OTLP + v4 header | no | ≥ 3.63.0 | yes (real time from 4.7.0 / 5.4.0) |
//! | Python v5 / JS v6 | OTLP + v4 header, gzip | no | no | ≥ 4.59.0 |

use super::envfiles;
use super::resolve::{self, Project, ecosystem_of, is_langfuse, major_of};
use super::rules::{self, Ecosystem};
use super::target::lenient_semver;
use super::{AppFinding, EnvSetting, FindingKind, FindingSeverity, SdkUse, TargetServer, guides};

/// How an SDK major version writes, across Python and JS numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Era {
    /// Python v1 / JS v1.
    First,
    /// Python v2 / JS v2–v3: legacy batch ingestion.
    Legacy,
    /// Python v3 / JS v4: OTLP.
    Otel,
    /// Python v4 / JS v5: OTLP with the v4 header.
    OtelV4,
    /// Python v5 / JS v6: needs a v4 server ≥ 4.59.0.
    OtelV4Gzip,
}

fn era(ecosystem: Ecosystem, major: u64) -> Era {
    let shift = match ecosystem {
        Ecosystem::Python => 0,
        Ecosystem::JavaScript => 1,
    };
    match major {
        0 | 1 => Era::First,
        m if m <= 2 + shift => Era::Legacy,
        m if m == 3 + shift => Era::Otel,
        m if m == 4 + shift => Era::OtelV4,
        _ => Era::OtelV4Gzip,
    }
}

/// The first SDK major of an era.
fn first_major(ecosystem: Ecosystem, era: Era) -> u64 {
    let shift = (ecosystem == Ecosystem::JavaScript) as u64;
    match era {
        Era::First => 1,
        Era::Legacy => 2,
        Era::Otel => 3 + shift,
        Era::OtelV4 => 4 + shift,
        Era::OtelV4Gzip => 5 + shift,
    }
}

/// (the oldest SDK major the target accepts, the newest it fully supports).
pub fn sdk_majors(ecosystem: Ecosystem, target: &TargetServer) -> (u64, u64) {
    let (oldest, newest) = match target.generation.as_str() {
        "v2" => (Era::First, Era::Legacy),
        "v3" => (Era::Legacy, Era::OtelV4),
        _ => (
            Era::Otel,
            if target.at_least("4.59.0") == Some(true) {
                Era::OtelV4Gzip
            } else {
                Era::OtelV4
            },
        ),
    };
    let newest_major = if ecosystem == Ecosystem::JavaScript && newest == Era::Legacy {
        3
    } else {
        first_major(ecosystem, newest)
    };
    (first_major(ecosystem, oldest), newest_major)
}

fn sdk_label(ecosystem: Ecosystem) -> &'static str {
    match ecosystem {
        Ecosystem::Python => "Python SDK",
        Ecosystem::JavaScript => "JS/TS SDK",
    }
}

fn finding(
    sdk: &SdkUse,
    severity: FindingSeverity,
    message: String,
    action: String,
    guide: &str,
) -> AppFinding {
    AppFinding {
        severity,
        kind: FindingKind::Sdk,
        file: sdk.file.clone(),
        line: sdk.line,
        subject: match &sdk.version {
            Some(v) => format!("{} {v}", sdk.package),
            None => sdk.package.clone(),
        },
        message,
        action,
        guide: Some(guide.to_string()),
    }
}

/// One Langfuse SDK against the target.
fn langfuse_sdk(sdk: &SdkUse, target: &TargetServer) -> Option<AppFinding> {
    let eco = ecosystem_of(sdk);
    let label = sdk_label(eco);
    let Some(version) = sdk.version.as_deref() else {
        return Some(finding(
            sdk,
            FindingSeverity::Warning,
            format!(
                "{} is declared{} without a version or lockfile that says which one is installed, so its compatibility with {} is unknown.",
                sdk.package,
                sdk.declared
                    .as_deref()
                    .map(|d| format!(" as `{d}`"))
                    .unwrap_or_default(),
                target.describe()
            ),
            "Pin the version or commit the lockfile, then check again.".into(),
            guides::COMPATIBILITY,
        ));
    };
    let major = major_of(version)?;
    let era = era(eco, major);
    let step = match eco {
        Ecosystem::Python => guides::python_step(major),
        Ecosystem::JavaScript => guides::js_step(major),
    };
    let (realtime, realtime_label) = match eco {
        Ecosystem::Python => ("4.7.0", "Python SDK 4.7.0"),
        Ecosystem::JavaScript => ("5.4.0", "JS/TS SDK 5.4.0"),
    };
    let upgrade_to_current = format!(
        "Upgrade to {realtime_label} or later, following the upgrade guides from v{major} on."
    );
    use FindingSeverity::{Blocker, Warning};
    let server = target.describe();
    let (severity, message, action, guide) = match (target.generation.as_str(), era) {
        ("v2", Era::First | Era::Legacy) => return None,
        ("v2", _) => (
            Blocker,
            format!(
                "{label} v{major} sends traces over OpenTelemetry, which a Langfuse v2 server does not accept."
            ),
            format!(
                "Keep the application on {label} v{} until the server is upgraded, or upgrade the server first.",
                sdk_majors(eco, target).1
            ),
            guides::VERSIONING,
        ),
        ("v3", Era::First) => (
            Blocker,
            format!("{label} v{major} uses an ingestion API that Langfuse v3 no longer offers."),
            upgrade_to_current,
            step,
        ),
        ("v3", Era::Legacy) => return None,
        ("v3", Era::Otel | Era::OtelV4) => match target.at_least("3.63.0") {
            Some(true) => return None,
            Some(false) => (
                Blocker,
                format!("{label} v{major} needs Langfuse 3.63.0 or later; {server} is older."),
                "Upgrade the server to 3.63.0 or later first.".into(),
                guides::VERSIONING,
            ),
            None => (
                Warning,
                format!(
                    "{label} v{major} needs Langfuse 3.63.0 or later; the server's exact version was not given."
                ),
                "Make sure the server runs 3.63.0 or later (or check against its URL).".into(),
                guides::VERSIONING,
            ),
        },
        ("v3", Era::OtelV4Gzip) => (
            Blocker,
            format!("{label} v{major} needs a Langfuse v4 server (4.59.0 or later)."),
            format!(
                "Stay on {label} v{} until the server runs v4.",
                first_major(eco, Era::OtelV4)
            ),
            guides::VERSIONING,
        ),
        (_, Era::First | Era::Legacy) => (
            Blocker,
            format!(
                "{label} v{major} writes through the legacy ingestion API: {server} rejects its traces and observations (scores still pass), and Langfuse Cloud stopped taking them on 2026-11-16."
            ),
            upgrade_to_current,
            step,
        ),
        (_, Era::Otel) => (
            Warning,
            format!(
                "{label} v{major} is deprecated on Langfuse v4: its data can arrive up to about 15 minutes late, and `api.*` reads of removed endpoints fail."
            ),
            upgrade_to_current,
            step,
        ),
        (_, Era::OtelV4) => {
            let current = lenient_semver(version)
                .zip(lenient_semver(realtime))
                .is_some_and(|(v, r)| v >= r);
            if current {
                return None;
            }
            (
                Warning,
                format!(
                    "{label} {version} works with Langfuse v4, but its data arrives in real time only from {realtime_label} on."
                ),
                format!("Upgrade to {realtime_label} or later."),
                guides::UPGRADE_TO_V4,
            )
        }
        (_, Era::OtelV4Gzip) => match target.at_least("4.59.0") {
            Some(true) => return None,
            Some(false) => (
                Blocker,
                format!("{label} v{major} needs Langfuse 4.59.0 or later; {server} is older."),
                format!(
                    "Upgrade the server to 4.59.0 or later, or stay on {label} v{}.",
                    first_major(eco, Era::OtelV4)
                ),
                guides::VERSIONING,
            ),
            None => (
                Warning,
                format!(
                    "{label} v{major} needs Langfuse 4.59.0 or later; the server's exact version was not given."
                ),
                "Make sure the server runs 4.59.0 or later (or check against its URL).".into(),
                guides::VERSIONING,
            ),
        },
    };
    Some(finding(sdk, severity, message, action, guide))
}

pub fn sdk_findings(projects: &[Project], target: &TargetServer) -> Vec<AppFinding> {
    projects
        .iter()
        .flat_map(|p| p.sdks.iter())
        .filter(|s| is_langfuse(&s.package))
        .filter_map(|s| langfuse_sdk(s, target))
        .collect()
}

fn config(
    setting: &EnvSetting,
    severity: FindingSeverity,
    message: &str,
    action: &str,
    guide: &str,
) -> AppFinding {
    AppFinding {
        severity,
        kind: FindingKind::Config,
        file: setting.file.clone(),
        line: Some(setting.line),
        subject: setting.key.clone(),
        message: message.to_string(),
        action: action.to_string(),
        guide: Some(guide.to_string()),
    }
}

/// LangSmith applications: traced to LangSmith until OpenTelemetry export points at Langfuse.
fn langsmith(sdk: &SdkUse, projects: &[Project], settings: &[EnvSetting]) -> Option<AppFinding> {
    let eco = ecosystem_of(sdk);
    let has_langfuse = projects
        .iter()
        .filter(|p| p.dir == sdk.project)
        .flat_map(|p| p.sdks.iter())
        .any(|s| is_langfuse(&s.package) && ecosystem_of(s) == eco);
    if has_langfuse {
        return None;
    }
    let endpoint = envfiles::value(
        settings,
        &[
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ],
    )
    .and_then(|s| s.value.as_deref())
    .is_some_and(|v| v.contains("/api/public/otel"));
    let otel = match eco {
        Ecosystem::Python => envfiles::is_on(settings, "LANGSMITH_OTEL_ENABLED"),
        Ecosystem::JavaScript => envfiles::is_on(settings, "LANGSMITH_TRACING_MODE"),
    };
    let old_python = eco == Ecosystem::Python
        && sdk
            .version
            .as_deref()
            .and_then(lenient_semver)
            .is_some_and(|v| v < semver::Version::new(0, 4, 1));
    if otel && endpoint && !old_python {
        return Some(finding(
            sdk,
            FindingSeverity::Info,
            "LangSmith's OpenTelemetry export is on and points at a Langfuse OTLP endpoint.".into(),
            match eco {
                Ecosystem::Python => {
                    "At cutover set LANGSMITH_OTEL_ONLY=true to stop sending to LangSmith.".into()
                }
                Ecosystem::JavaScript => "Nothing to change for the switch.".into(),
            },
            guides::FROM_LANGSMITH,
        ));
    }
    let action = match eco {
        Ecosystem::Python => format!(
            "{}Set LANGSMITH_OTEL_ENABLED=true and OTEL_EXPORTER_OTLP_ENDPOINT=<Langfuse>/api/public/otel with Basic auth and x-langfuse-ingestion-version=4 in OTEL_EXPORTER_OTLP_HEADERS to send every run to both; at cutover set LANGSMITH_OTEL_ONLY=true. LangChain apps can add Langfuse's callback handler instead.",
            if old_python { "Upgrade langsmith to 0.4.1 or later (its OpenTelemetry hybrid mode needs it). " } else { "" }
        ),
        Ecosystem::JavaScript => "Set LANGSMITH_TRACING_MODE=otel and OTEL_EXPORTER_OTLP_ENDPOINT=<Langfuse>/api/public/otel with Basic auth and x-langfuse-ingestion-version=4 in OTEL_EXPORTER_OTLP_HEADERS (JS switches a process at once; there is no hybrid mode). LangChain apps can add Langfuse's callback handler instead.".into(),
    };
    Some(finding(
        sdk,
        FindingSeverity::Blocker,
        "This application traces with the LangSmith SDK, and nothing is exported to Langfuse yet."
            .into(),
        action,
        guides::FROM_LANGSMITH,
    ))
}

pub fn config_findings(
    settings: &[EnvSetting],
    projects: &[Project],
    target: &TargetServer,
) -> Vec<AppFinding> {
    let mut out = vec![];
    for s in settings {
        match s.key.as_str() {
            "LANGCHAIN_TRACING_V2"
            | "LANGCHAIN_API_KEY"
            | "LANGCHAIN_PROJECT"
            | "LANGCHAIN_ENDPOINT" => {
                let new = s
                    .key
                    .replace("LANGCHAIN_", "LANGSMITH_")
                    .replace("TRACING_V2", "TRACING");
                out.push(config(
                    s,
                    FindingSeverity::Info,
                    &format!("`{}` is the older name of `{new}`.", s.key),
                    &format!("Rename it to `{new}` when you touch this file."),
                    guides::FROM_LANGSMITH,
                ));
            }
            "LANGFUSE_BASEURL" => {
                let (changed_in, message, action, guide) = rules::baseurl_rule();
                let major = resolve::langfuse_major_for(projects, &s.file, Ecosystem::JavaScript);
                if major.is_none_or(|m| m < changed_in) {
                    out.push(config(
                        s,
                        rules::severity(Ecosystem::JavaScript, changed_in, target),
                        message,
                        action,
                        guide,
                    ));
                }
            }
            _ => {}
        }
    }
    if let Some(url) = &target.url
        && let Some(host) = envfiles::value(
            settings,
            &["LANGFUSE_BASE_URL", "LANGFUSE_HOST", "LANGFUSE_BASEURL"],
        )
        && host.value.as_deref().map(|v| v.trim_end_matches('/')) != Some(url.trim_end_matches('/'))
    {
        out.push(config(
            host,
            FindingSeverity::Info,
            &format!(
                "The application points at {} now, not at the target {url}.",
                host.value.as_deref().unwrap_or("")
            ),
            "Point it at the target at cutover (the run's .env cutover does this, with a backup).",
            guides::UPGRADE_TO_V4,
        ));
    }
    for sdk in projects
        .iter()
        .flat_map(|p| p.sdks.iter())
        .filter(|s| s.package == "langsmith")
    {
        out.extend(langsmith(sdk, projects, settings));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eras_follow_each_languages_numbering() {
        assert_eq!(era(Ecosystem::Python, 2), Era::Legacy);
        assert_eq!(era(Ecosystem::JavaScript, 3), Era::Legacy);
        assert_eq!(era(Ecosystem::JavaScript, 4), Era::Otel);
        assert_eq!(era(Ecosystem::Python, 5), Era::OtelV4Gzip);
        let v4 = TargetServer::parse("4.58.0").unwrap();
        assert_eq!(sdk_majors(Ecosystem::Python, &v4), (3, 4));
        assert_eq!(
            sdk_majors(
                Ecosystem::JavaScript,
                &TargetServer::parse("cloud").unwrap()
            ),
            (4, 6)
        );
        assert_eq!(
            sdk_majors(Ecosystem::JavaScript, &TargetServer::parse("v2").unwrap()),
            (1, 3)
        );
    }
}
