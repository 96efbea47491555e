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
//! A source whose objects form trees that must arrive whole (LangSmith: a run tree whose root
//! has ended while a child is still pending) settles by tree (`whole_trees`): a run, and its
//! trace, wait while another run of the tree is open or has not rested, so a target that cannot
//! change an object afterwards gets the tree complete. A run open for longer than the lookback
//! is taken as abandoned and no longer holds its tree (see `abandoned`).
//!
//! Objects the journal already holds pass through untouched (the pipeline skips what is final
//! and looks up what was `sent`). An object read twice in one pass goes through once: while
//! objects arrive, numbered pages shift, and the first objects of a page are the last of the
//! one before. The ids of the last few pages are kept for that (memory stays bounded; what is
//! older is in the journal by then or far from a page boundary).

use super::revisit;
use super::status::{self, Hold, Unsettled};
use crate::connectors::{Page, SourceConnector};
use crate::run::journal::Journal;
use crate::vocab::filter::{parse_time, time_field};
use crate::vocab::{EngineError, Entity, Record, Scope};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How many pages back an object read again is recognised.
const RECENT_PAGES: usize = 4;

/// What one pass's reads saw.
#[derive(Default)]
pub(crate) struct GateCounts {
    /// Objects read in the window (each once).
    pub seen: AtomicU64,
    /// Objects seen for the first time, or changed since last seen: the source is not idle.
    pub new: AtomicU64,
    /// Objects the journal already held.
    pub held: AtomicU64,
    /// When the newest first sighting or change was read.
    pub latest_news: Mutex<Option<DateTime<Utc>>>,
}

pub(crate) struct SettleGate {
    inner: Arc<dyn SourceConnector>,
    journal: Arc<Journal>,
    settle: Duration,
    lookback: Duration,
    /// The switch that stands, if any: objects first seen after it are noted with their sender.
    switched: Option<DateTime<Utc>>,
    /// Per entity, the ids of the last pages let through.
    passed: Mutex<HashMap<Entity, VecDeque<HashSet<String>>>>,
    /// Settle whole trees, with this test of whether an observation is still open.
    trees: Option<fn(&Record) -> bool>,
    pub counts: GateCounts,
}

impl SettleGate {
    pub fn new(
        inner: Arc<dyn SourceConnector>,
        journal: Arc<Journal>,
        settle: Duration,
        lookback: Duration,
    ) -> Result<Self, EngineError> {
        let switched = super::drain::current_switch(&journal)?;
        Ok(SettleGate {
            inner,
            journal,
            settle,
            lookback,
            switched,
            passed: Mutex::default(),
            trees: None,
            counts: GateCounts::default(),
        })
    }

    /// Settles by tree: an observation is open when `open` says so (beyond having no end), and
    /// nothing of a tree goes through while another of its observations is open or unrested.
    pub fn whole_trees(mut self, open: fn(&Record) -> bool) -> Self {
        self.trees = Some(open);
        self
    }

    /// Whether `r` may be copied now; records it as waiting when not. `page_open`: traces with
    /// an open observation on the page being read (a tree's runs often share a page).
    fn admit(
        &self,
        r: &Record,
        now: DateTime<Utc>,
        page_open: &HashSet<String>,
    ) -> Result<bool, EngineError> {
        let entity = r.entity;
        let start = time_field(entity)
            .and_then(|f| r.body.str(f))
            .and_then(|t| parse_time(&t));
        let end = match entity {
            Entity::Observations => r.body.str("endTime").and_then(|t| parse_time(&t)),
            _ => start,
        };
        let open = match entity {
            Entity::Observations => {
                (end.is_none() || self.trees.is_some_and(|open| open(r)))
                    && !self.abandoned(start, now)
            }
            Entity::Traces => status::trace_has_open_observation(&self.journal, &r.id)?,
            _ => false,
        };
        let trace_id = r.body.str("traceId").or(
            // A trace is its own trace.
            (entity == Entity::Traces).then(|| r.id.clone()),
        );
        let hash = r.content_hash();
        let before = status::waiting(&self.journal, entity, &r.id)?;
        let first_seen = match &before {
            Some(w) if w.content_hash == hash => w.first_seen,
            _ => {
                self.counts.new.fetch_add(1, Ordering::Relaxed);
                let mut latest = self.counts.latest_news.lock().expect("gate");
                *latest = Some(latest.map_or(now, |t| t.max(now)));
                if before.is_none() && self.switched.is_some_and(|s| now >= s) {
                    super::drain::note_news(&self.journal, r, now)?;
                }
                now
            }
        };
        let rested = (now - first_seen).to_std().unwrap_or_default() >= self.settle
            || end.is_some_and(|t| (now - t).to_std().unwrap_or_default() >= self.lookback);
        let hold = if open {
            Some(Hold::Open)
        } else if !rested {
            Some(Hold::Resting)
        } else if self.held_by_tree(entity, r, trace_id.as_deref(), now, page_open)? {
            Some(Hold::Tree)
        } else {
            None
        };
        let Some(open) = hold else {
            if before.is_some() {
                status::clear_waiting(&self.journal, entity, &r.id)?;
            }
            return Ok(true);
        };
        status::set_waiting(
            &self.journal,
            &Unsettled {
                entity,
                id: &r.id,
                first_seen,
                content_hash: &hash,
                start_time: start,
                trace_id: trace_id.as_deref(),
                open,
            },
        )?;
        Ok(false)
    }

    /// Settling by tree: a run still open longer than the lookback after its start is taken as
    /// abandoned (its process died before it ended; LangSmith keeps such runs pending for
    /// good). Held, it would keep the watermark at its start, so every pass would read the
    /// whole history again; it is copied as the source shows it, and the report names it
    /// among the runs still running. A longer lookback lets longer runs end first.
    fn abandoned(&self, start: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        self.trees.is_some()
            && start.is_some_and(|t| (now - t).to_std().unwrap_or_default() >= self.lookback)
    }

    /// Settling by tree: whether another run of `r`'s tree is open (on this page, or as the
    /// journal knows it) or has not rested.
    fn held_by_tree(
        &self,
        entity: Entity,
        r: &Record,
        trace_id: Option<&str>,
        now: DateTime<Utc>,
        page_open: &HashSet<String>,
    ) -> Result<bool, EngineError> {
        let (Some(_), Some(trace), Entity::Observations | Entity::Traces) =
            (self.trees, trace_id, entity)
        else {
            return Ok(false);
        };
        if page_open.contains(trace) {
            return Ok(true);
        }
        let settle = chrono::Duration::from_std(self.settle).unwrap_or(chrono::Duration::MAX);
        let rested_before = now.checked_sub_signed(settle).unwrap_or(now);
        status::tree_unsettled(&self.journal, trace, &r.id, rested_before)
    }
}

/// Entities whose objects keep arriving and carry a time: the ones the gate holds back.
pub(crate) fn timed(entity: Entity) -> bool {
    time_field(entity).is_some()
}

#[async_trait]
impl SourceConnector for SettleGate {
    crate::connectors::traits::forward_to_inner_source!();

    async fn read_page(
        &self,
        entity: Entity,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        // A page of the pass's own window, or of a window around objects still waiting.
        let (window, cursor) = match revisit::Cursor::parse(cursor.as_deref()) {
            Some(c) => (Some(c.window), c.inner),
            None => (None, cursor),
        };
        let read = window.map(|w| Scope {
            from: w.from,
            to: w.to,
            ..scope.clone()
        });
        let page = self
            .inner
            .read_page(entity, read.as_ref().unwrap_or(scope), cursor)
            .await?;
        let next = match page.next {
            Some(inner) => Some(match window {
                Some(window) => revisit::Cursor {
                    window,
                    inner: Some(inner),
                }
                .encode(),
                None => inner,
            }),
            None if timed(entity) => {
                revisit::next(&self.journal, entity, scope.from, window.map(|w| w.to))?.map(
                    |window| {
                        revisit::Cursor {
                            window,
                            inner: None,
                        }
                        .encode()
                    },
                )
            }
            None => None,
        };
        let now = Utc::now();
        let fresh: Vec<Record> = {
            let mut passed = self.passed.lock().expect("gate");
            let recent = passed.entry(entity).or_default();
            let fresh: Vec<Record> = page
                .records
                .into_iter()
                .filter(|r| !recent.iter().any(|ids| ids.contains(&r.id)))
                .collect();
            recent.push_back(fresh.iter().map(|r| r.id.clone()).collect());
            if recent.len() > RECENT_PAGES {
                recent.pop_front();
            }
            fresh
        };
        self.counts
            .seen
            .fetch_add(fresh.len() as u64, Ordering::Relaxed);
        if !timed(entity) {
            return Ok(Page {
                records: fresh,
                next,
            });
        }
        let ids: Vec<&str> = fresh.iter().map(|r| r.id.as_str()).collect();
        let known = self.journal.states(entity, &ids)?;
        let page_open: HashSet<String> = match self.trees {
            Some(open) => fresh
                .iter()
                .filter(|r| {
                    let start = r.body.str("startTime").and_then(|t| parse_time(&t));
                    open(r) && !self.abandoned(start, now)
                })
                .filter_map(|r| r.body.str("traceId"))
                .collect(),
            None => HashSet::new(),
        };
        let mut records = Vec::with_capacity(fresh.len());
        for r in fresh {
            if let Some((state, _)) = known.get(&r.id) {
                if state.is_final() {
                    self.counts.held.fetch_add(1, Ordering::Relaxed);
                }
                records.push(r);
            } else if self.admit(&r, now, &page_open)? {
                records.push(r);
            }
        }
        Ok(Page { records, next })
    }

    /// Not counted per pass: a count would cost a request per entity and pass, and the
    /// window's total says nothing about what is left to copy.
    async fn count(&self, _entity: Entity, _scope: &Scope) -> Result<Option<u64>, EngineError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{Dialect, Payloads, Platform, RawObject};

    /// A source whose pages are given (numbered pages of a list that shifts while it is read).
    struct Pages(Vec<Vec<(&'static str, &'static str)>>);

    #[async_trait]
    impl SourceConnector for Pages {
        fn describe(&self) -> String {
            "pages".into()
        }
        fn payloads(&self) -> Payloads {
            Payloads {
                platform: Platform::Langfuse,
                dialect: Dialect::LangfuseV4,
            }
        }
        fn supports(&self, _: Entity) -> bool {
            true
        }
        async fn read_page(
            &self,
            entity: Entity,
            _: &Scope,
            cursor: Option<String>,
        ) -> Result<Page, EngineError> {
            let n: usize = cursor.map_or(0, |c| c.parse().unwrap());
            let records = self.0[n]
                .iter()
                .map(|(id, end)| {
                    let body = format!(
                        r#"{{"id":"{id}","startTime":"2020-01-01T00:00:00Z","endTime":{end}}}"#
                    );
                    Record::new(entity, id.to_string(), RawObject::from_json(&body).unwrap())
                })
                .collect();
            let next = (n + 1 < self.0.len()).then(|| (n + 1).to_string());
            Ok(Page { records, next })
        }
        async fn count(&self, _: Entity, _: &Scope) -> Result<Option<u64>, EngineError> {
            Ok(None)
        }
    }

    fn journal(dir: &std::path::Path) -> Arc<Journal> {
        let plan = crate::run::plan::Plan::from_toml(
            "[source]\nkind = \"langfuse\"\nurl = \"http://127.0.0.1:1\"\npublic_key = \"pk\"\n[target]\nkind = \"archive\"\npath = \"/tmp/x\"\n",
        )
        .unwrap();
        let j = Journal::create_sync(dir, "r", &plan, "{}").unwrap();
        status::ensure_tables(&j).unwrap();
        Arc::new(j)
    }

    async fn ids_through(gate: &SettleGate, pages: usize) -> Vec<Vec<String>> {
        let mut out = vec![];
        let mut cursor = None;
        for _ in 0..pages {
            let p = gate
                .read_page(Entity::Observations, &Scope::default(), cursor)
                .await
                .unwrap();
            out.push(p.records.into_iter().map(|r| r.id).collect());
            cursor = p.next;
        }
        out
    }

    #[tokio::test]
    async fn an_object_read_again_on_a_shifted_page_goes_through_once() {
        let dir = tempfile::tempdir().unwrap();
        let end = "\"2020-01-01T00:00:01Z\"";
        // `b` is read again at the top of the next page, as when an object arrived meanwhile.
        let source = Pages(vec![
            vec![("a", end), ("b", end)],
            vec![("b", end), ("c", end)],
        ]);
        let gate = SettleGate::new(
            Arc::new(source),
            journal(dir.path()),
            Duration::from_secs(5),
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(ids_through(&gate, 2).await, vec![vec!["a", "b"], vec!["c"]]);
        assert_eq!(gate.counts.seen.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn an_open_or_fresh_object_waits_and_holds_the_watermark() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let recent: &'static str = Box::leak(format!("\"{}\"", now.to_rfc3339()).into_boxed_str());
        // Old and ended: history, copied at once. Open: waits. Ended just now: waits `settle`.
        let source = Pages(vec![vec![
            ("old", "\"2020-01-01T00:00:01Z\""),
            ("open", "null"),
            ("fresh", recent),
        ]]);
        let j = journal(dir.path());
        let gate = SettleGate::new(
            Arc::new(source),
            j.clone(),
            Duration::from_secs(5),
            Duration::from_secs(60),
        )
        .unwrap();
        let pass = status::start_pass(&j, now - chrono::Duration::hours(1), now, &[]).unwrap();
        assert_eq!(ids_through(&gate, 1).await, vec![vec!["old"]]);
        assert_eq!(status::count_waiting(&j).unwrap(), (2, 1));
        // Every first sighting is news: the source is not idle.
        assert_eq!(gate.counts.new.load(Ordering::Relaxed), 3);
        let outcome = status::PassOutcome {
            seen: 3,
            copied: 1,
            skipped: 0,
        };
        let done = status::finish_pass(&j, &pass, &outcome).unwrap();
        assert_eq!(
            done.watermark.as_deref(),
            Some("2020-01-01T00:00:00.000Z"),
            "the watermark stays at the earliest object still waiting"
        );
    }

    /// An object of `Windowed`: id, start, end.
    type Timed = (&'static str, DateTime<Utc>, Option<DateTime<Utc>>);

    /// A source that filters by the scope's window, one object a page.
    struct Windowed(Vec<Timed>);

    #[async_trait]
    impl SourceConnector for Windowed {
        fn describe(&self) -> String {
            "windowed".into()
        }
        fn payloads(&self) -> Payloads {
            Payloads {
                platform: Platform::Langfuse,
                dialect: Dialect::LangfuseV4,
            }
        }
        fn supports(&self, _: Entity) -> bool {
            true
        }
        async fn read_page(
            &self,
            entity: Entity,
            scope: &Scope,
            cursor: Option<String>,
        ) -> Result<Page, EngineError> {
            let n: usize = cursor.map_or(0, |c| c.parse().unwrap());
            let inside: Vec<_> = self
                .0
                .iter()
                .filter(|(_, start, _)| *start >= scope.from && *start < scope.to)
                .collect();
            let iso = |t: &DateTime<Utc>| format!("\"{}\"", t.to_rfc3339());
            let records = inside
                .get(n)
                .map(|(id, start, end)| {
                    let body = format!(
                        r#"{{"id":"{id}","startTime":{},"endTime":{}}}"#,
                        iso(start),
                        end.as_ref().map_or("null".into(), iso)
                    );
                    Record::new(entity, id.to_string(), RawObject::from_json(&body).unwrap())
                })
                .into_iter()
                .collect();
            let next = (n + 1 < inside.len()).then(|| (n + 1).to_string());
            Ok(Page { records, next })
        }
        async fn count(&self, _: Entity, _: &Scope) -> Result<Option<u64>, EngineError> {
            Ok(None)
        }
    }

    #[tokio::test]
    async fn a_pass_reads_around_a_waiting_object_before_its_window_and_resumes_there() {
        let dir = tempfile::tempdir().unwrap();
        let j = journal(dir.path());
        let now = Utc::now();
        let hour_ago = now - chrono::Duration::hours(1);
        // Two objects opened an hour ago that ended since, a copied one beside them, and two new.
        let source = Arc::new(Windowed(vec![
            ("long-a", hour_ago, Some(now)),
            (
                "long-b",
                hour_ago + chrono::Duration::milliseconds(300),
                Some(now),
            ),
            (
                "beside",
                hour_ago + chrono::Duration::seconds(30),
                Some(hour_ago),
            ),
            ("new-1", now - chrono::Duration::seconds(5), Some(now)),
            ("new-2", now - chrono::Duration::seconds(4), Some(now)),
        ]));
        for id in ["long-a", "long-b"] {
            let start = source.0.iter().find(|o| o.0 == id).unwrap().1;
            status::set_waiting(
                &j,
                &Unsettled {
                    entity: Entity::Observations,
                    id,
                    first_seen: hour_ago,
                    content_hash: "open",
                    start_time: Some(start),
                    trace_id: Some("t"),
                    open: Hold::Open,
                },
            )
            .unwrap();
        }
        let scope = Scope {
            from: now - chrono::Duration::seconds(10),
            to: now,
            ..Scope::default()
        };
        let gate = |source: Arc<Windowed>| {
            SettleGate::new(source, j.clone(), Duration::ZERO, Duration::from_secs(7200)).unwrap()
        };
        async fn read(
            gate: &SettleGate,
            scope: &Scope,
            cursor: Option<String>,
        ) -> (Vec<String>, Option<String>) {
            let p = gate
                .read_page(Entity::Observations, scope, cursor)
                .await
                .unwrap();
            (p.records.into_iter().map(|r| r.id).collect(), p.next)
        }
        let first = gate(source.clone());
        let (ids, next) = read(&first, &scope, None).await;
        assert_eq!(ids, vec!["new-1"]);
        let (ids, next) = read(&first, &scope, next).await;
        assert_eq!(ids, vec!["new-2"]);
        // The window's end leads to the window around the waiting objects (one for their tree).
        let (ids, next) = read(&first, &scope, next).await;
        assert_eq!(ids, vec!["long-a"]);
        // A crash here: a new gate goes on from the journaled cursor, inside that window.
        let again = gate(source.clone());
        let (ids, next) = read(&again, &scope, next).await;
        assert_eq!(
            ids,
            vec!["long-b"],
            "the window around them, not what lies between"
        );
        assert_eq!(next, None, "nothing waits any more");
        assert_eq!(status::count_waiting(&j).unwrap(), (0, 0));
    }
}
