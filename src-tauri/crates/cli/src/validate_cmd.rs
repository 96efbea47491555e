//! `langfuse-migrator-cli validate RUN_ID`: reconcile a run's source and target, save the report
//! with the run, optionally write it as HTML or Markdown. Exit 0 only without any discrepancy.

use clap::Args;
use migrator_engine::validate::ValidationReport;
use migrator_engine::{ValidateOptions, ValidationProgress};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct ValidateArgs {
    run_id: String,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Compare the content of this many objects per entity (default: all).
    #[arg(long)]
    sample: Option<usize>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Also write the report as a standalone HTML page.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Also write the report as Markdown.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Longest wait, in seconds, for the target to show every write (Langfuse v3/v4 delay).
    #[arg(long, default_value_t = 120)]
    settle_limit: u64,
}

fn show_progress(p: ValidationProgress) {
    match p {
        ValidationProgress::Settling {
            entity,
            visible,
            expected,
            waited_ms,
        } => eprintln!(
            "waiting for the target: {entity} {visible}/{expected} visible after {:.1}s",
            waited_ms as f64 / 1000.0
        ),
        ValidationProgress::Compared {
            entity,
            discrepancies,
        } => eprintln!("{entity:>18}: {discrepancies} discrepancies"),
        ValidationProgress::Reading { .. } => {}
    }
}

fn print_summary(r: &ValidationReport) {
    eprintln!(
        "run {}: {} ({} discrepancies)",
        r.run_id,
        if r.is_clean() {
            "target matches source"
        } else {
            "DIFFERENCES FOUND"
        },
        r.discrepancy_count()
    );
    if let Some(note) = &r.settle.note {
        eprintln!("note: {note}");
    }
    for note in &r.notes {
        eprintln!("note: {note}");
    }
    for e in &r.entities {
        eprintln!(
            "  {:>18}: source {}, target {}, missing {}, extra {}, differing {} (compared {})",
            e.entity,
            e.source_count,
            e.target_count,
            e.missing_count,
            e.extra_count,
            e.differing_count,
            e.compared
        );
    }
}

fn write(path: &PathBuf, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub async fn run(a: ValidateArgs) -> ExitCode {
    let dir = a.data_dir.unwrap_or_else(super::default_data_dir);
    let options = ValidateOptions {
        sample: a.sample,
        settle_limit: Duration::from_secs(a.settle_limit),
        ..ValidateOptions::default()
    };
    let quiet = a.json;
    let progress = move |p: ValidationProgress| {
        if !quiet {
            show_progress(p)
        }
    };
    let report = match migrator_engine::validate_run(&a.run_id, &dir, &options, &progress).await {
        Ok(r) => r,
        Err(e) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({ "run_id": a.run_id, "error": e.to_string() })
                );
            }
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let written = [
        a.html.as_ref().map(|p| write(p, &report.to_html())),
        a.markdown.as_ref().map(|p| write(p, &report.to_markdown())),
    ];
    for w in written.into_iter().flatten() {
        if let Err(e) = w {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serialises")
        );
    } else {
        print_summary(&report);
    }
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
