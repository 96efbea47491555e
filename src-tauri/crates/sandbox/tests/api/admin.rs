use std::time::Duration;

use langfuse_sandbox::{SandboxConfig, ServerProfile};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn admin_http_surface_dumps_counts_patches_resets() {
    let api = start_profile(ServerProfile::V3).await;
    let http = &api.http;
    let row = json!({"id": "o-1", "traceId": "t-1", "type": "GENERATION", "startTime": "2026-11-01T00:00:00.000Z", "input": {"a": 1}});
    assert_eq!(
        http.post(api.url("/_sandbox/objects/observations"))
            .json(&row)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        http.post(api.url("/_sandbox/objects/traces"))
            .json(&json!({"id": "t-1", "name": "x"}))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    let o = api
        .get("legacy_observationsV1_get", "/api/public/observations/o-1")
        .await;
    assert_eq!(o["input"], json!({"a": 1}));
    let r = http
        .patch(api.url("/_sandbox/objects/observations/o-1"))
        .json(&json!({"input": "tampered", "level": "ERROR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let o = api
        .get("legacy_observationsV1_get", "/api/public/observations/o-1")
        .await;
    assert_eq!(
        (o["input"].clone(), o["level"].clone()),
        (json!("tampered"), json!("ERROR"))
    );
    let counts: Value = http
        .get(api.url("/_sandbox/counts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (counts["observations"].clone(), counts["traces"].clone()),
        (json!(1), json!(1))
    );
    let dump: Value = http
        .get(api.url("/_sandbox/dump"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in langfuse_sandbox::ENTITIES {
        assert!(dump[key].is_array(), "{key}");
    }
    assert_eq!(
        http.delete(api.url("/_sandbox/objects/observations/o-1"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        http.delete(api.url("/_sandbox/objects/observations/o-1"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        http.post(api.url("/_sandbox/objects/nope"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        http.post(api.url("/_sandbox/reset"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.sb.counts()["traces"], 0);
}

#[tokio::test]
async fn settle_makes_delayed_writes_visible_now() {
    let api = start(SandboxConfig {
        profile: ServerProfile::V4_16,
        visibility_delay: Some(Duration::from_secs(60)),
        ..SandboxConfig::default()
    })
    .await;
    api.post(
        "scores_create",
        "/api/public/scores",
        json!({"id": "s", "traceId": "t", "name": "n", "value": 1}),
    )
    .await;
    let before = api.get("scoresV3_getManyV3", "/api/public/v3/scores").await;
    assert!(before["data"].as_array().unwrap().is_empty());
    assert_eq!(
        api.sb.dump()["scores"].as_array().unwrap().len(),
        1,
        "the dump shows pending rows"
    );
    assert_eq!(
        api.http
            .post(api.url("/_sandbox/settle"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    let after = api.get("scoresV3_getManyV3", "/api/public/v3/scores").await;
    assert_eq!(after["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.status(Method::GET, "/api/public/v3/scores").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn v4_raw_observations_derive_traces_in_the_dump() {
    let api = start_profile(ServerProfile::V4).await;
    api.sb.insert_raw("observations", json!({"id": "o-1", "traceId": "t-1", "startTime": "2026-11-01T00:00:00.000Z", "traceName": "raw", "userId": "u"})).unwrap();
    api.sb
        .insert_raw(
            "observations",
            json!({"id": "o-1", "traceId": "t-1", "startTime": "2026-11-01T00:00:00.000Z"}),
        )
        .unwrap();
    let dump = api.sb.dump();
    assert_eq!(dump["observations"].as_array().unwrap().len(), 2);
    assert_eq!(dump["traces"][0]["name"], "raw");
    assert_eq!(dump["traces"][0]["userId"], "u");
    assert!(
        api.sb.insert_raw("traces", json!({"id": "t-2"})).is_err(),
        "v4 traces are derived"
    );
    api.sb
        .patch_raw("observations", "o-1", json!({"name": "patched"}))
        .unwrap();
    assert!(
        api.sb.dump()["observations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["name"] == "patched")
    );
    api.sb.delete_raw("traces", "t-1").unwrap();
    assert_eq!(api.sb.counts()["observations"], 0);
}
