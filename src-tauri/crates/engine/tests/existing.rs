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
    // The edited one is not "already copied": it is a conflict the user decides.
    assert_eq!(obs.skipped, copied - 1, "{full:#?}");
    assert_eq!(obs.conflicts, 1, "{full:#?}");
    assert_eq!(obs.written + obs.skipped + obs.conflicts, 120);
    assert!(
        full.conflicts
            .iter()
            .any(|c| c.id == edited && c.reason.contains("name")),
        "{:#?}",
        full.conflicts
    );
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

/// The target holds one score exactly as the source has it, and another under a source score's
/// id with another value. The first is already there; the second is a conflict, named as such
/// in pre-flight, the run report and validation, and never counted as already copied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_id_different_object_is_a_conflict_in_preflight_the_report_and_validation() {
    let source = sandbox(ServerProfile::V4, Some((33, 6, 2))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let scores = source.dump()["scores"].as_array().unwrap().clone();
    let numeric: Vec<&serde_json::Value> = scores
        .iter()
        .filter(|s| s["dataType"] == "NUMERIC")
        .collect();
    let same = numeric[0].clone();
    let mut other = numeric[1].clone();
    other["value"] = json!(other["value"].as_f64().unwrap() + 1000.0);
    let other_id = other["id"].as_str().unwrap().to_string();
    target.insert_raw("scores", same).unwrap();
    target.insert_raw("scores", other).unwrap();
    target.settle();
    let mut p = plan(lf(&source), lf(&target));
    p.scope.entities = migrator_engine::plan::EntitySelection::Only(vec![
        Entity::Traces,
        Entity::Observations,
        Entity::Scores,
    ]);

    let pre = migrator_engine::preflight(&p).await.unwrap();
    let named: Vec<(Entity, String)> = pre
        .conflicts
        .iter()
        .map(|c| (c.entity, c.id.clone()))
        .collect();
    assert_eq!(named, vec![(Entity::Scores, other_id.clone())], "{pre:#?}");
    assert!(pre.conflicts[0].fields.iter().any(|f| f == "value"));

    let data = tempfile::tempdir().unwrap();
    let run = migrator_engine::run(p, data.path(), NoProgress, RunControl::new(), false)
        .await
        .unwrap();
    let c = &run.entities[&Entity::Scores];
    assert_eq!((c.skipped, c.conflicts), (1, 1), "{run:#?}");
    assert_eq!(c.written + c.skipped + c.conflicts, scores.len() as u64);
    assert_eq!(run.conflicts.len(), 1, "{run:#?}");
    assert_eq!(run.conflicts[0].id, other_id);
    assert!(
        run.conflicts[0].reason.contains("value"),
        "{:?}",
        run.conflicts
    );
    target.settle();
    // The target's own score is left as it was.
    let kept = target.dump()["scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == other_id.as_str())
        .cloned()
        .unwrap();
    assert!(kept["value"].as_f64().unwrap() >= 1000.0);

    let report =
        migrator_engine::validate_run(&run.run_id, data.path(), &validate_options(), &|_| {})
            .await
            .unwrap();
    let scores = report
        .entities
        .iter()
        .find(|e| e.entity == "scores")
        .unwrap();
    assert_eq!(scores.conflict_count, 1, "{scores:#?}");
    assert_eq!(scores.conflicts[0].id, other_id);
    assert_eq!(scores.differing_count, 0, "{scores:#?}");
    assert!(report.to_markdown().contains("Conflicts"));
}
