//! Objects that already exist in the target are skipped and reported, never overwritten; the
//! plan can ask to stop instead. Pause, resume and cancel through `RunControl`.

mod common;
use common::*;
use langfuse_sandbox::ServerProfile;
use migrator_engine::{EngineError, Entity, NoProgress, OnExisting, RunControl, RunState, Secrets};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_already_in_the_target_are_skipped_reported_and_left_alone() {
    let source = sandbox(ServerProfile::V4, Some((31, 40, 3))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    // A first, partial copy: the older half of the traces.
    let mut half = plan(lf(&source), lf(&target));
    half.scope.entities = migrator_engine::plan::EntitySelection::Only(vec![
        Entity::Prompts,
        Entity::Observations,
        Entity::Traces,
    ]);
    half.scope.to = middle_start_time(&source);
    let first = migrator_engine::run(half, data.path(), NoProgress, RunControl::new(), false)
        .await
        .unwrap();
    let copied = first.entities[&Entity::Observations].written;
    assert!(copied > 0);
    target.settle();
    // Someone edits one of them in the target meanwhile.
    let edited = target.dump()["observations"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    target
        .patch_raw("observations", &edited, json!({"name": "edited-in-target"}))
        .unwrap();

    let full = migrator_engine::run(
        plan(lf(&source), lf(&target)),
        data.path(),
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .unwrap();
    target.settle();
    let obs = &full.entities[&Entity::Observations];
    assert_eq!(obs.skipped, copied, "{full:#?}");
    assert_eq!(obs.written + obs.skipped, 120);
    let diffs = differences_from_v4(&source.dump(), &target.dump(), &v4_target_entities());
    assert_eq!(diffs.len(), 1, "{diffs:#?}");
    assert!(
        diffs[0].contains(&edited) && diffs[0].contains("edited-in-target"),
        "{diffs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_existing_stop_ends_the_run_naming_the_object() {
    let source = sandbox(ServerProfile::V3, Some((32, 10, 2))).await;
    let target = sandbox(ServerProfile::V3, Some((32, 10, 2))).await;
    let data = tempfile::tempdir().unwrap();
    let mut p = plan(lf(&source), lf(&target));
    p.options.on_existing = OnExisting::Stop;
    let err = migrator_engine::run(p, data.path(), NoProgress, RunControl::new(), false)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Stopped(_)), "{err}");
    assert!(
        err.to_string().contains("already exists in the target"),
        "{err}"
    );
    let runs = migrator_engine::list_runs(data.path()).unwrap();
    assert_eq!(runs[0].state, RunState::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_then_resume_completes_without_duplicates_and_a_changed_plan_is_refused() {
    let source = sandbox(ServerProfile::V4, Some((33, 200, 5))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    // Every target request takes 25 ms, so the copy needs seconds, not a fraction of one: progress
    // is reported every 250 ms, and on a fast machine an unslowed run could finish before the
    // cancel below is seen (CI once saw exactly that).
    target.set_faults(langfuse_sandbox::FaultConfig {
        rate: 1.0,
        kinds: vec![langfuse_sandbox::FaultKind::Slow],
        slow_ms: 25,
        ..Default::default()
    });
    let data = tempfile::tempdir().unwrap();
    let mut p = plan(lf(&source), lf(&target));
    p.options.batch_items = 20;
    p.options.concurrency = 1;
    let control = RunControl::new();
    control.pause();
    let c = control.clone();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let run = tokio::spawn({
        let (p, d) = (p.clone(), data.path().to_path_buf());
        async move { migrator_engine::run(p, &d, tx, c, false).await }
    });
    // Paused: nothing is written.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(target.counts()["observations"], 0);
    control.resume();
    // Cancel once some observations have been written.
    loop {
        match rx.recv().await {
            Some(migrator_engine::ProgressEvent::Progress { entities, .. })
                if entities
                    .iter()
                    .any(|e| e.entity == Entity::Observations && e.counts.written >= 100) =>
            {
                control.cancel();
                break;
            }
            Some(_) => {}
            None => panic!("run ended before it could be cancelled"),
        }
    }
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.state, RunState::Cancelled);
    let run_id = report.run_id.clone();
    target.set_faults(langfuse_sandbox::FaultConfig::default());

    // Another filter is another copy: refused.
    let mut changed = p.clone();
    changed.scope.tags = vec!["only-these".into()];
    let err = migrator_engine::resume(
        &run_id,
        data.path(),
        Some(changed),
        Secrets::default(),
        NoProgress,
        RunControl::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, EngineError::PlanChanged(_)), "{err}");

    // Gentler operating knobs are how a run gets past a storm of 429s: accepted.
    let mut gentler = p.clone();
    gentler.options.concurrency = 1;
    gentler.options.request_timeout_secs = 90;
    gentler.options.batch_items = 50;
    let done = migrator_engine::resume(
        &run_id,
        data.path(),
        Some(gentler),
        Secrets::default(),
        NoProgress,
        RunControl::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        done.entities[&Entity::Observations].written,
        1000,
        "{done:#?}"
    );
    target.settle();
    assert_no_differences_from_v4(&source.dump(), &target.dump(), &v4_target_entities());
}
