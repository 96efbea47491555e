//! Evaluators (the current API's `v2/evaluators`, Langfuse ≥ 4.59): LLM-as-a-judge evaluators
//! (a prompt whose `{{variables}}` the server extracts, an optional variable mapping and model
//! configuration, an output definition) and code evaluators. Created at version 1; a PATCH with
//! a definition makes the next version, one with only name/description none. Names are not
//! identifiers. An explicit `modelConfig` must name a provider the project has an LLM connection
//! for (422 `evaluator_preflight_failed` otherwise, as Langfuse's pre-flight check answers).
//! Deleting one removes it from the evaluation rules that use it.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::store::{EvaluatorRow, Store, new_id};
use crate::timefmt::{fmt, now_ms};

const ROLES: [&str; 3] = ["system", "user", "assistant"];
const SOURCES: [&str; 6] = [
    "input",
    "output",
    "metadata",
    "tool_calls",
    "expected_output",
    "experiment_item_metadata",
];
const DATA_TYPES: [&str; 3] = ["NUMERIC", "BOOLEAN", "CATEGORICAL"];
const LANGUAGES: [&str; 2] = ["PYTHON", "TYPESCRIPT"];

/// A cursor page of a newest-first list: `limit` (default 50, at most 100) and an opaque cursor
/// (the offset, base64). Shared with the evaluation rules.
pub fn cursor_page(params: &Params, rows: Vec<Value>) -> ApiResult<Value> {
    use base64::Engine;
    let limit = params.int("limit")?.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad(
            "limit: Number must be between 1 and 100 (inclusive)",
        ));
    }
    let offset = match params.get("cursor") {
        None => 0,
        Some(c) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("o:")?.parse::<usize>().ok())
            .ok_or_else(|| ApiError::bad("Invalid cursor"))?,
    };
    let end = offset.saturating_add(limit as usize);
    let data: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(limit as usize)
        .cloned()
        .collect();
    let mut meta = Map::new();
    if end < rows.len() {
        meta.insert(
            "cursor".into(),
            Value::String(
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o:{end}")),
            ),
        );
    }
    Ok(json!({"data": data, "meta": meta}))
}

/// `{{name}}` placeholders of a prompt, in order of first appearance.
fn variables(messages: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for m in messages {
        let text = m["content"].as_str().unwrap_or_default();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else { break };
            let name = after[..end].trim();
            if !name.is_empty() && !out.iter().any(|v| v == name) {
                out.push(name.to_string());
            }
            rest = &after[end + 2..];
        }
    }
    out
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad(msg)
}

fn prompt_messages(prompt: Option<&Value>) -> ApiResult<Vec<Value>> {
    match prompt {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            Ok(vec![json!({"role": "user", "content": s})])
        }
        Some(Value::Array(msgs)) if !msgs.is_empty() => {
            for m in msgs {
                let role = m["role"].as_str().unwrap_or_default();
                if !ROLES.contains(&role) {
                    return Err(bad(format!("prompt: Invalid enum value `{role}` for role")));
                }
                if !m["content"].is_string() {
                    return Err(bad("prompt: every message needs a string content"));
                }
            }
            Ok(msgs
                .iter()
                .map(|m| json!({"role": m["role"], "content": m["content"]}))
                .collect())
        }
        _ => Err(bad(
            "prompt: a non-empty string or a non-empty list of chat messages is required",
        )),
    }
}

/// A mapping as the API reads it back (`source` and `jsonPath` kept, nothing else).
pub fn mapping(list: Option<&Value>, variables: Option<&[String]>) -> ApiResult<Option<Value>> {
    let Some(list) = list.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Some(items) = list.as_array() else {
        return Err(bad("variableMapping: Expected array"));
    };
    let mut out = vec![];
    for m in items {
        let var = m["variable"].as_str().unwrap_or_default();
        let source = m["source"].as_str().unwrap_or_default();
        if var.is_empty() {
            return Err(bad("variableMapping: every entry needs a variable"));
        }
        if !SOURCES.contains(&source) {
            return Err(bad(format!(
                "variableMapping: Invalid enum value `{source}` for source"
            )));
        }
        if let Some(vars) = variables
            && !vars.iter().any(|v| v == var)
        {
            return Err(bad(format!(
                "variableMapping: the prompt has no variable `{var}`"
            )));
        }
        let mut e = json!({"variable": var, "source": source});
        if let Some(p) = m.get("jsonPath").filter(|p| p.is_string()) {
            e["jsonPath"] = p.clone();
        }
        out.push(e);
    }
    Ok(Some(Value::Array(out)))
}

fn output_definition(v: Option<&Value>) -> ApiResult<Value> {
    let Some(o) = v.and_then(Value::as_object) else {
        return Err(bad("outputDefinition: Required"));
    };
    let dt = o
        .get("dataType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !DATA_TYPES.contains(&dt) {
        return Err(bad(format!(
            "outputDefinition.dataType: Invalid enum value `{dt}`"
        )));
    }
    let mut out = Map::new();
    out.insert("dataType".into(), json!(dt));
    for k in ["scoreReasoningInstructions", "scoreValueInstructions"] {
        if let Some(s) = o.get(k).filter(|s| s.is_string()) {
            out.insert(k.into(), s.clone());
        }
    }
    match dt {
        "NUMERIC" => {
            for k in ["minValue", "maxValue"] {
                if let Some(n) = o.get(k).filter(|n| n.is_number()) {
                    out.insert(k.into(), n.clone());
                }
            }
            if let (Some(lo), Some(hi)) = (
                out.get("minValue").and_then(Value::as_f64),
                out.get("maxValue").and_then(Value::as_f64),
            ) && lo > hi
            {
                return Err(bad("outputDefinition: minValue must not exceed maxValue"));
            }
        }
        "CATEGORICAL" => {
            let cats = o.get("categories").and_then(Value::as_array);
            if cats.is_none_or(|c| c.is_empty() || !c.iter().all(Value::is_string)) {
                return Err(bad(
                    "outputDefinition.categories: at least one category is required",
                ));
            }
            let Some(multi) = o
                .get("shouldAllowMultipleMatches")
                .filter(|b| b.is_boolean())
            else {
                return Err(bad("outputDefinition.shouldAllowMultipleMatches: Required"));
            };
            out.insert(
                "categories".into(),
                Value::Array(cats.cloned().unwrap_or_default()),
            );
            out.insert("shouldAllowMultipleMatches".into(), multi.clone());
        }
        _ => {}
    }
    Ok(Value::Object(out))
}

/// The type-specific fields of a definition as the API shows them, from a create or update body.
fn definition(store: &Store, kind: &str, req: &Value) -> Result<Value, ApiError> {
    match kind {
        "llm_as_judge" => {
            let prompt = prompt_messages(req.get("prompt"))?;
            let vars = variables(&prompt);
            let mapping = mapping(req.get("variableMapping"), Some(&vars))?;
            let model = match req.get("modelConfig").filter(|m| !m.is_null()) {
                None => Value::Null,
                Some(m) => {
                    let (Some(provider), Some(model)) =
                        (m["provider"].as_str(), m["model"].as_str())
                    else {
                        return Err(bad("modelConfig: provider and model are required"));
                    };
                    if !store
                        .llm_connections
                        .iter()
                        .any(|(_, c)| c.provider == provider)
                    {
                        return Err(ApiError::Status(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            format!(
                                "evaluator_preflight_failed: the project has no LLM connection for provider \"{provider}\""
                            ),
                        ));
                    }
                    json!({"provider": provider, "model": model})
                }
            };
            Ok(without_nulls(json!({
                "prompt": prompt,
                "variables": vars,
                "variableMapping": mapping,
                "modelConfig": model,
                "outputDefinition": output_definition(req.get("outputDefinition"))?,
            })))
        }
        "code" => {
            let code = req["sourceCode"].as_str().unwrap_or_default();
            let lang = req["sourceCodeLanguage"].as_str().unwrap_or_default();
            if code.trim().is_empty() {
                return Err(bad("sourceCode: must not be empty"));
            }
            if !LANGUAGES.contains(&lang) {
                return Err(bad(format!(
                    "sourceCodeLanguage: Invalid enum value `{lang}`"
                )));
            }
            Ok(json!({"sourceCode": code, "sourceCodeLanguage": lang}))
        }
        other => Err(bad(format!("type: Invalid enum value `{other}`"))),
    }
}

/// Null fields are left out, as the API leaves them out.
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

/// The evaluator as the API shows it: latest definition flattened in, with the rules using it.
pub fn view(store: &Store, e: &EvaluatorRow) -> Value {
    let assignments: Vec<Value> = store
        .evaluation_rules
        .iter()
        .flat_map(|(_, r)| {
            r.evaluator_assignments
                .iter()
                .filter(|a| a["evaluatorId"] == e.id.as_str())
                .map(|a| {
                    let mut out = json!({"evaluationRuleId": r.id});
                    if let Some(m) = a.get("variableMapping").filter(|m| !m.is_null()) {
                        out["variableMappingOverride"] = m.clone();
                    }
                    out
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut out = json!({
        "id": e.id,
        "name": e.name,
        "description": e.description,
        "type": e.kind,
        "status": "active",
        "evaluationRuleAssignments": assignments,
        "createdAt": fmt(e.created_at),
        "updatedAt": fmt(e.updated_at),
        "versionId": e.version_id,
        "version": e.version,
        "versionCreatedAt": fmt(e.version_created_at),
    });
    if let (Some(o), Some(d)) = (out.as_object_mut(), e.definition.as_object()) {
        o.extend(d.clone());
    }
    without_nulls(out)
}

fn version_view(e: &EvaluatorRow) -> Value {
    let mut out = json!({
        "id": e.version_id,
        "version": e.version,
        "createdAt": fmt(e.version_created_at),
        "type": e.kind,
    });
    if let (Some(o), Some(d)) = (out.as_object_mut(), e.definition.as_object()) {
        o.extend(d.clone());
    }
    without_nulls(out)
}

fn slot(store: &Store, id: &str) -> ApiResult<u32> {
    store
        .evaluators
        .first_of(id)
        .ok_or_else(|| ApiError::not_found("Evaluator not found"))
}

pub async fn create(State(st): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let req: Value = crate::body::json(body).await?;
    let name = req["name"].as_str().unwrap_or_default().to_string();
    if name.trim().is_empty() {
        return Err(bad("name: must not be empty"));
    }
    // Older clients omit `type`: Langfuse reads them as LLM-as-a-judge.
    let kind = req["type"].as_str().unwrap_or("llm_as_judge").to_string();
    let mut store = st.store.write();
    let definition = definition(&store, &kind, &req)?;
    let now = now_ms();
    let row = EvaluatorRow {
        id: new_id(),
        name,
        description: req["description"].as_str().map(str::to_string),
        kind,
        definition,
        version: 1,
        version_id: new_id(),
        version_created_at: now,
        history: vec![],
        created_at: now,
        updated_at: now,
        visible_at: 0,
    };
    let out = view(&store, &row);
    store.evaluators.insert(row);
    Ok(Json(out))
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let params = Params::parse(q.as_deref());
    let store = st.store.read();
    let mut rows: Vec<&EvaluatorRow> = store.evaluators.iter().map(|(_, e)| e).collect();
    rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let views = rows.into_iter().map(|e| view(&store, e)).collect();
    Ok(Json(cursor_page(&params, views)?))
}

pub async fn get(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let store = st.store.read();
    let e = store.evaluators.get(slot(&store, &id)?).expect("live slot");
    Ok(Json(view(&store, e)))
}

pub async fn update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let req: Value = crate::body::json(body).await?;
    let mut store = st.store.write();
    let s = slot(&store, &id)?;
    let current = store.evaluators.get(s).expect("live slot").clone();
    let mut next = current.clone();
    if let Some(kind) = req.get("type").and_then(Value::as_str) {
        if kind != current.kind {
            return Err(bad("type: an evaluator's type cannot change"));
        }
        next.definition = definition(&store, kind, &req)?;
        next.history.insert(0, version_view(&current));
        next.version += 1;
        next.version_id = new_id();
        next.version_created_at = now_ms();
    }
    if let Some(n) = req.get("name").and_then(Value::as_str) {
        if n.trim().is_empty() {
            return Err(bad("name: must not be empty"));
        }
        next.name = n.to_string();
    }
    if let Some(d) = req.get("description") {
        next.description = d.as_str().map(str::to_string);
    }
    next.updated_at = now_ms();
    let out = view(&store, &next);
    store.evaluators.replace(s, next);
    Ok(Json(out))
}

pub async fn delete(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let mut store = st.store.write();
    let s = slot(&store, &id)?;
    store.evaluators.remove(s);
    // Its assignments go with it; a rule left without evaluators stops.
    let rules: Vec<u32> = store.evaluation_rules.iter().map(|(s, _)| s).collect();
    for r in rules {
        let rule = store.evaluation_rules.get_mut(r).expect("live slot");
        let before = rule.evaluator_assignments.len();
        rule.evaluator_assignments
            .retain(|a| a["evaluatorId"] != id.as_str());
        if rule.evaluator_assignments.len() != before {
            rule.updated_at = now_ms();
            if rule.evaluator_assignments.is_empty() {
                rule.enabled = false;
            }
        }
    }
    Ok(Json(json!({"id": id})))
}

pub async fn versions(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(q.as_deref());
    let store = st.store.read();
    let e = store.evaluators.get(slot(&store, &id)?).expect("live slot");
    let mut all = vec![version_view(e)];
    all.extend(e.history.iter().cloned());
    Ok(Json(cursor_page(&params, all)?))
}
