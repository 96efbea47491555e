//! The current Langfuse API (Cloud, servers ≥ 4.59) and 4.16-era self-hosted v4 servers name
//! some fields differently (the v2 observations' `providedModelName` became `model`; dataset
//! items gained a server-set `version`). Copies in both directions keep every field and
//! validate clean.

mod common;
use common::*;
use langfuse_sandbox::ServerProfile;
use serde_json::Value;
use std::collections::BTreeMap;

/// Each generation's model name, by observation id, from a raw dump.
fn models(dump: &Value) -> BTreeMap<String, Value> {
    dump["observations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == "GENERATION")
        .map(|o| (o["id"].as_str().unwrap().to_string(), o["model"].clone()))
        .collect()
}

async fn copy_and_validate(from: ServerProfile, to: ServerProfile) {
    let source = sandbox(from, Some((41, 20, 4))).await;
    let target = sandbox(to, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = copy(plan(lf(&source), lf(&target)), data.path()).await;
    target.settle();
    let (s, t) = (source.dump(), target.dump());
    let source_models = models(&s);
    assert!(
        source_models.values().any(Value::is_string),
        "the sample has generations with a model"
    );
    assert_eq!(models(&t), source_models);
    let expected = every_run_item_arrives(&s, &report);
    assert_no_differences_from_v4(&expected, &t, ALL);

    let v = validated(&report.run_id, data.path()).await;
    let unclean: Vec<_> = v
        .entities
        .iter()
        .filter(|e| !e.is_clean() && !e.entity.starts_with("dataset_run"))
        .map(|e| (&e.entity, e.missing_count, e.extra_count, &e.differing))
        .collect();
    assert!(unclean.is_empty(), "{from:?} -> {to:?}: {unclean:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4_16_server_copies_to_the_current_api() {
    copy_and_validate(ServerProfile::V4_16, ServerProfile::V4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_current_api_copies_to_a_4_16_server() {
    copy_and_validate(ServerProfile::V4, ServerProfile::V4_16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_current_api_copies_to_itself() {
    copy_and_validate(ServerProfile::V4, ServerProfile::V4).await;
}
