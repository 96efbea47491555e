//! The reads a migration needs, paged the way LangSmith pages them.

use std::collections::{HashMap, HashSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

/// 16 traces: kinds by `i % 4` (RAG 6 runs, agent 6 runs, RAG that is pending when
/// `i % 8 == 2` with 5 runs, RAG with clock skew 6 runs), plus an experiment of 6 examples × 2.
const TRACES: usize = 16;
const RUNS: usize = 16 * 6 - 2 + 12;
const ROOTS: usize = 16 + 6;

#[tokio::test]
async fn v1_query_pages_with_cursors_through_every_run() {
    let api = sample(TRACES).await;
    let projects = api.project_ids().await;
    assert_eq!(projects.len(), 3, "two tracing projects and one experiment");
    let runs = api.all_runs_v1(&projects).await;
    let ids: HashSet<&str> = runs.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), RUNS);
    assert_eq!(runs.len(), RUNS, "no run twice across pages");
    let roots = runs.iter().filter(|r| r["parent_run_id"].is_null()).count();
    assert_eq!(roots, ROOTS);
    // Newest first across pages.
    let starts: Vec<&str> = runs
        .iter()
        .map(|r| r["start_time"].as_str().unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]));
}

#[tokio::test]
async fn v1_limit_above_100_is_a_422_and_a_query_without_scope_a_400() {
    let api = sample(2).await;
    let p = api.project_id("support-bot").await;
    let r = api
        .send(
            Method::POST,
            "/api/v1/runs/query",
            Some(json!({"session": [p], "limit": 101})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = api
        .send(Method::POST, "/runs/query", Some(json!({"limit": 10})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = api
        .send(
            Method::POST,
            "/runs/query",
            Some(json!({"session": [p], "filter": "like(name, 'x')"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "unknown filter operator");
}

#[tokio::test]
async fn v1_filter_selects_a_start_time_window() {
    let api = sample(TRACES).await;
    let p = api.project_id("support-bot").await;
    let all = api.all_runs_v1(std::slice::from_ref(&p)).await;
    let mut starts: Vec<&str> = all
        .iter()
        .filter(|r| r["parent_run_id"].is_null())
        .map(|r| r["start_time"].as_str().unwrap())
        .collect();
    starts.sort();
    let (from, to) = (starts[2], starts[5]);
    let body = json!({"session": [p], "is_root": true, "filter": format!("and(gte(start_time, \"{from}\"), lt(start_time, \"{to}\"))")});
    let page = api.post("/runs/query", body).await;
    assert_eq!(
        page["runs"].as_array().unwrap().len(),
        3,
        "[from, to) holds roots 2, 3 and 4"
    );
}

#[tokio::test]
async fn v2_defaults_bite_one_day_back_and_only_ids() {
    let api = sample(TRACES).await;
    let p = api.project_id("support-bot").await;
    let page = api
        .post("/api/v2/runs/query", json!({"project_ids": [p]}))
        .await;
    assert_eq!(page["items"], json!([]), "the sample is older than one day");
    let page = api
        .post(
            "/v2/runs/query",
            json!({"project_ids": [p], "min_start_time": "2026-01-01T00:00:00Z", "page_size": 5}),
        )
        .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    for it in items {
        assert_eq!(
            it.as_object().unwrap().keys().collect::<Vec<_>>(),
            vec!["id"],
            "without selects only id"
        );
    }
    assert!(page["next_cursor"].is_string());
}

#[tokio::test]
async fn v2_rejects_bad_page_sizes_and_missing_projects() {
    let api = sample(1).await;
    let p = api.project_id("support-bot").await;
    let r = api
        .send(
            Method::POST,
            "/api/v2/runs/query",
            Some(json!({"project_ids": [p], "page_size": 1001})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["status"], 400);
    let r = api
        .send(
            Method::POST,
            "/api/v2/runs/query",
            Some(json!({"page_size": 10})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = api
        .send(
            Method::POST,
            "/api/v2/runs/query",
            Some(json!({"project_ids": ["not-a-uuid"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn v2_pages_every_run_with_selects_and_agrees_with_v1() {
    let api = sample(TRACES).await;
    let projects = api.project_ids().await;
    let v1: HashMap<String, Value> = api
        .all_runs_v1(&projects)
        .await
        .into_iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r))
        .collect();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut body = json!({"project_ids": projects, "min_start_time": "2026-01-01T00:00:00Z", "page_size": 7,
            "selects": ["ID", "NAME", "RUN_TYPE", "STATUS", "PARENT_RUN_IDS", "TRACE_ID", "DOTTED_ORDER", "TOTAL_TOKENS", "TOTAL_COST", "IS_ROOT", "THREAD_ID"]});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let page = api.post("/api/v2/runs/query", body).await;
        for it in page["items"].as_array().unwrap() {
            let id = it["id"].as_str().unwrap().to_string();
            let one = &v1[&id];
            assert!(it.get("parent_run_id").is_none(), "v2 has no parent_run_id");
            let parent = it["parent_run_ids"]
                .as_array()
                .and_then(|a| a.last())
                .cloned()
                .unwrap_or(Value::Null);
            assert_eq!(
                parent, one["parent_run_id"],
                "the parent is the last of parent_run_ids"
            );
            assert_eq!(
                it["run_type"],
                one["run_type"].as_str().unwrap().to_uppercase()
            );
            assert_eq!(it["is_root"], json!(one["parent_run_id"].is_null()));
            assert_eq!(it["total_tokens"], one["total_tokens"]);
            seen.push(id);
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), RUNS);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), RUNS);
}

#[tokio::test]
async fn chains_carry_the_rolled_up_tokens_of_their_models() {
    let api = sample(4).await;
    let projects = api.project_ids().await;
    let runs = api.all_runs_v1(&projects).await;
    for root in runs.iter().filter(|r| r["parent_run_id"].is_null()) {
        let prefix = format!("{}.", root["dotted_order"].as_str().unwrap());
        let sum: i64 = runs
            .iter()
            .filter(|r| r["dotted_order"].as_str().unwrap().starts_with(&prefix))
            .filter(|r| r["run_type"] == "llm" || r["run_type"] == "embedding")
            .map(|r| r["total_tokens"].as_i64().unwrap())
            .sum();
        assert!(sum > 0);
        assert_eq!(
            root["total_tokens"].as_i64().unwrap(),
            sum,
            "root {} rolls up its models",
            root["name"]
        );
    }
}

#[tokio::test]
async fn projects_datasets_examples_and_feedback_page_by_offset() {
    let api = sample(TRACES).await;
    let ds = api.get("/api/v1/datasets?name=support-qa").await;
    let ds_id = ds[0]["id"].as_str().unwrap().to_string();
    assert_eq!(ds[0]["example_count"], 6);
    let experiments = api
        .get(&format!(
            "/sessions?reference_dataset={ds_id}&include_stats=true"
        ))
        .await;
    assert_eq!(experiments.as_array().unwrap().len(), 1);
    assert_eq!(experiments[0]["run_count"], 12);
    let examples = api
        .get(&format!("/api/v1/examples?dataset={ds_id}&limit=100"))
        .await;
    assert_eq!(examples.as_array().unwrap().len(), 6);
    let test = api
        .get(&format!("/examples?dataset={ds_id}&splits=test"))
        .await;
    assert_eq!(test.as_array().unwrap().len(), 2);
    assert!(
        examples
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source_run_id"].is_string())
    );
    let r = api
        .send(
            Method::GET,
            &format!("/api/v1/examples?dataset={ds_id}&limit=101"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let first = api.get("/api/v1/feedback?limit=5&offset=0").await;
    let second = api.get("/api/v1/feedback?limit=5&offset=5").await;
    assert_eq!(first.as_array().unwrap().len(), 5);
    assert!(
        first
            .as_array()
            .unwrap()
            .iter()
            .all(|f| !second.as_array().unwrap().contains(f))
    );
    let all = api.get("/api/v1/feedback?limit=100").await;
    let all = all.as_array().unwrap();
    assert!(all.iter().any(|f| f["score"].is_f64()), "numeric");
    assert!(all.iter().any(|f| f["score"].is_boolean()), "boolean");
    assert!(all.iter().any(|f| f["value"].is_string()), "categorical");
    assert!(
        all.iter().any(|f| f["correction"].is_object()),
        "correction"
    );
    assert!(all.iter().any(|f| f["comment"].is_string()), "comment");
    for s in ["api", "app", "model"] {
        assert!(
            all.iter().any(|f| f["feedback_source"]["type"] == s),
            "source {s}"
        );
    }
    assert!(
        all.iter().any(|f| f["is_root"] == false),
        "feedback on a child run"
    );
    let model = api.get("/api/v1/feedback?source=model&limit=100").await;
    assert!(
        model
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["feedback_source"]["type"] == "model")
    );
    let configs = api.get("/api/v1/feedback-configs").await;
    assert_eq!(configs.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn prompt_repos_list_commits_newest_first_and_resolve_tags() {
    let api = sample(1).await;
    let repos = api.get("/api/v1/repos?limit=100").await;
    assert_eq!(repos["total"], 3);
    let commits = api.get("/commits/-/support-agent-prompt?limit=2").await;
    assert_eq!(commits["total"], 3);
    let page = commits["commits"].as_array().unwrap();
    assert_eq!(page.len(), 2);
    let rest = api
        .get("/commits/-/support-agent-prompt/?limit=2&offset=2")
        .await;
    let oldest = &rest["commits"][0];
    assert!(
        oldest["parent_commit_hash"].is_null(),
        "the oldest has no parent"
    );
    assert_eq!(page[1]["parent_commit_hash"], oldest["commit_hash"]);
    let production = api.get("/commits/-/support-agent-prompt/production").await;
    assert_eq!(
        production["commit_hash"], page[1]["commit_hash"],
        "production is the second commit"
    );
    let latest = api
        .get("/api/v1/commits/-/support-agent-prompt/latest")
        .await;
    assert_eq!(latest["commit_hash"], page[0]["commit_hash"]);
    let short = &page[0]["commit_hash"].as_str().unwrap()[..8];
    let by_prefix = api
        .get(&format!("/commits/-/support-agent-prompt/{short}"))
        .await;
    assert_eq!(by_prefix["manifest"], latest["manifest"]);
    let tags = api.get("/api/v1/repos/-/support-agent-prompt/tags").await;
    assert_eq!(tags.as_array().unwrap().len(), 2);
    let r = api.send(Method::GET, "/commits/-/nope", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn info_tells_the_sdk_to_use_multipart_ingestion() {
    let api = sample(0).await;
    let r = api.send_with(Method::GET, "/info", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "/info needs no key");
    assert_eq!(
        r.body["batch_ingest_config"]["use_multipart_endpoint"],
        true
    );
    let r = api.send_with(Method::GET, "/api/v1/info", None, None).await;
    assert!(r.body["version"].is_string());
}

#[tokio::test]
async fn trace_filter_selects_whole_trees_by_their_root() {
    let api = sample(TRACES).await;
    let p = api.project_id("support-bot").await;
    let all = api.all_runs_v1(std::slice::from_ref(&p)).await;
    let mut roots: Vec<&Value> = all
        .iter()
        .filter(|r| r["parent_run_id"].is_null())
        .collect();
    roots.sort_by_key(|r| r["start_time"].as_str().unwrap().to_string());
    let chosen: HashSet<&str> = roots[1..4]
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let (from, to) = (
        roots[1]["start_time"].as_str().unwrap(),
        roots[4]["start_time"].as_str().unwrap(),
    );
    let expected = all
        .iter()
        .filter(|r| chosen.contains(r["trace_id"].as_str().unwrap()))
        .count();
    let filter = format!("and(gte(start_time, \"{from}\"), lt(start_time, \"{to}\"))");
    let page = api
        .post(
            "/api/v2/runs/query",
            json!({"project_ids": [p], "min_start_time": "2026-01-01T00:00:00Z", "page_size": 1000,
            "trace_filter": filter, "selects": ["ID", "TRACE_ID"]}),
        )
        .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), expected);
    assert!(
        items
            .iter()
            .all(|r| chosen.contains(r["trace_id"].as_str().unwrap()))
    );
    let v1 = api
        .post(
            "/runs/query",
            json!({"session": [p], "trace_filter": filter, "limit": 100}),
        )
        .await;
    assert_eq!(v1["runs"].as_array().unwrap().len(), expected);
}
