//! `x-api-key` answers as LangSmith gives them.

use langsmith_sandbox::SandboxConfig;
use reqwest::{Method, StatusCode};

use crate::common::*;

#[tokio::test]
async fn missing_or_unknown_keys_are_401_and_a_foreign_langsmith_key_is_403() {
    let api = start(SandboxConfig::default()).await;
    let r = api
        .send_with(Method::GET, "/api/v1/sessions", None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["detail"], "Invalid token");
    let r = api
        .send_with(Method::GET, "/api/v1/sessions", None, Some("nonsense"))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = api
        .send_with(
            Method::GET,
            "/api/v1/sessions",
            None,
            Some("lsv2_pt_other_region"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = api.send(Method::GET, "/api/v1/sessions", None).await;
    assert_eq!(r.status, StatusCode::OK);
}
