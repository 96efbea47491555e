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
use crate::trace_scope::{TraceScoped, TraceSelection};
use crate::validate::run::{Context, IdMaps, Sides, set_apart_conflicts};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One object the target holds with other content under the same id (or key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub entity: Entity,
    /// The source object's id (its natural key where the target assigns ids).
    pub id: String,
    /// The fields that differ, as paths (`input`, `metadata.user`).
    pub fields: Vec<String>,
}

impl Conflict {
    /// A plain sentence for reports and the journal.
    pub fn reason(&self) -> String {
        format!(
            "the target already holds another {} under this id, which differs in {}; the run left it as it was: keep the target's, or delete it there and copy again",
            self.entity.as_str().trim_end_matches('s').replace('_', " "),
            if self.fields.is_empty() {
                "its content".to_string()
            } else {
                self.fields.join(", ")
            }
        )
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
    let context = Context::new(source_reader.generation(), target_reader.generation());
    let mut ids = match journal {
        Some(j) => IdMaps::from_journal(j)?,
        None => IdMaps::empty(),
    };
    let sides = Sides {
        source: source_reader.as_ref(),
        target: target_reader.as_ref(),
        journal,
        scope: &plan.scope,
        slice_objects: 10_000,
        sample: None,
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
        let Some((mut rec, _)) = sides
            .compare(entity, &context, &mut ids, &mut notes, &|_| {})
            .await?
        else {
            continue;
        };
        set_apart_conflicts(&mut rec, Some(wanted));
        out.extend(rec.conflicts.into_iter().map(|d| Conflict {
            entity,
            id: d.id,
            fields: d.fields.into_iter().map(|f| f.path).collect(),
        }));
    }
    Ok(out)
}
