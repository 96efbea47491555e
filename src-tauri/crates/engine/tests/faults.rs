//! Faults on the wire (5xx, resets, timeouts after the write applied, partial 207s, 429s): the
//! copy completes with nothing lost and nothing duplicated.

mod common;
use common::*;
use langfuse_sandbox::{CloudPlan, FaultConfig, SampleSpec, Sandbox, SandboxConfig, ServerProfile};
use migrator_engine::http::{Bucket, Budget, HttpClient, Idempotency};
use migrator_engine::progress::Counters;
use migrator_engine::{EndpointSpec, Entity, NoProgress, RunControl};
use std::sync::Arc;
use std::time::Duration;

fn faults(seed: u64, rate: f64) -> FaultConfig {
    FaultConfig {
        seed,
        rate,
        kinds: vec![],
        slow_ms: 300,
        timeout_ms: 2_500,
        ..FaultConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_both_sides_lose_nothing_and_duplicate_nothing() {
    let source = sandbox(ServerProfile::V4, Some((21, 50, 4))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    source.set_faults(faults(1, 0.1));
    target.set_faults(faults(2, 0.2));
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
    target.set_faults(FaultConfig::default());
    target.settle();
    assert!(report.retries > 0, "faults fired: {report:#?}");
    // Experiment items included: a root span sent again after an unknown outcome must not
    // create its experiment item twice.
    let expected = every_run_item_arrives(&source.dump(), &report);
    assert_no_differences_from_v4(&expected, &target.dump(), ALL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_into_a_v3_target_lose_nothing() {
    let source = sandbox(ServerProfile::V3, Some((22, 30, 4))).await;
    let target = sandbox(ServerProfile::V3, None).await;
    target.set_faults(faults(3, 0.25));
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
    target.set_faults(FaultConfig::default());
    target.settle();
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    assert_no_differences(&source.dump(), &target.dump(), ALL);
}

async fn hobby_sandbox(time_scale: f64, sample: Option<SampleSpec>) -> Sandbox {
    Sandbox::start(SandboxConfig {
        // Every request the migrator sends is checked against the API description.
        validate_requests: true,
        profile: ServerProfile::V4,
        plan: CloudPlan::Hobby,
        time_scale,
        visibility_delay: Some(Duration::from_millis(30)),
        sample,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_429_are_waited_out_honouring_retry_after() {
    // Hobby allows 30 public API requests a minute; here a minute lasts two seconds.
    let target = hobby_sandbox(30.0, None).await;
    let counters = Arc::new(Counters::default());
    let http = Arc::new(HttpClient::new(
        &target.url(),
        "pk-lf-sandbox",
        "sk-lf-sandbox",
        Duration::from_secs(5),
        Budget {
            plan: migrator_engine::plan::CloudPlan::None,
            time_scale: 1.0,
            requests_per_minute: None,
            share_percent: None,
        },
        4,
        counters.clone(),
    ));
    let mut tasks = vec![];
    for _ in 0..70 {
        let http = http.clone();
        tasks.push(tokio::spawn(async move {
            http.send(
                Bucket::PublicApi,
                || http.get("/api/public/v3/scores?limit=1"),
                Idempotency::Safe,
            )
            .await
            .is_ok()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap(), "every request succeeds in the end");
    }
    assert!(counters.rate_limit_waits() > 0, "the server did answer 429");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_within_a_cloud_plans_budget_completes() {
    let source = sandbox(ServerProfile::V4, Some((23, 30, 3))).await;
    let target = hobby_sandbox(12.0, None).await;
    let data = tempfile::tempdir().unwrap();
    let mut p = plan(lf(&source), lf(&target));
    if let EndpointSpec::Langfuse(l) = &mut p.target {
        l.cloud_plan = migrator_engine::plan::CloudPlan::Hobby;
        l.budget_time_scale = 12.0;
    }
    let report = migrator_engine::run(p, data.path(), NoProgress, RunControl::new(), false)
        .await
        .unwrap();
    target.settle();
    for f in &report.failures {
        assert_eq!(f.entity, Entity::DatasetRunItems, "{f:?}");
    }
    assert_no_differences_from_v4(&source.dump(), &target.dump(), &v4_target_entities());
}

/// A score config archived in the source is created, then archived, in the target. When the
/// archiving fails, the run report says so (the config itself was created and is used).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_score_config_that_cannot_be_archived_is_reported() {
    let source = sandbox(ServerProfile::V4, Some((5, 2, 1))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let archived: Vec<String> = source.dump()["score_configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["isArchived"] == true)
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(archived.len(), 1, "the sample has one archived config");
    // Every PATCH fails; creating works.
    target.set_faults(FaultConfig {
        seed: 1,
        rate: 1.0,
        kinds: vec![langfuse_sandbox::FaultKind::Http503],
        ..Default::default()
    });
    target.set_fault_methods(&["PATCH"]);
    let mut p = plan(lf(&source), lf(&target));
    p.scope.entities = migrator_engine::plan::EntitySelection::Only(vec![Entity::ScoreConfigs]);
    let data = tempfile::tempdir().unwrap();
    let report = migrator_engine::run(p, data.path(), NoProgress, RunControl::new(), false)
        .await
        .unwrap();
    let in_target = target.dump()["score_configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == archived[0].as_str())
        .cloned()
        .expect("the config was created");
    assert_eq!(in_target["isArchived"], false, "the archiving failed");
    let id = in_target["id"].as_str().unwrap();
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains(id) && w.contains("could not be archived")),
        "the report names it: {:?}",
        report.warnings
    );
}

/// Two identical comments on one object are two comments. When one of their writes applied
/// without an answer and the other never arrived, verification must not take the first for both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_identical_comments_on_one_object_both_arrive_after_unknown_outcomes() {
    let source = sandbox(ServerProfile::V3, Some((12, 2, 1))).await;
    let trace = source.dump()["traces"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for id in ["same-1", "same-2"] {
        source
            .insert_raw(
                "comments",
                serde_json::json!({"id": id, "objectType": "TRACE", "objectId": trace,
                    "content": "Looks wrong, please check.", "createdAt": "2024-05-01T10:00:00.000Z"}),
            )
            .unwrap();
    }
    let target = std::sync::Arc::new(sandbox(ServerProfile::V3, None).await);
    let mut p = plan(lf(&source), lf(&target));
    p.scope.entities = migrator_engine::plan::EntitySelection::Only(vec![
        Entity::Prompts,
        Entity::Traces,
        Entity::Observations,
        Entity::Comments,
    ]);
    p.options.request_timeout_secs = 1;
    // The first comment written applies but its answer is lost; the next is cut off unapplied.
    let t = target.clone();
    let sink = migrator_engine::progress::FnSink(move |e| {
        if let migrator_engine::ProgressEvent::PhaseStarted {
            entity: Entity::Comments,
        } = e
        {
            t.set_faults(FaultConfig {
                timeout_ms: 1_500,
                ..FaultConfig::default()
            });
            t.set_fault_methods(&["POST"]);
            t.script_faults(&[
                langfuse_sandbox::FaultKind::TimeoutAfterApply,
                langfuse_sandbox::FaultKind::ConnectionReset,
            ]);
        }
    });
    let data = tempfile::tempdir().unwrap();
    let report = migrator_engine::run(p, data.path(), sink, RunControl::new(), false)
        .await
        .unwrap();
    target.settle();
    let same = target.dump()["comments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["objectId"] == trace.as_str() && c["content"] == "Looks wrong, please check.")
        .count();
    assert_eq!(same, 2, "both comments are in the target: {report:#?}");
    assert_eq!(report.entities[&Entity::Comments].failed, 0, "{report:#?}");
}
