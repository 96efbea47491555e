use langfuse_sandbox::ServerProfile;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn prompts_get_server_versions_unique_labels_and_latest() {
    let api = start_profile(ServerProfile::V4).await;
    let p1 = api.post("prompts_create", "/api/public/v2/prompts", json!({"name": "greet", "prompt": "Hi {{name}}", "labels": ["production"], "tags": ["t"]})).await;
    assert_eq!(p1["version"], 1);
    let p2 = api.post("prompts_create", "/api/public/v2/prompts", json!({"name": "greet", "prompt": "Hello {{name}}", "labels": ["production"], "config": {"temperature": 0}})).await;
    assert_eq!(p2["version"], 2);
    assert_eq!(p2["labels"], json!(["production", "latest"]));
    let v1 = api
        .get("prompts_get", "/api/public/v2/prompts/greet?version=1")
        .await;
    assert_eq!(v1["labels"], json!([]), "a label moves to the new version");
    assert_eq!(v1["tags"], json!(["t"]));
    let patched = api
        .op(
            "promptVersion_update",
            Method::PATCH,
            "/api/public/v2/prompts/greet/versions/1",
            Some(json!({"newLabels": ["staging"]})),
        )
        .await;
    assert_eq!(patched.body["labels"], json!(["staging"]));
    let bad = api.send(Method::POST, "/api/public/v2/prompts", Some(json!({"name": "greet", "type": "chat", "prompt": [{"role": "user", "content": "x"}]}))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "type cannot change");
    let latest = api
        .send(
            Method::POST,
            "/api/public/v2/prompts",
            Some(json!({"name": "greet", "prompt": "x", "labels": ["latest"]})),
        )
        .await;
    assert_eq!(latest.status, StatusCode::BAD_REQUEST);
    api.post("prompts_create", "/api/public/v2/prompts", json!({"name": "chatty", "type": "chat", "prompt": [{"role": "system", "content": "s"}, {"type": "placeholder", "name": "h"}]})).await;
    assert_eq!(
        api.status(Method::DELETE, "/api/public/v2/prompts/greet?version=2")
            .await,
        StatusCode::NO_CONTENT
    );
    let after = api
        .get("prompts_get", "/api/public/v2/prompts/greet?label=latest")
        .await;
    assert_eq!(after["version"], 1);
    assert_eq!(
        api.status(Method::DELETE, "/api/public/v2/prompts/greet")
            .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.status(Method::GET, "/api/public/v2/prompts/greet?version=1")
            .await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn datasets_items_and_run_items_are_created_and_items_deleted() {
    let api = start_profile(ServerProfile::V3).await;
    let d = api
        .post(
            "datasets_create",
            "/api/public/v2/datasets",
            json!({"name": "golden", "description": "d", "metadata": {"a": 1}}),
        )
        .await;
    let again = api
        .post(
            "datasets_create",
            "/api/public/v2/datasets",
            json!({"name": "golden"}),
        )
        .await;
    assert_eq!(d["id"], again["id"], "datasets are upserted by name");
    let item = api.post("datasetItems_create", "/api/public/dataset-items", json!({"datasetName": "golden", "id": "item-1", "input": {"q": 1}, "expectedOutput": "a"})).await;
    assert_eq!(item["datasetId"], d["id"]);
    let updated = api
        .post(
            "datasetItems_create",
            "/api/public/dataset-items",
            json!({"datasetName": "golden", "id": "item-1", "status": "ARCHIVED"}),
        )
        .await;
    assert_eq!(updated["status"], "ARCHIVED");
    assert_eq!(updated["input"], json!({"q": 1}));
    let missing = api
        .send(
            Method::POST,
            "/api/public/dataset-items",
            Some(json!({"datasetName": "nope"})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let ri = api.post("datasetRunItems_create", "/api/public/dataset-run-items", json!({"runName": "r1", "datasetItemId": "item-1", "traceId": "t-1", "metadata": {"m": 1}})).await;
    assert_eq!(ri["datasetRunName"], "r1");
    let run = api
        .get("datasets_getRun", "/api/public/datasets/golden/runs/r1")
        .await;
    assert_eq!(run["datasetRunItems"].as_array().unwrap().len(), 1);
    let del = api
        .op(
            "datasetItems_delete",
            Method::DELETE,
            "/api/public/dataset-items/item-1",
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::OK);
    assert_eq!(
        api.sb.counts()["dataset_run_items"],
        0,
        "deleting an item removes its run items"
    );
    let no_delete = api
        .send(Method::DELETE, "/api/public/v2/datasets/golden", None)
        .await;
    assert_eq!(no_delete.body["message"], "Method not allowed");
    assert_eq!(
        no_delete.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "datasets cannot be deleted"
    );
    let rd = api
        .op(
            "datasets_deleteRun",
            Method::DELETE,
            "/api/public/datasets/golden/runs/r1",
            None,
        )
        .await;
    assert_eq!(rd.status, StatusCode::OK);
}

#[tokio::test]
async fn scores_configs_models_comments_are_created() {
    let api = start_profile(ServerProfile::V4_16).await;
    let s = api.post("scores_create", "/api/public/scores", json!({"id": "sc-1", "traceId": "t", "name": "n", "value": "good", "dataType": "CATEGORICAL"})).await;
    assert_eq!(s["id"], "sc-1");
    let v3 = api
        .get("scoresV3_getManyV3", "/api/public/v3/scores?id=sc-1")
        .await;
    assert_eq!(v3["data"][0]["value"], "good");
    assert_eq!(
        api.send(
            Method::POST,
            "/api/public/scores",
            Some(json!({"name": "n", "value": 1}))
        )
        .await
        .status,
        StatusCode::BAD_REQUEST,
        "a score needs a subject"
    );
    assert_eq!(
        api.status(Method::DELETE, "/api/public/scores/sc-1").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.status(Method::DELETE, "/api/public/scores/sc-1").await,
        StatusCode::NOT_FOUND
    );

    let c = api
        .post(
            "scoreConfigs_create",
            "/api/public/score-configs",
            json!({"name": "acc", "dataType": "NUMERIC", "minValue": 0, "maxValue": 1}),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    let out_of_range = api
        .send(
            Method::POST,
            "/api/public/scores",
            Some(json!({"traceId": "t", "name": "acc", "value": 2, "configId": id})),
        )
        .await;
    assert_eq!(
        out_of_range.status,
        StatusCode::BAD_REQUEST,
        "a score must comply with its config"
    );
    let unknown = api
        .send(
            Method::POST,
            "/api/public/scores",
            Some(json!({"traceId": "t", "name": "acc", "value": 1, "configId": "nope"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    api.post(
        "scores_create",
        "/api/public/scores",
        json!({"traceId": "t", "name": "acc", "value": 0.5, "configId": id}),
    )
    .await;
    let cat = api.post("scoreConfigs_create", "/api/public/score-configs", json!({"name": "q", "dataType": "CATEGORICAL", "categories": [{"label": "good", "value": 2}]})).await;
    api.post("scores_create", "/api/public/scores", json!({"id": "sc-cat", "traceId": "t", "name": "q", "value": "good", "dataType": "CATEGORICAL", "configId": cat["id"]})).await;
    let v3 = api
        .get(
            "scoresV3_getManyV3",
            "/api/public/v3/scores?id=sc-cat&fields=details",
        )
        .await;
    assert_eq!(v3["data"][0]["configId"], cat["id"]);
    assert_eq!(v3["data"][0]["value"], "good");
    let archived = api
        .op(
            "scoreConfigs_update",
            Method::PATCH,
            &format!("/api/public/score-configs/{id}"),
            Some(json!({"isArchived": true})),
        )
        .await;
    assert_eq!(archived.body["isArchived"], true);
    assert_eq!(
        api.status(Method::DELETE, &format!("/api/public/score-configs/{id}"))
            .await,
        StatusCode::METHOD_NOT_ALLOWED
    );

    let m = api.post("models_create", "/api/public/models", json!({"modelName": "mine", "matchPattern": "(?i)^mine$", "unit": "TOKENS", "inputPrice": 0.001, "outputPrice": 0.002})).await;
    assert_eq!(m["isLangfuseManaged"], false);
    assert_eq!(m["prices"]["input"]["price"], 0.001);
    let mid = m["id"].as_str().unwrap();
    assert_eq!(
        api.status(Method::DELETE, &format!("/api/public/models/{mid}"))
            .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.status(Method::DELETE, "/api/public/models/lf-managed-gpt-4o")
            .await,
        StatusCode::NOT_FOUND,
        "managed models cannot be deleted"
    );

    let missing = api.send(Method::POST, "/api/public/comments", Some(json!({"projectId": "sandbox-project", "objectType": "TRACE", "objectId": "t", "content": "hello"}))).await;
    assert_eq!(
        missing.status,
        StatusCode::NOT_FOUND,
        "a comment needs its object"
    );
    api.sb
        .insert_raw(
            "observations",
            json!({"id": "o", "traceId": "t", "startTime": "2026-11-01T00:00:00.000Z"}),
        )
        .unwrap();
    let cm = api.post("comments_create", "/api/public/comments", json!({"projectId": "sandbox-project", "objectType": "TRACE", "objectId": "t", "content": "hello"})).await;
    let got = api
        .get(
            "comments_get-by-id",
            &format!("/api/public/comments/{}", cm["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(got["content"], "hello");
    assert_eq!(
        api.status(Method::GET, "/api/public/comments?objectId=t")
            .await,
        StatusCode::BAD_REQUEST,
        "objectId needs objectType"
    );
}

#[tokio::test]
async fn trace_deletes_remove_observations_and_scores() {
    let api = start_profile(ServerProfile::V3).await;
    let batch = json!({"batch": [
        event("trace-create", "1", json!({"id": "t-1"})), event("trace-create", "2", json!({"id": "t-2"})), event("trace-create", "3", json!({"id": "t-3"})),
        event("span-create", "4", json!({"id": "s-1", "traceId": "t-1"})), event("score-create", "5", json!({"traceId": "t-1", "name": "x", "value": 1})),
    ]});
    api.post("ingestion_batch", "/api/public/ingestion", batch)
        .await;
    let one = api
        .op(
            "trace_delete",
            Method::DELETE,
            "/api/public/traces/t-1",
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK);
    let many = api
        .op(
            "trace_deleteMultiple",
            Method::DELETE,
            "/api/public/traces",
            Some(json!({"traceIds": ["t-2", "t-3"]})),
        )
        .await;
    assert_eq!(many.status, StatusCode::OK);
    let c = api.sb.counts();
    assert_eq!((c["traces"], c["observations"], c["scores"]), (0, 0, 0));
}

#[tokio::test]
async fn generations_link_the_prompt_version_they_name() {
    let api = start_profile(ServerProfile::V3).await;
    let p = api
        .post(
            "prompts_create",
            "/api/public/v2/prompts",
            json!({"name": "greet", "prompt": "Hi"}),
        )
        .await;
    let batch = json!({"batch": [event("generation-create", "e", json!({"id": "g", "traceId": "t", "promptName": "greet", "promptVersion": 1}))]});
    api.post("ingestion_batch", "/api/public/ingestion", batch)
        .await;
    let g = api
        .get("legacy_observationsV1_get", "/api/public/observations/g")
        .await;
    assert_eq!(g["promptId"], p["id"]);
    assert_eq!(g["promptName"], "greet");
}
