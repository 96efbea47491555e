//! The runs this app session drives. Each keeps its latest [`RunView`] and the window's current
//! channel: the engine's events update the view and go out as throttled snapshots, so a window
//! that reloads (or a screen that is left and opened again) re-attaches and sees the run where
//! it is, with its sparkline and error list.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use migrator_engine::{EngineError, ProgressEvent, ProgressSink, RunControl, RunReport};
use tauri::ipc::Channel;

use super::views::{EntityRow, FailedItem, RunPhase, RunView};
use crate::progress::{RunEvent, RunStream};

/// At most this many snapshots a second reach the window.
const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(200);
/// Points kept for the throughput sparkline.
const SPARKLINE_POINTS: usize = 120;
/// Failures kept in the live view; the full list is exported from the journal.
const FAILURES_SHOWN: usize = 200;

pub type RunChannel = Channel<RunEvent<RunView>>;

pub struct ActiveRun {
    pub control: RunControl,
    state: Mutex<ActiveState>,
}

struct ActiveState {
    view: RunView,
    stream: Option<RunStream<RunView>>,
    /// Pre-flight counts, so bars have a total from the first snapshot.
    expected: HashMap<String, u64>,
}

impl ActiveRun {
    pub fn new(view: RunView, channel: Option<RunChannel>, expected: HashMap<String, u64>) -> Self {
        ActiveRun {
            control: RunControl::new(),
            state: Mutex::new(ActiveState {
                view,
                stream: channel.map(|c| RunStream::new(c, SNAPSHOT_INTERVAL)),
                expected,
            }),
        }
    }

    pub fn view(&self) -> RunView {
        self.state.lock().unwrap().view.clone()
    }

    pub fn run_id(&self) -> String {
        self.state.lock().unwrap().view.run_id.clone()
    }

    /// Points the run's snapshots at a new channel (the window reloaded or reopened the run)
    /// and sends the current view at once.
    pub fn attach(&self, channel: RunChannel) -> RunView {
        let mut s = self.state.lock().unwrap();
        let mut stream = RunStream::new(channel, SNAPSHOT_INTERVAL);
        stream.send(s.view.clone());
        s.stream = Some(stream);
        s.view.clone()
    }

    /// Applies an engine event to the view and tells the window.
    pub fn apply(&self, event: &ProgressEvent) {
        let mut s = self.state.lock().unwrap();
        let mut urgent = true;
        match event {
            ProgressEvent::RunStarted { run_id, .. } => {
                s.view.run_id = run_id.clone();
                s.view.phase = RunPhase::Running;
            }
            ProgressEvent::PhaseStarted { .. } => {}
            ProgressEvent::SyncPassEnded {
                pass,
                waiting,
                waiting_open,
                senders,
                quiet_since,
                ..
            } => {
                s.view
                    .sync
                    .get_or_insert_with(Default::default)
                    .record_pass(
                        pass,
                        (*waiting, *waiting_open),
                        senders,
                        quiet_since.as_ref(),
                    );
            }
            ProgressEvent::Progress {
                entities,
                retries,
                rate_limit_waits,
                paused,
                ..
            } => {
                let rows: Vec<EntityRow> = entities
                    .iter()
                    .map(|p| {
                        EntityRow::from_progress(p, s.expected.get(p.entity.as_str()).copied())
                    })
                    .collect();
                let total: f64 = rows.iter().map(|r| r.per_second).sum();
                let view = &mut s.view;
                merge_rows(&mut view.entities, rows);
                view.retries = *retries;
                view.rate_limit_waits = *rate_limit_waits;
                view.throughput.push(total);
                if view.throughput.len() > SPARKLINE_POINTS {
                    view.throughput.remove(0);
                }
                let was_paused = view.phase == RunPhase::Paused;
                if !view.phase.is_final() {
                    view.phase = if *paused {
                        RunPhase::Paused
                    } else {
                        RunPhase::Running
                    };
                }
                urgent = was_paused != (view.phase == RunPhase::Paused);
            }
            ProgressEvent::Warning { message } => {
                if !s.view.warnings.contains(message) {
                    s.view.warnings.push(message.clone());
                }
            }
            ProgressEvent::ObjectFailed { entity, id, reason } => {
                urgent = false;
                let view = &mut s.view;
                view.failure_count += 1;
                if view.failures.len() < FAILURES_SHOWN {
                    view.failures.push(FailedItem {
                        entity: entity.as_str().to_owned(),
                        id: id.clone(),
                        reason: reason.clone(),
                    });
                }
            }
            ProgressEvent::RunFinished { state, .. } => {
                s.view.phase = RunPhase::from_state(*state);
            }
        }
        publish(&mut s, urgent);
    }

    /// Called when the engine call returns: the final counts, or why it stopped.
    pub fn finish(&self, outcome: &Result<RunReport, EngineError>) {
        let mut s = self.state.lock().unwrap();
        let view = &mut s.view;
        view.live = false;
        match outcome {
            Ok(report) => {
                view.phase = RunPhase::from_state(report.state);
                let expected: HashMap<String, Option<u64>> = view
                    .entities
                    .iter()
                    .map(|r| (r.entity.clone(), r.expected))
                    .collect();
                view.entities = report
                    .entities
                    .iter()
                    .map(|(e, c)| EntityRow {
                        expected: expected.get(e.as_str()).copied().flatten(),
                        would_write: report.would_write.get(e).copied(),
                        ..EntityRow::from_counts(e.as_str(), c)
                    })
                    .collect();
                view.retries = report.retries;
                view.rate_limit_waits = report.rate_limit_waits;
                view.failure_count = report.failed_total();
                view.failures = report.failures.iter().map(FailedItem::from).collect();
                view.conflicts = report.conflicts.iter().map(FailedItem::from).collect();
                view.seconds = report.seconds;
                super::sync::record_final(view, report.sync.as_ref());
                for w in &report.warnings {
                    if !view.warnings.contains(w) {
                        view.warnings.push(w.clone());
                    }
                }
            }
            Err(e) => {
                view.phase = match e {
                    EngineError::Cancelled => RunPhase::Cancelled,
                    _ if view.phase.is_final() => view.phase,
                    _ => RunPhase::Failed,
                };
                view.message = Some(e.to_string());
            }
        }
        publish(&mut s, true);
    }
}

/// Keeps rows of entities that finished earlier (the engine's snapshot lists what it counted).
fn merge_rows(rows: &mut Vec<EntityRow>, fresh: Vec<EntityRow>) {
    for row in fresh {
        match rows.iter_mut().find(|r| r.entity == row.entity) {
            Some(slot) => *slot = row,
            None => rows.push(row),
        }
    }
    for r in rows.iter_mut() {
        if r.expected
            .is_some_and(|e| r.written + r.skipped + r.failed >= e)
        {
            r.eta_seconds = Some(0.0);
        }
    }
}

fn publish(s: &mut ActiveState, urgent: bool) {
    let view = s.view.clone();
    if let Some(stream) = s.stream.as_mut() {
        if urgent {
            stream.send(view);
        } else {
            stream.send_throttled(view);
        }
    }
}

/// Feeds engine events into an [`ActiveRun`] and registers it under its run id once the engine
/// has named it.
pub struct HubSink {
    pub run: Arc<ActiveRun>,
    pub hub: Arc<RunHub>,
    pub started: Mutex<Option<tokio::sync::oneshot::Sender<String>>>,
}

impl ProgressSink for HubSink {
    fn emit(&self, event: ProgressEvent) {
        if let ProgressEvent::RunStarted { run_id, .. } = &event {
            self.hub.insert(run_id.clone(), Arc::clone(&self.run));
        }
        self.run.apply(&event);
        if let ProgressEvent::RunStarted { run_id, .. } = &event
            && let Some(tx) = self.started.lock().unwrap().take()
        {
            let _ = tx.send(run_id.clone());
        }
    }
}

#[derive(Default)]
pub struct RunHub {
    runs: Mutex<HashMap<String, Arc<ActiveRun>>>,
}

impl RunHub {
    pub fn insert(&self, run_id: String, run: Arc<ActiveRun>) {
        self.runs.lock().unwrap().insert(run_id, run);
    }

    pub fn get(&self, run_id: &str) -> Option<Arc<ActiveRun>> {
        self.runs.lock().unwrap().get(run_id).cloned()
    }

    /// Runs of this session whose engine call has not returned yet.
    pub fn live(&self) -> Vec<RunView> {
        self.runs
            .lock()
            .unwrap()
            .values()
            .map(|r| r.view())
            .filter(|v| v.live)
            .collect()
    }

    pub fn is_live(&self, run_id: &str) -> bool {
        self.get(run_id).is_some_and(|r| r.view().live)
    }

    /// Registers `run` under `run_id` unless a live run holds that id already; checking and
    /// registering under one lock, so two clicks on Resume cannot both get through.
    pub fn claim(&self, run_id: &str, run: Arc<ActiveRun>) -> bool {
        let mut runs = self.runs.lock().unwrap();
        if runs.get(run_id).is_some_and(|r| r.view().live) {
            return false;
        }
        runs.insert(run_id.to_owned(), run);
        true
    }

    /// Forgets `run` if it is still the one registered under `run_id` (it never started).
    pub fn release(&self, run_id: &str, run: &Arc<ActiveRun>) {
        let mut runs = self.runs.lock().unwrap();
        if runs.get(run_id).is_some_and(|r| Arc::ptr_eq(r, run)) {
            runs.remove(run_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use migrator_engine::{Entity, EntityCounts, EntityProgress, RunState};
    use std::collections::BTreeMap;
    use tauri::ipc::InvokeResponseBody;

    fn recording() -> (RunChannel, Arc<Mutex<Vec<serde_json::Value>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let channel = Channel::new(move |body| {
            if let InvokeResponseBody::Json(json) = body {
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_str(&json).unwrap());
            }
            Ok(())
        });
        (channel, seen)
    }

    fn progress(written: u64, paused: bool) -> ProgressEvent {
        ProgressEvent::Progress {
            run_id: "r1".into(),
            entities: vec![EntityProgress {
                entity: Entity::Traces,
                counts: EntityCounts {
                    read: 10,
                    written,
                    skipped: 0,
                    failed: 0,
                    conflicts: 0,
                },
                expected: None,
                per_second: 5.0,
                eta_seconds: Some(1.0),
            }],
            retries: 2,
            rate_limit_waits: 1,
            concurrency: 4,
            paused,
        }
    }

    #[test]
    fn a_reattached_window_gets_the_current_view_and_the_sparkline_so_far() {
        let (first, _) = recording();
        let expected = HashMap::from([("traces".to_owned(), 10)]);
        let run = ActiveRun::new(
            RunView::new(String::new(), "a".into(), "b".into(), false),
            Some(first),
            expected,
        );
        run.apply(&ProgressEvent::RunStarted {
            run_id: "r1".into(),
            resumed: false,
        });
        run.apply(&progress(3, false));
        run.apply(&progress(6, false));

        let (second, seen) = recording();
        let view = run.attach(second);
        assert_eq!(view.run_id, "r1");
        assert_eq!(view.throughput.len(), 2);
        assert_eq!(view.entities[0].expected, Some(10));
        assert_eq!(view.entities[0].written, 6);
        assert_eq!(seen.lock().unwrap()[0]["event"]["runId"], "r1");
    }

    #[test]
    fn pausing_is_sent_at_once_and_the_finish_carries_the_final_counts() {
        let (channel, seen) = recording();
        let run = ActiveRun::new(
            RunView::new("r1".into(), "a".into(), "b".into(), false),
            Some(channel),
            HashMap::new(),
        );
        run.apply(&progress(1, false));
        run.apply(&progress(2, true));
        assert_eq!(run.view().phase, RunPhase::Paused);
        let phases: Vec<_> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|v| v["event"]["phase"].clone())
            .collect();
        assert_eq!(phases, vec!["running", "paused"]);

        let report = RunReport {
            run_id: "r1".into(),
            state: RunState::CompletedWithFailures,
            dry_run: false,
            source: "a".into(),
            target: "b".into(),
            entities: BTreeMap::from([(
                Entity::Traces,
                EntityCounts {
                    read: 10,
                    written: 9,
                    skipped: 0,
                    failed: 1,
                    conflicts: 0,
                },
            )]),
            would_write: BTreeMap::new(),
            failures: vec![migrator_engine::FailedObject {
                entity: Entity::Traces,
                id: "t9".into(),
                reason: "too large".into(),
            }],
            conflicts: vec![],
            warnings: vec![],
            mapping_notes: vec![],
            seconds: 1.5,
            retries: 3,
            rate_limit_waits: 1,
            requests: BTreeMap::new(),
            sync: None,
        };
        run.finish(&Ok(report));
        let view = run.view();
        assert_eq!(view.phase, RunPhase::CompletedWithFailures);
        assert!(!view.live);
        assert_eq!(view.failure_count, 1);
        assert_eq!(view.failures[0].id, "t9");
        let last = seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(last["event"]["phase"], "completedWithFailures");
    }

    #[test]
    fn a_finished_sync_pass_reaches_the_window_with_who_still_writes() {
        let (channel, seen) = recording();
        let run = ActiveRun::new(
            RunView::new("r1".into(), "a".into(), "b".into(), false),
            Some(channel),
            HashMap::new(),
        );
        run.apply(&ProgressEvent::SyncPassEnded {
            run_id: "r1".into(),
            pass: migrator_engine::SyncPass {
                pass: 2,
                window_from: "2026-11-30T10:00:00.000Z".into(),
                window_to: "2026-11-30T10:01:00.000Z".into(),
                started_at: "2026-11-30T10:01:00.000Z".into(),
                ended_at: Some("2026-11-30T10:01:01.000Z".into()),
                attempts: 1,
                seen: 5,
                copied: 3,
                skipped: 2,
                waiting: 1,
                watermark: Some("2026-11-30T10:01:00.000Z".into()),
                lag_seconds: Some(1.0),
            },
            waiting: 1,
            waiting_open: 0,
            senders: vec![migrator_engine::SenderSeen {
                sdk: Some("langfuse-python".into()),
                sdk_version: Some("3.2.1".into()),
                service: None,
                release: Some("v41".into()),
                environment: Some("production".into()),
                objects: 4,
                last_seen: "2026-11-30T10:01:00.500Z".into(),
            }],
            quiet_since: None,
        });
        let sync = run.view().sync.expect("the view carries the sync");
        assert_eq!((sync.passes, sync.waiting), (2, 1));
        assert_eq!(sync.senders[0].release.as_deref(), Some("v41"));
        let last = seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(last["event"]["sync"]["lastPass"]["copied"], 3);
        assert_eq!(
            last["event"]["sync"]["senders"][0]["sdk"],
            "langfuse-python"
        );
    }
}
