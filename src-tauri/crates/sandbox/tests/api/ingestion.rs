use std::time::Duration;

use langfuse_sandbox::{SandboxConfig, ServerProfile};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

fn trace_and_span(trace: &str, span: &str) -> serde_json::Value {
    json!({"batch": [
        event("trace-create", "e1", json!({"id": trace, "name": "t", "userId": "u1", "sessionId": "s1", "tags": ["a"], "metadata": {"k": {"x": 1}}})),
        event("span-create", "e2", json!({"id": span, "traceId": trace, "name": "root", "startTime": "2026-11-01T10:00:00.000Z", "input": {"q": "hi"}})),
        event("generation-create", "e3", json!({"id": format!("{span}-g"), "traceId": trace, "parentObservationId": span, "model": "gpt-4o", "usage": {"input": 10, "output": 5, "total": 15, "unit": "TOKENS"}, "costDetails": {"total": 0.01}})),
        event("score-create", "e4", json!({"id": format!("{trace}-score"), "traceId": trace, "name": "acc", "value": 0.5})),
        event("sdk-log", "e5", json!({"log": "hello"})),
    ]})
}

#[tokio::test]
async fn partial_success_is_a_207_with_per_event_errors() {
    let api = start_profile(ServerProfile::V3).await;
    let body = json!({"batch": [
        event("trace-create", "ok-1", json!({"id": "t1"})),
        event("trace-create", "bad-env", json!({"id": "t2", "environment": "Bad Env"})),
        event("span-create", "bad-level", json!({"id": "s1", "traceId": "t1", "level": "LOUD"})),
        event("score-create", "bad-score", json!({"traceId": "t1", "name": "b", "value": 3, "dataType": "BOOLEAN"})),
        event("no-such-type", "bad-type", json!({})),
        {"type": "trace-create", "body": {"id": "t3"}},
        event("span-create", "ok-2", json!({"id": "s2", "traceId": "t1", "unknownField": [1, 2]})),
    ]});
    let r = api
        .op(
            "ingestion_batch",
            Method::POST,
            "/api/public/ingestion",
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS);
    let ok: Vec<&str> = r.body["successes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ok, ["ok-1", "ok-2"]);
    let errs = r.body["errors"].as_array().unwrap();
    assert_eq!(errs.len(), 5);
    assert!(errs.iter().all(|e| e["status"] == 400));
    assert_eq!(api.sb.counts()["traces"], 1);
    assert_eq!(api.sb.counts()["observations"], 1);
}

#[tokio::test]
async fn v2_ingestion_is_visible_at_once() {
    let api = start_profile(ServerProfile::V2).await;
    let r = api
        .op(
            "ingestion_batch",
            Method::POST,
            "/api/public/ingestion",
            Some(trace_and_span("t-1", "s-1")),
        )
        .await;
    assert_eq!(r.body["successes"].as_array().unwrap().len(), 5);
    let t = api.get("trace_get", "/api/public/traces/t-1").await;
    assert_eq!(t["observations"].as_array().unwrap().len(), 2);
    assert_eq!(t["scores"].as_array().unwrap().len(), 1);
    assert_eq!(t["sessionId"], "s1");
    let g = api
        .get(
            "legacy_observationsV1_get",
            "/api/public/observations/s-1-g",
        )
        .await;
    assert_eq!(g["usageDetails"]["total"], 15);
    assert_eq!(g["type"], "GENERATION");
    api.get("sessions_get", "/api/public/sessions/s1").await;
}

#[tokio::test]
async fn v3_writes_become_visible_after_the_delay_and_upsert() {
    let api = start(SandboxConfig {
        profile: ServerProfile::V3,
        visibility_delay: Some(Duration::from_millis(400)),
        ..SandboxConfig::default()
    })
    .await;
    api.op(
        "ingestion_batch",
        Method::POST,
        "/api/public/ingestion",
        Some(trace_and_span("t-1", "s-1")),
    )
    .await;
    assert_eq!(
        api.status(Method::GET, "/api/public/traces/t-1").await,
        StatusCode::NOT_FOUND,
        "not visible yet"
    );
    assert_eq!(api.sb.counts()["traces"], 1, "stored though");
    let pending = api
        .get("legacy_observationsV1_getMany", "/api/public/observations")
        .await;
    assert_eq!(pending["meta"]["totalItems"], 0);
    tokio::time::sleep(Duration::from_millis(450)).await;
    api.get("trace_get", "/api/public/traces/t-1").await;
    let visible = api
        .get("legacy_observationsV1_getMany", "/api/public/observations")
        .await;
    assert_eq!(visible["meta"]["totalItems"], 2);
    // Re-sending ids updates the rows (legacy merge): tags unioned, metadata deep-merged.
    let update = json!({"batch": [
        event("trace-create", "e9", json!({"id": "t-1", "tags": ["b"], "metadata": {"k": {"y": 2}}, "name": "renamed"})),
        event("span-update", "e10", json!({"id": "s-1", "output": {"a": 1}})),
    ]});
    api.op(
        "ingestion_batch",
        Method::POST,
        "/api/public/ingestion",
        Some(update),
    )
    .await;
    api.sb.settle();
    let t = api.get("trace_get", "/api/public/traces/t-1").await;
    assert_eq!(t["name"], "renamed");
    assert_eq!(t["tags"], json!(["a", "b"]));
    assert_eq!(t["metadata"], json!({"k": {"x": 1, "y": 2}}));
    assert_eq!(api.sb.counts()["traces"], 1);
    assert_eq!(api.sb.counts()["observations"], 2);
    let s = api
        .get("legacy_observationsV1_get", "/api/public/observations/s-1")
        .await;
    assert_eq!(s["output"], json!({"a": 1}));
    assert_eq!(s["input"], json!({"q": "hi"}));
}

#[tokio::test]
async fn v4_rejects_trace_and_observation_events_but_takes_scores() {
    let api = start_profile(ServerProfile::V4).await;
    let r = api
        .op(
            "ingestion_batch",
            Method::POST,
            "/api/public/ingestion",
            Some(trace_and_span("t-1", "s-1")),
        )
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS);
    let ok: Vec<&str> = r.body["successes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ok, ["e4", "e5"]);
    for e in r.body["errors"].as_array().unwrap() {
        assert_eq!(e["status"], 400);
        assert_eq!(e["message"], "Event type not accepted");
    }
    assert_eq!(api.sb.counts()["observations"], 0);
    assert_eq!(api.sb.counts()["scores"], 1);
}

#[tokio::test]
async fn malformed_json_is_400_and_oversized_bodies_413() {
    let api = start_profile(ServerProfile::V3).await;
    let r = api
        .http
        .post(api.url("/api/public/ingestion"))
        .basic_auth(PK, Some(SK))
        .header("content-type", "application/json")
        .body("{\"batch\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["message"].is_string());
    let big = "x".repeat(4_600_000);
    let r = api
        .http
        .post(api.url("/api/public/ingestion"))
        .basic_auth(PK, Some(SK))
        .json(&json!({"batch": [event("sdk-log", "e", json!({"log": big}))]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let ok = "x".repeat(4_000_000);
    let r = api
        .http
        .post(api.url("/api/public/ingestion"))
        .basic_auth(PK, Some(SK))
        .json(&json!({"batch": [event("sdk-log", "e", json!({"log": ok}))]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::MULTI_STATUS);
}
