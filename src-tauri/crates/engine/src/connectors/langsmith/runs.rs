//! LangSmith runs → Langfuse traces and observations (the mapping table is in the engine README).
//!
//! Runs arrive from v1 queries, v2 queries or a bulk export in different shapes; `normalise`
//! brings each to the v1 field names first, so the mapping is written once.

use serde_json::{Map, Value, json};

use super::ids::{observation_id, trace_id};
use crate::vocab::{NoteKind, RawObject, Remark};

/// A v2 item or an export row in v1 names: lower-case run type and status, `session_id`,
/// `parent_run_id` from `parent_run_ids`/`dotted_order`, details without the `raw` wrapper.
pub fn normalise(mut v: Map<String, Value>) -> Map<String, Value> {
    for k in ["run_type", "status"] {
        if let Some(s) = v.get(k).and_then(Value::as_str) {
            let lower = s.to_ascii_lowercase();
            v.insert(k.into(), json!(lower));
        }
    }
    if !v.contains_key("session_id")
        && let Some(p) = v.remove("project_id")
    {
        v.insert("session_id".into(), p);
    }
    for k in [
        "prompt_token_details",
        "completion_token_details",
        "prompt_cost_details",
        "completion_cost_details",
    ] {
        if let Some(raw) = v.get(k).and_then(|d| d.get("raw")).cloned() {
            v.insert(k.into(), raw);
        }
    }
    if v.get("parent_run_id").is_none_or(Value::is_null) {
        let from_ids = v
            .get("parent_run_ids")
            .and_then(Value::as_array)
            .and_then(|a| a.last())
            .and_then(Value::as_str)
            .map(String::from);
        let from_dotted = || {
            let d = v.get("dotted_order")?.as_str()?;
            let segs: Vec<&str> = d.split('.').collect();
            let parent = segs.len().checked_sub(2).map(|i| segs[i])?;
            parent.split_once('Z').map(|(_, id)| id.to_string())
        };
        if let Some(p) = from_ids.or_else(from_dotted) {
            v.insert("parent_run_id".into(), json!(p));
        }
    }
    // Export rows keep JSON columns as text.
    for k in ["inputs", "outputs", "extra", "events", "feedback_stats"] {
        if let Some(Value::String(s)) = v.get(k)
            && let Ok(parsed) = serde_json::from_str::<Value>(s)
        {
            v.insert(k.into(), parsed);
        }
    }
    v
}

fn s<'a>(v: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// RFC 3339 with milliseconds and `Z` (LangSmith sends microseconds and sometimes no offset).
pub fn iso_ms(t: &str) -> Option<String> {
    let dt = chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").map(|n| n.and_utc())
        })
        .ok()?;
    Some(dt.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

pub fn is_model(run_type: &str) -> bool {
    matches!(run_type, "llm" | "embedding")
}

/// The Langfuse observation type of a run.
pub fn observation_type(run: &Map<String, Value>) -> &'static str {
    match s(run, "run_type").unwrap_or("chain") {
        "llm" => "GENERATION",
        "embedding" => "EMBEDDING",
        "tool" => "TOOL",
        "retriever" => "RETRIEVER",
        "chain" if is_agent(run) => "AGENT",
        "chain" => "CHAIN",
        _ => "SPAN",
    }
}

/// A chain is an agent when its metadata says so (`agent_type`, or LangGraph's agent marker).
fn is_agent(run: &Map<String, Value>) -> bool {
    let Some(m) = run.get("extra").and_then(|e| e.get("metadata")) else {
        return false;
    };
    m.get("agent_type").is_some_and(|v| !v.is_null())
        || m.get("ls_agent_type").is_some_and(|v| !v.is_null())
}

fn metadata_of(run: &Map<String, Value>) -> Map<String, Value> {
    run.get("extra")
        .and_then(|e| e.get("metadata"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// The model name: `ls_model_name`, else the invocation params.
fn model_name(run: &Map<String, Value>) -> Option<String> {
    if let Some(m) = run
        .get("extra")
        .and_then(|e| e.get("metadata"))
        .and_then(|m| m.get("ls_model_name"))
        .and_then(Value::as_str)
    {
        return Some(m.to_string());
    }
    let p = run.get("extra")?.get("invocation_params")?;
    ["model", "model_name", "model_id", "deployment_name"]
        .iter()
        .find_map(|k| p.get(*k).and_then(Value::as_str))
        .map(String::from)
}

/// Scalar invocation params other than the model's name.
fn model_parameters(run: &Map<String, Value>) -> Option<Map<String, Value>> {
    let p = run.get("extra")?.get("invocation_params")?.as_object()?;
    let out: Map<String, Value> = p
        .iter()
        .filter(|(k, v)| {
            !matches!(k.as_str(), "model" | "model_name" | "model_id" | "_type")
                && (v.is_number() || v.is_boolean() || v.is_string())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!out.is_empty()).then_some(out)
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// `usageDetails` from the run's own tokens (0 counts as absent, as LangSmith defaults it).
fn usage_details(run: &Map<String, Value>) -> Map<String, Value> {
    let mut u = Map::new();
    for (from, to) in [
        ("prompt_tokens", "input"),
        ("completion_tokens", "output"),
        ("total_tokens", "total"),
    ] {
        if let Some(n) = run.get(from).and_then(Value::as_i64).filter(|n| *n > 0) {
            u.insert(to.into(), json!(n));
        }
    }
    for (from, prefix) in [
        ("prompt_token_details", "input"),
        ("completion_token_details", "output"),
    ] {
        for (k, v) in run
            .get(from)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(n) = v.as_i64().filter(|n| *n > 0) {
                u.insert(format!("{prefix}_{k}"), json!(n));
            }
        }
    }
    u
}

/// `costDetails` from the decimal-string costs.
fn cost_details(run: &Map<String, Value>) -> Map<String, Value> {
    let mut c = Map::new();
    for (from, to) in [
        ("prompt_cost", "input"),
        ("completion_cost", "output"),
        ("total_cost", "total"),
    ] {
        if let Some(n) = run.get(from).and_then(number).filter(|n| *n > 0.0) {
            c.insert(to.into(), json!(n));
        }
    }
    for (from, prefix) in [
        ("prompt_cost_details", "input"),
        ("completion_cost_details", "output"),
    ] {
        for (k, v) in run
            .get(from)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(n) = number(v).filter(|n| *n > 0.0) {
                c.insert(format!("{prefix}_{k}"), json!(n));
            }
        }
    }
    c
}

/// Ids and context a user finds a LangSmith run by, plus what has no home in Langfuse.
fn langsmith_metadata(run: &Map<String, Value>, project: Option<&str>) -> Map<String, Value> {
    let mut m = metadata_of(run);
    m.insert("langsmith_run_id".into(), json!(s(run, "id")));
    m.insert("langsmith_trace_id".into(), json!(s(run, "trace_id")));
    m.insert("ls_run_type".into(), json!(s(run, "run_type")));
    // A pending run has no end time; Langfuse v4 (OTLP) gives every span one, so the status
    // says it was still running at the source.
    m.insert("langsmith_status".into(), json!(s(run, "status")));
    // An orphan keeps the parent it had at the source (see `tree`).
    if let Some(p) = s(run, "langsmith_missing_parent").or(s(run, "parent_run_id")) {
        m.insert("langsmith_parent_run_id".into(), json!(p));
    }
    if let Some(p) = project {
        m.insert("langsmith_project".into(), json!(p));
    }
    if let Some(d) = s(run, "dotted_order") {
        m.insert("langsmith_dotted_order".into(), json!(d));
    }
    if let Some(e) = s(run, "reference_example_id") {
        m.insert("langsmith_reference_example_id".into(), json!(e));
    }
    let events: Vec<&Value> = run
        .get("events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e["name"] != "new_token")
        .collect();
    if !events.is_empty() {
        m.insert("langsmith_events".into(), json!(events));
    }
    // The rest of `extra` (the SDK's `runtime`: sdk, version, platform; anything newer) has no
    // Langfuse field; a model run's invocation params are its model parameters already.
    let rest: Map<String, Value> = run
        .get("extra")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(k, v)| {
            !v.is_null()
                && k.as_str() != "metadata"
                && !(k.as_str() == "invocation_params"
                    && is_model(s(run, "run_type").unwrap_or("")))
        })
        .map(|(k, v)| (format!("langsmith_{k}"), v.clone()))
        .collect();
    m.extend(rest);
    for k in [
        "attachments",
        "s3_urls",
        "inputs_s3_urls",
        "outputs_s3_urls",
    ] {
        if let Some(v) = run.get(k).filter(|v| !v.is_null()) {
            m.insert(format!("langsmith_{k}"), v.clone());
        }
    }
    m
}

/// Sentences of the run report (the same sentence groups objects; keep them stable).
pub const FOLDED_TO_SPAN: &str = "runs of a type Langfuse has no observation type for (prompt, parser, …) became spans; their LangSmith type is kept in metadata `ls_run_type`";
pub const STILL_RUNNING: &str = "runs had not ended when they were read: they arrive without an end time (Langfuse v4 shows their start as their end) and with metadata `langsmith_status: pending`";
pub const EVENTS_IN_METADATA: &str =
    "run events other than streamed tokens are kept only in metadata `langsmith_events`";
pub const ATTACHMENTS_IN_METADATA: &str = "attachment references are kept only in metadata (`langsmith_attachments`, `langsmith_s3_urls`); their presigned URLs expire";

/// What the report says about a run's observation: a type folded to a span, still running at
/// the source, fields kept only in metadata.
pub fn remarks(run: &Map<String, Value>) -> Vec<Remark> {
    let id = s(run, "id").unwrap_or_default();
    let name = s(run, "name").unwrap_or_default();
    let named = || format!("run {id} ({name})");
    let mut out = vec![];
    if observation_type(run) == "SPAN" {
        let t = s(run, "run_type").unwrap_or("none");
        out.push(
            Remark::new(NoteKind::Approximate, FOLDED_TO_SPAN)
                .detail(format!("{} was `{t}`", named())),
        );
    }
    if run.get("end_time").is_none_or(Value::is_null) {
        out.push(Remark::new(NoteKind::StillRunning, STILL_RUNNING).detail(named()));
    }
    let kept_events = run
        .get("events")
        .and_then(Value::as_array)
        .is_some_and(|e| e.iter().any(|e| e["name"] != "new_token"));
    if kept_events {
        out.push(Remark::new(NoteKind::Approximate, EVENTS_IN_METADATA).detail(named()));
    }
    let attachments = [
        "attachments",
        "s3_urls",
        "inputs_s3_urls",
        "outputs_s3_urls",
    ]
    .iter()
    .any(|k| {
        run.get(*k)
            .is_some_and(|v| !v.is_null() && v != &json!({}) && v != &json!([]))
    });
    if attachments {
        out.push(Remark::new(NoteKind::Approximate, ATTACHMENTS_IN_METADATA).detail(named()));
    }
    out
}

/// One observation per run, the root included.
pub fn observation(run: &Map<String, Value>, project: Option<&str>) -> Option<RawObject> {
    let id = s(run, "id")?;
    let trace = trace_id(s(run, "trace_id").unwrap_or(id))?;
    let run_type = s(run, "run_type").unwrap_or("chain");
    let mut o = RawObject::new();
    o.set("id", &observation_id(id));
    o.set("traceId", &trace);
    o.set("type", observation_type(run));
    o.set("name", &s(run, "name"));
    o.set("startTime", &s(run, "start_time").and_then(iso_ms));
    o.set("endTime", &s(run, "end_time").and_then(iso_ms));
    o.set(
        "parentObservationId",
        &s(run, "parent_run_id").map(observation_id),
    );
    o.set("input", run.get("inputs").unwrap_or(&Value::Null));
    o.set("output", run.get("outputs").unwrap_or(&Value::Null));
    let error = s(run, "error");
    o.set(
        "level",
        if error.is_some() || s(run, "status") == Some("error") {
            "ERROR"
        } else {
            "DEFAULT"
        },
    );
    o.set("statusMessage", &error);
    if is_model(run_type) {
        o.set("model", &model_name(run));
        o.set("modelParameters", &model_parameters(run));
        o.set("usageDetails", &usage_details(run));
        o.set("costDetails", &cost_details(run));
        o.set(
            "completionStartTime",
            &s(run, "first_token_time").and_then(iso_ms),
        );
    }
    o.set("metadata", &langsmith_metadata(run, project));
    Some(o)
}

/// The trace of a root run: its name, I/O, conversation (`sessionId` from `thread_id`,
/// `session_id` or `conversation_id` metadata — not the LangSmith project), user, tags, release.
pub fn trace(
    root: &Map<String, Value>,
    project: Option<&str>,
    environment: Option<&str>,
) -> Option<RawObject> {
    let id = s(root, "id")?;
    let trace = trace_id(s(root, "trace_id").unwrap_or(id))?;
    let meta = metadata_of(root);
    let text = |k: &str| {
        meta.get(k).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let mut tags: Vec<String> = root
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(String::from))
        .collect();
    if let Some(p) = project {
        tags.push(format!("langsmith-project:{p}"));
    }
    let mut o = RawObject::new();
    o.set("id", &trace);
    o.set("timestamp", &s(root, "start_time").and_then(iso_ms));
    o.set("name", &s(root, "name"));
    o.set("input", root.get("inputs").unwrap_or(&Value::Null));
    o.set("output", root.get("outputs").unwrap_or(&Value::Null));
    o.set(
        "sessionId",
        &["thread_id", "session_id", "conversation_id"]
            .iter()
            .find_map(|k| text(k)),
    );
    o.set("userId", &text("user_id"));
    o.set("release", &text("revision_id"));
    o.set("tags", &tags);
    o.set("metadata", &langsmith_metadata(root, project));
    if let Some(e) = environment {
        o.set("environment", e);
    }
    Some(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn what_extra_holds_besides_metadata_is_kept_in_metadata() {
        let runtime = json!({"sdk": "langsmith-py", "sdk_version": "0.4.37", "platform": "Linux"});
        let chain = obj(json!({"id": "c", "trace_id": "c", "run_type": "chain",
            "extra": {"metadata": {"k": 1}, "runtime": runtime, "invocation_params": {"x": 2}}}));
        let m = langsmith_metadata(&chain, None);
        assert_eq!(m["k"], json!(1));
        assert_eq!(m["langsmith_runtime"], runtime);
        assert_eq!(m["langsmith_invocation_params"], json!({"x": 2}));
        // A model run's invocation params are its model parameters, not metadata too.
        let llm = obj(json!({"id": "l", "trace_id": "c", "run_type": "llm",
            "extra": {"runtime": runtime, "invocation_params": {"temperature": 0.2}}}));
        let m = langsmith_metadata(&llm, None);
        assert_eq!(m["langsmith_runtime"], runtime);
        assert!(!m.contains_key("langsmith_invocation_params"), "{m:?}");
    }

    #[test]
    fn v2_items_get_parents_from_parent_run_ids_or_dotted_order() {
        let a = normalise(obj(
            json!({"id": "c", "run_type": "LLM", "status": "SUCCESS", "parent_run_ids": ["r", "p"], "project_id": "s"}),
        ));
        assert_eq!(a["parent_run_id"], "p");
        assert_eq!(a["run_type"], "llm");
        assert_eq!(a["session_id"], "s");
        let b = normalise(obj(
            json!({"id": "c", "dotted_order": "20260101T000000000000Zr.20260101T000001000000Zp.20260101T000002000000Zc"}),
        ));
        assert_eq!(b["parent_run_id"], "p");
        let root = normalise(obj(
            json!({"id": "r", "dotted_order": "20260101T000000000000Zr"}),
        ));
        assert!(root.get("parent_run_id").is_none());
    }

    #[test]
    fn usage_and_cost_only_on_models_and_never_zero() {
        let chain = obj(
            json!({"id": "0193f0a0-0000-7000-8000-000000000001", "trace_id": "0193f0a0-0000-7000-8000-000000000001",
            "run_type": "chain", "name": "c", "start_time": "2026-03-02T09:00:00.123456", "total_tokens": 99, "total_cost": "0.5"}),
        );
        let o = observation(&chain, None).unwrap();
        assert!(
            o.get("usageDetails").is_none(),
            "a chain's tokens are LangSmith's roll-up"
        );
        assert_eq!(o.str("startTime").unwrap(), "2026-03-02T09:00:00.123Z");
        let llm = obj(
            json!({"id": "0193f0a0-0000-7000-8000-000000000002", "trace_id": "0193f0a0-0000-7000-8000-000000000001",
            "parent_run_id": "0193f0a0-0000-7000-8000-000000000001", "run_type": "llm", "name": "m",
            "start_time": "2026-03-02T09:00:00Z", "first_token_time": "2026-03-02T09:00:00.5Z",
            "prompt_tokens": 10, "completion_tokens": 0, "total_tokens": 10, "prompt_token_details": {"cache_read": 4, "audio": 0},
            "prompt_cost": "0.0001", "completion_cost": "0", "total_cost": "0.0001",
            "extra": {"invocation_params": {"model": "gpt-4o", "temperature": 0.3, "stop": null}, "metadata": {"ls_model_name": "gpt-4o-mini"}}}),
        );
        let o = observation(&llm, None).unwrap();
        let usage: Value = serde_json::from_str(o.get("usageDetails").unwrap().get()).unwrap();
        assert_eq!(
            usage,
            json!({"input": 10, "total": 10, "input_cache_read": 4})
        );
        let cost: Value = serde_json::from_str(o.get("costDetails").unwrap().get()).unwrap();
        assert_eq!(cost, json!({"input": 0.0001, "total": 0.0001}));
        assert_eq!(o.str("model").unwrap(), "gpt-4o-mini", "ls_model_name wins");
        assert_eq!(
            o.str("parentObservationId").unwrap(),
            observation_id("0193f0a0-0000-7000-8000-000000000001")
        );
        assert_eq!(
            o.str("completionStartTime").unwrap(),
            "2026-03-02T09:00:00.500Z"
        );
        assert_eq!(o.str("type").unwrap(), "GENERATION");
    }
}
