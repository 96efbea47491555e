//! The run machinery: a plan, its journal, the streaming pipeline per entity, the runner that
//! orders the phases, pause/cancel, progress events, and the trace-name/tag scope.
//!
//! A live-sync loop (copying what arrives after a run, again and again) belongs here, next to
//! the runner it would drive: `run/sync.rs` or `run/sync/`.

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
pub mod run_lock;
pub(crate) mod runner;
pub mod trace_scope;
