//! LLM connections: upserted by provider, listed without their secrets, deleted by id; absent
//! from Langfuse v2's API.

use super::common::*;
use langfuse_sandbox::ServerProfile;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn llm_connections_upsert_by_provider_hide_their_secrets_and_delete() {
    let api = start_profile(ServerProfile::V4).await;
    let put = |body| {
        api.op(
            "llmConnections_upsert",
            Method::PUT,
            "/api/public/llm-connections",
            Some(body),
        )
    };
    let first = put(json!({"provider": "gw", "adapter": "openai", "secretKey": "sk-abcdef1234", "baseURL": "https://gw.example/v1", "customModels": ["m1"], "extraHeaders": {"X-Team": "a"}})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["displaySecretKey"], "...1234");
    assert_eq!(first.body["extraHeaderKeys"], json!(["X-Team"]));
    assert!(first.body.get("secretKey").is_none(), "{}", first.body);
    let again = put(json!({"provider": "gw", "adapter": "openai", "secretKey": "sk-other-9999", "withDefaultModels": false})).await;
    assert_eq!(
        again.body["id"], first.body["id"],
        "the same provider is updated"
    );
    assert_eq!(again.body["withDefaultModels"], false);

    let listed = api
        .get(
            "llmConnections_list",
            "/api/public/llm-connections?page=1&limit=10",
        )
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["meta"]["totalItems"], 1);
    let text = listed.to_string();
    assert!(
        !text.contains("sk-other-9999") && !text.contains("\"a\""),
        "{text}"
    );
    assert_eq!(
        api.sb.dump()["llm_connections"][0]["secretKey"],
        "sk-other-9999"
    );

    for (body, why) in [
        (
            json!({"provider": "b", "adapter": "bedrock", "secretKey": "k"}),
            "Bedrock needs a region",
        ),
        (
            json!({"provider": "a", "adapter": "anthropic", "secretKey": "k", "config": {"x": 1}}),
            "no config for Anthropic",
        ),
        (
            json!({"provider": "c", "adapter": "cohere", "secretKey": "k"}),
            "unknown adapter",
        ),
        (
            json!({"provider": "d", "adapter": "openai"}),
            "no secret key",
        ),
    ] {
        assert_eq!(put(body).await.status, StatusCode::BAD_REQUEST, "{why}");
    }
    let bedrock = put(json!({"provider": "b", "adapter": "bedrock", "secretKey": "k", "config": {"region": "eu-west-1"}})).await;
    assert_eq!(bedrock.status, StatusCode::OK, "{}", bedrock.body);

    let id = first.body["id"].as_str().unwrap();
    let path = format!("/api/public/llm-connections/{id}");
    let del = api
        .op("llmConnections_delete", Method::DELETE, &path, None)
        .await;
    assert_eq!(del.status, StatusCode::OK, "{}", del.body);
    assert_eq!(
        api.status(Method::DELETE, &path).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_settings_sample_holds_llm_connections_and_v2_has_no_such_api() {
    let api = start_profile(ServerProfile::V3).await;
    api.sb.load_settings_sample();
    let listed = api
        .get("llmConnections_list", "/api/public/llm-connections")
        .await;
    let providers: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["provider"].as_str().unwrap())
        .collect();
    let mut expected = langfuse_sandbox::LLM_PROVIDERS.to_vec();
    expected.sort();
    assert_eq!(providers, expected);

    let v2 = start_profile(ServerProfile::V2).await;
    assert_eq!(
        v2.status(Method::GET, "/api/public/llm-connections").await,
        StatusCode::NOT_FOUND
    );
}
