//! The run machinery: a plan, its journal, the streaming pipeline per entity, the runner that
//! orders the phases, pause/cancel, progress events, and the trace-name/tag scope.
//!
//! The live sync (backfill, then copy what arrives, pass after pass) is `sync/`; it drives the
//! runner's phases with a moving window.

pub mod alloc;
pub mod conflict_check;
pub mod control;
pub mod eta;
pub mod journal;
pub mod media_copy;
pub(crate) mod pipeline;
pub mod plan;
pub mod progress;
pub(crate) mod prompt_identity;
pub(crate) mod remarks;
pub mod run_lock;
pub(crate) mod runner;
pub mod sync;
pub mod trace_scope;
