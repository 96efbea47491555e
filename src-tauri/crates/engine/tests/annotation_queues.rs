//! Annotation queues against sandboxes over real HTTP: the queue arrives over the target's own
//! score configs (mapped through the journal), its items on the copied traces and observations
//! (same ids) with their status; a rerun writes nothing; validation is clean; assignments, which
//! the API cannot read, are a manual step; a rollback deletes the items and lists the queue.

mod common;
use common::*;
use langfuse_sandbox::{QUEUE_NAME, Sandbox, ServerProfile};
use migrator_engine::plan::EntitySelection;
use migrator_engine::{Entity, Plan, RunControl};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn queue_plan(source: &Sandbox, target: &Sandbox) -> Plan {
    let mut p = plan(lf(source), lf(target));
    p.scope.entities = EntitySelection::Only(vec![
        Entity::ScoreConfigs,
        Entity::Traces,
        Entity::Observations,
        Entity::AnnotationQueues,
        Entity::AnnotationQueueItems,
    ]);
    p
}

async fn source_with_a_queue(profile: ServerProfile) -> Sandbox {
    let s = sandbox(profile, Some((11, 6, 2))).await;
    s.load_settings_sample();
    s
}

/// A dump's score config names by id.
fn config_names(dump: &Value) -> BTreeMap<String, String> {
    dump["score_configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Queues as a copy must preserve them: name, description, score configs by name.
fn queues(dump: &Value) -> BTreeSet<(String, String, Vec<String>)> {
    let names = config_names(dump);
    dump["annotation_queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            let mut cfgs: Vec<String> = q["scoreConfigIds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|id| names[id.as_str().unwrap()].clone())
                .collect();
            cfgs.sort();
            (
                q["name"].as_str().unwrap().to_string(),
                q["description"].to_string(),
                cfgs,
            )
        })
        .collect()
}

/// Items as a copy must preserve them: queue name, object, status, and whether completed.
fn items(dump: &Value) -> BTreeSet<(String, String, String, String, bool)> {
    let queue_names: BTreeMap<&str, &str> = dump["annotation_queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["id"].as_str().unwrap(), q["name"].as_str().unwrap()))
        .collect();
    dump["annotation_queue_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                queue_names[i["queueId"].as_str().unwrap()].to_string(),
                i["objectType"].as_str().unwrap().to_string(),
                i["objectId"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
                i["completedAt"].is_string(),
            )
        })
        .collect()
}

async fn copies_queues_with_their_items(profile: ServerProfile) {
    let source = source_with_a_queue(profile).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let plan = queue_plan(&source, &target);

    let pre = migrator_engine::preflight(&plan).await.unwrap();
    assert!(
        pre.warnings
            .iter()
            .any(|w| w.contains("assign") && w.contains(QUEUE_NAME)),
        "assignments are a manual step: {:?}",
        pre.warnings
    );

    let report = copy(plan.clone(), data.path()).await;
    for e in [Entity::AnnotationQueues, Entity::AnnotationQueueItems] {
        let c = &report.entities[&e];
        assert!(c.written > 0 && c.failed == 0, "{e}: {report:#?}");
    }
    target.settle();
    let (s, t) = (source.dump(), target.dump());
    assert_eq!(queues(&t), queues(&s));
    assert_eq!(items(&t), items(&s));
    assert!(
        items(&s).iter().any(|i| i.3 == "COMPLETED")
            && items(&s).iter().any(|i| i.1 == "OBSERVATION"),
        "the sample holds a completed item and one on an observation"
    );

    let kinds = [Entity::AnnotationQueues, Entity::AnnotationQueueItems];
    assert_clean_rows(&report.run_id, data.path(), &kinds).await;
    assert_rerun_writes_nothing(plan, data.path(), &target, &kinds).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_to_v4_copies_annotation_queues_with_their_items_and_a_rerun_writes_nothing() {
    copies_queues_with_their_items(ServerProfile::V4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_to_v4_copies_annotation_queues_with_their_items_and_a_rerun_writes_nothing() {
    copies_queues_with_their_items(ServerProfile::V3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_deletes_the_queue_items_and_lists_the_queue_to_delete_by_hand() {
    let source = source_with_a_queue(ServerProfile::V4).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = copy(queue_plan(&source, &target), data.path()).await;
    target.settle();
    let copied = target.dump()["annotation_queue_items"]
        .as_array()
        .unwrap()
        .len() as u64;
    assert!(copied > 0);

    let options = rollback_options();
    let rb = migrator_engine::rollback(
        &report.run_id,
        data.path(),
        &options,
        &RunControl::new(),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        rb.deleted.get(&Entity::AnnotationQueueItems),
        Some(&copied),
        "{rb:#?}"
    );
    assert!(
        target.dump()["annotation_queue_items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let manual: Vec<_> = rb
        .manual
        .iter()
        .filter(|m| m.entity == Entity::AnnotationQueues)
        .collect();
    assert_eq!(manual.len(), 1, "{rb:#?}");
    assert!(manual[0].instruction.contains(QUEUE_NAME), "{manual:?}");
}

/// Connections by provider with what the API lets a client set.
fn connection_settings(dump: &Value) -> BTreeMap<String, String> {
    dump["llm_connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let keep = [
                "adapter",
                "baseURL",
                "customModels",
                "withDefaultModels",
                "config",
            ]
            .map(|k| c[k].to_string())
            .join(" ");
            (c["provider"].as_str().unwrap().to_string(), keep)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_and_llm_connections_travel_through_an_archive() {
    let source = source_with_a_queue(ServerProfile::V4).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let archive = migrator_engine::EndpointSpec::Archive {
        path: folder.path().join("export"),
    };
    let mut export_plan = queue_plan(&source, &target);
    export_plan.target = archive.clone();
    if let EntitySelection::Only(v) = &mut export_plan.scope.entities {
        v.push(Entity::LlmConnections);
    }
    let export = copy(export_plan.clone(), data.path()).await;
    assert_eq!(export.failed_total(), 0, "{export:#?}");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(folder.path().join("export/manifest.json")).unwrap())
            .unwrap();
    for (e, n) in [
        ("llm_connections", 3),
        ("annotation_queues", 1),
        ("annotation_queue_items", 4),
    ] {
        assert_eq!(manifest["entities"][e]["count"], n, "{manifest}");
    }

    let mut import_plan = export_plan;
    import_plan.source = archive;
    let mut t = endpoint(&target);
    for p in langfuse_sandbox::LLM_PROVIDERS {
        t.llm_keys.insert(
            p.to_string(),
            migrator_engine::Secret::new("sk-imported-0000"),
        );
    }
    import_plan.target = migrator_engine::EndpointSpec::Langfuse(t);
    let import = copy(import_plan, data.path()).await;
    assert_eq!(import.failed_total(), 0, "{import:#?}");
    target.settle();
    let (s, t) = (source.dump(), target.dump());
    assert_eq!(queues(&t), queues(&s));
    assert_eq!(items(&t), items(&s));
    assert_eq!(connection_settings(&t), connection_settings(&s));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_name_filter_copies_only_the_items_on_the_chosen_traces() {
    let source = source_with_a_queue(ServerProfile::V4).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let s = source.dump();
    let traces = s["traces"].as_array().unwrap();
    let name_of = |id: &str| {
        traces
            .iter()
            .find(|t| t["id"] == id)
            .and_then(|t| t["name"].as_str())
            .map(str::to_string)
    };
    // The name of the first trace an item is on: the filter chooses the traces of that name.
    let first = s["annotation_queue_items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["objectType"] == "TRACE")
        .unwrap();
    let name =
        name_of(first["objectId"].as_str().unwrap()).expect("the sample's traces have names");
    let chosen: BTreeSet<String> = traces
        .iter()
        .filter(|t| t["name"].as_str() == Some(name.as_str()))
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    let in_chosen: BTreeSet<String> = s["observations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| chosen.contains(o["traceId"].as_str().unwrap_or_default()))
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect();
    let expected: BTreeSet<_> = items(&s)
        .into_iter()
        .filter(|i| match i.1.as_str() {
            "TRACE" => chosen.contains(&i.2),
            _ => in_chosen.contains(&i.2),
        })
        .collect();
    assert!(
        !expected.is_empty() && expected.len() < items(&s).len(),
        "{expected:?}"
    );

    let mut p = queue_plan(&source, &target);
    p.scope.trace_names = vec![name];
    let report = copy(p, data.path()).await;
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    target.settle();
    assert_eq!(items(&target.dump()), expected);
}
