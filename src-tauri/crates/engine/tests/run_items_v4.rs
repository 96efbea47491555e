//! Dataset run items that share a trace, copied from an older server into Langfuse v4.
//!
//! v4 creates a run item from a span's `langfuse.experiment.*` attributes, and a span names one
//! item. Langfuse reads those attributes from any span of a trace (not only its root), so when
//! several dataset runs link one trace, the first item rides on the trace's span and each further
//! one gets a span of its own in that trace. The oracle is the sandboxes' raw dumps: the target's
//! run items are what its experiment items API serves.

mod common;
use common::*;
use langfuse_sandbox::{FaultConfig, FaultKind, Sandbox, ServerProfile};
use migrator_engine::progress::FnSink;
use migrator_engine::{Entity, RollbackState, RunControl};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A v3 source whose sample has traces that several dataset runs link.
async fn shared_source() -> Sandbox {
    let source = sandbox(ServerProfile::V3, Some((11, 40, 4))).await;
    assert!(
        run_items_sharing_a_trace(&source.dump()) > 0,
        "the sample has traces that several dataset runs link"
    );
    source
}

/// The span ids of the target's observations, with how often each is there.
fn span_counts(target: &Value) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for o in target["observations"].as_array().unwrap() {
        *n.entry(o["id"].as_str().unwrap().to_string()).or_default() += 1;
    }
    n
}

/// Every source run item is in the target (by run, item and trace), each once.
fn assert_every_item_once(source: &Value, target: &Value) {
    let key = |i: &Value| {
        format!(
            "{}|{}|{}",
            i["datasetRunName"], i["datasetItemId"], i["traceId"]
        )
    };
    let mut want: Vec<String> = source["dataset_run_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    let mut got: Vec<String> = target["dataset_run_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "each run item once in the target");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_items_sharing_a_trace_all_arrive_validate_clean_and_roll_back() {
    let source = shared_source().await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = copy(plan(lf(&source), lf(&target)), data.path()).await;
    target.settle();
    let s = source.dump();
    let expected = every_run_item_arrives(&s, &report);
    assert_eq!(
        report.entities[&Entity::DatasetRunItems].written as usize,
        s["dataset_run_items"].as_array().unwrap().len(),
        "{report:#?}"
    );
    let mut t = target.dump();
    assert_every_item_once(&s, &t);
    let expected = expect_trace_spans(&expected, &mut t);
    assert_no_differences(&expected, &t, ALL);

    // Validation does not count the items' own spans as extra observations.
    let v = validated(&report.run_id, data.path()).await;
    for e in [
        Entity::Traces,
        Entity::Observations,
        Entity::DatasetRunItems,
    ] {
        let r = v.entities.iter().find(|x| x.entity == e.as_str()).unwrap();
        assert!(r.is_clean(), "{e}: {r:#?}");
    }

    // Running it again writes nothing: no span twice.
    let before = span_counts(&target.dump());
    let again = copy(plan(lf(&source), lf(&target)), data.path()).await;
    target.settle();
    let written: Vec<_> = again
        .entities
        .iter()
        .filter(|(_, c)| c.written > 0)
        .collect();
    assert!(written.is_empty(), "{written:?}");
    assert_eq!(span_counts(&target.dump()), before);

    // Rolling back removes the items' spans with their traces: they do not make a trace look
    // as if it held objects the run did not write.
    let rb = migrator_engine::rollback(
        &report.run_id,
        data.path(),
        &rollback_options(),
        &RunControl::new(),
        &|_| {},
    )
    .await
    .unwrap();
    target.settle();
    assert_eq!(rb.state, RollbackState::Completed, "{rb:#?}");
    let by_hand: Vec<_> = rb
        .manual
        .iter()
        .filter(|m| {
            matches!(
                m.entity,
                Entity::Traces | Entity::Observations | Entity::DatasetRunItems
            )
        })
        .collect();
    // Nothing is left to do by hand: the items went with their traces.
    assert!(by_hand.is_empty(), "{by_hand:#?}");
    let after = target.dump();
    for e in ["traces", "observations", "dataset_run_items"] {
        assert!(
            after[e].as_array().unwrap().is_empty(),
            "{e} left: {}",
            after[e]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_span_whose_answer_was_lost_is_looked_up_not_sent_twice() {
    let source = shared_source().await;
    let target = Arc::new(sandbox(ServerProfile::V4, None).await);
    let mut p = plan(lf(&source), lf(&target));
    p.options.request_timeout_secs = 1;
    // In the run items phase the first spans apply but their answers are lost.
    let t = target.clone();
    let sink = FnSink(move |e| {
        if let migrator_engine::ProgressEvent::PhaseStarted {
            entity: Entity::DatasetRunItems,
        } = e
        {
            t.set_faults(FaultConfig {
                timeout_ms: 1_500,
                ..FaultConfig::default()
            });
            t.set_fault_methods(&["POST"]);
            t.script_faults(&[FaultKind::TimeoutAfterApply, FaultKind::TimeoutAfterApply]);
        }
    });
    let data = tempfile::tempdir().unwrap();
    let report = migrator_engine::run(p, data.path(), sink, RunControl::new(), false)
        .await
        .unwrap();
    target.set_faults(FaultConfig::default());
    target.settle();
    every_run_item_arrives(&source.dump(), &report);

    // A resume sends no span again.
    let resumed = resume(&report.run_id, data.path()).await;
    target.settle();
    every_run_item_arrives(&source.dump(), &resumed);

    let t = target.dump();
    let twice: Vec<_> = span_counts(&t)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(twice.is_empty(), "spans sent twice: {twice:?}");
    assert_every_item_once(&source.dump(), &t);
}
