//! Project settings for copies that move more than traces: LLM connections of three kinds (a
//! plain OpenAI one, Bedrock with its region, a gateway with custom models and an extra header).
//! Kept apart from the trace sample because a copy of them needs secrets the tests supply.

use std::collections::BTreeMap;

use serde_json::json;

use crate::sample::SAMPLE_START_MS;
use crate::store::{LlmConnectionRow, Store};

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
}
