//! `langfuse-migrator-cli`: the migration engine without a window, for scripts, CI and benchmarks.
//! Secrets come only from the environment variables a plan names, never from arguments.

mod check_app_cmd;
mod copy_missing_cmd;
mod cutover_cmd;
mod rollback_cmd;
mod validate_cmd;

use clap::{Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use migrator_engine::{EngineError, Entity, Plan, ProgressEvent, RunControl, RunReport, Secrets};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio::sync::mpsc;

#[derive(Parser)]
#[command(
    name = "langfuse-migrator-cli",
    version,
    about = "Copy Langfuse data between projects, servers and archive folders"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a new run of a plan.
    Run {
        #[arg(long)]
        plan: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Read everything and report what would be written, without writing.
        #[arg(long)]
        dry_run: bool,
        /// Print the final report as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Copy the plan's history, then follow the source: every --poll seconds copy what has
    /// arrived and settled, until Ctrl-C (the pass in progress finishes) or --until-idle.
    Sync {
        #[arg(long)]
        plan: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Seconds between two passes (default: from the source's Langfuse version).
        #[arg(long, value_name = "SECS")]
        poll: Option<f64>,
        /// Seconds an object must have been visible, unchanged and ended before it is copied.
        #[arg(long, value_name = "SECS")]
        settle: Option<f64>,
        /// Seconds before the watermark each pass reads again, for objects that arrive late.
        #[arg(long, value_name = "SECS")]
        lookback: Option<f64>,
        /// Stop once the source has had nothing new for this many seconds.
        #[arg(long, value_name = "SECS")]
        until_idle: Option<f64>,
        /// After the application was switched to the target (`cutover`): finish once the
        /// source has had nothing new for this many seconds (last pass, validation, cut over).
        #[arg(long, value_name = "SECS")]
        drain: Option<f64>,
        /// The share (1-100) of each rate limit a Cloud side allows that the sync may take,
        /// leaving the rest to the application: each bucket of a Langfuse side with
        /// `cloud_plan`, each per-key limit of a LangSmith Cloud source. A side whose plan
        /// entry sets `cloud_share_percent` or `requests_per_minute` keeps it.
        #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(1..=100))]
        cloud_share: Option<u8>,
        /// Print the final report as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Ask a sync to finish: one last pass, a validation of its whole window, then it is cut
    /// over. A sync running in another process finishes after its pass; one that is not
    /// running finishes here.
    Finish(SyncRunArgs),
    /// Copy back to a sync's source what the application wrote to its target since the
    /// switch (a run of its own: validate or roll it back like any run).
    CopyBack(SyncRunArgs),
    /// Copy what the run's last validation found missing in the target (an object that
    /// arrived at a sync's source later than its lookback, a write the target lost) through the
    /// run's journal, then validate again; exit 0 only when that validation is clean.
    CopyMissing(SyncRunArgs),
    /// Continue an interrupted or cancelled run (a sync run goes on following).
    Resume {
        run_id: String,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The plan file, to make sure it has not changed since the run started.
        #[arg(long)]
        plan: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// List the runs in the data folder and their state.
    Runs {
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Compare a run's source and target; exit 0 only when they match.
    Validate(validate_cmd::ValidateArgs),
    /// Delete from the target exactly what a run created (preview first).
    Rollback(rollback_cmd::RollbackArgs),
    /// Point an application's .env file at a run's target (backup kept).
    Cutover(cutover_cmd::CutoverArgs),
    /// Put the .env file of a run's cutover back as it was.
    CutoverRestore(cutover_cmd::RestoreArgs),
    /// Check whether an application's SDK and code are ready for a target server.
    CheckApp(check_app_cmd::CheckAppArgs),
    /// Check both connections, count what would move and what the target already holds.
    Preflight {
        #[arg(long)]
        plan: PathBuf,
    },
}

/// A run (a sync run for `finish` and `copy-back`), named as `RUN_ID` or `--run RUN_ID`.
#[derive(clap::Args)]
struct SyncRunArgs {
    #[arg(
        long = "run",
        value_name = "RUN_ID",
        required_unless_present = "run_arg"
    )]
    run_id: Option<String>,
    #[arg(value_name = "RUN_ID", conflicts_with = "run_id")]
    run_arg: Option<String>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

impl SyncRunArgs {
    /// (run id, data folder, JSON output).
    fn parts(self) -> (String, PathBuf, bool) {
        (
            self.run_id.or(self.run_arg).expect("clap requires one"),
            self.data_dir.unwrap_or_else(default_data_dir),
            self.json,
        )
    }
}

fn default_data_dir() -> PathBuf {
    if let Ok(d) = std::env::var("LANGFUSE_MIGRATOR_DATA_DIR") {
        return PathBuf::from(d);
    }
    let base = std::env::var("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| ".".into())).join(".local/share")
        });
    base.join("langfuse-migrator")
}

/// Draws one bar per entity from the engine's progress events.
fn spawn_progress(
    mut rx: mpsc::UnboundedReceiver<ProgressEvent>,
    quiet: bool,
) -> tokio::task::JoinHandle<Option<String>> {
    tokio::spawn(async move {
        let multi = MultiProgress::new();
        if quiet {
            multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let style = ProgressStyle::with_template("{prefix:>18} {spinner} {msg}").expect("template");
        let mut bars: BTreeMap<Entity, ProgressBar> = BTreeMap::new();
        let mut run_id = None;
        while let Some(ev) = rx.recv().await {
            match ev {
                ProgressEvent::RunStarted {
                    run_id: id,
                    resumed,
                } => {
                    if !quiet {
                        eprintln!("{} run {id}", if resumed { "resuming" } else { "starting" });
                    }
                    run_id = Some(id);
                }
                ProgressEvent::Progress {
                    entities,
                    retries,
                    rate_limit_waits,
                    ..
                } => {
                    for p in entities {
                        let bar = bars.entry(p.entity).or_insert_with(|| {
                            let b = multi.add(ProgressBar::new_spinner());
                            b.set_style(style.clone());
                            b.set_prefix(p.entity.to_string());
                            b
                        });
                        bar.set_message(format!(
                            "read {} written {} skipped {} failed {} · {:.0}/s · retries {retries} · rate-limit waits {rate_limit_waits}",
                            p.counts.read, p.counts.written, p.counts.skipped, p.counts.failed, p.per_second
                        ));
                        bar.tick();
                    }
                }
                ProgressEvent::Warning { message } if !quiet => {
                    let _ = multi.println(format!("warning: {message}"));
                }
                ProgressEvent::SyncPassEnded {
                    pass,
                    waiting,
                    waiting_open,
                    ..
                } if !quiet => {
                    let _ = multi.println(format!(
                        "sync pass {}: read {} → {}, {} seen, {} copied, {} skipped, {waiting} waiting to settle ({waiting_open} open), {:.0} s behind",
                        pass.pass,
                        pass.window_from,
                        pass.window_to,
                        pass.seen,
                        pass.copied,
                        pass.skipped,
                        pass.lag_seconds.unwrap_or_default()
                    ));
                }
                ProgressEvent::ObjectFailed { entity, id, reason } if !quiet => {
                    let _ = multi.println(format!("failed: {entity} {id}: {reason}"));
                }
                _ => {}
            }
        }
        for b in bars.values() {
            b.finish();
        }
        run_id
    })
}

fn print_report(r: &RunReport, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(r).expect("report serialises")
        );
        return;
    }
    eprintln!("run {}: {} in {:.1}s", r.run_id, r.state, r.seconds);
    for (e, c) in &r.entities {
        let extra = r
            .would_write
            .get(e)
            .map(|n| format!(", would write {n}"))
            .unwrap_or_default();
        eprintln!(
            "  {e:>18}: read {}, written {}, skipped {}, failed {}{extra}",
            c.read, c.written, c.skipped, c.failed
        );
    }
    for f in r.failures.iter().take(20) {
        eprintln!("  failed {} {}: {}", f.entity, f.id, f.reason);
    }
    for n in &r.mapping_notes {
        eprintln!("  {}", n.sentence());
        for e in n.examples.iter().take(5) {
            eprintln!("      {e}");
        }
        if n.count as usize > n.examples.len().min(5) {
            eprintln!(
                "      (and {} more; `--json` lists up to 20)",
                n.count as usize - n.examples.len().min(5)
            );
        }
    }
    if let Some(s) = &r.sync {
        eprintln!("  sync: {}", sync_words(s));
    }
}

/// A sync's standing in one line: passes, watermark, lag, what waits; after a switch, who
/// still writes to the source; once finished, the cut-over.
fn sync_words(s: &migrator_engine::SyncStatus) -> String {
    let mut words = format!(
        "{} passes, copied up to {}, {} behind, {} waiting to settle ({} still open)",
        s.passes,
        s.watermark.as_deref().unwrap_or("(nothing yet)"),
        s.lag_seconds
            .map_or("?".to_string(), |l| format!("{l:.0} s")),
        s.waiting,
        s.waiting_open
    );
    if let Some(at) = &s.switched_at {
        words.push_str(&format!(
            "; switched at {at}, still receiving from {} sender(s){}",
            s.senders.len(),
            s.quiet_since
                .as_ref()
                .map(|q| format!(", quiet since {q}"))
                .unwrap_or_default()
        ));
    }
    if let Some(c) = &s.cut_over {
        words.push_str(&format!("; cut over at {}: {}", c.at, c.validation_summary));
    } else if s.finishing {
        words.push_str("; finishing");
    }
    words
}

async fn with_progress<F, Fut>(json: bool, f: F) -> (Result<RunReport, EngineError>, Option<String>)
where
    F: FnOnce(mpsc::UnboundedSender<ProgressEvent>, RunControl) -> Fut,
    Fut: std::future::Future<Output = Result<RunReport, EngineError>>,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let ui = spawn_progress(rx, json);
    let control = RunControl::new();
    let c = control.clone();
    tokio::spawn(async move {
        stop_requested().await;
        eprintln!("cancelling: letting requests in flight (and a sync's pass) finish…");
        c.cancel();
    });
    let result = f(tx, control).await;
    let run_id = ui.await.unwrap_or(None);
    (result, run_id)
}

/// Ctrl-C, or SIGTERM (a service manager or `kill` stopping the process).
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn finish(result: Result<RunReport, EngineError>, run_id: Option<String>, json: bool) -> ExitCode {
    match result {
        Ok(r) => {
            print_report(&r, json);
            if r.failed_total() == 0
                && matches!(
                    r.state,
                    migrator_engine::RunState::Completed | migrator_engine::RunState::DryRun
                )
            {
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
            if let Some(id) = run_id {
                eprintln!("the run can be continued with: langfuse-migrator-cli resume {id}");
            }
            ExitCode::from(2)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    migrator_engine::tune_allocator();
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            plan,
            data_dir,
            dry_run,
            json,
        } => {
            let plan = match Plan::load(&plan) {
                Ok(p) => p,
                Err(e) => return finish(Err(e), None, json),
            };
            let dir = data_dir.unwrap_or_else(default_data_dir);
            let (r, id) = with_progress(json, |tx, control| async move {
                migrator_engine::run(plan, &dir, tx, control, dry_run).await
            })
            .await;
            finish(r, id, json)
        }
        Command::Sync {
            plan,
            data_dir,
            poll,
            settle,
            lookback,
            until_idle,
            drain,
            cloud_share,
            json,
        } => {
            let mut plan = match Plan::load(&plan) {
                Ok(p) => p,
                Err(e) => return finish(Err(e), None, json),
            };
            if let Some(percent) = cloud_share {
                migrator_engine::live_sync::share_cloud_limits(&mut plan, percent);
            }
            let settings = migrator_engine::SyncSettings {
                poll_secs: poll,
                settle_secs: settle,
                lookback_secs: lookback,
                until_idle_secs: until_idle,
                drain_secs: drain,
            };
            let dir = data_dir.unwrap_or_else(default_data_dir);
            let (r, id) = with_progress(json, |tx, control| async move {
                migrator_engine::sync(plan, &dir, settings, tx, control).await
            })
            .await;
            finish(r, id, json)
        }
        Command::Resume {
            run_id,
            data_dir,
            plan,
            json,
        } => {
            let plan = match plan.map(|p| Plan::load(&p)).transpose() {
                Ok(p) => p,
                Err(e) => return finish(Err(e), Some(run_id), json),
            };
            let dir = data_dir.unwrap_or_else(default_data_dir);
            let id = run_id.clone();
            let (r, _) = with_progress(json, |tx, control| async move {
                migrator_engine::resume(&id, &dir, plan, Secrets::default(), tx, control).await
            })
            .await;
            finish(r, Some(run_id), json)
        }
        Command::Finish(a) => {
            let (run_id, dir, json) = a.parts();
            if let Err(e) = migrator_engine::request_finish(&dir, &run_id) {
                return finish(Err(e), Some(run_id), json);
            }
            let running = migrator_engine::list_runs(&dir)
                .map(|runs| runs.iter().any(|r| r.run_id == run_id && r.locked))
                .unwrap_or(false);
            if running {
                eprintln!(
                    "asked sync {run_id} to finish: after its pass it runs a last one, validates the whole window and is cut over (see `runs`)"
                );
                if json {
                    println!(
                        "{}",
                        serde_json::json!({ "run_id": run_id, "finishing": true })
                    );
                }
                return ExitCode::SUCCESS;
            }
            let id = run_id.clone();
            let (r, _) = with_progress(json, |tx, control| async move {
                migrator_engine::resume(&id, &dir, None, Secrets::default(), tx, control).await
            })
            .await;
            finish(r, Some(run_id), json)
        }
        Command::CopyBack(a) => {
            let (run_id, dir, json) = a.parts();
            let plan = match migrator_engine::copy_back_plan(&dir, &run_id) {
                Ok(p) => p,
                Err(e) => return finish(Err(e), None, json),
            };
            let (r, id) = with_progress(json, |tx, control| async move {
                migrator_engine::run(plan, &dir, tx, control, false).await
            })
            .await;
            finish(r, id, json)
        }
        Command::CopyMissing(a) => copy_missing_cmd::run(a).await,
        Command::Runs { data_dir, json } => {
            let dir = data_dir.unwrap_or_else(default_data_dir);
            match migrator_engine::list_runs(&dir) {
                Ok(runs) if json => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&runs).expect("runs serialise")
                    );
                    ExitCode::SUCCESS
                }
                Ok(runs) => {
                    if runs.is_empty() {
                        println!("no runs in {}", dir.display());
                    }
                    for r in runs {
                        let totals = r.entities.values().fold((0, 0, 0), |a, c| {
                            (a.0 + c.written, a.1 + c.skipped, a.2 + c.failed)
                        });
                        println!(
                            "{}  {:<24} {}{} → {}  written {} skipped {} failed {}{}",
                            r.run_id,
                            r.state_words(),
                            if r.dry_run { "(dry run) " } else { "" },
                            r.source,
                            r.target,
                            totals.0,
                            totals.1,
                            totals.2,
                            r.sync
                                .as_ref()
                                .map(|s| format!("  (sync: {})", sync_words(s)))
                                .unwrap_or_default()
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Validate(a) => validate_cmd::run(a).await,
        Command::Rollback(a) => rollback_cmd::run(a).await,
        Command::Cutover(a) => cutover_cmd::cutover(a),
        Command::CutoverRestore(a) => cutover_cmd::restore(a),
        Command::CheckApp(a) => check_app_cmd::run(a).await,
        Command::Preflight { plan } => {
            let plan = match Plan::load(&plan) {
                Ok(p) => p,
                Err(e) => return finish(Err(e), None, false),
            };
            match migrator_engine::preflight(&plan).await {
                Ok(r) => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&r).expect("report serialises")
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
