//! LangSmith Cloud's per-key limits, with windows shortened by the time scale.

use std::time::Duration;

use langsmith_sandbox::{SampleSpec, SandboxConfig};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn the_sixteenth_run_query_in_a_window_is_a_429_with_retry_after() {
    let api = start(SandboxConfig {
        plan: true,
        time_scale: 10.0,
        sample: Some(SampleSpec { seed: 1, traces: 2 }),
        ..SandboxConfig::default()
    })
    .await;
    let p = api.project_id("support-bot").await;
    let body = json!({"session": [p], "limit": 1});
    let mut statuses = Vec::new();
    for _ in 0..16 {
        statuses.push(
            api.send(Method::POST, "/runs/query", Some(body.clone()))
                .await,
        );
    }
    assert!(statuses[..15].iter().all(|r| r.status == StatusCode::OK));
    let limited = &statuses[15];
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&wait));
    // Other endpoints have their own bucket.
    assert_eq!(
        api.send(Method::GET, "/api/v1/datasets", None).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(
        api.send(Method::POST, "/runs/query", Some(body))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn repos_allow_100_a_minute() {
    let api = start(SandboxConfig {
        plan: true,
        ..SandboxConfig::default()
    })
    .await;
    for _ in 0..100 {
        assert_eq!(
            api.send(Method::GET, "/api/v1/repos", None).await.status,
            StatusCode::OK
        );
    }
    let r = api.send(Method::GET, "/api/v1/repos", None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key("retry-after"));
}
