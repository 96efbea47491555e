//! Dashboards and their widgets against sandboxes over real HTTP: widgets arrive with their
//! query and chart, dashboards with their filters and layout, each placement keeping its id and
//! showing the target's copy of its widget; validation is clean and a rerun writes nothing; a
//! server without the (unstable) API is named as lacking it; a rollback deletes both; an archive
//! carries both.

mod common;
use common::*;
use langfuse_sandbox::{DASHBOARD_NAME, Sandbox, ServerProfile};
use migrator_engine::plan::EntitySelection;
use migrator_engine::{EndpointSpec, Entity, Plan};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const KINDS: [Entity; 2] = [Entity::DashboardWidgets, Entity::Dashboards];

async fn source_with_a_dashboard() -> Sandbox {
    let s = sandbox(ServerProfile::V4, None).await;
    s.load_settings_sample();
    s
}

fn dashboard_plan(source: EndpointSpec, target: EndpointSpec) -> Plan {
    let mut p = plan(source, target);
    p.scope.entities = EntitySelection::Only(KINDS.to_vec());
    p
}

/// Widgets by name with everything a person set.
fn widgets(dump: &Value) -> BTreeMap<String, Value> {
    dump["dashboard_widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let keep = [
                "description",
                "view",
                "dimensions",
                "metrics",
                "filters",
                "chartType",
                "chartConfig",
            ]
            .map(|k| w[k].clone());
            (w["name"].as_str().unwrap().to_string(), json!(keep))
        })
        .collect()
}

/// Dashboards by name: description, filters, and placements with their widgets' names.
fn dashboards(dump: &Value) -> BTreeMap<String, Value> {
    let names: BTreeMap<&str, &str> = dump["dashboard_widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["id"].as_str().unwrap(), w["name"].as_str().unwrap()))
        .collect();
    dump["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let placed: Vec<Value> = d["placements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let mut p = p.clone();
                    if let Some(w) = p["widgetId"].as_str() {
                        p["widgetId"] = json!(names[w]);
                    }
                    p
                })
                .collect();
            (
                d["name"].as_str().unwrap().to_string(),
                json!([d["description"], d["filters"], placed]),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_to_v4_copies_dashboards_with_their_widgets_and_a_rerun_writes_nothing() {
    let source = source_with_a_dashboard().await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let plan = dashboard_plan(lf(&source), lf(&target));
    let pre = migrator_engine::preflight(&plan).await.unwrap();
    assert!(
        pre.warnings
            .iter()
            .any(|w| w.contains("Dashboards are copied") && w.contains("unstable")),
        "{:?}",
        pre.warnings
    );
    let report = copy(plan.clone(), data.path()).await;
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    target.settle();
    let (s, t) = (source.dump(), target.dump());
    assert_eq!(widgets(&t), widgets(&s));
    assert_eq!(dashboards(&t), dashboards(&s));
    assert!(dashboards(&t).contains_key(DASHBOARD_NAME));
    assert_clean_rows(&report.run_id, data.path(), &KINDS).await;
    assert_rerun_writes_nothing(plan, data.path(), &target, &KINDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_without_the_dashboards_api_are_named() {
    let source = source_with_a_dashboard().await;
    let target = sandbox(ServerProfile::V4_16, None).await;
    let data = tempfile::tempdir().unwrap();
    let p = dashboard_plan(lf(&source), lf(&target));
    let pre = migrator_engine::preflight(&p).await.unwrap();
    assert!(
        pre.warnings.iter().any(|w| w.contains("target")
            && w.contains("dashboards")
            && w.contains("does not offer")),
        "{:?}",
        pre.warnings
    );
    let report = copy(p, data.path()).await;
    assert_eq!(
        report.entities[&Entity::DashboardWidgets].failed,
        2,
        "{report:#?}"
    );
    assert!(
        report
            .failures
            .iter()
            .filter(|f| f.entity == Entity::DashboardWidgets)
            .all(|f| f.reason.contains("does not offer")),
        "{report:#?}"
    );

    let old = sandbox(ServerProfile::V3, None).await;
    let p = dashboard_plan(lf(&old), lf(&source));
    let report = copy(p, data.path()).await;
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    assert!(
        report.warnings.iter().any(|w| w.contains("source")
            && w.contains("dashboards")
            && w.contains("does not offer")),
        "{:?}",
        report.warnings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_deletes_the_copied_dashboards_and_widgets() {
    let source = source_with_a_dashboard().await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = copy(dashboard_plan(lf(&source), lf(&target)), data.path()).await;
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    let rb = rolled_back(&report.run_id, data.path()).await;
    assert_eq!(rb.deleted.get(&Entity::Dashboards), Some(&1), "{rb:#?}");
    assert_eq!(
        rb.deleted.get(&Entity::DashboardWidgets),
        Some(&2),
        "{rb:#?}"
    );
    target.settle();
    let t = target.dump();
    assert!(t["dashboards"].as_array().unwrap().is_empty());
    assert!(t["dashboard_widgets"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_travel_through_an_archive() {
    let source = source_with_a_dashboard().await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let manifest = through_an_archive(lf(&source), lf(&target), dashboard_plan, data.path()).await;
    assert_eq!(manifest["entities"]["dashboards"]["count"], 1, "{manifest}");
    target.settle();
    let (s, t) = (source.dump(), target.dump());
    assert_eq!(widgets(&t), widgets(&s));
    assert_eq!(dashboards(&t), dashboards(&s));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_run_into_a_target_holding_the_copies_writes_nothing_and_sees_no_conflict() {
    let source = source_with_a_dashboard().await;
    let target = sandbox(ServerProfile::V4, None).await;
    let first = tempfile::tempdir().unwrap();
    let plan = dashboard_plan(lf(&source), lf(&target));
    let report = copy(plan.clone(), first.path()).await;
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    target.settle();
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
