//! Typed progress: counters shared by the pipeline and throttled snapshot events for the UI and
//! the CLI's progress bars.

use crate::vocab::{Entity, RunState};
// Where these lived before the vocabulary had a folder of its own.
pub use crate::vocab::{Counters, EntityCounts};
use serde::{Deserialize, Serialize};

/// Progress of one entity in a snapshot.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EntityProgress {
    pub entity: Entity,
    #[serde(flatten)]
    pub counts: EntityCounts,
    /// Expected total from the pre-flight count, when known.
    pub expected: Option<u64>,
    /// Objects handled (written + skipped + failed) per second over the last interval.
    pub per_second: f64,
    /// Estimated seconds left for this entity, when the total is known.
    pub eta_seconds: Option<f64>,
}

/// Events a run emits. Serialisable for the app's frontend.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProgressEvent {
    RunStarted {
        run_id: String,
        resumed: bool,
    },
    PhaseStarted {
        entity: Entity,
    },
    /// Throttled snapshot (at most a few per second).
    Progress {
        run_id: String,
        entities: Vec<EntityProgress>,
        retries: u64,
        rate_limit_waits: u64,
        concurrency: usize,
        paused: bool,
    },
    Warning {
        message: String,
    },
    ObjectFailed {
        entity: Entity,
        id: String,
        reason: String,
    },
    RunFinished {
        run_id: String,
        state: RunState,
    },
    /// A live sync finished a pass (as journaled), with what still waits to settle.
    SyncPassEnded {
        run_id: String,
        pass: crate::run::sync::status::SyncPass,
        waiting: u64,
        waiting_open: u64,
        /// Who still writes to the source since the switch (empty before a switch).
        senders: Vec<crate::run::sync::drain::SenderSeen>,
        /// When the source last showed something new.
        quiet_since: Option<String>,
    },
}

/// Where progress goes. Implemented for tokio channels and closures.
pub trait ProgressSink: Send + Sync + 'static {
    fn emit(&self, event: ProgressEvent);
}

impl ProgressSink for tokio::sync::mpsc::UnboundedSender<ProgressEvent> {
    fn emit(&self, event: ProgressEvent) {
        let _ = self.send(event);
    }
}

impl ProgressSink for tokio::sync::mpsc::Sender<ProgressEvent> {
    fn emit(&self, event: ProgressEvent) {
        // Never block the pipeline on a slow UI: drop a snapshot rather than wait.
        let _ = self.try_send(event);
    }
}

/// Discards events.
pub struct NoProgress;
impl ProgressSink for NoProgress {
    fn emit(&self, _: ProgressEvent) {}
}

pub struct FnSink<F: Fn(ProgressEvent) + Send + Sync + 'static>(pub F);
impl<F: Fn(ProgressEvent) + Send + Sync + 'static> ProgressSink for FnSink<F> {
    fn emit(&self, event: ProgressEvent) {
        (self.0)(event)
    }
}
