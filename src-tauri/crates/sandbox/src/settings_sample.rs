//! Project settings for copies that move more than traces: LLM connections of three kinds (a
//! plain OpenAI one, Bedrock with its region, a gateway with custom models and an extra header)
//! and an annotation queue over the project's score configs with items on its traces and an
//! observation (load the trace sample first for those). Kept apart from the trace sample
//! because a copy of the connections needs secrets the tests supply.

use std::collections::BTreeMap;

use serde_json::json;

use crate::sample::SAMPLE_START_MS;
use crate::store::{
    AnnotationQueueItemRow, AnnotationQueueRow, DashboardRow, DashboardWidgetRow,
    EvaluationRuleRow, EvaluatorRow, LlmConnectionRow, Store,
};

/// The sample's annotation queue.
pub const QUEUE_NAME: &str = "support-review";

/// The sample's evaluators: an LLM-as-a-judge on the `openai` connection, one on the gateway's
/// custom model with a categorical output, and a code evaluator.
pub const EVALUATOR_NAMES: [&str; 3] = ["helpfulness", "tone", "has-answer"];

/// The sample's evaluation rule, over all three evaluators.
pub const RULE_NAME: &str = "production-chats";

/// The sample's dashboard (two widgets and a preset).
pub const DASHBOARD_NAME: &str = "support-overview";

/// The providers the sample's LLM connections are named after.
pub const LLM_PROVIDERS: [&str; 3] = ["openai", "bedrock-eu", "my-gateway"];

pub fn load(store: &mut Store) {
    let at = SAMPLE_START_MS;
    let row = |id: &str, provider: &str, adapter: &str, secret: &str| LlmConnectionRow {
        id: id.into(),
        provider: provider.into(),
        adapter: adapter.into(),
        secret_key: secret.into(),
        base_url: None,
        custom_models: vec![],
        with_default_models: true,
        extra_headers: BTreeMap::new(),
        config: None,
        created_at: at,
        updated_at: at,
        visible_at: 0,
    };
    let mut openai = row("llm-openai", "openai", "openai", "sk-source-openai-0001");
    openai.config = Some(json!({"useResponsesApi": true}));
    let mut bedrock = row(
        "llm-bedrock",
        "bedrock-eu",
        "bedrock",
        "source-bedrock-0002",
    );
    bedrock.config = Some(json!({"region": "eu-central-1"}));
    bedrock.with_default_models = false;
    bedrock.custom_models = vec!["anthropic.claude-3-5-sonnet-20241022-v2:0".into()];
    let mut gateway = row("llm-gateway", "my-gateway", "openai", "gw-source-0003");
    gateway.base_url = Some("https://llm-gateway.example.com/v1".into());
    gateway.custom_models = vec!["house-model-large".into(), "house-model-small".into()];
    gateway.extra_headers = BTreeMap::from([("X-Team".into(), "research".into())]);
    for r in [openai, bedrock, gateway] {
        store.llm_connections.insert(r);
    }
    annotation_queue(store);
    evaluators(store);
    dashboard(store);
}

/// Two widgets (a cost time series by model, a score histogram) placed on a dashboard next to
/// one of Langfuse's presets, with a dashboard filter.
fn dashboard(store: &mut Store) {
    let at = SAMPLE_START_MS;
    let widget = |id: &str, name: &str, view: &str, chart: &str| DashboardWidgetRow {
        id: id.into(),
        name: name.into(),
        description: String::new(),
        view: view.into(),
        dimensions: vec![],
        metrics: vec![],
        filters: vec![],
        chart_type: chart.into(),
        chart_config: json!({"type": chart}),
        created_at: at,
        updated_at: at,
        visible_at: 0,
    };
    let mut cost = widget(
        "wd-cost",
        "Cost by model",
        "observations",
        "LINE_TIME_SERIES",
    );
    cost.description = "Daily cost of generations".into();
    cost.dimensions = vec![json!({"field": "providedModelName"})];
    cost.metrics = vec![json!({"measure": "totalCost", "agg": "sum"})];
    cost.filters = vec![
        json!({"column": "type", "operator": "any of", "type": "stringOptions", "value": ["GENERATION"]}),
    ];
    let mut scores = widget(
        "wd-scores",
        "Accuracy spread",
        "scores-numeric",
        "HISTOGRAM",
    );
    scores.metrics = vec![json!({"measure": "value", "agg": "histogram"})];
    scores.chart_config = json!({"type": "HISTOGRAM", "bins": 10});
    for w in [cost, scores] {
        store.dashboard_widgets.insert(w);
    }
    store.dashboards.insert(DashboardRow {
        id: "db-support".into(),
        name: DASHBOARD_NAME.into(),
        description: "What support sees every morning".into(),
        placements: vec![
            json!({"type": "widget", "id": "pl-cost", "widgetId": "wd-cost", "x": 0, "y": 0, "width": 6, "height": 4}),
            json!({"type": "widget", "id": "pl-scores", "widgetId": "wd-scores", "x": 6, "y": 0, "width": 6, "height": 4}),
            json!({"type": "preset", "id": "pl-latency", "presetId": "latency-percentiles", "x": 0, "y": 4, "width": 12, "height": 5}),
        ],
        filters: vec![json!({"column": "environment", "operator": "any of", "type": "stringOptions", "value": ["production"]})],
        created_at: at,
        updated_at: at,
        visible_at: 0,
    });
}

/// Three evaluators (two versions of the first) and a rule over all of them with filters,
/// sampling and a mapping of its own for one of them.
fn evaluators(store: &mut Store) {
    let at = SAMPLE_START_MS;
    let row = |id: &str, name: &str, kind: &str, definition: serde_json::Value| EvaluatorRow {
        id: id.into(),
        name: name.into(),
        description: None,
        kind: kind.into(),
        definition,
        version: 1,
        version_id: format!("{id}-v1"),
        version_created_at: at,
        history: vec![],
        created_at: at,
        updated_at: at,
        visible_at: 0,
    };
    let mut helpful = row(
        "ev-helpfulness",
        EVALUATOR_NAMES[0],
        "llm_as_judge",
        json!({
            "prompt": [
                {"role": "system", "content": "You grade answers of a support assistant."},
                {"role": "user", "content": "Question: {{input}}\nAnswer: {{output}}\nHow helpful is the answer?"}
            ],
            "variables": ["input", "output"],
            "variableMapping": [
                {"variable": "input", "source": "input"},
                {"variable": "output", "source": "output", "jsonPath": "$.content"}
            ],
            "modelConfig": {"provider": "openai", "model": "gpt-4o-mini"},
            "outputDefinition": {
                "dataType": "NUMERIC", "minValue": 0, "maxValue": 1,
                "scoreReasoningInstructions": "One sentence on why.",
                "scoreValueInstructions": "0 is useless, 1 fully answers the question."
            }
        }),
    );
    helpful.description = Some("Scores how helpful an answer is".into());
    helpful.version = 2;
    helpful.version_id = "ev-helpfulness-v2".into();
    helpful.history = vec![json!({
        "id": "ev-helpfulness-v1", "version": 1, "createdAt": crate::timefmt::fmt(at),
        "type": "llm_as_judge",
        "prompt": [{"role": "user", "content": "Rate {{output}}"}],
        "variables": ["output"],
        "outputDefinition": {"dataType": "NUMERIC"}
    })];
    let tone = row(
        "ev-tone",
        EVALUATOR_NAMES[1],
        "llm_as_judge",
        json!({
            "prompt": [{"role": "user", "content": "Which tone has this reply? {{reply}}"}],
            "variables": ["reply"],
            "modelConfig": {"provider": "my-gateway", "model": "house-model-large"},
            "outputDefinition": {
                "dataType": "CATEGORICAL",
                "categories": ["friendly", "neutral", "rude"],
                "shouldAllowMultipleMatches": false
            }
        }),
    );
    let code = row(
        "ev-has-answer",
        EVALUATOR_NAMES[2],
        "code",
        json!({
            "sourceCode": "def evaluate(observation):\n    return bool(observation.output)\n",
            "sourceCodeLanguage": "PYTHON"
        }),
    );
    for e in [helpful, tone, code] {
        store.evaluators.insert(e);
    }
    store.evaluation_rules.insert(EvaluationRuleRow {
        id: "rule-production-chats".into(),
        name: RULE_NAME.into(),
        enabled: true,
        sampling: 0.25,
        filter: vec![
            json!({"type": "stringOptions", "column": "environment", "operator": "any of", "value": ["production"]}),
            json!({"type": "string", "column": "name", "operator": "contains", "value": "chat"}),
            json!({"type": "stringObject", "column": "metadata", "key": "tier", "operator": "=", "value": "gold"}),
        ],
        evaluator_assignments: vec![
            json!({"evaluatorId": "ev-helpfulness"}),
            json!({"evaluatorId": "ev-tone", "variableMapping": [{"variable": "reply", "source": "output"}]}),
            json!({"evaluatorId": "ev-has-answer"}),
        ],
        created_at: at + 1,
        updated_at: at + 1,
        visible_at: 0,
    });
}

/// A queue over (up to) two of the project's score configs, with items on the first three
/// traces (one completed, one assigned user) and on one observation.
fn annotation_queue(store: &mut Store) {
    let at = SAMPLE_START_MS;
    let mut configs: Vec<(i64, String)> = store
        .score_configs
        .iter()
        .map(|(_, c)| (c.created_at, c.id.clone()))
        .collect();
    configs.sort();
    let queue_id = "aq-support-review".to_string();
    store.annotation_queues.insert(AnnotationQueueRow {
        id: queue_id.clone(),
        name: QUEUE_NAME.into(),
        description: Some("Conversations a person should look at".into()),
        score_config_ids: configs.into_iter().take(2).map(|(_, id)| id).collect(),
        assigned_user_ids: vec!["user-reviewer-1".into()],
        created_at: at,
        updated_at: at,
        visible_at: 0,
    });
    let mut trace_ids: Vec<String> = store
        .observations
        .iter()
        .filter_map(|(_, o)| o.trace_id.clone())
        .chain(store.traces.iter().map(|(_, t)| t.id.clone()))
        .collect();
    trace_ids.sort();
    trace_ids.dedup();
    let observation = store.observations.iter().map(|(_, o)| o.id.clone()).min();
    let objects = trace_ids
        .into_iter()
        .take(3)
        .map(|t| ("TRACE", t))
        .chain(observation.map(|o| ("OBSERVATION", o)));
    for (n, (kind, object_id)) in objects.enumerate() {
        let done = n == 1;
        store.annotation_queue_items.insert(AnnotationQueueItemRow {
            id: format!("aqi-{n}"),
            queue_id: queue_id.clone(),
            object_id,
            object_type: kind.into(),
            status: if done { "COMPLETED" } else { "PENDING" }.into(),
            completed_at: done.then_some(at + 60_000),
            created_at: at + n as i64,
            updated_at: at + n as i64,
            visible_at: 0,
        });
    }
}
