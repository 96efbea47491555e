//! Evaluators and evaluation rules (the current API's `v2/...`): what the SDK 5.x client sends
//! is taken, answers match its types, the server's checks (variables, model connections,
//! mappings, enabled rules) answer 400/404/422, deletes cascade to rule assignments; servers
//! before the current API answer 404.

use super::common::*;
use langfuse_sandbox::{EVALUATOR_NAMES, RULE_NAME, ServerProfile};
use reqwest::{Method, StatusCode};
use serde_json::json;

const EVALUATORS: &str = "/api/public/v2/evaluators";
const RULES: &str = "/api/public/v2/evaluation-rules";

fn judge(provider: &str) -> serde_json::Value {
    json!({
        "type": "llm_as_judge",
        "name": "correctness",
        "prompt": "Is {{output}} a correct answer to {{input}}?",
        "modelConfig": {"provider": provider, "model": "gpt-4o"},
        "variableMapping": [{"variable": "input", "source": "input"}],
        "outputDefinition": {"dataType": "BOOLEAN", "scoreReasoningInstructions": "why"}
    })
}

#[tokio::test]
async fn evaluators_are_created_versioned_listed_and_deleted_with_their_assignments() {
    let api = start_profile(ServerProfile::V4).await;
    let no_connection = api
        .op(
            "evaluators_create",
            Method::POST,
            EVALUATORS,
            Some(judge("openai")),
        )
        .await;
    assert_eq!(
        no_connection.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a model config needs the provider's LLM connection: {}",
        no_connection.body
    );
    api.op(
        "llmConnections_upsert",
        Method::PUT,
        "/api/public/llm-connections",
        Some(json!({"provider": "openai", "adapter": "openai", "secretKey": "sk-1234"})),
    )
    .await;
    let created = api
        .post("evaluators_create", EVALUATORS, judge("openai"))
        .await;
    assert_eq!(created["version"], 1);
    assert_eq!(created["variables"], json!(["output", "input"]));
    assert_eq!(
        created["prompt"],
        json!([{"role": "user", "content": "Is {{output}} a correct answer to {{input}}?"}])
    );
    let id = created["id"].as_str().unwrap().to_string();

    let mut bad = judge("openai");
    bad["variableMapping"] = json!([{"variable": "nope", "source": "input"}]);
    let r = api
        .op("evaluators_create", Method::POST, EVALUATORS, Some(bad))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);

    // A rule must map every variable: `output` has no default mapping.
    let unmapped = api
        .op(
            "evaluationRules_create",
            Method::POST,
            RULES,
            Some(json!({"name": "r", "enabled": true, "evaluatorAssignments": [{"evaluatorId": id}]})),
        )
        .await;
    assert_eq!(
        unmapped.status,
        StatusCode::BAD_REQUEST,
        "{}",
        unmapped.body
    );
    let empty_enabled = api
        .op(
            "evaluationRules_create",
            Method::POST,
            RULES,
            Some(json!({"name": "r", "enabled": true, "evaluatorAssignments": []})),
        )
        .await;
    assert_eq!(empty_enabled.status, StatusCode::BAD_REQUEST);
    let rule = api
        .post(
            "evaluationRules_create",
            RULES,
            json!({
                "name": "answers", "enabled": true, "sampling": 0.5,
                "filter": [{"type": "stringOptions", "column": "environment", "operator": "any of", "value": ["production"]}],
                "evaluatorAssignments": [{"evaluatorId": id, "variableMapping": [
                    {"variable": "input", "source": "input"},
                    {"variable": "output", "source": "output", "jsonPath": "$.text"}]}]
            }),
        )
        .await;
    assert_eq!(rule["sampling"], 0.5);
    let rule_id = rule["id"].as_str().unwrap().to_string();
    let got = api
        .get("evaluators_get", &format!("{EVALUATORS}/{id}"))
        .await;
    assert_eq!(
        got["evaluationRuleAssignments"][0]["evaluationRuleId"],
        rule_id.as_str()
    );

    let v2 = api
        .op(
            "evaluators_update",
            Method::PATCH,
            &format!("{EVALUATORS}/{id}"),
            Some(json!({"type": "llm_as_judge", "prompt": "Judge {{output}} against {{input}}", "outputDefinition": {"dataType": "NUMERIC", "minValue": 0, "maxValue": 10}})),
        )
        .await;
    assert_eq!(v2.status, StatusCode::OK, "{}", v2.body);
    assert_eq!(
        (v2.body["version"].clone(), v2.body["id"].clone()),
        (json!(2), json!(id))
    );
    let versions = api
        .get(
            "evaluators_listVersions",
            &format!("{EVALUATORS}/{id}/versions"),
        )
        .await;
    assert_eq!(versions["data"].as_array().unwrap().len(), 2);

    let del = api
        .op(
            "evaluators_delete",
            Method::DELETE,
            &format!("{EVALUATORS}/{id}"),
            None,
        )
        .await;
    assert_eq!(del.body, json!({"id": id}));
    let rule = api
        .get("evaluationRules_get", &format!("{RULES}/{rule_id}"))
        .await;
    assert_eq!(rule["evaluatorAssignments"], json!([]));
    assert_eq!(rule["enabled"], false, "a rule without evaluators stops");
    let gone = api
        .op(
            "evaluationRules_delete",
            Method::DELETE,
            &format!("{RULES}/{rule_id}"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(
        api.status(Method::GET, &format!("{RULES}/{rule_id}")).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_settings_sample_holds_evaluators_and_a_rule_paged_by_cursor() {
    let api = start_profile(ServerProfile::V4).await;
    api.sb.load_settings_sample();
    let first = api
        .get("evaluators_list", &format!("{EVALUATORS}?limit=2"))
        .await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["meta"]["cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = api
        .get(
            "evaluators_list",
            &format!("{EVALUATORS}?limit=2&cursor={cursor}"),
        )
        .await;
    assert!(second["meta"].get("cursor").is_none(), "{second}");
    let mut names: Vec<String> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["data"].as_array().unwrap())
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    let mut expected: Vec<String> = EVALUATOR_NAMES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected);
    let rules = api.get("evaluationRules_list", RULES).await;
    assert_eq!(rules["data"][0]["name"], RULE_NAME);
    assert_eq!(
        rules["data"][0]["evaluatorAssignments"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn servers_before_the_current_api_have_no_evaluators() {
    for profile in [ServerProfile::V2, ServerProfile::V3, ServerProfile::V4_16] {
        let api = start_profile(profile).await;
        for path in [EVALUATORS, RULES] {
            assert_eq!(
                api.status(Method::GET, path).await,
                StatusCode::NOT_FOUND,
                "{profile:?} {path}"
            );
        }
    }
}
