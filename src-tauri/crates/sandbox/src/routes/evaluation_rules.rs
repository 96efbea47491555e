//! Evaluation rules (the current API's `v2/evaluation-rules`, Langfuse ≥ 4.59): which incoming
//! observations the assigned evaluators score (`filter`, `sampling`), with a variable mapping per
//! assignment. An enabled rule needs an evaluator; every assigned evaluator must exist; an
//! LLM-as-a-judge evaluator's variables must all be mapped, by the assignment or by the
//! evaluator's default (400 `missing_variable_mapping` otherwise).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use super::evaluators::{cursor_page, mapping};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::store::{EvaluationRuleRow, Store, new_id};
use crate::timefmt::{fmt, now_ms};

const NUMBER_OPS: &[&str] = &["=", ">", "<", ">=", "<="];
const STRING_OPS: &[&str] = &[
    "=",
    "contains",
    "does not contain",
    "starts with",
    "ends with",
];
const STRING_OBJECT_OPS: &[&str] = &[
    "=",
    "contains",
    "does not contain",
    "starts with",
    "ends with",
    "is set",
    "is not set",
];
const OPTIONS_OPS: &[&str] = &["any of", "none of"];
const ARRAY_OPS: &[&str] = &["any of", "none of", "all of"];

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad(msg)
}

/// One filter condition, checked against its type's operators and value shape.
fn check_filter(f: &Value) -> ApiResult<Value> {
    let kind = f["type"].as_str().unwrap_or_default();
    let op = f["operator"].as_str().unwrap_or_default();
    if f["column"].as_str().is_none_or(str::is_empty) {
        return Err(bad("filter: every condition needs a column"));
    }
    let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    let value = &f["value"];
    let (ops, value_ok, keyed): (&[&str], bool, bool) = match kind {
        "datetime" => (
            NUMBER_OPS,
            value.as_str().and_then(crate::timefmt::parse).is_some(),
            false,
        ),
        "string" => (STRING_OPS, value.is_string(), false),
        "number" => (NUMBER_OPS, value.is_number(), false),
        "stringOptions" => (OPTIONS_OPS, strings(value), false),
        "categoryOptions" => (OPTIONS_OPS, strings(value), true),
        "arrayOptions" => (ARRAY_OPS, strings(value), false),
        "stringObject" => (STRING_OBJECT_OPS, value.is_string(), true),
        "numberObject" => (NUMBER_OPS, value.is_number(), true),
        "boolean" => (&["=", "<>"], value.is_boolean(), false),
        "null" => (
            &["is null", "is not null"],
            value.is_null() || value == "",
            false,
        ),
        other => {
            return Err(bad(format!(
                "filter: Invalid enum value `{other}` for type"
            )));
        }
    };
    if !ops.contains(&op) {
        return Err(bad(format!(
            "filter: operator `{op}` does not apply to {kind} conditions"
        )));
    }
    if !value_ok {
        return Err(bad(format!(
            "filter: the value does not fit a {kind} condition"
        )));
    }
    if keyed && f["key"].as_str().is_none() {
        return Err(bad(format!("filter: {kind} conditions need a key")));
    }
    let mut out = json!({"type": kind, "column": f["column"], "operator": op, "value": value});
    if kind == "null" {
        out["value"] = json!("");
    }
    if keyed {
        out["key"] = f["key"].clone();
    }
    Ok(out)
}

fn assignments(store: &Store, list: &Value) -> ApiResult<Vec<Value>> {
    let Some(items) = list.as_array() else {
        return Err(bad("evaluatorAssignments: Expected array"));
    };
    let mut out = vec![];
    for a in items {
        let id = a["evaluatorId"].as_str().unwrap_or_default();
        let e = store
            .evaluators
            .first_of(id)
            .and_then(|s| store.evaluators.get(s))
            .ok_or_else(|| {
                ApiError::not_found(format!("Evaluator {id} not found in this project"))
            })?;
        let vars: Vec<String> =
            serde_json::from_value(e.definition["variables"].clone()).unwrap_or_default();
        let own = mapping(a.get("variableMapping"), Some(&vars))?;
        let used = own
            .as_ref()
            .or(e.definition.get("variableMapping").filter(|m| !m.is_null()));
        let mapped = |v: &String| {
            used.and_then(Value::as_array)
                .is_some_and(|m| m.iter().any(|x| x["variable"] == v.as_str()))
        };
        if let Some(missing) = vars.iter().find(|v| !mapped(v)) {
            return Err(bad(format!(
                "missing_variable_mapping: variable `{missing}` of evaluator \"{}\" is not mapped",
                e.name
            )));
        }
        let mut entry = json!({"evaluatorId": id});
        if let Some(m) = own {
            entry["variableMapping"] = m;
        }
        out.push(entry);
    }
    Ok(out)
}

fn sampling(v: Option<&Value>) -> ApiResult<Option<f64>> {
    match v {
        None => Ok(None),
        Some(n) => match n.as_f64() {
            Some(x) if x > 0.0 && x <= 1.0 => Ok(Some(x)),
            _ => Err(bad("sampling: a number greater than 0 and at most 1")),
        },
    }
}

fn filters(v: Option<&Value>) -> ApiResult<Option<Vec<Value>>> {
    match v {
        None => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(check_filter)
            .collect::<ApiResult<_>>()
            .map(Some),
        Some(_) => Err(bad("filter: Expected array")),
    }
}

pub fn view(r: &EvaluationRuleRow) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "enabled": r.enabled,
        "sampling": r.sampling,
        "filter": r.filter,
        "evaluatorAssignments": r.evaluator_assignments,
        "createdAt": fmt(r.created_at),
        "updatedAt": fmt(r.updated_at),
    })
}

fn slot(store: &Store, id: &str) -> ApiResult<u32> {
    store
        .evaluation_rules
        .first_of(id)
        .ok_or_else(|| ApiError::not_found("Evaluation rule not found"))
}

pub async fn create(State(st): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let req: Value = crate::body::json(body).await?;
    let name = req["name"].as_str().unwrap_or_default().to_string();
    if name.trim().is_empty() {
        return Err(bad("name: must not be empty"));
    }
    let Some(enabled) = req["enabled"].as_bool() else {
        return Err(bad("enabled: Required"));
    };
    let mut store = st.store.write();
    let assigned = assignments(&store, &req["evaluatorAssignments"])?;
    if enabled && assigned.is_empty() {
        return Err(bad(
            "evaluatorAssignments: an enabled rule needs at least one evaluator",
        ));
    }
    let now = now_ms();
    let row = EvaluationRuleRow {
        id: new_id(),
        name,
        enabled,
        sampling: sampling(req.get("sampling"))?.unwrap_or(1.0),
        filter: filters(req.get("filter"))?.unwrap_or_default(),
        evaluator_assignments: assigned,
        created_at: now,
        updated_at: now,
        visible_at: 0,
    };
    let out = view(&row);
    store.evaluation_rules.insert(row);
    Ok(Json(out))
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let params = Params::parse(q.as_deref());
    let store = st.store.read();
    let mut rows: Vec<&EvaluationRuleRow> = store.evaluation_rules.iter().map(|(_, r)| r).collect();
    rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    Ok(Json(cursor_page(
        &params,
        rows.into_iter().map(view).collect(),
    )?))
}

pub async fn get(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let store = st.store.read();
    Ok(Json(view(
        store
            .evaluation_rules
            .get(slot(&store, &id)?)
            .expect("live slot"),
    )))
}

pub async fn update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let req: Value = crate::body::json(body).await?;
    let mut store = st.store.write();
    let s = slot(&store, &id)?;
    let mut next = store.evaluation_rules.get(s).expect("live slot").clone();
    if let Some(n) = req.get("name").and_then(Value::as_str) {
        next.name = n.to_string();
    }
    if let Some(a) = req.get("evaluatorAssignments") {
        next.evaluator_assignments = assignments(&store, a)?;
        if next.evaluator_assignments.is_empty() {
            next.enabled = false;
        }
    }
    if let Some(e) = req.get("enabled").and_then(Value::as_bool) {
        if e && next.evaluator_assignments.is_empty() {
            return Err(bad(
                "enabled: a rule without evaluator assignments cannot be enabled",
            ));
        }
        next.enabled = e;
    }
    if let Some(x) = sampling(req.get("sampling"))? {
        next.sampling = x;
    }
    if let Some(f) = filters(req.get("filter"))? {
        next.filter = f;
    }
    next.updated_at = now_ms();
    let out = view(&next);
    store.evaluation_rules.replace(s, next);
    Ok(Json(out))
}

pub async fn delete(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let mut store = st.store.write();
    let s = slot(&store, &id)?;
    store.evaluation_rules.remove(s);
    Ok(Json(json!({"id": id})))
}
