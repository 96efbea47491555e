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
    // SANDBOX GAP: the v4 profile has no POST /dataset-run-items although the 4.16 spec lists
    // it; until it does, run items are reported as failed with a plain reason and left out here.
    let entities: Vec<&str> = ALL
        .iter()
        .copied()
        .filter(|e| !e.starts_with("dataset_run"))
        .collect();
    let diffs = differences_from_v4(&source.dump(), &target.dump(), &entities);
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
    for f in &report.failures {
        assert_eq!(f.entity, Entity::DatasetRunItems, "{f:?}");
        assert!(
            f.reason.contains("does not accept dataset run items"),
            "{f:?}"
        );
    }
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
        if *e != Entity::DatasetRunItems {
            assert_eq!(
                (c.failed, c.skipped),
                (0, c.read),
                "{e}: everything already there is skipped and reported"
            );
        }
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
