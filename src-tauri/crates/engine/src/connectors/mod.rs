//! Connectors: the two sides of a migration. [`traits`] says what a source and a target can do;
//! each platform has a folder of its own that implements the traits it can:
//!
//! - [`langfuse`]: a Langfuse project over HTTP (v2, v3, v4; reads, ingestion, OTLP, REST,
//!   experiments, generation detection);
//! - [`archive`]: a folder of gzip JSON Lines files with a manifest;
//! - [`langsmith`]: a LangSmith workspace as a source (runs, feedback, datasets, experiments,
//!   prompts).
//!
//! [`http`] is the transport every HTTP platform shares (budget, concurrency, retries);
//! [`tls`] trusts a private CA file and names certificate problems.
//! Connectors use the vocabulary below them and nothing of the run machinery above them.

pub mod archive;
pub mod http;
pub mod langfuse;
pub mod langsmith;
pub mod media;
pub mod tls;
pub mod traits;

pub use traits::{
    ExistingKey, Page, SourceConnector, TargetConnector, TargetPromptVersion, WriteOutcome,
    for_each_existing_key_page, for_each_page,
};
