//! "Copy what is missing (N)": the objects a run's last validation found missing in the target
//! (after a sync's Finish, an object that arrived later than the lookback) are copied through the
//! run's own journal, then the run is validated again (`migrator_engine::copy_missing`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use migrator_engine::progress::FnSink;
use migrator_engine::{CopyMissingReport, ProgressEvent, RunControl, ValidateOptions};
use serde::Serialize;
use tauri::State;
use tauri::ipc::Channel;
use ts_rs::TS;

use super::after::{StepEvent, send_validation_step};
use super::validation_views::ValidationView;
use super::{MigrationError, Migrations, Result, run_secrets};
use crate::AppState;
use crate::progress::{RunEvent, RunStream};

/// What a copy of the missing objects did, and the validation after it.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CopyMissingView {
    /// Ids the last validation named missing.
    #[ts(type = "number")]
    pub asked: u64,
    /// Objects written now (a missing trace brings its observations and scores).
    #[ts(type = "number")]
    pub copied: u64,
    /// Asked ids the source no longer handed over.
    #[ts(type = "number")]
    pub not_found: u64,
    /// Objects the target refused now.
    #[ts(type = "number")]
    pub failed: u64,
    pub validation: ValidationView,
}

impl From<&CopyMissingReport> for CopyMissingView {
    fn from(r: &CopyMissingReport) -> Self {
        CopyMissingView {
            asked: r.asked.values().sum(),
            copied: r.copied.values().sum(),
            not_found: r.not_found.values().map(|ids| ids.len() as u64).sum(),
            failed: r.failed,
            validation: ValidationView::from(&r.validation),
        }
    }
}

fn written(event: &ProgressEvent) -> Option<u64> {
    match event {
        ProgressEvent::Progress { entities, .. } => {
            Some(entities.iter().map(|e| e.counts.written).sum())
        }
        _ => None,
    }
}

/// Copies what the run's last validation found missing, then validates it again. Steps arrive
/// on `on_event`: the copy's progress, then the validation's.
#[tauri::command]
pub async fn copy_missing(
    app: State<'_, Arc<AppState>>,
    migrations: State<'_, Arc<Migrations>>,
    run_id: String,
    on_event: Channel<RunEvent<StepEvent>>,
) -> Result<CopyMissingView> {
    if migrations.hub.is_live(&run_id) {
        return Err(MigrationError::AlreadyRunning);
    }
    let secrets = run_secrets(&app, &migrations, &run_id).await?;
    let options = ValidateOptions {
        secrets,
        ..ValidateOptions::default()
    };
    let stream = Arc::new(Mutex::new(RunStream::new(
        on_event,
        Duration::from_millis(150),
    )));
    let copying = Arc::clone(&stream);
    let sink = FnSink(move |e: ProgressEvent| {
        if let Some(n) = written(&e) {
            copying.lock().unwrap().send_throttled(StepEvent {
                message: format!("Copying what is missing: {n} written"),
                fraction: None,
            });
        }
    });
    let report = migrator_engine::copy_missing(
        &run_id,
        &migrations.data_dir,
        &options,
        sink,
        RunControl::new(),
        &|p| send_validation_step(&stream, &p),
    )
    .await
    .map_err(|e| MigrationError::Failed(e.to_string()))?;
    Ok(CopyMissingView::from(&report))
}
