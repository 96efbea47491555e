//! The writes the official SDK makes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;
use langsmith_sandbox::SandboxConfig;

fn part(v: &Value) -> reqwest::multipart::Part {
    let bytes = serde_json::to_vec(v).unwrap();
    let len = bytes.len() as u64;
    reqwest::multipart::Part::stream_with_length(bytes, len)
        .mime_str("application/json")
        .unwrap()
}

#[tokio::test]
async fn multipart_posts_and_patches_make_a_finished_tree_in_a_new_project() {
    let api = start(SandboxConfig::default()).await;
    let root = "0193f0a0-0000-7000-8000-000000000001";
    let child = "0193f0a0-0000-7000-8000-000000000002";
    let form = reqwest::multipart::Form::new()
        .part(format!("post.{root}"), part(&json!({"id": root, "name": "pipeline", "run_type": "chain",
            "start_time": "2026-11-30T10:00:00.000000+00:00", "session_name": "sdk-project",
            "dotted_order": format!("20261130T100000000000Z{root}"), "trace_id": root})))
        .part(format!("post.{root}.inputs"), part(&json!({"question": "hi"})))
        .part(format!("post.{child}"), part(&json!({"id": child, "name": "model", "run_type": "llm",
            "start_time": "2026-11-30T10:00:00.100000", "session_name": "sdk-project", "parent_run_id": root, "trace_id": root,
            "dotted_order": format!("20261130T100000000000Z{root}.20261130T100000100000Z{child}")})))
        .part(format!("patch.{child}"), part(&json!({"id": child, "end_time": "2026-11-30T10:00:01.000000+00:00", "trace_id": root,
            "dotted_order": format!("20261130T100000000000Z{root}.20261130T100000100000Z{child}")})))
        .part(format!("patch.{child}.outputs"), part(&json!({"output": "hello", "usage_metadata": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}})));
    let r = api
        .http
        .post(api.url("/runs/multipart"))
        .header("x-api-key", KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let r = Api::finish("POST", "/runs/multipart", r).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let p = api.project_id("sdk-project").await;
    let runs = api.all_runs_v1(&[p]).await;
    assert_eq!(runs.len(), 2);
    let c = runs.iter().find(|r| r["id"] == child).unwrap();
    assert_eq!(c["status"], "success");
    assert_eq!(c["total_tokens"], 15);
    assert_eq!(c["outputs"]["output"], "hello");
    assert_eq!(c["parent_run_id"], root);
    let rt = runs.iter().find(|r| r["id"] == root).unwrap();
    assert_eq!(rt["status"], "pending", "the root was never ended");
    assert_eq!(rt["inputs"]["question"], "hi");
    assert_eq!(
        rt["total_tokens"], 15,
        "LangSmith rolls the model's tokens into the chain"
    );
}

#[tokio::test]
async fn batch_create_and_update_runs_and_feedback() {
    let api = start(SandboxConfig::default()).await;
    let id = "0193f0a0-0000-7000-8000-0000000000aa";
    api.post("/runs/batch", json!({"post": [{"id": id, "name": "solo", "run_type": "tool", "start_time": "2026-11-30T09:00:00Z",
        "session_name": "batch-project", "inputs": {"x": 1}}]})).await;
    api.post(
        "/runs/batch",
        json!({"patch": [{"id": id, "end_time": "2026-11-30T09:00:02Z", "error": "boom"}]}),
    )
    .await;
    let r = api
        .send(
            Method::PATCH,
            &format!("/runs/{id}"),
            Some(json!({"tags": ["late"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let one = api.get(&format!("/api/v1/runs/{id}")).await;
    assert_eq!(one["status"], "error");
    assert_eq!(one["tags"], json!(["late"]));
    let f = api
        .post(
            "/api/v1/feedback",
            json!({"run_id": id, "key": "ok", "score": 0.5, "comment": "meh"}),
        )
        .await;
    assert_eq!(
        f["session_id"],
        api.project_id("batch-project").await.as_str()
    );
    assert_eq!(f["trace_id"], id);
    let list = api.get(&format!("/feedback?run={id}")).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let r = api.send(Method::POST, "/runs", Some(json!({"id": id, "name": "again", "run_type": "tool", "session_name": "batch-project"}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn datasets_examples_and_prompt_pushes() {
    let api = start(SandboxConfig::default()).await;
    let ds = api
        .post("/datasets", json!({"name": "qa", "description": "d"}))
        .await;
    let ds_id = ds["id"].as_str().unwrap();
    let r = api
        .send(Method::POST, "/datasets", Some(json!({"name": "qa"})))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    api.post("/examples/bulk", json!([
        {"dataset_id": ds_id, "inputs": {"q": 1}, "outputs": {"a": 1}, "split": "train"},
        {"dataset_id": ds_id, "inputs": {"q": 2}, "outputs": {"a": 2}, "split": ["test", "hard"]},
    ])).await;
    api.post(
        "/examples",
        json!({"dataset_id": ds_id, "inputs": {"q": 3}}),
    )
    .await;
    let all = api.get(&format!("/examples?dataset={ds_id}")).await;
    assert_eq!(all.as_array().unwrap().len(), 3);
    let hard = api
        .get(&format!("/examples?dataset={ds_id}&splits=hard"))
        .await;
    assert_eq!(
        hard[0]["metadata"]["dataset_split"],
        json!(["test", "hard"])
    );
    let base = api
        .get(&format!("/examples?dataset={ds_id}&splits=base"))
        .await;
    assert_eq!(base.as_array().unwrap().len(), 1, "no split means `base`");

    api.post("/repos/", json!({"repo_handle": "greeter", "description": "", "readme": "", "tags": [], "is_public": false})).await;
    let manifest = json!({"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "prompt", "PromptTemplate"],
        "kwargs": {"template": "Hi {name}", "input_variables": ["name"], "template_format": "f-string"}});
    let c = api
        .post(
            "/commits/-/greeter",
            json!({"manifest": manifest, "parent_commit": null}),
        )
        .await;
    let r = api
        .send(
            Method::POST,
            "/commits/-/greeter",
            Some(json!({"manifest": manifest, "parent_commit": c["commit"]["commit_hash"]})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "an unchanged manifest is nothing to commit"
    );
    api.post(
        "/repos/-/greeter/tags",
        json!({"tag_name": "prod", "commit_id": c["commit"]["id"]}),
    )
    .await;
    let pulled = api.get("/commits/-/greeter/prod").await;
    assert_eq!(pulled["manifest"], manifest);
    let repo = api.get("/repos/-/greeter").await;
    assert_eq!(repo["repo"]["num_commits"], 1);
}
