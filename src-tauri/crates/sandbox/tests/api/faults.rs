use std::time::{Duration, Instant};

use langfuse_sandbox::{FaultConfig, FaultKind, ServerProfile};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

fn only(kind: FaultKind) -> FaultConfig {
    FaultConfig {
        seed: 3,
        rate: 1.0,
        kinds: vec![kind],
        slow_ms: 300,
        timeout_ms: 1_000,
        ..FaultConfig::default()
    }
}

fn score(id: &str) -> serde_json::Value {
    json!({"id": id, "traceId": "t", "name": "n", "value": 1})
}

#[tokio::test]
async fn http_error_faults_answer_their_status_without_applying() {
    let api = start_profile(ServerProfile::V4_16).await;
    for (kind, code) in [
        (FaultKind::Http500, 500),
        (FaultKind::Http502, 502),
        (FaultKind::Http503, 503),
        (FaultKind::Http504, 504),
    ] {
        api.sb.set_faults(only(kind));
        let r = api
            .send(Method::POST, "/api/public/scores", Some(score("s")))
            .await;
        assert_eq!(r.status.as_u16(), code);
    }
    assert_eq!(api.sb.counts()["scores"], 0);
    api.sb.set_faults(FaultConfig::default());
    assert_eq!(
        api.send(Method::POST, "/api/public/scores", Some(score("s")))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn connection_reset_drops_the_connection_and_loses_the_write() {
    let api = start_profile(ServerProfile::V4_16).await;
    api.sb.set_faults(only(FaultKind::ConnectionReset));
    let r = api
        .http
        .post(api.url("/api/public/scores"))
        .basic_auth(PK, Some(SK))
        .json(&score("s"))
        .send()
        .await;
    let err = r.expect_err("no answer on a reset connection");
    assert!(!err.is_timeout(), "{err}");
    assert_eq!(api.sb.counts()["scores"], 0);
}

#[tokio::test]
async fn timeout_after_apply_applies_the_write_then_outlasts_the_client() {
    let api = start_profile(ServerProfile::V4_16).await;
    api.sb.set_faults(only(FaultKind::TimeoutAfterApply));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let r = client
        .post(api.url("/api/public/scores"))
        .basic_auth(PK, Some(SK))
        .json(&score("s"))
        .send()
        .await;
    assert!(r.expect_err("the client gives up").is_timeout());
    assert_eq!(
        api.sb.counts()["scores"],
        1,
        "the write happened anyway: the nasty case"
    );
}

#[tokio::test]
async fn slow_answers_late_but_correctly() {
    let api = start_profile(ServerProfile::V4).await;
    api.sb.set_faults(only(FaultKind::Slow));
    let t = Instant::now();
    let r = api.send(Method::GET, "/api/public/projects", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn partial_207_fails_some_events_reproducibly() {
    let api = start_profile(ServerProfile::V4).await;
    let batch = json!({"batch": (0..20).map(|i| event("score-create", &format!("e{i}"), score(&format!("s{i}")))).collect::<Vec<_>>()});
    let mut runs = Vec::new();
    for _ in 0..2 {
        api.sb.reset();
        api.sb.set_faults(only(FaultKind::Partial207));
        let r = api
            .op(
                "ingestion_batch",
                Method::POST,
                "/api/public/ingestion",
                Some(batch.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::MULTI_STATUS);
        let failed: Vec<String> = r.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert_eq!(e["status"], 500);
                e["id"].as_str().unwrap().to_string()
            })
            .collect();
        assert!(!failed.is_empty() && failed.len() < 20);
        assert_eq!(
            api.sb.counts()["scores"],
            20 - failed.len(),
            "failed events are not applied"
        );
        runs.push(failed);
    }
    assert_eq!(runs[0], runs[1], "same seed, same faults");
    // Elsewhere Partial207 is not a candidate: a read passes untouched.
    assert_eq!(
        api.status(Method::GET, "/api/public/projects").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_fault_rate_is_seeded_and_switchable_over_http() {
    let api = start_profile(ServerProfile::V4).await;
    let cfg = json!({"seed": 42, "rate": 0.5, "kinds": ["http500", "http503"]});
    let mut sequences = Vec::new();
    for _ in 0..2 {
        let r = api
            .http
            .put(api.url("/_sandbox/faults"))
            .json(&cfg)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let mut seq = Vec::new();
        for _ in 0..30 {
            seq.push(
                api.status(Method::GET, "/api/public/projects")
                    .await
                    .as_u16(),
            );
        }
        sequences.push(seq);
    }
    assert_eq!(sequences[0], sequences[1]);
    let faults = sequences[0].iter().filter(|s| **s != 200).count();
    assert!((5..=25).contains(&faults), "about half fail: {faults}");
    assert!(sequences[0].iter().all(|s| [200, 500, 503].contains(s)));
    api.http
        .put(api.url("/_sandbox/faults"))
        .json(&json!({"rate": 0.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        api.status(Method::GET, "/api/public/projects").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn faults_limited_to_some_methods_leave_the_others_alone() {
    let api = start_profile(ServerProfile::V4).await;
    api.sb.set_faults(only(FaultKind::Http503));
    api.sb.set_fault_methods(&["POST", "PATCH", "DELETE"]);
    let w = api
        .send(Method::POST, "/api/public/scores", Some(score("s")))
        .await;
    assert_eq!(w.status.as_u16(), 503, "a write meets the fault");
    let r = api.send(Method::GET, "/api/public/v3/scores", None).await;
    assert_eq!(r.status, StatusCode::OK, "a read does not");
    // A new fault configuration keeps the limit; an empty list lifts it.
    api.sb.set_faults(only(FaultKind::Http500));
    let r = api.send(Method::GET, "/api/public/v3/scores", None).await;
    assert_eq!(r.status, StatusCode::OK);
    api.sb.set_fault_methods(&[]);
    let r = api.send(Method::GET, "/api/public/v3/scores", None).await;
    assert_eq!(r.status.as_u16(), 500);
    // Limited to a path, other paths answer.
    api.sb.set_fault_paths(&["/api/public/v3/"]);
    let r = api.send(Method::GET, "/api/public/models", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = api.send(Method::GET, "/api/public/v3/scores", None).await;
    assert_eq!(r.status.as_u16(), 500);
}

#[tokio::test]
async fn scripted_faults_hit_the_next_requests_in_order_then_stop() {
    let api = start_profile(ServerProfile::V4).await;
    api.sb.set_fault_methods(&["POST"]);
    api.sb
        .script_faults(&[FaultKind::Http503, FaultKind::Http500]);
    let r = api.send(Method::GET, "/api/public/v3/scores", None).await;
    assert_eq!(r.status, StatusCode::OK, "a read is not scripted");
    let mut codes = vec![];
    for id in ["a", "b", "c"] {
        // The current API takes scores as an array and answers 202.
        let r = api
            .send(Method::POST, "/api/public/scores", Some(json!([score(id)])))
            .await;
        codes.push(r.status.as_u16());
    }
    assert_eq!(codes, vec![503, 500, 202]);
}

#[tokio::test]
async fn drop_after_accept_answers_2xx_and_keeps_nothing() {
    let api = start_profile(ServerProfile::V4).await;
    api.sb.set_faults(only(FaultKind::DropAfterAccept));
    let r = api
        .send(
            Method::POST,
            "/api/public/scores",
            Some(json!([score("s")])),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    api.sb.settle();
    assert_eq!(api.sb.counts()["scores"], 0, "accepted, then dropped");
    api.sb.set_faults(FaultConfig::default());
    let page = api
        .get("scoresV3_getManyV3", "/api/public/v3/scores?id=s")
        .await;
    assert_eq!(page["data"], json!([]));
}

#[tokio::test]
async fn long_delay_keeps_a_write_invisible_for_its_delay() {
    let api = start_profile(ServerProfile::V4).await;
    api.sb.set_faults(FaultConfig {
        long_delay_ms: 1_500,
        ..only(FaultKind::LongDelay)
    });
    let t = Instant::now();
    let r = api
        .send(
            Method::POST,
            "/api/public/scores",
            Some(json!([score("s")])),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    api.sb.set_faults(FaultConfig::default());
    let read = || api.get("scoresV3_getManyV3", "/api/public/v3/scores?id=s");
    assert_eq!(read().await["data"], json!([]), "not visible at first");
    loop {
        let seen = read().await["data"].as_array().unwrap().len() == 1;
        if seen {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "visible in the end");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        t.elapsed() >= Duration::from_millis(1_500),
        "not before its delay"
    );
}
