//! LangSmith as a source: runs (whole trees), feedback, feedback configs, datasets, examples,
//! experiments and prompt commits, mapped onto Langfuse's shapes. The mapping table is in the
//! engine README ("LangSmith → Langfuse").
//!
//! - [`endpoint`]: what a plan says (`kind = "langsmith"`);
//! - [`source`]: the connection and one page at a time of each entity, within LangSmith's limits;
//! - [`runs`], [`others`], [`template`]: the mapping, as pure functions;
//! - [`ids`]: the deterministic ids that make a re-run write nothing;
//! - [`preview`]: one sample trace before and after the mapping, for the plan.

mod connector;
pub mod endpoint;
pub mod export;
pub mod export_counts;
mod export_reads;
mod feedback_configs;
pub mod follow;
pub mod ids;
pub mod others;
pub mod preflight;
pub mod preview;
pub mod runs;
pub mod source;
pub mod template;
pub mod tree;
mod tree_stream;

pub use endpoint::LangsmithEndpoint;
pub use source::{LangSmith, LangsmithInfo, ProjectInfo};
