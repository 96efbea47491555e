//! Rollback against sandboxes over real HTTP: after a copy into a target that already held data,
//! the target is exactly as before (full dumps compared; what the API cannot delete is listed);
//! under the hobby plan's delete budget it stops, says when it can continue, and completes when
//! started again; a cancelled copy's partial writes are rolled back too.

mod common;
use common::*;
use langfuse_sandbox::{
    CloudPlan as SandboxPlan, FaultConfig, FaultKind, Sandbox, SandboxConfig, ServerProfile,
};
use migrator_engine::plan::{CloudPlan, EntitySelection};
use migrator_engine::progress::FnSink;
use migrator_engine::rollback::ManualItem;
use migrator_engine::{
    EndpointSpec, Entity, NoProgress, Plan, ProgressEvent, RollbackOptions, RollbackReport,
    RollbackState, RunControl,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// What the API can delete: after a rollback these must be exactly as before the copy.
const DELETABLE: &[&str] = &[
    "traces",
    "observations",
    "scores",
    "dataset_items",
    "dataset_run_items",
    "prompts",
    "models",
];

fn options() -> RollbackOptions {
    rollback_options()
}

async fn copy(plan: Plan, data: &Path) -> migrator_engine::RunReport {
    migrator_engine::run(plan, data, NoProgress, RunControl::new(), false)
        .await
        .expect("copy runs")
}

async fn rollback(run_id: &str, data: &Path) -> RollbackReport {
    migrator_engine::rollback(run_id, data, &options(), &RunControl::new(), &|_| {})
        .await
        .expect("rollback runs")
}

fn ids(dump: &Value, entity: &str) -> BTreeSet<String> {
    dump[entity]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn manual_ids(manual: &[ManualItem], entity: Entity) -> BTreeSet<String> {
    manual
        .iter()
        .filter(|m| m.entity == entity)
        .map(|m| m.id.clone())
        .collect()
}

/// The target after the rollback equals the target before the copy: deletable entities row for
/// row; for the rest, the only new rows are those the report lists for the user, and new score
/// configs are archived.
fn assert_as_before(before: &Value, after: &Value, report: &RollbackReport, what: &str) {
    for e in DELETABLE {
        assert_eq!(
            before[*e], after[*e],
            "{what}: {e} differ after the rollback\nreport {report:#?}"
        );
    }
    for (key, entity) in [
        ("datasets", Entity::Datasets),
        ("comments", Entity::Comments),
        ("score_configs", Entity::ScoreConfigs),
        ("sessions", Entity::Sessions),
    ] {
        let new: BTreeSet<String> = ids(after, key)
            .difference(&ids(before, key))
            .cloned()
            .collect();
        let listed = manual_ids(&report.manual, entity);
        assert_eq!(
            new, listed,
            "{what}: new {key} must be exactly the listed ones"
        );
        for row in before[key].as_array().unwrap() {
            assert!(
                after[key].as_array().unwrap().contains(row),
                "{what}: {key} row changed: {row}"
            );
        }
    }
    for row in after["score_configs"].as_array().unwrap() {
        if !ids(before, "score_configs").contains(row["id"].as_str().unwrap()) {
            assert_eq!(row["isArchived"], true, "{what}: new score config archived");
        }
    }
}

/// Midpoint between the two middle traces of the source, so the first half of the window holds
/// whole traces.
fn middle_of(source: &Value) -> chrono::DateTime<chrono::Utc> {
    let mut times: Vec<chrono::DateTime<chrono::Utc>> = source["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["timestamp"].as_str().unwrap().parse().unwrap())
        .collect();
    times.sort();
    let k = times.len() / 2;
    times[k - 1] + (times[k] - times[k - 1]) / 2
}

fn faults(seed: u64) -> FaultConfig {
    FaultConfig {
        seed,
        rate: 0.08,
        kinds: vec![
            FaultKind::Http500,
            FaultKind::Http503,
            FaultKind::ConnectionReset,
            FaultKind::TimeoutAfterApply,
        ],
        slow_ms: 0,
        timeout_ms: 2_500,
        ..FaultConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_leaves_a_target_that_held_data_exactly_as_before_on_v3_and_v4_with_faults() {
    for profile in [ServerProfile::V3, ServerProfile::V4] {
        let source = sandbox(profile, Some((21, 10, 3))).await;
        let target = sandbox(profile, None).await;
        let data = tempfile::tempdir().unwrap();

        // The target already holds the first half of the window from an earlier migration.
        let mut earlier = plan(lf(&source), lf(&target));
        earlier.scope.to = middle_of(&source.dump());
        earlier.scope.entities =
            EntitySelection::Only(vec![Entity::Traces, Entity::Observations, Entity::Scores]);
        copy(earlier, data.path()).await;
        target.settle();
        let before = target.dump();
        assert!(!ids(&before, "observations").is_empty());

        source.set_faults(faults(1));
        target.set_faults(faults(2));
        let copy = copy(plan(lf(&source), lf(&target)), data.path()).await;
        let skipped: u64 = copy.entities.values().map(|c| c.skipped).sum();
        assert!(
            skipped > 0,
            "{profile:?}: the copy met objects that were there before"
        );

        let preview = migrator_engine::rollback_preview(&copy.run_id, data.path(), &options())
            .await
            .unwrap();
        assert!(preview.delete_requests > 0);
        assert_eq!(preview.untouched_preexisting, skipped);
        assert!(preview.manual.iter().any(|m| m.entity == Entity::Datasets));

        let report = rollback(&copy.run_id, data.path()).await;
        target.set_faults(FaultConfig::default());
        target.settle();
        assert_eq!(
            report.state,
            RollbackState::Completed,
            "{profile:?}: {report:#?}"
        );
        if profile == ServerProfile::V4 {
            assert!(
                manual_ids(&report.manual, Entity::DatasetRunItems).is_empty(),
                "v4: run items ride on their trace and go with it: {:?}",
                report.manual
            );
        }
        let v = report.verification.clone().unwrap();
        assert!(v.settled && v.still_present.is_empty() && v.checked > 0);
        assert_as_before(&before, &target.dump(), &report, &format!("{profile:?}"));

        // Running it again changes nothing and says so.
        let again = rollback(&copy.run_id, data.path()).await;
        assert_eq!(again.state, RollbackState::Completed);
        assert_eq!(again.requests_done, report.requests_done);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_hobby_delete_budget_it_stops_says_when_and_completes_after_resuming() {
    // A sandbox "day" of 20 seconds: 4320 times faster than real time.
    let scale = 4_320.0;
    let source = sandbox(ServerProfile::V3, Some((3, 10, 2))).await;
    let target = Sandbox::start(SandboxConfig {
        // Every request the migrator sends is checked against the API description.
        validate_requests: true,
        profile: ServerProfile::V3,
        plan: SandboxPlan::Hobby,
        time_scale: scale,
        visibility_delay: Some(Duration::from_millis(30)),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let before = target.dump();
    let mut endpoint = endpoint(&target);
    endpoint.cloud_plan = CloudPlan::Hobby;
    endpoint.budget_time_scale = scale;
    let data = tempfile::tempdir().unwrap();
    let copy = copy(
        plan(lf(&source), EndpointSpec::Langfuse(endpoint)),
        data.path(),
    )
    .await;

    let preview = migrator_engine::rollback_preview(&copy.run_id, data.path(), &options())
        .await
        .unwrap();
    assert_eq!(preview.daily_delete_budget, Some(25));
    assert!(preview.delete_requests > 25, "{preview:#?}");
    assert!(preview.days_needed.unwrap() >= 2);
    assert!(preview.estimate.contains("days"), "{}", preview.estimate);

    let first = rollback(&copy.run_id, data.path()).await;
    assert_eq!(first.state, RollbackState::WaitingForBudget, "{first:#?}");
    assert!(first.requests_done > 0 && first.requests_done < first.requests_total);
    let at: chrono::DateTime<chrono::Utc> = first.resume_after.as_deref().unwrap().parse().unwrap();
    assert!(
        first.message.contains("budget is spent"),
        "{}",
        first.message
    );
    assert!(
        first
            .message
            .contains(first.resume_after.as_deref().unwrap())
    );
    let status = migrator_engine::rollback_status(&copy.run_id, data.path())
        .unwrap()
        .unwrap();
    assert_eq!(status.state, RollbackState::WaitingForBudget);

    let mut last = first;
    for _ in 0..4 {
        if last.state != RollbackState::WaitingForBudget {
            break;
        }
        let at: chrono::DateTime<chrono::Utc> =
            last.resume_after.as_deref().unwrap().parse().unwrap();
        let wait = (at - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait + Duration::from_millis(500)).await;
        let next = rollback(&copy.run_id, data.path()).await;
        assert!(
            next.requests_done > last.requests_done,
            "progress after resuming"
        );
        last = next;
    }
    assert!(at <= chrono::Utc::now());
    assert_eq!(last.state, RollbackState::Completed, "{last:#?}");
    target.settle();
    assert_as_before(&before, &target.dump(), &last, "hobby");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_copy_is_rolled_back_and_a_resumed_one_is_planned_again() {
    let source = sandbox(ServerProfile::V4, Some((8, 12, 3))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let before = target.dump();
    let data = tempfile::tempdir().unwrap();
    let control = RunControl::new();
    let c = control.clone();
    // Cancel once the traces and observations are written, before the scores.
    let sink = FnSink(move |e| {
        if matches!(
            e,
            ProgressEvent::PhaseStarted {
                entity: Entity::DatasetItems
            }
        ) {
            c.cancel();
        }
    });
    let p: Plan = plan(lf(&source), lf(&target));
    let copy = migrator_engine::run(p, data.path(), sink, control, false)
        .await
        .unwrap();
    assert_eq!(copy.state, migrator_engine::RunState::Cancelled);
    target.settle();
    assert!(
        !ids(&target.dump(), "observations").is_empty(),
        "the copy wrote something"
    );
    assert!(
        ids(&target.dump(), "scores").is_empty(),
        "and stopped before the scores"
    );

    // A rollback that is cancelled before its first request has stored its plan...
    let stopped = RunControl::new();
    stopped.cancel();
    let first = migrator_engine::rollback(&copy.run_id, data.path(), &options(), &stopped, &|_| {})
        .await
        .unwrap();
    assert_eq!(first.state, RollbackState::Incomplete);
    assert_eq!(first.requests_done, 0);
    assert!(first.message.contains("cancelled"), "{}", first.message);

    // ...then the copy is resumed and writes the rest: the next rollback plans again and
    // removes everything.
    let resumed = resume(&copy.run_id, data.path()).await;
    assert_ne!(resumed.state, migrator_engine::RunState::Cancelled);
    target.settle();
    assert!(
        !ids(&target.dump(), "scores").is_empty(),
        "the resumed copy wrote the scores"
    );

    let report = rollback(&copy.run_id, data.path()).await;
    assert_eq!(report.state, RollbackState::Completed, "{report:#?}");
    assert!(
        report.deleted.contains_key(&Entity::Scores)
            || report.deleted.contains_key(&Entity::DatasetItems)
    );
    target.settle();
    assert_as_before(&before, &target.dump(), &report, "cancelled");

    // Verification looks again each time: an object that reappears is named, not assumed gone.
    let back = source.dump()["observations"][0].clone();
    let back_id = back["id"].as_str().unwrap().to_string();
    target.insert_raw("observations", back).unwrap();
    target.settle();
    let impatient = RollbackOptions {
        verify_limit: Duration::from_millis(300),
        ..options()
    };
    let again = migrator_engine::rollback(
        &copy.run_id,
        data.path(),
        &impatient,
        &RunControl::new(),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(again.state, RollbackState::Incomplete);
    let v = again.verification.unwrap();
    assert!(!v.settled);
    assert!(
        v.still_present
            .iter()
            .any(|l| l.entity == Entity::Observations && l.id == back_id),
        "{v:?}"
    );
    assert!(
        again.message.starts_with("Gave up waiting"),
        "{}",
        again.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_server_without_trace_deletes_the_rest_is_removed_and_the_gap_is_named() {
    let source = sandbox(ServerProfile::V2, Some((9, 4, 2))).await;
    let target = sandbox(ServerProfile::V2, None).await;
    let before = target.dump();
    let data = tempfile::tempdir().unwrap();
    let run = copy(plan(lf(&source), lf(&target)), data.path()).await;
    let report = rollback(&run.run_id, data.path()).await;
    assert_eq!(report.state, RollbackState::Incomplete, "{report:#?}");
    assert_eq!(report.failed.len(), 1, "{report:#?}");
    assert!(matches!(
        report.failed[0].action,
        migrator_engine::rollback::Action::DeleteTraces { .. }
    ));
    assert_eq!(
        report.failed[0].reason,
        "this Langfuse server does not delete traces through its API"
    );
    assert!(
        report.message.contains("1 requests failed"),
        "{}",
        report.message
    );
    target.settle();
    let after = target.dump();
    for e in ["dataset_items", "prompts", "models"] {
        assert_eq!(
            before[e], after[e],
            "{e} removed although traces could not be: {report:#?}"
        );
    }
    assert!(!ids(&after, "traces").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_that_also_holds_older_objects_is_kept_and_named() {
    let source = sandbox(ServerProfile::V3, Some((6, 4, 2))).await;
    let target = sandbox(ServerProfile::V3, None).await;
    let trace = source.dump()["traces"][0].clone();
    let shared = trace["id"].as_str().unwrap().to_string();
    // The target already holds a score on that trace, though not the trace itself.
    target
        .insert_raw(
            "scores",
            serde_json::json!({"id": "older-score", "traceId": shared, "name": "kept",
                "value": 1.0, "timestamp": trace["timestamp"], "source": "API"}),
        )
        .unwrap();
    target.settle();
    let before = target.dump();
    let data = tempfile::tempdir().unwrap();
    let run = copy(plan(lf(&source), lf(&target)), data.path()).await;
    let report = rollback(&run.run_id, data.path()).await;
    assert_eq!(report.state, RollbackState::Completed, "{report:#?}");
    assert_eq!(
        manual_ids(&report.manual, Entity::Traces),
        BTreeSet::from([shared.clone()])
    );
    target.settle();
    let after = target.dump();
    assert_eq!(ids(&after, "traces"), BTreeSet::from([shared.clone()]));
    assert_eq!(
        ids(&after, "scores"),
        BTreeSet::from(["older-score".to_string()]),
        "the run's own scores in the kept trace are deleted one by one"
    );
    // The run's observations in the kept trace are listed for the user; no other remain.
    let left: BTreeSet<String> = ids(&after, "observations");
    assert_eq!(left, manual_ids(&report.manual, Entity::Observations));
    assert!(!left.is_empty());
    assert!(ids(&before, "observations").is_empty());
}

/// The target's prompt versions as `name:version` → labels (as a set: their order is the
/// server's business).
fn prompt_labels(dump: &Value) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    dump["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                format!("{}:{}", p["name"].as_str().unwrap(), p["version"]),
                p["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

/// A source with sample data, a target that got its prompts from a first copy, and the plan
/// that copies prompts only.
async fn prompts_copied(seed: u64) -> (Sandbox, Sandbox, tempfile::TempDir, Plan) {
    let source = sandbox(ServerProfile::V4, Some((seed, 4, 2))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let mut prompts_only = plan(lf(&source), lf(&target));
    prompts_only.scope.entities = EntitySelection::Only(vec![Entity::Prompts]);
    copy(prompts_only.clone(), data.path()).await;
    target.settle();
    (source, target, data, prompts_only)
}

/// A version 3 of the summarizer, like version 2 in `s`, with its own id and labels.
fn summarizer_v3(s: &Sandbox, id: &str, labels: &[&str]) -> Value {
    let mut v3 = s.dump()["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "summarizer" && p["version"] == 2)
        .unwrap()
        .clone();
    v3["id"] = id.into();
    v3["version"] = 3.into();
    v3["labels"] = serde_json::json!(labels);
    v3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_the_copy_moved_off_an_older_version_goes_back_to_it() {
    // An earlier migration brought the prompts over; the application reads "production".
    let (source, target, data, prompts_only) = prompts_copied(51).await;
    let before = target.dump();
    assert!(prompt_labels(&before)["summarizer:2"].contains("production"));

    // Since then the source got a version 3 of the summarizer and moved "production" onto it.
    let v3 = summarizer_v3(&source, "prompt-summarizer-3", &["production", "latest"]);
    source
        .patch_raw(
            "prompts",
            "prompt-summarizer-2",
            serde_json::json!({"labels": []}),
        )
        .unwrap();
    source.insert_raw("prompts", v3).unwrap();

    // The next copy adds version 3 in the target and moves the label there...
    let second = copy(prompts_only, data.path()).await;
    target.settle();
    let moved = prompt_labels(&target.dump());
    assert!(moved["summarizer:3"].contains("production"), "{moved:?}");
    assert!(!moved["summarizer:2"].contains("production"), "{moved:?}");

    // ...and its rollback deletes version 3 and puts the label back on version 2, as it was.
    let preview = migrator_engine::rollback_preview(&second.run_id, data.path(), &options())
        .await
        .unwrap();
    assert_eq!(
        preview.restores_labels,
        vec![
            "Move label \"production\" back to version 2 of prompt summarizer, unless another version holds it by then."
                .to_string()
        ]
    );
    let report = rollback(&second.run_id, data.path()).await;
    assert_eq!(report.state, RollbackState::Completed, "{report:#?}");
    target.settle();
    assert_eq!(prompt_labels(&target.dump()), prompt_labels(&before));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_someone_moved_after_the_copy_is_left_where_they_put_it() {
    // The target had version 1 of the summarizer only, labelled "production" there.
    let (_source, target, data, prompts_only) = prompts_copied(52).await;
    target
        .delete_raw("prompts", &prompt_id(&target, "summarizer", 2))
        .unwrap();
    target
        .patch_raw(
            "prompts",
            &prompt_id(&target, "summarizer", 1),
            serde_json::json!({"labels": ["production", "latest"]}),
        )
        .unwrap();

    let second = copy(prompts_only, data.path()).await;
    target.settle();
    assert!(prompt_labels(&target.dump())["summarizer:2"].contains("production"));
    // After the copy, someone creates version 3 in the target and labels it "production".
    let v3 = summarizer_v3(&target, "made-by-hand", &["production"]);
    target
        .patch_raw(
            "prompts",
            &prompt_id(&target, "summarizer", 2),
            serde_json::json!({"labels": ["latest"]}),
        )
        .unwrap();
    target.insert_raw("prompts", v3).unwrap();

    let preview = migrator_engine::rollback_preview(&second.run_id, data.path(), &options())
        .await
        .unwrap();
    assert_eq!(preview.restores_labels.len(), 1, "{preview:#?}");
    let report = rollback(&second.run_id, data.path()).await;
    assert_eq!(report.state, RollbackState::Completed, "{report:#?}");
    target.settle();
    let after = prompt_labels(&target.dump());
    assert!(after["summarizer:3"].contains("production"), "{after:?}");
    assert!(!after["summarizer:1"].contains("production"), "{after:?}");
    assert!(!after.contains_key("summarizer:2"), "{after:?}");
}

fn prompt_id(s: &Sandbox, name: &str, version: i64) -> String {
    s.dump()["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name && p["version"] == version)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Every write of a tracing entity times out after the server applied it, or is cut off before:
/// the copy cannot settle any of them and ends with them failed. Rollback must still find those
/// that landed and delete them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_whose_outcome_was_never_settled_are_looked_up_and_removed() {
    let source = sandbox(ServerProfile::V3, Some((31, 4, 2))).await;
    // Writes show only after a minute, so the copy's checks never see them.
    let target = std::sync::Arc::new(
        Sandbox::start(SandboxConfig {
            profile: ServerProfile::V4,
            visibility_delay: Some(Duration::from_secs(60)),
            ..SandboxConfig::default()
        })
        .await
        .unwrap(),
    );
    target.set_fault_methods(&["POST", "PUT", "PATCH", "DELETE"]);
    let before = target.dump();
    let data = tempfile::tempdir().unwrap();
    let mut p = plan(lf(&source), lf(&target));
    p.options.request_timeout_secs = 1;
    p.options.visibility_wait_ms = 50;
    // Faults only while the tracing entities are written.
    let t = target.clone();
    let sink = FnSink(move |e| {
        if let ProgressEvent::PhaseStarted { entity } = e {
            if matches!(
                entity,
                Entity::Traces | Entity::Observations | Entity::Scores
            ) {
                t.set_faults(FaultConfig {
                    seed: 7,
                    rate: 1.0,
                    kinds: vec![FaultKind::TimeoutAfterApply, FaultKind::ConnectionReset],
                    timeout_ms: 1_500,
                    ..Default::default()
                });
            } else {
                t.set_faults(FaultConfig::default());
            }
        }
    });
    let copy = migrator_engine::run(p, data.path(), sink, RunControl::new(), false)
        .await
        .unwrap();
    target.set_faults(FaultConfig::default());
    target.settle();
    let failed_tracing: u64 = [Entity::Traces, Entity::Observations, Entity::Scores]
        .iter()
        .map(|e| copy.entities.get(e).map_or(0, |c| c.failed))
        .sum();
    assert!(failed_tracing > 0, "the copy settled nothing: {copy:#?}");
    assert!(
        !ids(&target.dump(), "observations").is_empty(),
        "yet some of those writes landed"
    );

    let report = rollback(&copy.run_id, data.path()).await;
    assert_eq!(report.state, RollbackState::Completed, "{report:#?}");
    target.settle();
    assert_as_before(&before, &target.dump(), &report, "unsettled");
}

/// On v4 → v4 trace rows count as written without a request, and the target's keys are listed in
/// the run's window only. A target trace whose own observations and scores all lie before the
/// window must still not be deleted with the run's objects in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_whose_older_objects_lie_outside_the_window_is_kept_and_named() {
    let source = sandbox(ServerProfile::V4, Some((41, 4, 2))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let first = source.dump()["observations"][0].clone();
    let shared = first["traceId"].as_str().unwrap().to_string();
    // The target holds that trace from long ago: one observation and one score, both in 2019.
    let mut older = first.clone();
    older["id"] = "older-observation".into();
    older["parentObservationId"] = Value::Null;
    older["startTime"] = "2019-03-01T10:00:00.000Z".into();
    older["endTime"] = "2019-03-01T10:00:01.000Z".into();
    older["completionStartTime"] = Value::Null;
    target.insert_raw("observations", older).unwrap();
    target
        .insert_raw(
            "scores",
            serde_json::json!({"id": "older-score", "traceId": shared, "name": "kept",
                "value": 1.0, "timestamp": "2019-03-01T10:00:02.000Z", "source": "API"}),
        )
        .unwrap();
    target.settle();
    let before = target.dump();
    let data = tempfile::tempdir().unwrap();
    // The window starts after 2019: the target's objects of that trace are outside it.
    let run = copy(plan(lf(&source), lf(&target)), data.path()).await;
    target.settle();
    assert!(
        ids(&target.dump(), "observations").len() > 1,
        "the copy wrote into the target"
    );

    let report = rollback(&run.run_id, data.path()).await;
    assert_eq!(report.state, RollbackState::Completed, "{report:#?}");
    assert_eq!(
        manual_ids(&report.manual, Entity::Traces),
        BTreeSet::from([shared.clone()]),
        "the kept trace is named: {:#?}",
        report.manual
    );
    target.settle();
    let after = target.dump();
    assert!(
        ids(&after, "observations").contains("older-observation"),
        "the older observation stays"
    );
    assert!(
        ids(&after, "scores").contains("older-score"),
        "the older score stays"
    );
    // Everything else the run wrote is gone; its observations in the kept trace are listed.
    let left: BTreeSet<String> = ids(&after, "observations")
        .into_iter()
        .filter(|id| id != "older-observation")
        .collect();
    assert_eq!(left, manual_ids(&report.manual, Entity::Observations));
    assert_eq!(
        ids(&after, "scores"),
        BTreeSet::from(["older-score".to_string()]),
        "the run's own scores are deleted one by one"
    );
    for e in ["dataset_items", "prompts", "models"] {
        assert_eq!(before[e], after[e], "{e}");
    }
}

/// The manual step for a dataset names it by its name, also when the target holds more than
/// one page of datasets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datasets_are_named_in_manual_steps_past_the_first_page() {
    let source = sandbox(ServerProfile::V3, Some((72, 2, 1))).await;
    let target = sandbox(ServerProfile::V3, None).await;
    // 120 datasets that list before the run's (newest first).
    for i in 0..120 {
        target
            .insert_raw(
                "datasets",
                serde_json::json!({"id": format!("later-{i:03}"), "name": format!("later-{i:03}"),
                    "createdAt": "2099-01-01T00:00:00.000Z", "updatedAt": "2099-01-01T00:00:00.000Z"}),
            )
            .unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let mut p = plan(lf(&source), lf(&target));
    p.scope.entities = EntitySelection::Only(vec![Entity::Datasets]);
    let run = copy(p, data.path()).await;
    assert!(run.entities[&Entity::Datasets].written > 0);
    let names: Vec<String> = source.dump()["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    let preview = migrator_engine::rollback_preview(&run.run_id, data.path(), &options())
        .await
        .unwrap();
    let steps: Vec<&ManualItem> = preview
        .manual
        .iter()
        .filter(|m| m.entity == Entity::Datasets)
        .collect();
    assert_eq!(steps.len(), names.len(), "{steps:#?}");
    for name in &names {
        assert!(
            steps
                .iter()
                .any(|m| m.instruction.contains(&format!("\"{name}\""))),
            "{name} is named: {steps:#?}"
        );
    }
}
