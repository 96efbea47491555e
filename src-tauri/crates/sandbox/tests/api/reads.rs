use std::collections::BTreeSet;

use langfuse_sandbox::{SampleSpec, SandboxConfig, ServerProfile};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::*;

async fn sample(profile: ServerProfile, traces: usize) -> Api {
    start(SandboxConfig {
        profile,
        sample: Some(SampleSpec {
            seed: 7,
            traces,
            observations_per_trace: 4,
        }),
        ..SandboxConfig::default()
    })
    .await
}

fn ids(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn trace_pages_reach_the_last_page_and_past_it_is_empty() {
    let api = sample(ServerProfile::V3, 23).await;
    let mut seen = BTreeSet::new();
    for page in 1..=3 {
        let v = api
            .get(
                "trace_list",
                &format!("/api/public/traces?page={page}&limit=10"),
            )
            .await;
        assert_eq!(v["meta"]["totalItems"], 23);
        assert_eq!(v["meta"]["totalPages"], 3);
        assert_eq!(
            v["data"].as_array().unwrap().len(),
            if page == 3 { 3 } else { 10 }
        );
        seen.extend(ids(&v));
    }
    let dump_ids: BTreeSet<String> = api.sb.dump()["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, dump_ids);
    let past = api
        .get("trace_list", "/api/public/traces?page=4&limit=10")
        .await;
    assert!(past["data"].as_array().unwrap().is_empty());
    assert_eq!(past["meta"]["page"], 4);
    let far = api
        .get(
            "trace_list",
            "/api/public/traces?page=9223372036854775807&limit=100",
        )
        .await;
    assert!(far["data"].as_array().unwrap().is_empty());
    for bad in ["limit=101", "limit=0", "page=0", "limit=abc"] {
        assert_eq!(
            api.status(Method::GET, &format!("/api/public/traces?{bad}"))
                .await,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn trace_time_window_and_fields() {
    let api = sample(ServerProfile::V3, 20).await;
    let dump = api.sb.dump();
    let mut stamps: Vec<String> = dump["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["timestamp"].as_str().unwrap().to_string())
        .collect();
    stamps.sort();
    let (from, to) = (&stamps[5], &stamps[12]);
    let v = api
        .get(
            "trace_list",
            &format!("/api/public/traces?fromTimestamp={from}&toTimestamp={to}&limit=100"),
        )
        .await;
    assert_eq!(v["meta"]["totalItems"], 7, "from inclusive, to exclusive");
    let asc = api
        .get(
            "trace_list",
            "/api/public/traces?orderBy=timestamp.asc&limit=100",
        )
        .await;
    let first = asc["data"][0]["timestamp"].as_str().unwrap();
    assert_eq!(first, stamps[0]);
    let id = asc["data"][0]["id"].as_str().unwrap().to_string();
    let full = api
        .get("trace_get", &format!("/api/public/traces/{id}"))
        .await;
    assert_eq!(full["observations"].as_array().unwrap().len(), 4);
    assert!(full["observations"][0]["startTime"].is_string());
    let core = api
        .get("trace_get", &format!("/api/public/traces/{id}?fields=core"))
        .await;
    assert!(core["observations"].as_array().unwrap().is_empty());
    assert_eq!(core["latency"], -1.0);
    assert!(core.get("input").is_none());
    assert_eq!(
        api.status(Method::GET, "/api/public/traces/nope").await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn v1_observations_list_get_and_filters() {
    let api = sample(ServerProfile::V3, 10).await;
    let v = api
        .get(
            "legacy_observationsV1_getMany",
            "/api/public/observations?limit=15&page=3",
        )
        .await;
    assert_eq!(v["meta"]["totalItems"], 40);
    assert_eq!(v["data"].as_array().unwrap().len(), 10);
    let gens = api
        .get(
            "legacy_observationsV1_getMany",
            "/api/public/observations?type=GENERATION&limit=100",
        )
        .await;
    assert!(
        gens["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["type"] == "GENERATION" && o["model"].is_string())
    );
    let id = v["data"][0]["id"].as_str().unwrap();
    let one = api
        .get(
            "legacy_observationsV1_get",
            &format!("/api/public/observations/{id}"),
        )
        .await;
    assert_eq!(one["id"], id);
    let trace = one["traceId"].as_str().unwrap();
    let of_trace = api
        .get(
            "legacy_observationsV1_getMany",
            &format!("/api/public/observations?traceId={trace}"),
        )
        .await;
    assert_eq!(of_trace["meta"]["totalItems"], 4);
}

#[tokio::test]
async fn v2_observations_cursor_walks_every_row_once() {
    let api = sample(ServerProfile::V4, 30).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/api/public/v2/observations?limit=37&fields=core,basic,time,io,metadata,model,usage,prompt,metrics,trace_context".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let v = api.get("observations_getMany", &path).await;
        pages += 1;
        seen.extend(ids(&v));
        match v["meta"]["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(seen.len(), 120);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 120);
    let default = api
        .get(
            "observations_getMany",
            "/api/public/v2/observations?limit=1",
        )
        .await;
    let row = default["data"][0].as_object().unwrap();
    assert!(
        row.contains_key("name") && !row.contains_key("input"),
        "default groups are core+basic"
    );
    for bad in [
        "limit=1001",
        "parseIoAsJson=true",
        "fields=everything",
        "cursor=%%%",
    ] {
        assert_eq!(
            api.status(Method::GET, &format!("/api/public/v2/observations?{bad}"))
                .await,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn v2_observations_time_window_and_io_as_strings() {
    let api = sample(ServerProfile::V4, 10).await;
    let dump = api.sb.dump();
    let mut starts: Vec<&str> = dump["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["startTime"].as_str().unwrap())
        .collect();
    starts.sort();
    let (from, to) = (starts[8], starts[20]);
    let v = api.get("observations_getMany", &format!("/api/public/v2/observations?fromStartTime={from}&toStartTime={to}&limit=1000&fields=core,io")).await;
    let rows = v["data"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        starts.iter().filter(|s| **s >= from && **s < to).count()
    );
    assert!(
        rows.iter().all(|r| r["input"].is_string()),
        "v2 returns I/O as raw strings"
    );
}

#[tokio::test]
async fn scores_v2_and_v3_cursor() {
    let api = sample(ServerProfile::V3, 12).await;
    let total = api.sb.counts()["scores"];
    let v2 = api
        .get("scores_get-many", "/api/public/v2/scores?limit=100")
        .await;
    assert_eq!(v2["meta"]["totalItems"], total);
    assert!(v2["data"][0].get("trace").is_some());
    let bare = api
        .get("scores_get-many", "/api/public/v2/scores?fields=score")
        .await;
    assert!(bare["data"][0].get("trace").is_none());
    assert_eq!(
        api.status(
            Method::GET,
            "/api/public/v2/scores?fields=score&userId=user-1"
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    let id = v2["data"][0]["id"].as_str().unwrap();
    api.get("scores_get-by-id", &format!("/api/public/v2/scores/{id}"))
        .await;
    let mut seen = BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let v = api
            .get(
                "scoresV3_getManyV3",
                &format!("/api/public/v3/scores?limit=7&fields=details,subject,annotation{cursor}"),
            )
            .await;
        seen.extend(ids(&v));
        match v["meta"]["cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), total);
    let bools = api
        .get(
            "scoresV3_getManyV3",
            "/api/public/v3/scores?dataType=boolean&limit=100",
        )
        .await;
    assert!(
        bools["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["value"].is_boolean())
    );
    for bad in [
        "limit=101",
        "fields=nope",
        "observationId=x",
        "traceId=a&sessionId=b",
        "valueMin=1",
    ] {
        assert_eq!(
            api.status(Method::GET, &format!("/api/public/v3/scores?{bad}"))
                .await,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    assert_eq!(
        api.status(Method::GET, "/api/public/v2/scores?limit=101")
            .await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn sessions_datasets_prompts_configs_models_comments_read_in_spec_shape() {
    let api = sample(ServerProfile::V3, 12).await;
    let sessions = api
        .get("sessions_list", "/api/public/sessions?limit=100")
        .await;
    let sid = sessions["data"][0]["id"].as_str().unwrap();
    let s = api
        .get("sessions_get", &format!("/api/public/sessions/{sid}"))
        .await;
    assert!(!s["traces"].as_array().unwrap().is_empty());

    let ds = api.get("datasets_list", "/api/public/v2/datasets").await;
    assert_eq!(ds["meta"]["totalItems"], 2);
    let d = api
        .get(
            "datasets_get",
            "/api/public/v2/datasets/support%2Fregressions",
        )
        .await;
    let items = api
        .get(
            "datasetItems_list",
            "/api/public/dataset-items?datasetName=support%2Fregressions&limit=100",
        )
        .await;
    assert_eq!(items["meta"]["totalItems"], 12);
    let item_id = items["data"][0]["id"].as_str().unwrap();
    api.get(
        "datasetItems_get",
        &format!("/api/public/dataset-items/{item_id}"),
    )
    .await;
    let runs = api
        .get(
            "datasets_getRuns",
            "/api/public/datasets/support%2Fregressions/runs",
        )
        .await;
    let run = runs["data"][0]["name"].as_str().unwrap();
    let with_items = api
        .get(
            "datasets_getRun",
            &format!("/api/public/datasets/support%2Fregressions/runs/{run}"),
        )
        .await;
    assert_eq!(with_items["datasetRunItems"].as_array().unwrap().len(), 12);
    let dataset_id = d["id"].as_str().unwrap();
    let run_items = api
        .get(
            "datasetRunItems_list",
            &format!("/api/public/dataset-run-items?datasetId={dataset_id}&runName={run}"),
        )
        .await;
    assert_eq!(run_items["meta"]["totalItems"], 12);

    let prompts = api.get("prompts_list", "/api/public/v2/prompts").await;
    assert_eq!(prompts["meta"]["totalItems"], 3);
    let prod = api
        .get("prompts_get", "/api/public/v2/prompts/support-answer")
        .await;
    assert_eq!(prod["version"], 2, "production label by default");
    let v3 = api
        .get(
            "prompts_get",
            "/api/public/v2/prompts/support-answer?version=3",
        )
        .await;
    assert!(v3["labels"].as_array().unwrap().contains(&"latest".into()));
    let chat = api
        .get(
            "prompts_get",
            "/api/public/v2/prompts/summarizer?label=latest",
        )
        .await;
    assert_eq!(chat["type"], "chat");
    api.get(
        "prompts_get",
        "/api/public/v2/prompts/agents%2Frouter%2Fclassifier",
    )
    .await;

    let configs = api
        .get("scoreConfigs_get", "/api/public/score-configs")
        .await;
    let cid = configs["data"][0]["id"].as_str().unwrap();
    api.get(
        "scoreConfigs_get-by-id",
        &format!("/api/public/score-configs/{cid}"),
    )
    .await;
    let models = api.get("models_list", "/api/public/models").await;
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["isLangfuseManaged"] == true)
    );
    let mid = models["data"][0]["id"].as_str().unwrap();
    api.get("models_get", &format!("/api/public/models/{mid}"))
        .await;
    let comments = api
        .get("comments_get", "/api/public/comments?objectType=TRACE")
        .await;
    assert_eq!(comments["meta"]["totalItems"], 5);
    let cid = comments["data"][0]["id"].as_str().unwrap();
    api.get("comments_get-by-id", &format!("/api/public/comments/{cid}"))
        .await;
}

#[tokio::test]
async fn v4_answers_404_on_deprecated_reads_and_serves_experiments() {
    let api = sample(ServerProfile::V4, 6).await;
    for path in [
        "/api/public/traces",
        "/api/public/traces/x",
        "/api/public/sessions",
        "/api/public/observations",
        "/api/public/observations/x",
        "/api/public/v2/scores",
        "/api/public/datasets/qa-golden/runs",
        "/api/public/dataset-run-items?datasetId=a&runName=b",
    ] {
        assert_eq!(
            api.status(Method::GET, path).await,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let exps = api
        .get(
            "experiments_list",
            "/api/public/experiments?fromStartTime=2020-01-01T00:00:00Z&fields=core,metadata",
        )
        .await;
    assert_eq!(exps["data"].as_array().unwrap().len(), 4);
    let items = api.get("experiments_listItems", "/api/public/experiment-items?fromStartTime=2020-01-01T00:00:00Z&limit=5&fields=core,dataset,io,metadata,itemMetadata,experimentMetadata").await;
    assert_eq!(items["data"].as_array().unwrap().len(), 5);
    assert!(items["meta"]["cursor"].is_string());
    assert_eq!(
        api.status(Method::GET, "/api/public/experiments").await,
        StatusCode::BAD_REQUEST,
        "fromStartTime is required"
    );
}

#[tokio::test]
async fn v2_has_no_v4_endpoints() {
    let api = sample(ServerProfile::V2, 3).await;
    for (m, path) in [
        (Method::GET, "/api/public/v2/observations"),
        (Method::GET, "/api/public/v3/scores"),
        (Method::POST, "/api/public/otel/v1/traces"),
        (Method::DELETE, "/api/public/traces/x"),
    ] {
        let s = api.status(m.clone(), path).await;
        assert!(
            s == StatusCode::NOT_FOUND || s == StatusCode::METHOD_NOT_ALLOWED,
            "{m} {path}: {s}"
        );
    }
}

#[tokio::test]
async fn the_structured_filter_takes_precedence_over_query_filters() {
    let api = sample(ServerProfile::V4, 10).await;
    let dump = api.sb.dump();
    let obs = dump["observations"].as_array().unwrap();
    let session = obs
        .iter()
        .find_map(|o| o["sessionId"].as_str())
        .unwrap()
        .to_string();
    let expected = obs
        .iter()
        .filter(|o| o["sessionId"] == session.as_str() && o["type"] == "GENERATION")
        .count();
    let filter = serde_json::json!([
        {"type": "string", "column": "sessionId", "operator": "=", "value": session},
        {"type": "stringOptions", "column": "type", "operator": "any of", "value": ["GENERATION"]},
        {"type": "stringObject", "column": "metadata", "key": "component", "operator": "=", "value": "generation"},
        {"type": "datetime", "column": "startTime", "operator": ">=", "value": "2020-01-01T00:00:00Z"}
    ]);
    let enc: String = form_urlencoded::byte_serialize(filter.to_string().as_bytes()).collect();
    // `type=SPAN` would exclude every generation; the filter wins.
    let v = api
        .get(
            "observations_getMany",
            &format!("/api/public/v2/observations?limit=1000&type=SPAN&filter={enc}"),
        )
        .await;
    assert_eq!(v["data"].as_array().unwrap().len(), expected);
    assert!(expected > 0);
    let v1 = api.sb.counts();
    assert!(v1["observations"] > expected);
    for bad in [
        r#"[{"type":"string","column":"nope","operator":"=","value":"x"}]"#,
        r#"[{"type":"string","column":"name","operator":"~","value":"x"}]"#,
        "not json",
    ] {
        let enc: String = form_urlencoded::byte_serialize(bad.as_bytes()).collect();
        assert_eq!(
            api.status(
                Method::GET,
                &format!("/api/public/v2/observations?filter={enc}")
            )
            .await,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn v2_metadata_is_a_string_map_cut_at_200_unless_expanded() {
    let api = start_profile(ServerProfile::V4).await;
    let long = "é".repeat(300);
    api.sb
        .insert_raw(
            "observations",
            serde_json::json!({"id": "o", "traceId": "t", "startTime": "2026-11-01T00:00:00.000Z",
            "metadata": {"long": long, "nested": {"a": [1, 2]}, "n": 3}}),
        )
        .unwrap();
    let v = api
        .get(
            "observations_getMany",
            "/api/public/v2/observations?fields=core,metadata",
        )
        .await;
    let m = &v["data"][0]["metadata"];
    assert_eq!(m["long"].as_str().unwrap().chars().count(), 200);
    assert_eq!(m["nested"], r#"{"a":[1,2]}"#);
    assert_eq!(m["n"], "3");
    let v = api
        .get(
            "observations_getMany",
            "/api/public/v2/observations?fields=core,metadata&expandMetadata=long",
        )
        .await;
    assert_eq!(
        v["data"][0]["metadata"]["long"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        300
    );
}

#[tokio::test]
async fn traces_take_the_structured_filter_too() {
    let api = sample(ServerProfile::V3, 20).await;
    let dump = api.sb.dump();
    let traces = dump["traces"].as_array().unwrap();
    let expected = traces
        .iter()
        .filter(|t| {
            t["tags"].as_array().unwrap().iter().any(|x| x == "rag")
                && t["environment"] != "staging"
        })
        .count();
    let filter = serde_json::json!([
        {"type": "arrayOptions", "column": "tags", "operator": "any of", "value": ["rag"]},
        {"type": "string", "column": "environment", "operator": "does not contain", "value": "staging"}
    ]);
    let enc: String = form_urlencoded::byte_serialize(filter.to_string().as_bytes()).collect();
    let v = api
        .get(
            "trace_list",
            &format!("/api/public/traces?limit=100&userId=nobody&filter={enc}"),
        )
        .await;
    assert_eq!(v["meta"]["totalItems"], expected);
    assert!(expected > 0);
}

fn metrics_path(query: Value) -> String {
    let mut u = reqwest::Url::parse("http://sandbox/api/public/v2/metrics").unwrap();
    u.query_pairs_mut().append_pair("query", &query.to_string());
    format!("{}?{}", u.path(), u.query().unwrap())
}

fn count_of(v: &Value) -> u64 {
    v["data"][0]["count_count"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn v4_metrics_count_observations_roots_and_scores_in_a_window() {
    let api = sample(ServerProfile::V4, 30).await;
    let dump = api.sb.dump();
    let all = "2000-01-01T00:00:00.000Z";
    let end = "2100-01-01T00:00:00.000Z";
    let count = |view: &str, filters: Value| {
        metrics_path(serde_json::json!({
            "view": view,
            "metrics": [{"measure": "count", "aggregation": "count"}],
            "filters": filters,
            "fromTimestamp": all,
            "toTimestamp": end,
        }))
    };
    let observations = dump["observations"].as_array().unwrap();
    let v = api
        .get(
            "metrics_metrics",
            &count("observations", serde_json::json!([])),
        )
        .await;
    assert_eq!(count_of(&v), observations.len() as u64);
    let roots = observations
        .iter()
        .filter(|o| o["parentObservationId"].is_null())
        .count();
    let counted = async |filter: Value| {
        count_of(
            &api.get(
                "metrics_metrics",
                &count("observations", serde_json::json!([filter])),
            )
            .await,
        )
    };
    assert_eq!(
        counted(serde_json::json!({"column": "isRootObservation", "operator": "=", "value": true, "type": "boolean"})).await,
        roots as u64
    );
    assert_eq!(roots, dump["traces"].as_array().unwrap().len());
    let env = observations[0]["environment"].as_str().unwrap();
    let in_env = observations
        .iter()
        .filter(|o| o["environment"] == env)
        .count();
    assert_eq!(
        counted(serde_json::json!({"column": "environment", "operator": "any of", "value": [env], "type": "stringOptions"})).await,
        in_env as u64
    );
    // scores-numeric holds numeric and boolean scores; categorical ones have their own view.
    let scores = dump["scores"].as_array().unwrap();
    let of = |types: &[&str]| {
        scores
            .iter()
            .filter(|s| types.contains(&s["dataType"].as_str().unwrap()))
            .count() as u64
    };
    let v = api
        .get(
            "metrics_metrics",
            &count("scores-numeric", serde_json::json!([])),
        )
        .await;
    assert_eq!(count_of(&v), of(&["NUMERIC", "BOOLEAN"]));
    let v = api
        .get(
            "metrics_metrics",
            &count("scores-categorical", serde_json::json!([])),
        )
        .await;
    assert_eq!(count_of(&v), of(&["CATEGORICAL"]));

    // An empty window counts nothing; a reversed one, a measure the sandbox does not compute
    // and the traces view (not in v2 metrics) are refused.
    let empty = metrics_path(serde_json::json!({
        "view": "observations",
        "metrics": [{"measure": "count", "aggregation": "count"}],
        "fromTimestamp": "2001-01-01T00:00:00.000Z",
        "toTimestamp": "2001-01-02T00:00:00.000Z",
    }));
    assert_eq!(count_of(&api.get("metrics_metrics", &empty).await), 0);
    for bad in [
        serde_json::json!({"view": "observations", "metrics": [{"measure": "count", "aggregation": "count"}], "fromTimestamp": end, "toTimestamp": all}),
        serde_json::json!({"view": "observations", "metrics": [{"measure": "totalCost", "aggregation": "sum"}], "fromTimestamp": all, "toTimestamp": end}),
        serde_json::json!({"view": "traces", "metrics": [{"measure": "count", "aggregation": "count"}], "fromTimestamp": all, "toTimestamp": end}),
    ] {
        assert_eq!(
            api.status(Method::GET, &metrics_path(bad.clone())).await,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    // Older servers have no v2 metrics.
    let v3 = sample(ServerProfile::V3, 2).await;
    assert_eq!(
        v3.status(Method::GET, &count("observations", serde_json::json!([])))
            .await,
        StatusCode::NOT_FOUND
    );
}
