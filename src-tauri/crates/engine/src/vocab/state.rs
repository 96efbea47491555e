//! The states of a run and of each object in it, as the journal keeps them.

use super::error::EngineError;
use serde::{Deserialize, Serialize};

/// A word this version never wrote: the journal comes from a newer version.
fn newer(what: &str, value: &str) -> EngineError {
    EngineError::NewerJournal {
        what: what.to_owned(),
        value: value.to_owned(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectState {
    /// Read and waiting (e.g. in a dry run: would be written).
    Pending,
    /// A request carrying it was (or is about to be) sent; outcome not yet known.
    Sent,
    Confirmed,
    SkippedExisting,
    Failed,
    /// The target held another object under its id (or key) before the run: not written,
    /// not skipped as "already there"; the user decides.
    Conflict,
}

impl ObjectState {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectState::Pending => "pending",
            ObjectState::Sent => "sent",
            ObjectState::Confirmed => "confirmed",
            ObjectState::SkippedExisting => "skipped_existing",
            ObjectState::Failed => "failed",
            ObjectState::Conflict => "conflict",
        }
    }
    /// A state this version wrote; anything else is a newer journal, never a guess.
    pub(crate) fn parse(s: &str) -> Result<ObjectState, EngineError> {
        Ok(match s {
            "pending" => ObjectState::Pending,
            "conflict" => ObjectState::Conflict,
            "sent" => ObjectState::Sent,
            "confirmed" => ObjectState::Confirmed,
            "skipped_existing" => ObjectState::SkippedExisting,
            "failed" => ObjectState::Failed,
            _ => return Err(newer("the object state", s)),
        })
    }
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ObjectState::Confirmed
                | ObjectState::SkippedExisting
                | ObjectState::Failed
                | ObjectState::Conflict
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    Completed,
    CompletedWithFailures,
    Cancelled,
    Failed,
    DryRun,
}

/// How a person reads the state (CLI listings, messages).
impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            // The journal cannot tell a live run from one whose process died.
            RunState::Running => "running or interrupted",
            RunState::Completed => "completed",
            RunState::CompletedWithFailures => "completed with failures",
            RunState::Cancelled => "cancelled",
            RunState::Failed => "failed",
            RunState::DryRun => "dry run",
        })
    }
}

impl RunState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Completed => "completed",
            RunState::CompletedWithFailures => "completed_with_failures",
            RunState::Cancelled => "cancelled",
            RunState::Failed => "failed",
            RunState::DryRun => "dry_run",
        }
    }
    pub(crate) fn parse(s: &str) -> Result<RunState, EngineError> {
        Ok(match s {
            "running" => RunState::Running,
            "completed" => RunState::Completed,
            "completed_with_failures" => RunState::CompletedWithFailures,
            "cancelled" => RunState::Cancelled,
            "failed" => RunState::Failed,
            "dry_run" => RunState::DryRun,
            _ => return Err(newer("the run state", s)),
        })
    }
}
