//! v4 → v4 copies against two sandboxes over real HTTP.

mod common;
use common::*;
use langfuse_sandbox::ServerProfile;
use migrator_engine::{Entity, NoProgress, RunControl};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_to_v4_copies_every_object_field_for_field_and_a_rerun_writes_nothing() {
    let source = sandbox(ServerProfile::V4, Some((7, 60, 5))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let plan = plan(lf(&source), lf(&target));

    let report = migrator_engine::run(
        plan.clone(),
        data.path(),
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .unwrap();
    target.settle();
    // Experiments (dataset runs) and their items included: on v4 they ride on root spans.
    let entities = ALL;
    let expected = every_run_item_arrives(&source.dump(), &report);
    let diffs = differences_from_v4(&expected, &target.dump(), entities);
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}\nreport {report:#?}",
        diffs.len(),
        diffs
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let items = &report.entities[&Entity::DatasetRunItems];
    assert!(items.written > 0, "{items:?}");
    assert_eq!(items.read, items.written + items.failed, "{items:?}");
    for (e, c) in &report.entities {
        if *e != Entity::DatasetRunItems {
            assert_eq!(c.failed, 0, "{e}: {c:?}");
            assert_eq!(c.read, c.written, "{e}: {c:?}");
        }
    }

    let before = target.counts();
    let again = migrator_engine::run(plan, data.path(), NoProgress, RunControl::new(), false)
        .await
        .unwrap();
    target.settle();
    assert_eq!(target.counts(), before, "the second run wrote something");
    for (e, c) in &again.entities {
        assert_eq!(c.written, 0, "{e}: {c:?}");
        // Run items that could not ride on a trace fail again, with the same reason.
        let failed = if *e == Entity::DatasetRunItems {
            items.failed
        } else {
            0
        };
        assert_eq!(
            (c.failed, c.skipped),
            (failed, c.read - failed),
            "{e}: everything already there is skipped and reported"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_batches_mix_protobuf_and_json_exports_without_loss() {
    // With three spans a request, about a third of the requests have only lowercase-hex ids and
    // go as protobuf; the rest carry UUIDs or custom ids and go as JSON.
    let source = sandbox(ServerProfile::V4, Some((8, 30, 4))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let mut p = plan(lf(&source), lf(&target));
    p.options.batch_items = 3;
    let report = migrator_engine::run(p, data.path(), NoProgress, RunControl::new(), false)
        .await
        .unwrap();
    target.settle();
    assert!(report.requests["ingestion"] > 40, "{report:#?}");
    assert_no_differences_from_v4(&source.dump(), &target.dump(), &v4_target_entities());
}

/// Reasons of the run items a report names as failed.
fn run_item_reasons(report: &migrator_engine::RunReport) -> Vec<String> {
    report
        .failures
        .iter()
        .filter(|f| f.entity == Entity::DatasetRunItems)
        .map(|f| f.reason.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_items_of_traces_already_in_the_target_fail_with_a_plain_reason() {
    let source = sandbox(ServerProfile::V4, Some((12, 30, 3))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    // The traces arrive first, without their experiments.
    let mut first = plan(lf(&source), lf(&target));
    first.scope.entities = migrator_engine::plan::EntitySelection::Only(vec![
        Entity::Datasets,
        Entity::Traces,
        Entity::Observations,
    ]);
    copy(first, data.path()).await;
    target.settle();

    let report = copy(plan(lf(&source), lf(&target)), data.path()).await;
    target.settle();
    let items = &report.entities[&Entity::DatasetRunItems];
    assert_eq!(items.written, 0, "{items:?}");
    assert_eq!(items.failed, items.read, "{items:?}");
    let reasons = run_item_reasons(&report);
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("its trace already existed in the target")),
        "{reasons:#?}"
    );
    assert!(reasons.iter().all(|r| !r.contains("404")), "{reasons:#?}");
    assert_eq!(target.counts()["dataset_run_items"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_items_outside_the_window_fail_and_arrive_with_their_traces_in_a_later_window() {
    let source = sandbox(ServerProfile::V4, Some((13, 30, 3))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let mut older = plan(lf(&source), lf(&target));
    older.scope.to = middle_start_time(&source);
    let first = copy(older, data.path()).await;
    target.settle();
    let reasons = run_item_reasons(&first);
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("its trace is not part of this migration")),
        "{reasons:#?}"
    );
    let written_first = first.entities[&Entity::DatasetRunItems].written;
    assert!(written_first > 0, "{first:#?}");
    assert_eq!(target.counts()["dataset_run_items"], written_first as usize);

    // The rest of the window: its traces bring their experiment items; the earlier ones are
    // found and skipped.
    let all = copy(plan(lf(&source), lf(&target)), data.path()).await;
    target.settle();
    let items = &all.entities[&Entity::DatasetRunItems];
    assert_eq!(items.skipped, written_first, "{items:?}");
    assert!(items.written > 0, "{items:?}");
    let expected = every_run_item_arrives(&source.dump(), &all);
    assert_no_differences_from_v4(&expected, &target.dump(), ALL);
}
