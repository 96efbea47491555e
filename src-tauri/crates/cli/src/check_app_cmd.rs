//! `langfuse-migrator-cli check-app PATH [--target-url URL | --target-version VERSION] [--json]`:
//! can the application in PATH talk to the target server, and what must change first.
//! Exit codes: 0 ready, 1 changes needed (warnings or blockers), 2 could not check.
//!
//! `--target-url` reads the server's version from its health endpoint, which needs no keys, so
//! the command never asks for a secret. Without a target, Langfuse Cloud (the newest v4) is used.

use clap::Args;
use migrator_engine::readiness::{
    AppReport, AppVerdict, FindingSeverity, Limits, TargetServer, check_app, detect_target,
};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct CheckAppArgs {
    /// The application's folder.
    path: PathBuf,
    /// Read the target's version from this Langfuse server's health endpoint.
    #[arg(long, conflicts_with = "target_version")]
    target_url: Option<String>,
    /// The target's version (4.59.0), generation (v2, v3, v4) or `cloud`.
    #[arg(long)]
    target_version: Option<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
}

fn fail(message: String, json: bool) -> ExitCode {
    if json {
        println!("{}", serde_json::json!({ "error": message }));
    }
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn print_text(r: &AppReport) {
    println!(
        "{}: {} for {}",
        r.root,
        r.verdict.describe(),
        r.target.describe()
    );
    for s in &r.sdks {
        println!(
            "  sdk {} {} ({}{})",
            s.package,
            s.version.as_deref().unwrap_or("(version unknown)"),
            s.file,
            s.lock_file
                .as_deref()
                .map(|l| format!(", locked in {l}"))
                .unwrap_or_default()
        );
    }
    for p in &r.points_at {
        println!("  points at {p}");
    }
    for f in &r.findings {
        let label = match f.severity {
            FindingSeverity::Blocker => "BLOCKER",
            FindingSeverity::Warning => "warning",
            FindingSeverity::Info => "info",
        };
        let at = f
            .line
            .map(|l| format!("{}:{l}", f.file))
            .unwrap_or_else(|| f.file.clone());
        println!("{label} {at} {}: {}", f.subject, f.message);
        println!("    do: {}", f.action);
        if let Some(g) = &f.guide {
            println!("    guide: {g}");
        }
    }
    for s in &r.skipped {
        println!("  not checked: {} ({})", s.reason, s.count);
    }
}

pub async fn run(a: CheckAppArgs) -> ExitCode {
    let target = match (&a.target_url, &a.target_version) {
        (Some(url), _) => match detect_target(url).await {
            Ok(t) => t,
            Err(e) => {
                return fail(
                    format!("the target's version could not be read: {e}"),
                    a.json,
                );
            }
        },
        (None, Some(v)) => match TargetServer::parse(v) {
            Ok(t) => t,
            Err(e) => return fail(e.to_string(), a.json),
        },
        (None, None) => TargetServer::parse("cloud").expect("cloud is a target"),
    };
    let path = a.path.clone();
    let result = tokio::task::spawn_blocking(move || check_app(&path, &target, &Limits::default()))
        .await
        .expect("the check does not panic");
    let report = match result {
        Ok(r) => r,
        Err(e) => return fail(e.to_string(), a.json),
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serialises")
        );
    } else {
        print_text(&report);
    }
    match report.verdict {
        AppVerdict::Ready => ExitCode::SUCCESS,
        AppVerdict::ReadyWithWarnings | AppVerdict::Blocked => ExitCode::from(1),
    }
}
