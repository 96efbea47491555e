//! LLM connections (Langfuse v3 and later): list, upsert by provider, delete. Reads never show
//! the secret key (only a masked `displaySecretKey`) nor the extra headers' values.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::params::{DEFAULT_PAGE_CAP, Page, Params, paged};
use crate::state::AppState;
use crate::store::{LlmConnectionRow, new_id};
use crate::timefmt::{fmt, now_ms};

const ADAPTERS: [&str; 6] = [
    "anthropic",
    "openai",
    "azure",
    "bedrock",
    "google-vertex-ai",
    "google-ai-studio",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Upsert {
    provider: String,
    adapter: String,
    secret_key: String,
    #[serde(rename = "baseURL")]
    base_url: Option<String>,
    custom_models: Option<Vec<String>>,
    with_default_models: Option<bool>,
    extra_headers: Option<BTreeMap<String, String>>,
    config: Option<Value>,
}

/// The connection as the API shows it: secrets left out.
pub fn view(r: &LlmConnectionRow) -> Value {
    let tail: String = {
        let chars: Vec<char> = r.secret_key.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    };
    json!({
        "id": r.id,
        "provider": r.provider,
        "adapter": r.adapter,
        "displaySecretKey": format!("...{tail}"),
        "baseURL": r.base_url,
        "customModels": r.custom_models,
        "withDefaultModels": r.with_default_models,
        "extraHeaderKeys": r.extra_headers.keys().collect::<Vec<_>>(),
        "config": r.config,
        "createdAt": fmt(r.created_at),
        "updatedAt": fmt(r.updated_at),
    })
}

/// Langfuse's adapter-specific rules for `config`.
fn check_config(adapter: &str, config: Option<&Value>) -> Result<(), String> {
    let field = |k: &str| config.and_then(|c| c.get(k));
    match (adapter, config) {
        ("bedrock", _) if !field("region").is_some_and(Value::is_string) => {
            Err("config: Bedrock connections need {\"region\": \"<aws-region>\"}".into())
        }
        ("openai", Some(_)) if !field("useResponsesApi").is_some_and(Value::is_boolean) => {
            Err("config: OpenAI connections take only {\"useResponsesApi\": <boolean>}".into())
        }
        ("google-vertex-ai", Some(_)) if !field("location").is_some_and(Value::is_string) => {
            Err("config: Vertex AI connections take only {\"location\": \"<gcp-location>\"}".into())
        }
        ("anthropic" | "azure" | "google-ai-studio", Some(_)) => {
            Err(format!("config: not supported for the {adapter} adapter"))
        }
        _ => Ok(()),
    }
}

pub async fn upsert(State(st): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let req: Upsert = crate::body::json(body).await?;
    if req.provider.trim().is_empty() {
        return Err(ApiError::bad("provider: must not be empty"));
    }
    if req.secret_key.is_empty() {
        return Err(ApiError::bad("secretKey: must not be empty"));
    }
    if !ADAPTERS.contains(&req.adapter.as_str()) {
        return Err(ApiError::bad(format!(
            "adapter: Invalid enum value `{}`",
            req.adapter
        )));
    }
    let config = req.config.filter(|c| !c.is_null());
    check_config(&req.adapter, config.as_ref()).map_err(ApiError::bad)?;
    let now = now_ms();
    let mut store = st.store.write();
    let existing = store
        .llm_connections
        .iter()
        .find(|(_, c)| c.provider == req.provider)
        .map(|(s, c)| (s, c.id.clone(), c.created_at));
    let (id, created_at) = match &existing {
        Some((_, id, at)) => (id.clone(), *at),
        None => (new_id(), now),
    };
    let row = LlmConnectionRow {
        id,
        provider: req.provider,
        adapter: req.adapter,
        secret_key: req.secret_key,
        base_url: req.base_url,
        custom_models: req.custom_models.unwrap_or_default(),
        with_default_models: req.with_default_models.unwrap_or(true),
        extra_headers: req.extra_headers.unwrap_or_default(),
        config,
        created_at,
        updated_at: now,
        visible_at: 0,
    };
    let out = view(&row);
    match existing {
        Some((slot, ..)) => store.llm_connections.replace(slot, row),
        None => {
            store.llm_connections.insert(row);
        }
    }
    Ok(Json(out))
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let page = Page::parse(&Params::parse(q.as_deref()), DEFAULT_PAGE_CAP)?;
    let store = st.store.read();
    let mut rows: Vec<&LlmConnectionRow> = store.llm_connections.iter().map(|(_, c)| c).collect();
    rows.sort_by(|a, b| a.provider.cmp(&b.provider));
    let (rows, total) = page.take(rows.into_iter());
    Ok(Json(paged(
        rows.into_iter().map(view).collect(),
        &page,
        total,
    )))
}

pub async fn delete(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let removed = st.store.write().llm_connections.remove_id(&id);
    if removed.is_empty() {
        return Err(ApiError::not_found("LLM connection not found"));
    }
    Ok(Json(json!({"message": "LLM connection deleted"})))
}
