//! `langfuse-migrator-cli rollback RUN_ID`: show what a rollback will delete, then (with `--yes`
//! or a typed confirmation) delete exactly what the run created. Exit codes: 0 rolled back and
//! verified; 1 incomplete (see the report); 2 error; 3 not confirmed; 4 the day's delete budget is
//! spent (the output says when to run it again).

use clap::Args;
use migrator_engine::{
    RollbackOptions, RollbackPreview, RollbackProgress, RollbackReport, RollbackState, RunControl,
};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct RollbackArgs {
    run_id: String,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Only show what would be deleted, how many requests and how long; delete nothing.
    #[arg(long)]
    preview: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
    /// Print the preview or report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Delete requests the target allows per day (default: from the plan's Cloud plan).
    #[arg(long)]
    daily_delete_budget: Option<u64>,
}

fn print_preview(p: &RollbackPreview) {
    eprintln!("rollback of run {} in {}", p.run_id, p.target);
    for (e, n) in &p.delete {
        eprintln!("  delete  {e:>18}: {n}");
    }
    for (e, n) in &p.archive {
        eprintln!("  archive {e:>18}: {n}");
    }
    eprintln!(
        "  {} requests ({} deletes), {} already done; {}",
        p.requests, p.delete_requests, p.requests_done, p.estimate
    );
    eprintln!(
        "  {} objects that were in the target before the run stay untouched",
        p.untouched_preexisting
    );
    for l in &p.restores_labels {
        eprintln!("  {l}");
    }
    if p.restores_cutover {
        eprintln!("  the run's .env cutover will be restored");
    }
    print_manual(&p.manual);
    for w in &p.warnings {
        eprintln!("warning: {w}");
    }
}

fn print_manual(manual: &[migrator_engine::rollback::ManualItem]) {
    if manual.is_empty() {
        return;
    }
    eprintln!("  to do by hand ({}):", manual.len());
    for m in manual {
        eprintln!("    {} {}: {}", m.entity, m.id, m.instruction);
    }
}

fn print_report(r: &RollbackReport) {
    eprintln!("{}", r.message);
    for (e, n) in &r.deleted {
        eprintln!("  deleted  {e:>18}: {n}");
    }
    for (e, n) in &r.archived {
        eprintln!("  archived {e:>18}: {n}");
    }
    for f in &r.failed {
        eprintln!("  failed to {}: {}", f.action, f.reason);
    }
    if let Some(v) = &r.verification {
        for l in &v.still_present {
            eprintln!("  still present: {} {}", l.entity, l.id);
        }
    }
    if let Some(note) = &r.cutover_note {
        eprintln!("  .env: {note}");
    }
    print_manual(&r.manual);
}

macro_rules! print_json {
    ($v:expr) => {
        println!("{}", serde_json::to_string_pretty($v).expect("serialises"))
    };
}

fn confirmed() -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("Delete these objects from the target? Type yes to continue: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.trim() == "yes"
}

fn fail(run_id: &str, e: impl std::fmt::Display, as_json: bool) -> ExitCode {
    if as_json {
        println!(
            "{}",
            serde_json::json!({ "run_id": run_id, "error": e.to_string() })
        );
    }
    eprintln!("error: {e}");
    ExitCode::from(2)
}

pub async fn run(a: RollbackArgs) -> ExitCode {
    let dir = a.data_dir.clone().unwrap_or_else(super::default_data_dir);
    let options = RollbackOptions {
        daily_delete_budget: a.daily_delete_budget,
        ..RollbackOptions::default()
    };
    let preview = match migrator_engine::rollback_preview(&a.run_id, &dir, &options).await {
        Ok(p) => p,
        Err(e) => return fail(&a.run_id, e, a.json),
    };
    if a.preview {
        if a.json {
            print_json!(&preview);
        } else {
            print_preview(&preview);
        }
        return ExitCode::SUCCESS;
    }
    if !a.json {
        print_preview(&preview);
    }
    if !a.yes && !confirmed() {
        eprintln!("Not confirmed: nothing was deleted. Run again with --yes to delete.");
        return ExitCode::from(3);
    }
    let control = RunControl::new();
    let c = control.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping after the request in flight…");
            c.cancel();
        }
    });
    let quiet = a.json;
    let progress = move |p: RollbackProgress| {
        if quiet {
            return;
        }
        match p {
            RollbackProgress::Request { done, total, .. } if done % 10 == 0 => {
                eprintln!("  request {done}/{total}")
            }
            RollbackProgress::Waiting { seconds, reason } => {
                eprintln!("  waiting {seconds:.0}s: {reason}")
            }
            _ => {}
        }
    };
    match migrator_engine::rollback(&a.run_id, &dir, &options, &control, &progress).await {
        Ok(r) => {
            if a.json {
                print_json!(&r);
            } else {
                print_report(&r);
            }
            match r.state {
                RollbackState::Completed => ExitCode::SUCCESS,
                RollbackState::WaitingForBudget => ExitCode::from(4),
                RollbackState::Incomplete => ExitCode::from(1),
            }
        }
        Err(e) => fail(&a.run_id, e, a.json),
    }
}
