//! The settle gate: a source reader that lets an object through to the pipeline only once it is
//! settled, so a target that cannot change an object afterwards (v4) never gets it early.
//!
//! An object is settled when
//! - it has ended: an observation has an end time; a trace has no observation known to be
//!   still open (known from earlier passes: a trace first seen now waits at least one pass,
//!   and its observations are read in that pass); scores have no end of their own;
//! - and it has rested: it has been visible, unchanged (same content hash), for `settle`
//!   seconds, or its own time is older than the lookback (history: nothing that old is still
//!   expected to change).
//!
//! Objects the journal already holds pass through untouched (the pipeline skips what is final
//! and looks up what was `sent`). An object read twice in one pass (pages shift while new
//! objects arrive) goes through once.

use super::status::{self, Unsettled};
use crate::connectors::{Page, SourceConnector};
use crate::run::journal::Journal;
use crate::vocab::filter::{parse_time, time_field};
use crate::vocab::{EngineError, Entity, Payloads, Record, Scope};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What one pass's reads saw.
#[derive(Default)]
pub(crate) struct GateCounts {
    /// Objects read in the window (each once).
    pub seen: AtomicU64,
    /// Objects seen for the first time, or changed since last seen: the source is not idle.
    pub new: AtomicU64,
    /// Objects the journal already held.
    pub held: AtomicU64,
}

pub(crate) struct SettleGate {
    inner: Arc<dyn SourceConnector>,
    journal: Arc<Journal>,
    settle: Duration,
    lookback: Duration,
    passed: Mutex<HashSet<(Entity, String)>>,
    pub counts: GateCounts,
}

impl SettleGate {
    pub fn new(
        inner: Arc<dyn SourceConnector>,
        journal: Arc<Journal>,
        settle: Duration,
        lookback: Duration,
    ) -> Self {
        SettleGate {
            inner,
            journal,
            settle,
            lookback,
            passed: Mutex::default(),
            counts: GateCounts::default(),
        }
    }

    /// Whether `r` may be copied now; records it as waiting when not.
    fn admit(&self, r: &Record, now: DateTime<Utc>) -> Result<bool, EngineError> {
        let entity = r.entity;
        let start = time_field(entity)
            .and_then(|f| r.body.str(f))
            .and_then(|t| parse_time(&t));
        let end = match entity {
            Entity::Observations => r.body.str("endTime").and_then(|t| parse_time(&t)),
            _ => start,
        };
        let open = match entity {
            Entity::Observations => end.is_none(),
            Entity::Traces => status::trace_has_open_observation(&self.journal, &r.id)?,
            _ => false,
        };
        let hash = r.content_hash();
        let before = status::waiting(&self.journal, entity, &r.id)?;
        let first_seen = match &before {
            Some(w) if w.content_hash == hash => w.first_seen,
            _ => {
                self.counts.new.fetch_add(1, Ordering::Relaxed);
                now
            }
        };
        let rested = (now - first_seen).to_std().unwrap_or_default() >= self.settle
            || end.is_some_and(|t| (now - t).to_std().unwrap_or_default() >= self.lookback);
        if !open && rested {
            if before.is_some() {
                status::clear_waiting(&self.journal, entity, &r.id)?;
            }
            return Ok(true);
        }
        status::set_waiting(
            &self.journal,
            &Unsettled {
                entity,
                id: &r.id,
                first_seen,
                content_hash: &hash,
                start_time: start,
                trace_id: r.body.str("traceId").as_deref().or(
                    // A trace is its own trace.
                    (entity == Entity::Traces).then_some(r.id.as_str()),
                ),
                open,
            },
        )?;
        Ok(false)
    }
}

/// Entities whose objects keep arriving and carry a time: the ones the gate holds back.
pub(crate) fn timed(entity: Entity) -> bool {
    time_field(entity).is_some()
}

#[async_trait]
impl SourceConnector for SettleGate {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn payloads(&self) -> Payloads {
        self.inner.payloads()
    }

    fn supports(&self, entity: Entity) -> bool {
        self.inner.supports(entity)
    }

    fn media_source(&self) -> Option<&dyn crate::connectors::media::MediaSource> {
        self.inner.media_source()
    }

    async fn read_page(
        &self,
        entity: Entity,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let page = self.inner.read_page(entity, scope, cursor).await?;
        let now = Utc::now();
        let fresh: Vec<Record> = {
            let mut passed = self.passed.lock().expect("gate");
            page.records
                .into_iter()
                .filter(|r| passed.insert((entity, r.id.clone())))
                .collect()
        };
        self.counts
            .seen
            .fetch_add(fresh.len() as u64, Ordering::Relaxed);
        if !timed(entity) {
            return Ok(Page {
                records: fresh,
                next: page.next,
            });
        }
        let ids: Vec<&str> = fresh.iter().map(|r| r.id.as_str()).collect();
        let known = self.journal.states(entity, &ids)?;
        let mut records = Vec::with_capacity(fresh.len());
        for r in fresh {
            if let Some((state, _)) = known.get(&r.id) {
                if state.is_final() {
                    self.counts.held.fetch_add(1, Ordering::Relaxed);
                }
                records.push(r);
            } else if self.admit(&r, now)? {
                records.push(r);
            }
        }
        Ok(Page {
            records,
            next: page.next,
        })
    }

    /// Not counted per pass: a count would cost a request per entity and pass, and the
    /// window's total says nothing about what is left to copy.
    async fn count(&self, _entity: Entity, _scope: &Scope) -> Result<Option<u64>, EngineError> {
        Ok(None)
    }
}
