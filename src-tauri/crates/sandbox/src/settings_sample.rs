//! Project settings for copies that move more than traces: LLM connections of three kinds (a
//! plain OpenAI one, Bedrock with its region, a gateway with custom models and an extra header)
//! and an annotation queue over the project's score configs with items on its traces and an
//! observation (load the trace sample first for those). Kept apart from the trace sample
//! because a copy of the connections needs secrets the tests supply.

use std::collections::BTreeMap;

use serde_json::json;

use crate::sample::SAMPLE_START_MS;
use crate::store::{AnnotationQueueItemRow, AnnotationQueueRow, LlmConnectionRow, Store};

/// The sample's annotation queue.
pub const QUEUE_NAME: &str = "support-review";

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
