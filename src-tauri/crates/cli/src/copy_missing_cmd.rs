//! `langfuse-migrator-cli copy-missing RUN_ID`: copy what the run's last validation found
//! missing (an object that arrived at a sync's source later than its lookback, a write the
//! target lost) through the run's journal, then validate again. Exit 0 only when the
//! validation after it is clean.

use migrator_engine::{CopyMissingReport, RunControl, ValidateOptions};
use std::process::ExitCode;

fn counts(c: &std::collections::BTreeMap<migrator_engine::Entity, u64>) -> String {
    if c.is_empty() {
        return "nothing".into();
    }
    c.iter()
        .map(|(e, n)| format!("{n} {e}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_summary(r: &CopyMissingReport) {
    if r.asked.is_empty() {
        eprintln!(
            "run {}: its last validation found nothing missing; nothing to copy",
            r.run_id
        );
        return;
    }
    eprintln!(
        "run {}: missing by the last validation: {}",
        r.run_id,
        counts(&r.asked)
    );
    eprintln!("copied: {}", counts(&r.copied));
    for (entity, ids) in &r.not_found {
        eprintln!(
            "not found at the source in the window ({entity}): {}",
            ids.join(", ")
        );
    }
    if r.failed > 0 {
        eprintln!(
            "the target refused {} (see `runs` and the run's report)",
            r.failed
        );
    }
    eprintln!(
        "validation after the copy: {} ({} discrepancies)",
        if r.validation.is_clean() {
            "target matches source"
        } else {
            "DIFFERENCES FOUND"
        },
        r.validation.discrepancy_count()
    );
}

pub async fn run(a: super::SyncRunArgs) -> ExitCode {
    let (run_id, dir, json) = a.parts();
    let result = migrator_engine::copy_missing(
        &run_id,
        &dir,
        &ValidateOptions::default(),
        migrator_engine::NoProgress,
        RunControl::new(),
        &|_| {},
    )
    .await;
    match result {
        Ok(r) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&r).expect("report serialises")
                );
            } else {
                print_summary(&r);
            }
            if r.validation.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "run_id": run_id, "error": e.to_string() })
                );
            }
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
