//! Annotation queues: created over existing score configs, read, their items created with a
//! status, listed by status, completed and deleted; assignments created and deleted; absent
//! from Langfuse v2's API.

use super::common::*;
use langfuse_sandbox::ServerProfile;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn annotation_queues_and_their_items_follow_the_api() {
    let api = start_profile(ServerProfile::V4).await;
    let cfg = api
        .post(
            "scoreConfigs_create",
            "/api/public/score-configs",
            json!({"name": "quality", "dataType": "NUMERIC"}),
        )
        .await;
    let cfg_id = cfg["id"].as_str().unwrap();
    let q = api
        .post(
            "annotationQueues_createQueue",
            "/api/public/annotation-queues",
            json!({"name": "review", "description": "look", "scoreConfigIds": [cfg_id]}),
        )
        .await;
    assert_eq!(q["scoreConfigIds"], json!([cfg_id]));
    let qid = q["id"].as_str().unwrap().to_string();
    for (body, why) in [
        (
            json!({"name": "review", "scoreConfigIds": []}),
            "names are unique",
        ),
        (
            json!({"name": "other", "scoreConfigIds": ["nope"]}),
            "score configs must exist",
        ),
    ] {
        let r = api
            .send(Method::POST, "/api/public/annotation-queues", Some(body))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}");
    }
    let got = api
        .get(
            "annotationQueues_getQueue",
            &format!("/api/public/annotation-queues/{qid}"),
        )
        .await;
    assert_eq!(got["name"], "review");
    let listed = api
        .get(
            "annotationQueues_listQueues",
            "/api/public/annotation-queues?page=1&limit=50",
        )
        .await;
    assert_eq!(listed["meta"]["totalItems"], 1);

    let items = format!("/api/public/annotation-queues/{qid}/items");
    let a = api
        .post(
            "annotationQueues_createQueueItem",
            &items,
            json!({"objectId": "t-1", "objectType": "TRACE"}),
        )
        .await;
    assert_eq!(
        (a["status"].as_str(), a["completedAt"].as_str()),
        (Some("PENDING"), None)
    );
    let b = api
        .post(
            "annotationQueues_createQueueItem",
            &items,
            json!({"objectId": "o-1", "objectType": "OBSERVATION", "status": "COMPLETED"}),
        )
        .await;
    assert!(b["completedAt"].is_string(), "{b}");
    let bad = api
        .send(
            Method::POST,
            &items,
            Some(json!({"objectId": "x", "objectType": "DATASET"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let pending = api
        .get(
            "annotationQueues_listQueueItems",
            &format!("{items}?status=PENDING"),
        )
        .await;
    assert_eq!(pending["data"].as_array().unwrap().len(), 1);

    let one = format!("{items}/{}", a["id"].as_str().unwrap());
    let done = api
        .op(
            "annotationQueues_updateQueueItem",
            Method::PATCH,
            &one,
            Some(json!({"status": "COMPLETED"})),
        )
        .await;
    assert_eq!(done.body["status"], "COMPLETED");
    assert!(done.body["completedAt"].is_string());
    assert_eq!(
        api.get("annotationQueues_getQueueItem", &one).await["status"],
        "COMPLETED"
    );
    let del = api
        .op(
            "annotationQueues_deleteQueueItem",
            Method::DELETE,
            &one,
            None,
        )
        .await;
    assert_eq!(del.body["success"], true);
    assert_eq!(api.status(Method::GET, &one).await, StatusCode::NOT_FOUND);

    let assign = format!("/api/public/annotation-queues/{qid}/assignments");
    let r = api
        .op(
            "annotationQueues_createQueueAssignment",
            Method::POST,
            &assign,
            Some(json!({"userId": "u-1"})),
        )
        .await;
    assert_eq!(r.body["userId"], "u-1");
    assert_eq!(
        api.sb.dump()["annotation_queues"][0]["assignedUserIds"],
        json!(["u-1"])
    );
    let r = api
        .op(
            "annotationQueues_deleteQueueAssignment",
            Method::DELETE,
            &assign,
            Some(json!({"userId": "u-1"})),
        )
        .await;
    assert_eq!(r.body["success"], true);
    assert_eq!(
        api.status(Method::GET, "/api/public/annotation-queues/missing")
            .await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_settings_sample_has_a_queue_over_sample_traces_and_v2_has_no_queues() {
    let api = start_profile(ServerProfile::V3).await;
    api.sb.load_sample(&langfuse_sandbox::SampleSpec {
        seed: 3,
        traces: 5,
        observations_per_trace: 2,
    });
    api.sb.load_settings_sample();
    let dump = api.sb.dump();
    let queues = dump["annotation_queues"].as_array().unwrap();
    assert_eq!(queues.len(), 1);
    assert_eq!(queues[0]["name"], langfuse_sandbox::QUEUE_NAME);
    assert!(!queues[0]["scoreConfigIds"].as_array().unwrap().is_empty());
    let traces: Vec<&str> = dump["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    let items = dump["annotation_queue_items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    for i in items.iter().filter(|i| i["objectType"] == "TRACE") {
        assert!(traces.contains(&i["objectId"].as_str().unwrap()), "{i}");
    }
    let qid = queues[0]["id"].as_str().unwrap();
    api.get(
        "annotationQueues_listQueueItems",
        &format!("/api/public/annotation-queues/{qid}/items"),
    )
    .await;

    let v2 = start_profile(ServerProfile::V2).await;
    assert_eq!(
        v2.status(Method::GET, "/api/public/annotation-queues")
            .await,
        StatusCode::NOT_FOUND
    );
}
