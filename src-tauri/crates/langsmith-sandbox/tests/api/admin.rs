//! The `/_sandbox/` admin surface and seeded faults.

use langsmith_sandbox::{FaultConfig, FaultKind};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn counts_dump_reset_and_faults() {
    let api = sample(4).await;
    let counts: serde_json::Value = api
        .http
        .get(api.url("/_sandbox/counts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["runs"], 4 * 6 - 1 + 12);
    assert_eq!(counts["projects"], 3);
    assert_eq!(counts["commits"], 6);
    let dump: serde_json::Value = api
        .http
        .get(api.url("/_sandbox/dump"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dump["runs"].as_array().unwrap().len(), 4 * 6 - 1 + 12);
    let faults = FaultConfig {
        seed: 3,
        rate: 1.0,
        kinds: vec![FaultKind::Http503],
        ..FaultConfig::default()
    };
    let r = api
        .http
        .put(api.url("/_sandbox/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        api.send(Method::GET, "/api/v1/datasets", None).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        api.send(Method::GET, "/info", None).await.status,
        StatusCode::OK,
        "/info is never faulted"
    );
    api.sb.set_faults(FaultConfig::default());
    let r = api
        .http
        .post(api.url("/_sandbox/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(api.sb.counts().values().all(|n| *n == 0));
    assert_eq!(api.get("/api/v1/sessions").await, json!([]));
}
