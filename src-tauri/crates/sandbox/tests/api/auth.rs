use langfuse_sandbox::ServerProfile;
use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn wrong_or_missing_keys_get_401_with_a_message() {
    let api = start_profile(ServerProfile::V4).await;
    let url = api.url("/api/public/projects");
    let none = api.http.get(&url).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = none.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Invalid credentials")
    );
    for (pk, sk) in [(PK, "sk-wrong"), ("pk-wrong", SK), ("", "")] {
        let r = api
            .http
            .get(&url)
            .basic_auth(pk, Some(sk))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{pk}:{sk}");
    }
    let bearer = api.http.get(&url).bearer_auth(SK).send().await.unwrap();
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
    let ok = api.get("projects_get", "/api/public/projects").await;
    assert_eq!(ok["data"][0]["name"], "Sandbox project");
}

#[tokio::test]
async fn health_reports_the_profile_version_without_auth() {
    for (profile, prefix) in [
        (ServerProfile::V2, "2."),
        (ServerProfile::V3, "3."),
        (ServerProfile::V4_16, "4.16.0"),
        (ServerProfile::V4, "4.59.0"),
    ] {
        let api = start_profile(profile).await;
        let r = api
            .http
            .get(api.url("/api/public/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: serde_json::Value = r.json().await.unwrap();
        spec().check("health_health", 200, &body);
        assert_eq!(body["status"], "OK");
        assert!(body["version"].as_str().unwrap().starts_with(prefix));
        api.sb.stop().await;
    }
}

#[test]
#[should_panic(expected = "violates the spec")]
fn the_spec_check_catches_a_renamed_field() {
    let body = serde_json::json!({"status": "OK", "versionString": "4.16.0"});
    spec().check("health_health", 200, &body);
}

#[test]
#[should_panic(expected = "violates the spec")]
fn the_spec_check_catches_a_wrong_type_deep_inside() {
    let body = serde_json::json!({"data": [{"id": "x", "traceId": null, "startTime": "not a date", "endTime": null,
        "projectId": "p", "parentObservationId": null, "type": "SPAN", "modelId": null, "inputPrice": null,
        "outputPrice": null, "totalPrice": null}], "meta": {}});
    spec().check("observations_getMany", 200, &body);
}
