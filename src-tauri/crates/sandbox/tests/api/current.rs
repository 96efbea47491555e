//! The current API (Langfuse Cloud, servers ≥ 4.59 that the official SDKs 5.x need) next to the
//! 4.16 one: where the SDK's generated client shows they differ, `v4` answers like the former
//! and `v4-4.16` like the latter.

use langfuse_sandbox::{SandboxConfig, ServerProfile};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

fn score(id: &str, value: serde_json::Value) -> serde_json::Value {
    json!({"id": id, "traceId": "t-1", "name": "quality", "value": value})
}

#[tokio::test]
async fn v4_creates_scores_in_batches() {
    let api = start_profile(ServerProfile::V4).await;
    let r = api
        .op(
            "scores_create",
            Method::POST,
            "/api/public/scores",
            Some(json!([score("s-1", json!(0.5)), score("s-2", json!(1))])),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body, json!({"message": "Accepted"}));
    // One bad score is rejected on its own; the others are stored.
    let bad =
        json!({"id": "s-4", "traceId": "t-1", "name": "q", "value": "x", "dataType": "NUMERIC"});
    let r = api
        .op(
            "scores_create",
            Method::POST,
            "/api/public/scores",
            Some(json!([score("s-3", json!(0.25)), bad])),
        )
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS, "{}", r.body);
    assert_eq!(
        (r.body["accepted"].clone(), r.body["rejected"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 1);
    let page = api
        .get("scoresV3_getManyV3", "/api/public/v3/scores?limit=10")
        .await;
    let mut ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["s-1", "s-2", "s-3"]);
    // The 4.16 single-score body is refused.
    let r = api
        .send(
            Method::POST,
            "/api/public/scores",
            Some(score("s-5", json!(1))),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    api.sb.stop().await;
}

#[tokio::test]
async fn v4_4_16_creates_one_score_per_request() {
    let api = start_profile(ServerProfile::V4_16).await;
    let body = api
        .post(
            "scores_create",
            "/api/public/scores",
            score("s-1", json!(0.5)),
        )
        .await;
    assert_eq!(body, json!({"id": "s-1"}));
    let r = api
        .send(
            Method::POST,
            "/api/public/scores",
            Some(json!([score("s-2", json!(1))])),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    api.sb.stop().await;
}

fn generation_export() -> serde_json::Value {
    let attr = |k: &str, v: &str| json!({"key": k, "value": {"stringValue": v}});
    json!({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "app"}, "spans": [
        {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "name": "llm",
         "startTimeUnixNano": "1762000000000000000", "endTimeUnixNano": "1762000001000000000",
         "attributes": [attr("langfuse.observation.type", "generation"), attr("langfuse.observation.model.name", "gpt-4o")]}
    ]}]}]})
}

#[tokio::test]
async fn v2_observations_name_the_model_field_as_each_generation_does() {
    for (profile, key, old_key) in [
        (ServerProfile::V4, "model", "providedModelName"),
        (ServerProfile::V4_16, "providedModelName", "model"),
    ] {
        let api = start_profile(profile).await;
        api.post(
            "opentelemetry_exportTraces",
            "/api/public/otel/v1/traces",
            generation_export(),
        )
        .await;
        let page = api
            .get(
                "observations_getMany",
                "/api/public/v2/observations?fields=core,model",
            )
            .await;
        let o = &page["data"][0];
        assert_eq!(o[key], "gpt-4o", "{profile:?}: {o}");
        assert!(o.get(old_key).is_none(), "{profile:?}: {o}");
        api.sb.stop().await;
    }
}

#[tokio::test]
async fn the_request_check_records_what_langfuse_would_refuse_or_ignore() {
    let api = start(SandboxConfig {
        validate_requests: true,
        visibility_delay: Some(std::time::Duration::ZERO),
        ..SandboxConfig::default()
    })
    .await;
    // Well-formed requests leave no record.
    api.get(
        "observations_getMany",
        "/api/public/v2/observations?limit=5&fields=core,basic&environment=a&environment=b&fromStartTime=2026-01-01T00:00:00Z",
    )
    .await;
    api.post(
        "scores_create",
        "/api/public/scores",
        json!([score("s-1", json!(1))]),
    )
    .await;
    assert_eq!(api.sb.take_request_violations(), Vec::<String>::new());
    // A query parameter the API does not know, a limit that is not a number, a body without a
    // required field, the 4.16 single score on the current API: each is recorded.
    api.send(
        Method::GET,
        "/api/public/v2/observations?limit=ten&fieldz=core",
        None,
    )
    .await;
    api.send(
        Method::POST,
        "/api/public/v2/datasets",
        Some(json!({"nam": "d"})),
    )
    .await;
    api.send(
        Method::POST,
        "/api/public/scores",
        Some(score("s-2", json!(1))),
    )
    .await;
    let found = api.sb.take_request_violations().join("\n");
    for needle in [
        "unknown query parameter `fieldz`",
        "query parameter `limit`",
        "datasets_create): body:",
        "scores_create): body:",
    ] {
        assert!(found.contains(needle), "{needle} not in:\n{found}");
    }
    api.sb.stop().await;
}
