//! `langfuse-migrator-cli cutover RUN_ID --env FILE` points an application's `.env` file at the
//! run's target (host, public key and secret key; a backup is kept next to the file), and
//! `cutover-restore RUN_ID` puts the original back byte for byte.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct CutoverArgs {
    run_id: String,
    /// The application's .env file.
    #[arg(long)]
    env: PathBuf,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Write without asking (the target's secret key goes into the file).
    #[arg(long)]
    yes: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RestoreArgs {
    run_id: String,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Restore even if the file was edited after the cutover (those edits are lost).
    #[arg(long)]
    force: bool,
    #[arg(long)]
    json: bool,
}

fn done(value: serde_json::Value, as_json: bool, message: String) -> ExitCode {
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("serialises")
        );
    }
    eprintln!("{message}");
    ExitCode::SUCCESS
}

fn fail(e: impl std::fmt::Display, as_json: bool) -> ExitCode {
    if as_json {
        println!("{}", serde_json::json!({ "error": e.to_string() }));
    }
    eprintln!("error: {e}");
    ExitCode::from(2)
}

pub fn cutover(a: CutoverArgs) -> ExitCode {
    let dir = a.data_dir.unwrap_or_else(super::default_data_dir);
    let secrets = migrator_engine::Secrets::default();
    let changes = match migrator_engine::cutover_preview(&a.run_id, &dir, &a.env, &secrets) {
        Ok(c) => c,
        Err(e) => return fail(e, a.json),
    };
    eprintln!(
        "{} will change (a backup is kept next to it):",
        a.env.display()
    );
    for c in &changes {
        let at = c
            .line
            .map(|l| format!("line {l}"))
            .unwrap_or_else(|| "added".into());
        eprintln!(
            "  {} ({at}): {} -> {}",
            c.variable,
            c.old_value.as_deref().unwrap_or("(unset)"),
            c.new_value
        );
    }
    eprintln!("The target's secret key will be written into this file, in plain text.");
    if !a.yes {
        eprintln!("Not confirmed: nothing was written. Run again with --yes to write it.");
        return ExitCode::from(3);
    }
    match migrator_engine::cutover_apply(&a.run_id, &dir, &a.env, &secrets) {
        Ok(s) => done(
            serde_json::to_value(&s).expect("serialises"),
            a.json,
            format!(
                "{} now points at the run's target; undo with: langfuse-migrator-cli cutover-restore {}",
                s.record.env_path.display(),
                a.run_id
            ),
        ),
        Err(e) => fail(e, a.json),
    }
}

pub fn restore(a: RestoreArgs) -> ExitCode {
    let dir = a.data_dir.unwrap_or_else(super::default_data_dir);
    match migrator_engine::cutover_restore(&a.run_id, &dir, a.force) {
        Ok(s) => done(
            serde_json::to_value(&s).expect("serialises"),
            a.json,
            format!(
                "{} is restored to its original bytes",
                s.record.env_path.display()
            ),
        ),
        Err(e) => fail(e, a.json),
    }
}
