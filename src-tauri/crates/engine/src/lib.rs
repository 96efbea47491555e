//! The migration engine: connectors, journal, pipeline. No Tauri dependency.
//!
//! Entry points for the app and the CLI: [`preflight`], [`run`], [`resume`], [`list_runs`],
//! [`check_connection`]; after a run: [`validate_run`], [`rollback_preview`], [`rollback`] and
//! the `.env` cutover ([`cutover_apply`], [`cutover_restore`]); progress arrives as [`ProgressEvent`]s through a [`ProgressSink`]; a
//! [`RunControl`] pauses, resumes and cancels. See README.md for the module map and invariants.

mod alloc;
pub mod archive;
pub mod connector;
pub mod control;
pub mod cutover;
pub mod cutover_run;
pub mod error;
pub mod experiments;
pub mod filter;
pub mod http;
pub mod journal;
pub mod langfuse;
pub mod media;
pub mod model;
pub mod otlp;
mod pipeline;
pub mod plan;
pub mod profile;
pub mod progress;
mod reconnect;
pub mod rollback;
mod runner;
pub mod trace_scope;
pub mod validate;

pub use alloc::tune_allocator;
pub use control::RunControl;
pub use cutover_run::{
    CutoverRunError, CutoverStatus, cutover_apply, cutover_preview, cutover_restore, cutover_status,
};
pub use error::{ConnectionError, EngineError};
pub use journal::{Journal, ObjectRow, ObjectState, RunState};
pub use langfuse::{Capabilities, ConnectionInfo, check_connection};
pub use model::{Entity, Generation};
pub use plan::{EndpointSpec, LangfuseEndpoint, OnExisting, Options, Plan, Scope, Secret};
pub use progress::{EntityCounts, EntityProgress, NoProgress, ProgressEvent, ProgressSink};
pub use rollback::{
    RollbackError, RollbackOptions, RollbackPreview, RollbackProgress, RollbackReport,
    RollbackState, rollback, rollback_preview, rollback_status,
};
pub use runner::{
    EndpointReport, FailedObject, PHASES, PreflightReport, RunReport, RunSummary, Secrets,
    list_runs, preflight, resume, run,
};
pub use validate::{
    ValidateOptions, ValidationError, ValidationProgress, ValidationReport, latest_report,
    validate_run,
};
