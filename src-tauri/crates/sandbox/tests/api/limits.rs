use std::time::{Duration, Instant};

use langfuse_sandbox::{CloudPlan, SandboxConfig, ServerProfile};
use reqwest::{Method, StatusCode};

use crate::common::*;

#[tokio::test]
async fn hobby_reads_hit_429_with_retry_after_and_recover_after_the_scaled_minute() {
    // Compile the response schema first so the burst below is quick even on a loaded machine.
    spec().check("scoreConfigs_get", 200, &serde_json::json!({"data": [], "meta": {"page": 1, "limit": 50, "totalItems": 0, "totalPages": 0}}));
    // time_scale 30: a rate-limit minute lasts two seconds.
    let api = start(SandboxConfig {
        profile: ServerProfile::V4,
        plan: CloudPlan::Hobby,
        time_scale: 30.0,
        ..SandboxConfig::default()
    })
    .await;
    let mut limited = None;
    for i in 0..40 {
        let r = api
            .send(Method::GET, "/api/public/score-configs", None)
            .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((i, r));
            break;
        }
        assert_eq!(r.headers["x-ratelimit-limit"], "30");
    }
    let (i, r) = limited.expect("the hobby bucket of 30 reads a minute runs out");
    assert_eq!(i, 30);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(r.headers["x-ratelimit-limit"], "30");
    assert_eq!(r.headers["x-ratelimit-remaining"], "0");
    let reset: u64 = r.headers["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        reset
            >= std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
    );
    // Ingestion is a separate bucket and still open.
    let otlp = api
        .send(
            Method::POST,
            "/api/public/otel/v1/traces",
            Some(serde_json::json!({"resourceSpans": []})),
        )
        .await;
    assert_eq!(otlp.status, StatusCode::OK);
    let start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if api.status(Method::GET, "/api/public/score-configs").await == StatusCode::OK {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "the window resets after a scaled minute"
        );
    }
}

#[tokio::test]
async fn hobby_delete_budget_is_per_day() {
    let api = start(SandboxConfig {
        profile: ServerProfile::V4,
        plan: CloudPlan::Hobby,
        time_scale: 1.0,
        ..SandboxConfig::default()
    })
    .await;
    let budget = langfuse_sandbox::deletes_per_day(CloudPlan::Hobby).unwrap();
    let mut statuses = Vec::new();
    for i in 0..=budget {
        statuses.push(
            api.status(Method::DELETE, &format!("/api/public/traces/t-{i}"))
                .await,
        );
    }
    assert!(
        statuses[..budget as usize]
            .iter()
            .all(|s| *s == StatusCode::OK)
    );
    assert_eq!(statuses[budget as usize], StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn no_plan_means_no_limits() {
    let api = start_profile(ServerProfile::V4).await;
    for _ in 0..100 {
        let r = api
            .send(Method::GET, "/api/public/score-configs", None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.headers.get("x-ratelimit-limit").is_none());
    }
}
