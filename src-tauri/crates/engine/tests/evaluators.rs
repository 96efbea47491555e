//! LLM-as-judge evaluators and their evaluation rules against sandboxes over real HTTP: the
//! evaluators arrive with their prompt, variable mapping, model config (by LLM connection
//! provider) and output definition, the rules with their filter, sampling and assignments on the
//! target's copies of the evaluators; validation is clean and a rerun writes nothing; a server
//! without the API is named as lacking it while the rest of the run goes on; a rollback deletes
//! both; an archive carries both.

mod common;
use common::*;
use langfuse_sandbox::{EVALUATOR_NAMES, LLM_PROVIDERS, RULE_NAME, Sandbox, ServerProfile};
use migrator_engine::plan::EntitySelection;
use migrator_engine::{EndpointSpec, Entity, Plan};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const KINDS: [Entity; 2] = [Entity::Evaluators, Entity::EvaluationRules];

async fn source_with_evaluators(profile: ServerProfile) -> Sandbox {
    let s = sandbox(profile, Some((21, 4, 2))).await;
    s.load_settings_sample();
    s
}

/// A target endpoint with a key for every LLM connection of the sample.
fn keyed(target: &Sandbox) -> EndpointSpec {
    let mut t = endpoint(target);
    for p in LLM_PROVIDERS {
        t.llm_keys.insert(
            p.to_string(),
            migrator_engine::Secret::new("sk-target-0000"),
        );
    }
    EndpointSpec::Langfuse(t)
}

fn evaluator_plan(source: EndpointSpec, target: EndpointSpec) -> Plan {
    let mut p = plan(source, target);
    p.scope.entities = EntitySelection::Only(vec![
        Entity::LlmConnections,
        Entity::Evaluators,
        Entity::EvaluationRules,
    ]);
    p
}

/// Evaluators by name with what a copy must keep: type, description and the latest definition.
fn evaluators(dump: &Value) -> BTreeMap<String, Value> {
    dump["evaluators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                json!([e["type"], e["description"], e["definition"]]),
            )
        })
        .collect()
}

/// Rules by name: enabled, sampling, filter, and the assignments with evaluator names.
fn rules(dump: &Value) -> BTreeMap<String, Value> {
    let names: BTreeMap<&str, &str> = dump["evaluators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap(), e["name"].as_str().unwrap()))
        .collect();
    dump["evaluation_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut assigned: Vec<Value> = r["evaluatorAssignments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    json!([
                        names[a["evaluatorId"].as_str().unwrap()],
                        a["variableMapping"]
                    ])
                })
                .collect();
            assigned.sort_by_key(|a| a.to_string());
            (
                r["name"].as_str().unwrap().to_string(),
                json!([r["enabled"], r["sampling"], r["filter"], assigned]),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_to_v4_copies_evaluators_and_rules_validation_is_clean_and_a_rerun_writes_nothing() {
    let source = source_with_evaluators(ServerProfile::V4).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let plan = evaluator_plan(lf(&source), keyed(&target));

    let pre = migrator_engine::preflight(&plan).await.unwrap();
    assert!(
        !pre.warnings.iter().any(|w| w.contains("evaluators")
            && w.contains("not copied")
            && !w.contains("dashboards")),
        "both sides serve evaluators: {:?}",
        pre.warnings
    );
    assert_eq!(pre.counts[&Entity::Evaluators], Some(3), "{pre:#?}");

    let report = copy(plan.clone(), data.path()).await;
    for e in KINDS {
        let c = &report.entities[&e];
        assert!(c.written > 0 && c.failed == 0, "{e}: {report:#?}");
    }
    target.settle();
    let (s, t) = (source.dump(), target.dump());
    assert_eq!(evaluators(&t), evaluators(&s));
    assert_eq!(rules(&t), rules(&s));
    assert_eq!(evaluators(&t).keys().cloned().collect::<Vec<_>>(), {
        let mut n: Vec<String> = EVALUATOR_NAMES.iter().map(|s| s.to_string()).collect();
        n.sort();
        n
    });
    assert!(rules(&t).contains_key(RULE_NAME));

    assert_clean_rows(&report.run_id, data.path(), &KINDS).await;
    assert_rerun_writes_nothing(plan, data.path(), &target, &KINDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evaluator_whose_llm_connection_has_no_key_fails_alone_and_names_the_connection() {
    let source = source_with_evaluators(ServerProfile::V4).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    // No keys: the connections stay behind, so do the evaluators that judge with them.
    let report = copy(evaluator_plan(lf(&source), lf(&target)), data.path()).await;
    let failed: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.entity == Entity::Evaluators)
        .collect();
    assert_eq!(failed.len(), 2, "{report:#?}");
    assert!(
        failed
            .iter()
            .any(|f| f.reason.contains("\"openai\"") && f.reason.contains("LLM connection")),
        "{failed:#?}"
    );
    target.settle();
    let t = target.dump();
    assert_eq!(
        evaluators(&t).keys().cloned().collect::<Vec<_>>(),
        vec!["has-answer".to_string()],
        "the code evaluator needs no connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_without_the_evaluator_api_are_named_and_the_run_goes_on() {
    // An older source: nothing to read, said before the run.
    let source = source_with_evaluators(ServerProfile::V3).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let mut p = evaluator_plan(lf(&source), keyed(&target));
    if let EntitySelection::Only(v) = &mut p.scope.entities {
        v.push(Entity::Traces);
    }
    let pre = migrator_engine::preflight(&p).await.unwrap();
    assert!(
        pre.warnings.iter().any(|w| w.contains("source")
            && w.contains("evaluators")
            && w.contains("does not offer")),
        "{:?}",
        pre.warnings
    );
    let report = copy(p, data.path()).await;
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    assert!(report.entities[&Entity::Traces].written > 0);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("evaluators") && w.contains("does not offer")),
        "the saved report says it too: {:?}",
        report.warnings
    );

    // An older target: each evaluator and rule fails with the reason; the rest is copied.
    let source = source_with_evaluators(ServerProfile::V4).await;
    let target = sandbox(ServerProfile::V4_16, None).await;
    let p = evaluator_plan(lf(&source), keyed(&target));
    let pre = migrator_engine::preflight(&p).await.unwrap();
    assert!(
        pre.warnings.iter().any(|w| w.contains("target")
            && w.contains("evaluators")
            && w.contains("does not offer")),
        "{:?}",
        pre.warnings
    );
    let report = copy(p, data.path()).await;
    assert_eq!(
        report.entities[&Entity::LlmConnections].failed,
        0,
        "{report:#?}"
    );
    assert_eq!(
        report.entities[&Entity::Evaluators].failed,
        3,
        "{report:#?}"
    );
    assert!(
        report
            .failures
            .iter()
            .filter(|f| KINDS.contains(&f.entity))
            .all(|f| f.reason.contains("does not offer")),
        "{report:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_deletes_the_copied_rules_and_evaluators() {
    let source = source_with_evaluators(ServerProfile::V4).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = copy(evaluator_plan(lf(&source), keyed(&target)), data.path()).await;
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    let rb = rolled_back(&report.run_id, data.path()).await;
    assert_eq!(rb.deleted.get(&Entity::Evaluators), Some(&3), "{rb:#?}");
    assert_eq!(
        rb.deleted.get(&Entity::EvaluationRules),
        Some(&1),
        "{rb:#?}"
    );
    target.settle();
    let t = target.dump();
    assert!(t["evaluators"].as_array().unwrap().is_empty());
    assert!(t["evaluation_rules"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluators_and_rules_travel_through_an_archive() {
    let source = source_with_evaluators(ServerProfile::V4).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let manifest =
        through_an_archive(lf(&source), keyed(&target), evaluator_plan, data.path()).await;
    assert_eq!(manifest["entities"]["evaluators"]["count"], 3, "{manifest}");
    assert_eq!(
        manifest["entities"]["evaluation_rules"]["count"], 1,
        "{manifest}"
    );
    target.settle();
    let (s, t) = (source.dump(), target.dump());
    assert_eq!(evaluators(&t), evaluators(&s));
    assert_eq!(rules(&t), rules(&s));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_run_into_a_target_holding_the_copies_writes_nothing_and_sees_no_conflict() {
    let source = source_with_evaluators(ServerProfile::V4).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let first = tempfile::tempdir().unwrap();
    let plan = evaluator_plan(lf(&source), keyed(&target));
    let report = copy(plan.clone(), first.path()).await;
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    target.settle();
    // Another data folder: a journal that knows nothing of the first run.
    let second = tempfile::tempdir().unwrap();
    let again = copy(plan, second.path()).await;
    for e in KINDS {
        let c = &again.entities[&e];
        assert_eq!(
            (c.written, c.failed, c.skipped),
            (0, 0, c.read),
            "{e}: {again:#?}"
        );
    }
    assert!(again.conflicts.is_empty(), "{:#?}", again.conflicts);
}
