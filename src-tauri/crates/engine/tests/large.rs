//! Objects near the request size limit, against sandboxes over real HTTP. Batches are sized by
//! the bytes the target is sent (OTLP/JSON escapes input and output once more), a batch the
//! server refuses as too large (413) is split, and one object too large fails alone, named with
//! its size. An archive folder has no request limit.

mod common;
use common::*;
use langfuse_sandbox::{Sandbox, ServerProfile};
use migrator_engine::plan::EntitySelection;
use migrator_engine::{EndpointSpec, Entity};
use serde_json::Value;

/// An observation of the source's first trace whose input is `quotes` double quotes: its JSON
/// takes two bytes per quote, its OTLP/JSON attribute four.
fn quoted(source: &Sandbox, id: &str, quotes: usize) -> Value {
    let mut o = source.dump()["observations"][0].clone();
    o["id"] = id.into();
    o["parentObservationId"] = Value::Null;
    o["input"] = Value::String("\"".repeat(quotes));
    o["output"] = Value::Null;
    o
}

fn observation_ids(s: &Sandbox) -> std::collections::BTreeSet<String> {
    s.dump()["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_sized_by_the_bytes_sent_and_one_object_too_large_fails_alone() {
    let source = sandbox(ServerProfile::V4, Some((61, 3, 2))).await;
    // Two observations of 1.2 MB JSON each (about 2.4 MB as OTLP/JSON): together under the
    // batch size by their JSON, over the server's 4.5 MB by what is sent.
    for id in ["medium-one", "medium-two"] {
        source
            .insert_raw("observations", quoted(&source, id, 600_000))
            .unwrap();
    }
    // One of 2.4 MB JSON: about 4.8 MB as sent, more than any request may carry.
    source
        .insert_raw("observations", quoted(&source, "too-large", 1_200_000))
        .unwrap();
    source.settle();
    let target = sandbox(ServerProfile::V4, None).await;
    let mut p = plan(lf(&source), lf(&target));
    p.scope.entities = EntitySelection::Only(vec![Entity::Traces, Entity::Observations]);
    let data = tempfile::tempdir().unwrap();
    let report = copy(p, data.path()).await;
    target.settle();

    let failed: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.entity == Entity::Observations)
        .collect();
    assert_eq!(failed.len(), 1, "only the one too large fails: {failed:#?}");
    assert_eq!(failed[0].id, "too-large");
    assert!(failed[0].reason.contains("MB"), "{}", failed[0].reason);
    let mut expected = observation_ids(&source);
    expected.remove("too-large");
    assert_eq!(observation_ids(&target), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_takes_an_object_larger_than_any_request() {
    let source = sandbox(ServerProfile::V4, Some((62, 2, 1))).await;
    // 4 MB of JSON: more than a request to Langfuse may carry, nothing to a file.
    source
        .insert_raw("observations", quoted(&source, "huge", 2_000_000))
        .unwrap();
    source.settle();
    let folder = tempfile::tempdir().unwrap();
    let mut p = plan(
        lf(&source),
        EndpointSpec::Archive {
            path: folder.path().join("export"),
        },
    );
    p.scope.entities = EntitySelection::Only(vec![Entity::Traces, Entity::Observations]);
    let data = tempfile::tempdir().unwrap();
    let report = copy(p, data.path()).await;
    assert_eq!(report.failed_total(), 0, "{:#?}", report.failures);
}
