//! How the run asks which of the target's objects hold other content than the source's under
//! the same id. The comparison itself belongs to validation (a later layer), so the run takes it
//! as a parameter; the crate's entry points pass `after_run::conflicts::ByComparison`.

use crate::run::journal::Journal;
use crate::run::plan::Plan;
use crate::vocab::conflict::Conflict;
use crate::vocab::{EngineError, Entity};
use std::collections::{HashMap, HashSet};

#[async_trait::async_trait]
pub trait FindConflicts: Send + Sync {
    /// Of `keys` (per entity, the target's keys to look at), those whose object in the target
    /// differs from the source's. With the run's `journal`, references are mapped back first.
    async fn find(
        &self,
        plan: &Plan,
        journal: Option<&Journal>,
        keys: &HashMap<Entity, HashSet<String>>,
    ) -> Result<Vec<Conflict>, EngineError>;
}
