//! Trace-name and tag filters choose traces, and everything that belongs to the chosen traces
//! comes with them: their observations (a legacy observation carries neither its trace's name
//! nor its tags), their scores, sessions and comments. Nothing else of the traces' kind moves,
//! and validation compares the same selection on both sides.

mod common;
use common::*;
use langfuse_sandbox::ServerProfile;
use migrator_engine::{Entity, NoProgress, RunControl};
use serde_json::Value;
use std::collections::BTreeSet;

fn ids_where(dump: &Value, entity: &str, keep: impl Fn(&Value) -> bool) -> BTreeSet<String> {
    dump[entity]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| keep(r))
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// The source's dump cut down to the given traces and what belongs to them; other entities whole.
fn chosen_part(source: &Value, traces: &BTreeSet<String>) -> Value {
    let str_in = |v: &Value, set: &BTreeSet<String>| v.as_str().is_some_and(|s| set.contains(s));
    let sessions: BTreeSet<String> = source["traces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| str_in(&t["id"], traces))
        .filter_map(|t| t["sessionId"].as_str().map(String::from))
        .collect();
    let observations = ids_where(source, "observations", |o| str_in(&o["traceId"], traces));
    let mut s = source.clone();
    let keep = |s: &mut Value, entity: &str, f: &dyn Fn(&Value) -> bool| {
        s[entity].as_array_mut().unwrap().retain(|r| f(r));
    };
    keep(&mut s, "traces", &|t| str_in(&t["id"], traces));
    keep(&mut s, "observations", &|o| str_in(&o["traceId"], traces));
    keep(&mut s, "sessions", &|x| str_in(&x["id"], &sessions));
    keep(&mut s, "dataset_run_items", &|i| {
        str_in(&i["traceId"], traces)
    });
    keep(&mut s, "scores", &|x| {
        if !x["traceId"].is_null() {
            str_in(&x["traceId"], traces)
        } else if !x["sessionId"].is_null() {
            str_in(&x["sessionId"], &sessions)
        } else {
            true
        }
    });
    keep(&mut s, "comments", &|c| match c["objectType"].as_str() {
        Some("TRACE") => str_in(&c["objectId"], traces),
        Some("OBSERVATION") => str_in(&c["objectId"], &observations),
        Some("SESSION") => str_in(&c["objectId"], &sessions),
        _ => true,
    });
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_name_filter_on_a_legacy_source_brings_the_chosen_traces_whole() {
    let source = sandbox(ServerProfile::V3, Some((41, 40, 4))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let mut p = plan(lf(&source), lf(&target));
    p.scope.trace_names = vec!["rag-query".into()];
    let report = migrator_engine::run(p, data.path(), NoProgress, RunControl::new(), false)
        .await
        .unwrap();
    target.settle();

    let s = source.dump();
    let chosen = ids_where(&s, "traces", |t| t["name"] == "rag-query");
    assert!(!chosen.is_empty() && chosen.len() < s["traces"].as_array().unwrap().len());
    let expected = every_run_item_arrives(&chosen_part(&s, &chosen), &report);
    assert!(
        !expected["observations"].as_array().unwrap().is_empty(),
        "the chosen traces have observations"
    );
    assert!(
        report.entities[&Entity::Observations].written as usize
            == expected["observations"].as_array().unwrap().len(),
        "{report:#?}"
    );
    let mut t = target.dump();
    let expected = expect_trace_spans(&expected, &mut t);
    assert_no_differences(&expected, &t, ALL);

    // Validation compares the same selection on both sides: nothing missing, nothing extra.
    let v = validated(&report.run_id, data.path()).await;
    for e in &v.entities {
        let failed = report
            .entities
            .iter()
            .find(|(k, _)| k.as_str() == e.entity)
            .map_or(0, |(_, c)| c.failed);
        assert!(
            e.missing_count == failed && e.extra_count == 0 && e.differing_count == 0,
            "{}: {e:#?}",
            e.entity
        );
    }
    let obs = v
        .entities
        .iter()
        .find(|e| e.entity == "observations")
        .unwrap();
    assert_eq!(
        obs.source_count,
        expected["observations"].as_array().unwrap().len() as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_filter_on_v4_moves_only_tagged_traces_and_theirs() {
    let source = sandbox(ServerProfile::V4, Some((42, 40, 3))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let s = source.dump();
    // The most common tag of the sample, so the filter chooses some traces but not all.
    let tag = s["traces"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["tags"].as_array().unwrap().clone())
        .filter_map(|v| v.as_str().map(String::from))
        .max_by_key(|tag| {
            s["traces"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["tags"].as_array().unwrap().iter().any(|v| v == tag))
                .count()
        })
        .expect("the sample has tags");
    let chosen = ids_where(&s, "traces", |t| {
        t["tags"].as_array().unwrap().iter().any(|v| v == &tag)
    });
    assert!(chosen.len() < s["traces"].as_array().unwrap().len());

    let data = tempfile::tempdir().unwrap();
    let mut p = plan(lf(&source), lf(&target));
    p.scope.tags = vec![tag];
    let report = migrator_engine::run(p, data.path(), NoProgress, RunControl::new(), false)
        .await
        .unwrap();
    target.settle();
    let expected = every_run_item_arrives(&chosen_part(&s, &chosen), &report);
    assert_no_differences_from_v4(&expected, &target.dump(), &v4_target_entities());
    assert_eq!(
        ids_where(&target.dump(), "traces", |_| true),
        chosen,
        "exactly the tagged traces"
    );
}
