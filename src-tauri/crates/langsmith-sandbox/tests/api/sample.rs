//! The sample workspace is deterministic and covers what a migration must handle.

use langsmith_sandbox::SandboxConfig;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn the_same_seed_gives_the_same_workspace() {
    let a = sample(9).await;
    let b = sample(9).await;
    let c = start(SandboxConfig {
        sample: Some(langsmith_sandbox::SampleSpec { seed: 8, traces: 9 }),
        ..SandboxConfig::default()
    })
    .await;
    let ids = |api: &Api| -> Vec<Value> {
        api.sb.dump()["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect()
    };
    assert_eq!(ids(&a), ids(&b));
    assert_ne!(ids(&a), ids(&c));
}

#[tokio::test]
async fn the_sample_covers_what_a_migration_must_handle() {
    let api = sample(16).await;
    let runs = api.all_runs_v1(&api.project_ids().await).await;
    let has = |f: &dyn Fn(&Value) -> bool| runs.iter().any(f);
    assert!(
        has(&|r| r["run_type"] == "tool" && r["status"] == "error" && r["error"].is_string()),
        "an erroring tool"
    );
    assert!(
        has(&|r| r["status"] == "pending" && r["end_time"].is_null()),
        "a pending run"
    );
    assert!(
        has(&|r| r["inputs"]["messages"][0][0]["lc"] == 1),
        "LangChain-serialised messages"
    );
    assert!(
        has(&|r| r["first_token_time"].is_string()),
        "first_token_time"
    );
    assert!(
        has(&|r| r["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["name"] == "new_token"))),
        "new_token events"
    );
    assert!(
        has(&|r| r["prompt_token_details"]["cache_read"].is_i64()),
        "cache details"
    );
    assert!(
        has(&|r| r["completion_cost"].is_string()),
        "decimal-string costs"
    );
    assert!(
        has(&|r| r["reference_example_id"].is_string()),
        "experiment runs"
    );
    for k in [
        "thread_id",
        "session_id",
        "conversation_id",
        "user_id",
        "revision_id",
    ] {
        assert!(
            has(&|r| r["extra"]["metadata"][k].is_string()),
            "metadata {k}"
        );
    }
    for t in [
        "llm",
        "embedding",
        "chain",
        "tool",
        "retriever",
        "prompt",
        "parser",
    ] {
        assert!(has(&|r| r["run_type"] == t), "run type {t}");
    }
    let starts: std::collections::HashMap<&str, &str> = runs
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["start_time"].as_str().unwrap()))
        .collect();
    assert!(
        has(&|r| r["parent_run_id"].as_str().is_some_and(|p| starts
            .get(p)
            .is_some_and(|ps| *ps > r["start_time"].as_str().unwrap()))),
        "a child that starts before its parent"
    );
    let projects: Vec<&str> = runs
        .iter()
        .filter_map(|r| r["session_id"].as_str())
        .collect();
    assert_eq!(
        projects
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        3
    );
}
