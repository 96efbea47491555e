//! The `.env` cutover tied to a run: write the run's target (host, public key, secret key) into
//! an application's `.env` file and restore it later. The run's journal records only the paths
//! and hashes ([`CutoverRecord`]); secrets never enter it.

pub mod env_file;

use crate::after_run::reconnect::with_secret;
use crate::run::journal::Journal;
use crate::run::plan::EndpointSpec;
use crate::run::runner::Secrets;
use crate::vocab::time::now_iso_secs;
use crate::vocab::{EngineError, ExposeSecret};
use env_file::{CutoverChange, CutoverError, CutoverRecord, CutoverValues};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const CUTOVER_META: &str = "cutover";

/// The cutover of a run as kept in its journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutoverStatus {
    pub record: CutoverRecord,
    pub applied_at: String,
    /// Set once the original file was put back.
    pub restored_at: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CutoverRunError {
    #[error("{0}")]
    Engine(#[from] EngineError),
    #[error("{0}")]
    File(#[from] CutoverError),
    #[error(
        "Run {0} wrote into an archive folder; there is no Langfuse project to point an application at."
    )]
    ArchiveTarget(String),
    #[error("Run {0} has no .env cutover to restore.")]
    NothingToRestore(String),
    #[error(
        "The record of run {0}'s .env cutover is damaged, so it cannot tell what to restore; its backup next to the .env file (named with the run id) still holds the earlier bytes."
    )]
    DamagedStatus(String),
    #[error("Run {run} already has a cutover of {path} that was not restored; restore it first.")]
    AlreadyApplied { run: String, path: String },
}

fn target_values(
    journal: &Journal,
    run_id: &str,
    secrets: &Secrets,
) -> Result<CutoverValues, CutoverRunError> {
    let plan = journal.plan()?;
    match with_secret(&plan.target, secrets.target.as_ref()) {
        EndpointSpec::Langfuse(l) => Ok(CutoverValues {
            host: l.url.clone(),
            public_key: l.public_key.clone(),
            secret_key: l.resolve_secret()?.expose_secret().to_string(),
        }),
        EndpointSpec::Archive { .. } | EndpointSpec::Langsmith(_) => {
            Err(CutoverRunError::ArchiveTarget(run_id.to_string()))
        }
    }
}

/// The recorded cutover of a run, if any.
pub fn cutover_status(
    run_id: &str,
    data_dir: &Path,
) -> Result<Option<CutoverStatus>, CutoverRunError> {
    let journal = Journal::open(data_dir, run_id)?;
    status(&journal, run_id)
}

/// A status that cannot be read is an error: read as "no cutover", it would allow a second
/// apply over the first and hide the backup that holds the earlier bytes.
fn status(journal: &Journal, run_id: &str) -> Result<Option<CutoverStatus>, CutoverRunError> {
    journal
        .meta(CUTOVER_META)?
        .map(|t| {
            serde_json::from_str(&t).map_err(|_| CutoverRunError::DamagedStatus(run_id.into()))
        })
        .transpose()
}

/// Keeps the cutover's status (paths and hashes only) in the run and logs what happened.
fn record_status(journal: &Journal, s: &CutoverStatus, what: &str) -> Result<(), EngineError> {
    journal.set_meta(
        CUTOVER_META,
        &serde_json::to_string(s).expect("status serialises"),
    )?;
    journal.log(
        "info",
        &format!("cutover: {} {what}", s.record.env_path.display()),
    )
}

/// The lines the cutover would change in `env_path` (the secret masked), without writing.
pub fn cutover_preview(
    run_id: &str,
    data_dir: &Path,
    env_path: &Path,
    secrets: &Secrets,
) -> Result<Vec<CutoverChange>, CutoverRunError> {
    let journal = Journal::open(data_dir, run_id)?;
    let values = target_values(&journal, run_id, secrets)?;
    Ok(env_file::preview(env_path, &values)?)
}

/// Writes the run's target into `env_path` (backup kept next to it) and records it in the run.
pub fn cutover_apply(
    run_id: &str,
    data_dir: &Path,
    env_path: &Path,
    secrets: &Secrets,
) -> Result<CutoverStatus, CutoverRunError> {
    let journal = Journal::open(data_dir, run_id)?;
    if let Some(s) = status(&journal, run_id)?
        && s.restored_at.is_none()
    {
        return Err(CutoverRunError::AlreadyApplied {
            run: run_id.to_string(),
            path: s.record.env_path.display().to_string(),
        });
    }
    let values = target_values(&journal, run_id, secrets)?;
    let record = env_file::apply(env_path, &values, run_id)?;
    let s = CutoverStatus {
        record,
        applied_at: now_iso_secs(),
        restored_at: None,
    };
    record_status(&journal, &s, "now points at the target")?;
    // A live sync follows the switch: its drain starts here.
    if crate::run::sync::status::is_sync(&journal)? {
        crate::run::sync::drain::switched_in(&journal, chrono::Utc::now())?;
    }
    Ok(s)
}

/// Puts the `.env` file of the run's cutover back byte for byte. Refuses when it was edited
/// since the cutover, unless `force`.
pub fn cutover_restore(
    run_id: &str,
    data_dir: &Path,
    force: bool,
) -> Result<CutoverStatus, CutoverRunError> {
    let journal = Journal::open(data_dir, run_id)?;
    restore_in(&journal, run_id, force)
}

pub(crate) fn restore_in(
    journal: &Journal,
    run_id: &str,
    force: bool,
) -> Result<CutoverStatus, CutoverRunError> {
    let mut s = match status(journal, run_id)? {
        Some(s) if s.restored_at.is_none() => s,
        _ => return Err(CutoverRunError::NothingToRestore(run_id.to_string())),
    };
    env_file::restore(&s.record, force)?;
    s.restored_at = Some(now_iso_secs());
    record_status(journal, &s, "is restored")?;
    if crate::run::sync::status::is_sync(journal)? {
        crate::run::sync::drain::switched_back_in(journal, chrono::Utc::now())?;
    }
    Ok(s)
}
