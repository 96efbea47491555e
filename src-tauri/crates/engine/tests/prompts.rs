//! Prompt versions are identified by their content, not by the source's version numbers: a
//! source with gaps in its numbering gets no duplicate after an unknown outcome (and rollback
//! removes exactly what arrived), and a same-name prompt with other content in the target is a
//! conflict the user decides, never a silent skip.

mod common;
use common::*;
use langfuse_sandbox::{FaultConfig, FaultKind, Sandbox, ServerProfile};
use migrator_engine::plan::EntitySelection;
use migrator_engine::{Entity, NoProgress, RollbackOptions, RollbackState, RunControl};
use serde_json::{Value, json};
use std::time::Duration;

fn version(name: &str, v: i64, text: &str) -> Value {
    json!({"id": format!("{name}-{v}"), "name": name, "version": v, "type": "text",
        "prompt": text, "config": {"temperature": 0.1 * v as f64}, "labels": [], "tags": []})
}

/// A source whose prompt "gappy" has versions 1 and 3 (2 was deleted).
async fn gappy_source() -> Sandbox {
    let source = sandbox(ServerProfile::V4, None).await;
    source
        .insert_raw("prompts", version("gappy", 1, "Answer briefly."))
        .unwrap();
    source
        .insert_raw(
            "prompts",
            version("gappy", 3, "Answer briefly and politely."),
        )
        .unwrap();
    source
}

fn prompts_only(source: &Sandbox, target: &Sandbox) -> migrator_engine::Plan {
    let mut p = plan(lf(source), lf(target));
    p.scope.entities = EntitySelection::Only(vec![Entity::Prompts]);
    p.options.request_timeout_secs = 1;
    p
}

fn versions_of(s: &Sandbox, name: &str) -> Vec<(i64, String)> {
    let mut v: Vec<(i64, String)> = s.dump()["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == name)
        .map(|p| {
            (
                p["version"].as_i64().unwrap(),
                p["prompt"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_with_gaps_in_the_numbering_makes_no_duplicate() {
    let source = gappy_source().await;
    let target = sandbox(ServerProfile::V4, None).await;
    // The second version's create applies, but its answer never comes.
    target.set_faults(FaultConfig {
        timeout_ms: 1_500,
        ..FaultConfig::default()
    });
    target.set_fault_methods(&["POST"]);
    target.script_faults(&[FaultKind::Slow, FaultKind::TimeoutAfterApply]);
    let data = tempfile::tempdir().unwrap();
    let run = copy(prompts_only(&source, &target), data.path()).await;
    assert_eq!(run.failed_total(), 0, "{run:#?}");
    assert_eq!(
        versions_of(&target, "gappy"),
        vec![
            (1, "Answer briefly.".to_string()),
            (2, "Answer briefly and politely.".to_string())
        ],
        "each source version once, numbered by the target"
    );
    // Rollback knows what the target assigned and removes exactly that.
    target.set_faults(FaultConfig::default());
    let report = migrator_engine::rollback(
        &run.run_id,
        data.path(),
        &RollbackOptions {
            secrets: sandbox_secrets(),
            verify_limit: Duration::from_secs(10),
            ..RollbackOptions::default()
        },
        &RunControl::new(),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.state, RollbackState::Completed, "{report:#?}");
    assert!(versions_of(&target, "gappy").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_name_prompt_with_other_content_is_a_conflict_not_a_skip() {
    let source = gappy_source().await;
    let target = sandbox(ServerProfile::V4, None).await;
    // Someone else's prompt of the same name: version 1, other text.
    target
        .insert_raw("prompts", version("gappy", 1, "Reply in French."))
        .unwrap();
    let before = versions_of(&target, "gappy");
    let data = tempfile::tempdir().unwrap();
    let run = migrator_engine::run(
        prompts_only(&source, &target),
        data.path(),
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .unwrap();
    let c = &run.entities[&Entity::Prompts];
    assert_eq!((c.skipped, c.written, c.conflicts), (0, 0, 2), "{run:#?}");
    let named: Vec<&str> = run.conflicts.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(named, vec!["gappy:1", "gappy:3"], "{:#?}", run.conflicts);
    assert_eq!(
        versions_of(&target, "gappy"),
        before,
        "the target's prompt is left alone"
    );
}
