//! The migration engine: connectors, journal, pipeline. No Tauri dependency.
//!
//! Entry points for the app and the CLI: [`preflight`], [`run`], [`resume`], [`list_runs`],
//! [`check_connection`]; after a run: [`validate_run`], [`rollback_preview`], [`rollback`] and
//! the `.env` cutover ([`cutover_apply`], [`cutover_restore`]); progress arrives as [`ProgressEvent`]s through a [`ProgressSink`]; a
//! [`RunControl`] pauses, resumes and cancels.
//!
//! The folders, from the bottom up (each uses only those below it; see ARCHITECTURE.md):
//! - [`vocab`]: entities, records, scope, states, counts, keys, rate buckets, errors, secrets;
//! - [`connectors`]: the source/target traits and one folder per platform;
//! - [`run`]: plan, journal, pipeline, runner, control, progress;
//! - [`after_run`]: validation, rollback, `.env` cutover;
//! - [`profile`]: saved connection profiles (stands alone).

pub mod after_run;
pub mod connectors;
pub mod profile;
pub mod readiness;
pub mod run;
pub mod vocab;

// The module paths from before the folders, so code written against them keeps compiling.
pub use after_run::cutover::env_file as cutover;
#[allow(unused_imports)]
pub(crate) use after_run::reconnect;
pub use after_run::{conflicts, cutover as cutover_run, rollback, validate};
pub use connectors::langfuse::{experiments, otlp};
pub use connectors::{self as connector, archive, http, langfuse, langsmith, media};
pub use run::sync::{
    CutOver, Followed, SenderSeen, SyncPass, SyncSettings, SyncStatus, SyncTiming, copy_back_plan,
    mark_switched, mark_switched_back, request_finish,
};
#[allow(unused_imports)]
pub(crate) use run::{alloc, pipeline, runner};
pub use run::{control, eta, journal, plan, progress, sync as live_sync, trace_scope};
pub use vocab::conflict::Conflict;
pub use vocab::{error, filter, model, plain_http, url_credentials};

pub use after_run::copy_missing::{CopyMissingError, CopyMissingReport, copy_missing};
pub use after_run::cutover::{
    CutoverRunError, CutoverStatus, cutover_apply, cutover_preview, cutover_restore, cutover_status,
};
pub use after_run::rollback::{
    RollbackError, RollbackOptions, RollbackPreview, RollbackProgress, RollbackReport,
    RollbackState, rollback, rollback_preview, rollback_status,
};
pub use after_run::validate::{
    ValidateOptions, ValidationError, ValidationProgress, ValidationReport, latest_report,
    validate_run,
};
pub use connectors::langfuse::LangfuseEndpoint;
pub use connectors::langfuse::{Capabilities, ConnectionInfo, check_connection};
pub use connectors::langsmith::{LangsmithEndpoint, LangsmithInfo};
pub use run::alloc::tune_allocator;
pub use run::control::RunControl;
pub use run::journal::Journal;
pub use run::journal::ObjectRow;
pub use run::plan::{EndpointSpec, OnExisting, Options, Plan};
pub use run::progress::{EntityProgress, NoProgress, ProgressEvent, ProgressSink};
pub use run::run_lock::RunLock;
pub use run::runner::{
    EndpointReport, FailedObject, PHASES, PreflightReport, RunReport, RunSummary, Secrets,
    SourceLlmConnection, list_runs,
};
pub use vocab::{
    ConnectionError, EngineError, Entity, EntityCounts, Generation, MappingNote, NoteKind,
    ObjectState, RunState, Scope, Secret,
};

/// Checks both sides of `plan` and what the target already holds, before a run.
pub async fn preflight(plan: &Plan) -> Result<PreflightReport, EngineError> {
    run::runner::preflight(plan, &after_run::conflicts::ByComparison).await
}

/// Starts a new run of `plan`, journaled under `data_dir/runs/<run_id>/`.
pub async fn run(
    plan: Plan,
    data_dir: &std::path::Path,
    sink: impl ProgressSink,
    control: RunControl,
    dry_run: bool,
) -> Result<RunReport, EngineError> {
    run::runner::run(
        plan,
        data_dir,
        sink,
        control,
        dry_run,
        &after_run::conflicts::ByComparison,
    )
    .await
}

/// Starts a live sync of `plan` (journaled like a run): backfill, then copy what arrives at the
/// source, pass after pass, until `control` is cancelled or the source stays idle.
pub async fn sync(
    plan: Plan,
    data_dir: &std::path::Path,
    settings: SyncSettings,
    sink: impl ProgressSink,
    control: RunControl,
) -> Result<RunReport, EngineError> {
    run::sync::sync(
        plan,
        data_dir,
        settings,
        sink,
        control,
        run::sync::Checks {
            conflicts: &after_run::conflicts::ByComparison,
            last: &after_run::validate::final_check::WholeWindow,
        },
    )
    .await
}

/// Continues an interrupted or cancelled run (a sync run goes on following). Refuses when the
/// plan changed since (pass the current plan as `plan` to have it compared; `None` uses the
/// journaled plan).
pub async fn resume(
    run_id: &str,
    data_dir: &std::path::Path,
    plan: Option<Plan>,
    secrets: Secrets,
    sink: impl ProgressSink,
    control: RunControl,
) -> Result<RunReport, EngineError> {
    if run::sync::is_sync_run(data_dir, run_id)? {
        return run::sync::resume(
            run_id,
            data_dir,
            plan,
            secrets,
            sink,
            control,
            run::sync::Checks {
                conflicts: &after_run::conflicts::ByComparison,
                last: &after_run::validate::final_check::WholeWindow,
            },
        )
        .await;
    }
    run::runner::resume(
        run_id,
        data_dir,
        plan,
        secrets,
        sink,
        control,
        &after_run::conflicts::ByComparison,
    )
    .await
}
