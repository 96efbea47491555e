//! The migration engine: connectors, journal, pipeline. No Tauri dependency.
//!
//! Entry points for the app and the CLI: [`preflight`], [`run`], [`resume`], [`list_runs`],
//! [`check_connection`]; progress arrives as [`ProgressEvent`]s through a [`ProgressSink`]; a
//! [`RunControl`] pauses, resumes and cancels. See README.md for the module map and invariants.

mod alloc;
pub mod archive;
pub mod connector;
pub mod control;
pub mod cutover;
pub mod error;
pub mod filter;
pub mod http;
pub mod journal;
pub mod langfuse;
pub mod model;
pub mod otlp;
mod pipeline;
pub mod plan;
pub mod profile;
pub mod progress;
mod runner;
pub mod validate;

pub use alloc::tune_allocator;
pub use control::RunControl;
pub use error::{ConnectionError, EngineError};
pub use journal::{Journal, ObjectRow, ObjectState, RunState};
pub use langfuse::{Capabilities, ConnectionInfo, check_connection};
pub use model::{Entity, Generation};
pub use plan::{EndpointSpec, LangfuseEndpoint, OnExisting, Options, Plan, Scope, Secret};
pub use progress::{EntityCounts, EntityProgress, NoProgress, ProgressEvent, ProgressSink};
pub use runner::{
    EndpointReport, FailedObject, PHASES, PreflightReport, RunReport, RunSummary, Secrets,
    list_runs, preflight, resume, run,
};
