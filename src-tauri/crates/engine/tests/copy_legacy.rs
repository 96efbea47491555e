//! Older servers (v2, v3) as sources, copied into v4; and v4 → archive → v4.

mod common;
use common::*;
use langfuse_sandbox::ServerProfile;
use migrator_engine::{EndpointSpec, Entity, NoProgress, RunControl};

async fn legacy_to_v4(profile: ServerProfile) {
    let source = sandbox(profile, Some((11, 40, 4))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = migrator_engine::run(
        plan(lf(&source), lf(&target)),
        data.path(),
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .unwrap();
    target.settle();
    let items = &report.entities[&Entity::DatasetRunItems];
    assert!(items.written > 0, "{items:?}");
    let expected = every_run_item_arrives(&source.dump(), &report);
    assert_eq!(report.failures.len() as u64, items.failed, "{report:#?}");
    let mut t = target.dump();
    let trace_spans = t["observations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["id"].as_str().unwrap().starts_with("t-"))
        .count();
    assert_eq!(
        trace_spans,
        source.counts()["traces"],
        "one root span per legacy trace"
    );
    let expected = expect_trace_spans(&expected, &mut t);
    assert_no_differences(&expected, &t, ALL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_to_v4_keeps_traces_fields_and_trees() {
    legacy_to_v4(ServerProfile::V3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_to_v4_keeps_traces_fields_and_trees() {
    legacy_to_v4(ServerProfile::V2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_to_archive_to_v4_round_trips() {
    let source = sandbox(ServerProfile::V4, Some((5, 40, 4))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let archive = EndpointSpec::Archive {
        path: folder.path().join("export"),
    };

    let export = migrator_engine::run(
        plan(lf(&source), archive.clone()),
        data.path(),
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .unwrap();
    assert_eq!(export.failed_total(), 0, "{export:#?}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.path().join("export/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["complete"], true);
    assert_eq!(manifest["entities"]["observations"]["count"], 160);
    assert_eq!(
        manifest["entities"]["observations"]["sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );

    let import = migrator_engine::run(
        plan(archive, lf(&target)),
        data.path(),
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .unwrap();
    target.settle();
    // Run items come through the archive and ride on their traces' root spans.
    assert!(import.entities[&Entity::DatasetRunItems].written > 0);
    assert_eq!(
        import.failures.len() as u64,
        import.entities[&Entity::DatasetRunItems].failed,
        "{import:#?}"
    );
    let expected = every_run_item_arrives(&source.dump(), &import);
    assert_no_differences_from_v4(&expected, &target.dump(), ALL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_archive_is_refused_with_a_plain_reason() {
    let source = sandbox(ServerProfile::V4, Some((5, 10, 2))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let archive = EndpointSpec::Archive {
        path: folder.path().join("export"),
    };
    migrator_engine::run(
        plan(lf(&source), archive.clone()),
        data.path(),
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .unwrap();
    let f = folder.path().join("export/observations.jsonl.gz");
    let mut bytes = std::fs::read(&f).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&f, bytes).unwrap();
    let err = migrator_engine::run(
        plan(archive, lf(&target)),
        data.path(),
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("does not match its checksum"),
        "{err}"
    );
    assert_eq!(
        target.counts().values().sum::<usize>(),
        target.counts()["models"],
        "nothing was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_to_v3_moves_every_trace_observation_and_score() {
    let source = sandbox(ServerProfile::V4, Some((13, 30, 4))).await;
    let target = sandbox(ServerProfile::V3, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = migrator_engine::run(
        plan(lf(&source), lf(&target)),
        data.path(),
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .unwrap();
    target.settle();
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    let (s, t) = (source.dump(), target.dump());
    // v4 rows carry their trace's columns (userId, traceName, ...); a v3 observation does not,
    // so compare the observation's own fields, and the traces as a whole.
    let own = [
        "id",
        "traceId",
        "type",
        "name",
        "startTime",
        "endTime",
        "completionStartTime",
        "model",
        "modelParameters",
        "input",
        "output",
        "level",
        "statusMessage",
        "parentObservationId",
        "usageDetails",
        "environment",
        "version",
        "promptName",
        "promptVersion",
    ];
    let pick = |d: &serde_json::Value| -> Vec<serde_json::Value> {
        d["observations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                serde_json::Value::Object(
                    own.iter().map(|k| (k.to_string(), o[*k].clone())).collect(),
                )
            })
            .collect()
    };
    assert_eq!(pick(&s), pick(&t));
    let ids = |d: &serde_json::Value, e: &str| {
        d[e].as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&s, "traces"), ids(&t, "traces"));
    assert_eq!(ids(&s, "scores"), ids(&t, "scores"));
    let diffs = differences_from_v4(&s, &t, &["traces"]);
    assert!(diffs.is_empty(), "{diffs:#?}");
}
