//! Copy-back: a rollback of the switch that loses nothing. What the application wrote to the
//! sync's target since the (latest) switch is copied back to the sync's source, as an ordinary
//! run with its own journal, validation and rollback.
//!
//! What the application wrote is what the target's window since the switch holds and the sync
//! did not: every object the sync run carried, saw waiting or found in the target before it
//! started (its journal) is left out, on both sides, so validation compares only the
//! application's objects.

use super::{drain, status};
use crate::connectors::{Page, SourceConnector};
use crate::run::journal::Journal;
use crate::run::plan::{EndpointSpec, Plan};
use crate::vocab::{CopyBackOf, EngineError, Entity, EntitySelection, Scope};
use async_trait::async_trait;
use chrono::Utc;
use rusqlite::params;
use std::path::Path;
use std::sync::Arc;

/// Application clocks may run behind the migrator's: the window starts this much before the
/// switch (objects the sync carried are left out anyway).
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(1);

/// The entities an application writes (and a copy-back brings back).
const WRITTEN_BY_APPS: [Entity; 3] = [Entity::Traces, Entity::Observations, Entity::Scores];

/// The plan of a copy-back of sync run `run_id`: from its target to its source, over
/// `[latest switch, now)`, leaving out what the sync's journal holds.
pub fn copy_back_plan(data_dir: &Path, run_id: &str) -> Result<Plan, EngineError> {
    let journal = Journal::open(data_dir, run_id)?;
    if !status::is_sync(&journal)? {
        return Err(EngineError::InvalidPlan(format!(
            "run {run_id} is not a live sync; a copy-back brings back what an application wrote to a sync's target after the switch"
        )));
    }
    status::ensure_tables(&journal)?;
    let switched = drain::latest_switch(&journal)?.ok_or_else(|| {
        EngineError::InvalidPlan(format!(
            "the application was never switched to run {run_id}'s target, so it wrote nothing there to copy back"
        ))
    })?;
    let sync = journal.plan()?;
    let (EndpointSpec::Langfuse(source), EndpointSpec::Langfuse(target)) =
        (&sync.source, &sync.target)
    else {
        return Err(EngineError::InvalidPlan(
            "a copy-back reads the sync's target and writes to its source; both must be Langfuse projects (an archive folder or a LangSmith workspace is not)".into(),
        ));
    };
    // Looked up by the target's id while the copy-back reads (pages of ids, not a scan each).
    journal.with_conn(|c| {
        c.execute_batch(
            "CREATE INDEX IF NOT EXISTS objects_by_target ON objects(entity, target_id)",
        )
    })?;
    let entities = WRITTEN_BY_APPS
        .into_iter()
        .filter(|e| sync.scope.entities.includes(*e))
        .collect();
    Ok(Plan {
        source: EndpointSpec::Langfuse(target.clone()),
        target: EndpointSpec::Langfuse(source.clone()),
        scope: Scope {
            entities: EntitySelection::Only(entities),
            from: switched - CLOCK_SKEW,
            to: Utc::now(),
            copy_back_of: Some(CopyBackOf {
                run_id: run_id.to_string(),
                data_dir: data_dir.to_path_buf(),
            }),
            ..Scope::default()
        },
        options: sync.options.clone(),
    })
}

/// `source` with what the sync of `scope.copy_back_of` holds left out (unchanged otherwise).
pub(crate) fn scoped(
    source: Arc<dyn SourceConnector>,
    scope: &Scope,
) -> Result<Arc<dyn SourceConnector>, EngineError> {
    let Some(of) = &scope.copy_back_of else {
        return Ok(source);
    };
    let sync = Journal::open(&of.data_dir, &of.run_id)?;
    status::ensure_tables(&sync)?;
    Ok(Arc::new(WithoutSync {
        inner: source,
        sync,
        leave_out: LeaveOut::Sync,
    }))
}

/// The sync's target as its validation must read it: without what the application wrote there
/// since the latest switch (objects the journal does not know, from then on). Those are the
/// application's, not the sync's, and a copy-back brings them back; counted as extra they would
/// make every switched sync look broken. Unchanged for a plain run or before a switch.
pub(crate) fn without_application(
    target: Arc<dyn SourceConnector>,
    journal: &Journal,
    data_dir: &Path,
    run_id: &str,
) -> Result<(Arc<dyn SourceConnector>, Option<String>), EngineError> {
    if !status::is_sync(journal)? {
        return Ok((target, None));
    }
    let Some(switched) = drain::latest_switch(journal)? else {
        return Ok((target, None));
    };
    let note = format!(
        "Objects the application wrote to the target since it was switched ({}) are not compared: they are not the sync's; `copy-back` brings them to the source.",
        switched.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    Ok((
        Arc::new(WithoutSync {
            inner: target,
            sync: Journal::open(data_dir, run_id)?,
            leave_out: LeaveOut::Application {
                since: switched - CLOCK_SKEW,
            },
        }),
        Some(note),
    ))
}

/// What a `WithoutSync` reader leaves out.
enum LeaveOut {
    /// Every object the sync's journal knows (a copy-back's reads).
    Sync,
    /// Objects from `since` on that the journal does not know (the sync's own validation).
    Application { since: chrono::DateTime<Utc> },
}

/// A reader that leaves out objects by what a sync run's journal knows of them.
struct WithoutSync {
    inner: Arc<dyn SourceConnector>,
    sync: Journal,
    leave_out: LeaveOut,
}

impl WithoutSync {
    fn known(&self, entity: Entity, id: &str) -> Result<bool, EngineError> {
        // A legacy trace lands on v4 as its root span `t-<id>`: the sync carried it as the trace.
        if entity == Entity::Observations
            && let Some(trace) = id.strip_prefix("t-")
            && self.known(Entity::Traces, trace)?
        {
            return Ok(true);
        }
        self.sync.with_conn(|c| {
            c.prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM objects WHERE entity = ?1 AND source_id = ?2)
                     OR EXISTS(SELECT 1 FROM objects WHERE entity = ?1 AND target_id = ?2)
                     OR EXISTS(SELECT 1 FROM target_existing WHERE entity = ?1 AND (id = ?2 OR target_id = ?2))
                     OR EXISTS(SELECT 1 FROM sync_waiting WHERE entity = ?1 AND source_id = ?2)",
            )?
            .query_row(params![entity.as_str(), id], |r| r.get(0))
        })
    }
}

#[async_trait]
impl SourceConnector for WithoutSync {
    crate::connectors::traits::forward_to_inner_source!();

    async fn read_page(
        &self,
        entity: Entity,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let page = self.inner.read_page(entity, scope, cursor).await?;
        let mut records = Vec::with_capacity(page.records.len());
        for r in page.records {
            let keep = match &self.leave_out {
                LeaveOut::Sync => !self.known(entity, &r.id)?,
                LeaveOut::Application { since } => {
                    let at = crate::vocab::filter::time_field(entity)
                        .and_then(|f| r.body.str(f))
                        .and_then(|t| crate::vocab::filter::parse_time(&t));
                    at.is_none_or(|t| t < *since) || self.known(entity, &r.id)?
                }
            };
            if keep {
                records.push(r);
            }
        }
        Ok(Page {
            records,
            next: page.next,
        })
    }

    /// What is left once the sync's objects are out is known only by reading.
    async fn count(&self, _entity: Entity, _scope: &Scope) -> Result<Option<u64>, EngineError> {
        Ok(None)
    }

    async fn estimate(&self, entity: Entity, scope: &Scope) -> Result<Option<u64>, EngineError> {
        self.inner.estimate(entity, scope).await
    }
}
