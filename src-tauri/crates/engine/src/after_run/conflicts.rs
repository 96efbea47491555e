//! Same id, different object: the target holds, under a source object's id (or, where the
//! target assigns ids, its natural key), an object with other content. Such an object is not
//! "already copied": it is a conflict, named in pre-flight, the run report and validation, and
//! the user decides which one stays. Found by comparing both sides the way validation does,
//! for the keys the target holds (pre-flight) or held before the run (run report).

use crate::error::EngineError;
use crate::journal::Journal;
use crate::model::Entity;
use crate::plan::Plan;
use crate::reconnect::Side;
use crate::run::conflict_check::FindConflicts;
use crate::trace_scope::{TraceScoped, TraceSelection};
use crate::validate::run::{Compare, Context, IdMaps, set_apart_conflicts};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub use crate::vocab::conflict::Conflict;

/// Finds conflicts the way validation compares (what the run asks for through
/// [`FindConflicts`]).
pub struct ByComparison;

#[async_trait::async_trait]
impl FindConflicts for ByComparison {
    async fn find(
        &self,
        plan: &Plan,
        journal: Option<&Journal>,
        keys: &HashMap<Entity, HashSet<String>>,
    ) -> Result<Vec<Conflict>, EngineError> {
        find(plan, journal, keys).await
    }
}

/// Compares source and target for `keys` (per entity, the target's keys to look at) and returns
/// those that hold other content in the target. `plan` must carry both sides' secrets.
pub(crate) async fn find(
    plan: &Plan,
    journal: Option<&Journal>,
    keys: &HashMap<Entity, HashSet<String>>,
) -> Result<Vec<Conflict>, EngineError> {
    if keys.values().all(HashSet::is_empty) {
        return Ok(vec![]);
    }
    let source = Side::open(&plan.source, plan).await?;
    let target = Side::open(&plan.target, plan).await?;
    let (mut source_reader, mut target_reader) = (source.reader(), target.reader());
    if crate::trace_scope::filters_traces(&plan.scope) {
        let chosen = Arc::new(TraceSelection::of(source_reader.as_ref(), &plan.scope).await?);
        source_reader = Arc::new(TraceScoped::new(source_reader, chosen.clone()));
        target_reader = Arc::new(TraceScoped::new(target_reader, chosen));
    }
    let context = Context::new(
        source_reader.payloads().dialect,
        target_reader.payloads().dialect,
    );
    let mut ids = match journal {
        Some(j) => IdMaps::from_journal(j)?,
        None => IdMaps::empty(),
    };
    let compare = Compare {
        source: source_reader.as_ref(),
        target: target_reader.as_ref(),
        scope: &plan.scope,
        journal,
        context,
        slice_objects: 10_000,
        sample: None,
        progress: &|_| {},
    };
    let mut out = vec![];
    let mut notes = vec![];
    for entity in crate::runner::PHASES {
        let Some(wanted) = keys.get(&entity).filter(|k| !k.is_empty()) else {
            continue;
        };
        if !source_reader.supports(entity) {
            continue;
        }
        let Some((mut rec, _)) = compare.entity(entity, &mut ids, &mut notes).await? else {
            continue;
        };
        set_apart_conflicts(&mut rec, Some(wanted));
        out.extend(rec.conflicts.into_iter().filter_map(|d| {
            let fields: Vec<String> = d
                .fields
                .into_iter()
                .map(|f| f.path)
                .filter(|p| !never_copied(entity, p))
                .collect();
            (!fields.is_empty()).then_some(Conflict {
                entity,
                id: d.id,
                fields,
            })
        }));
    }
    Ok(out)
}

/// Fields no copy can carry, so a difference in them alone does not make the target's object
/// another one: an LLM connection's extra headers (their values are never readable; the run
/// report names them as a manual step and validation shows them missing).
fn never_copied(entity: Entity, path: &str) -> bool {
    entity == Entity::LlmConnections && path.starts_with("extraHeaderKeys")
}
