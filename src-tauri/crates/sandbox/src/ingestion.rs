//! `POST /api/public/ingestion`: a batch of events answered with 207 and per-event results.
//! v2/v3 upsert traces, observations and scores; v4 (events_only) takes only `score-create` and
//! `sdk-log` and rejects every other event inside the 207.

use std::collections::BTreeMap;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::faults::{Fired, partial_failures};
use crate::merge;
use crate::routes::{scores, sessions};
use crate::state::AppState;
use crate::store::{ObsRow, Raw, Store, TraceRow, default_env, new_id};
use crate::timefmt::{self, now_ms};

#[derive(Deserialize)]
struct Batch {
    batch: Vec<Box<serde_json::value::RawValue>>,
}

#[derive(Deserialize)]
struct Envelope {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    timestamp: Option<String>,
    body: Option<Box<serde_json::value::RawValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TraceInput {
    id: Option<String>,
    timestamp: Option<String>,
    name: Option<String>,
    user_id: Option<String>,
    input: Option<Raw>,
    output: Option<Raw>,
    session_id: Option<String>,
    release: Option<String>,
    version: Option<String>,
    metadata: Option<Raw>,
    tags: Option<Vec<String>>,
    environment: Option<String>,
    public: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObsInput {
    id: Option<String>,
    trace_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
    start_time: Option<String>,
    end_time: Option<String>,
    completion_start_time: Option<String>,
    model: Option<String>,
    model_parameters: Option<Raw>,
    input: Option<Raw>,
    output: Option<Raw>,
    metadata: Option<Raw>,
    version: Option<String>,
    level: Option<String>,
    status_message: Option<String>,
    parent_observation_id: Option<String>,
    environment: Option<String>,
    usage: Option<Value>,
    usage_details: Option<Value>,
    cost_details: Option<BTreeMap<String, f64>>,
    prompt_name: Option<String>,
    prompt_version: Option<i64>,
}

pub const OBSERVATION_TYPES: [&str; 10] = [
    "SPAN",
    "GENERATION",
    "EVENT",
    "AGENT",
    "TOOL",
    "CHAIN",
    "RETRIEVER",
    "EVALUATOR",
    "EMBEDDING",
    "GUARDRAIL",
];

/// The observation type and whether the event is an update, from the event type.
fn observation_event(kind: &str) -> Option<(Option<&'static str>, bool)> {
    let (prefix, update) = if let Some(p) = kind.strip_suffix("-create") {
        (p, false)
    } else if let Some(p) = kind.strip_suffix("-update") {
        (p, true)
    } else {
        return None;
    };
    if prefix == "observation" {
        return Some((None, update));
    }
    let upper = prefix.to_uppercase();
    let t = OBSERVATION_TYPES.iter().find(|t| **t == upper)?;
    if update && !matches!(*t, "SPAN" | "GENERATION") {
        return None;
    }
    Some((Some(t), update))
}

fn time(field: &str, v: &Option<String>) -> Result<Option<i64>, String> {
    match v {
        None => Ok(None),
        Some(s) => timefmt::parse(s)
            .map(Some)
            .ok_or_else(|| format!("{field}: Invalid datetime `{s}`")),
    }
}

fn env(e: Option<String>) -> Result<String, String> {
    let e = e.unwrap_or_else(default_env);
    if scores::valid_environment(&e) {
        Ok(e)
    } else {
        Err(format!(
            "environment: must match /^(?!langfuse)[a-z0-9-_]+$/ and be at most 40 characters, got `{e}`"
        ))
    }
}

/// Usage in any accepted shape (Langfuse, OpenAI completion/response, plain map) as
/// `usageDetails` plus the costs it carries.
fn usage_details(
    usage: Option<&Value>,
    details: Option<&Value>,
) -> (BTreeMap<String, i64>, BTreeMap<String, f64>) {
    let mut u = BTreeMap::new();
    let mut c = BTreeMap::new();
    let int = |v: &Value| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64));
    if let Some(Value::Object(m)) = usage {
        for (from, to) in [
            ("input", "input"),
            ("output", "output"),
            ("total", "total"),
            ("promptTokens", "input"),
            ("completionTokens", "output"),
            ("totalTokens", "total"),
        ] {
            if let Some(n) = m.get(from).and_then(int) {
                u.insert(to.to_string(), n);
            }
        }
        for (from, to) in [
            ("inputCost", "input"),
            ("outputCost", "output"),
            ("totalCost", "total"),
        ] {
            if let Some(n) = m.get(from).and_then(Value::as_f64) {
                c.insert(to.to_string(), n);
            }
        }
    }
    if let Some(Value::Object(m)) = details {
        for (k, v) in m {
            let key = match k.as_str() {
                "prompt_tokens" | "input_tokens" => "input",
                "completion_tokens" | "output_tokens" => "output",
                "total_tokens" => "total",
                other => other,
            };
            if let Some(n) = int(v) {
                u.insert(key.to_string(), n);
            } else if let Value::Object(inner) = v {
                let prefix = if k.starts_with("prompt") || k.starts_with("input") {
                    "input"
                } else {
                    "output"
                };
                for (ik, iv) in inner {
                    if let Some(n) = int(iv) {
                        u.insert(format!("{prefix}_{ik}"), n);
                    }
                }
            }
        }
    }
    (u, c)
}

/// Stores (or merges) a trace; shared with the OTLP legacy path.
pub fn upsert_trace(store: &mut Store, row: TraceRow) {
    if let Some(slot) = store.traces.first_of(&row.id) {
        let visible_at = store.traces.get(slot).map(|t| t.visible_at).unwrap_or(0);
        let mut old = store.traces.get(slot).expect("live").clone();
        merge::merge_trace(&mut old, row);
        old.visible_at = visible_at.min(old.visible_at);
        if let Some(s) = old.session_id.clone() {
            sessions::touch(store, &s, &old.environment, old.timestamp, old.visible_at);
        }
        store.traces.replace(slot, old);
    } else {
        if let Some(s) = row.session_id.clone() {
            sessions::touch(store, &s, &row.environment, row.timestamp, row.visible_at);
        }
        store.traces.insert(row);
    }
}

/// Stores (or merges) an observation; shared with the OTLP legacy path.
pub fn upsert_obs(store: &mut Store, row: ObsRow, level_given: bool) {
    if let Some(slot) = store.observations.first_of(&row.id) {
        let mut old = store.observations.get(slot).expect("live").clone();
        merge::merge_obs(&mut old, row, level_given);
        store.observations.replace(slot, old);
    } else {
        store.observations.insert(row);
    }
}

pub fn shallow_trace(id: &str, ts: i64, environment: &str, visible_at: u64) -> TraceRow {
    let now = now_ms();
    TraceRow {
        id: id.to_string(),
        timestamp: ts,
        name: None,
        input: None,
        output: None,
        session_id: None,
        release: None,
        version: None,
        user_id: None,
        metadata: None,
        tags: vec![],
        public: false,
        environment: environment.to_string(),
        created_at: now,
        updated_at: now,
        visible_at,
    }
}

/// One processed event: Ok(status) or Err((status, message, error)).
type Outcome = Result<u16, (u16, String, Value)>;

fn invalid(msg: String) -> Outcome {
    Err((400, "Invalid request data".into(), json!(msg)))
}

fn apply_event(st: &AppState, store: &mut Store, ev: &Envelope) -> Outcome {
    let kind = ev.kind.as_deref().unwrap_or("");
    let profile = st.profile();
    let visible_at = st.visible_at_for_new_write();
    let envelope_time = ev.timestamp.as_deref().and_then(timefmt::parse);
    let Some(body) = &ev.body else {
        return invalid("body: Required".into());
    };
    let is_trace_or_obs = kind == "trace-create" || observation_event(kind).is_some();
    if profile.is_v4() && is_trace_or_obs {
        return Err((
            400,
            "Event type not accepted".into(),
            json!(format!(
                "Event type \"{kind}\" is not accepted in events_only mode. Send traces and observations via the OpenTelemetry endpoint (/api/public/otel/v1/traces)."
            )),
        ));
    }
    match kind {
        "sdk-log" => Ok(201),
        "score-create" => {
            let input: scores::ScoreInput = serde_json::from_str(body.get())
                .map_err(|e| (400, "Invalid request data".into(), json!(e.to_string())))?;
            let mut row = scores::build(input, envelope_time)
                .map_err(|e| (400, "Invalid request data".into(), json!(e)))?;
            row.visible_at = visible_at;
            scores::apply_config(store, &mut row)
                .map_err(|e| (400, "Invalid request data".into(), json!(e)))?;
            scores::upsert(store, row);
            Ok(201)
        }
        "trace-create" => {
            let t: TraceInput = serde_json::from_str(body.get())
                .map_err(|e| (400, "Invalid request data".into(), json!(e.to_string())))?;
            let environment =
                env(t.environment).map_err(|e| (400, "Invalid request data".into(), json!(e)))?;
            let ts = time("timestamp", &t.timestamp)
                .map_err(|e| (400, "Invalid request data".into(), json!(e)))?;
            let now = now_ms();
            let row = TraceRow {
                id: t.id.unwrap_or_else(new_id),
                timestamp: ts.or(envelope_time).unwrap_or(now),
                name: t.name,
                input: t.input,
                output: t.output,
                session_id: t.session_id,
                release: t.release,
                version: t.version,
                user_id: t.user_id,
                metadata: t.metadata,
                tags: t.tags.unwrap_or_default(),
                public: t.public.unwrap_or(false),
                environment,
                created_at: now,
                updated_at: now,
                visible_at,
            };
            upsert_trace(store, row);
            Ok(201)
        }
        _ => {
            let Some((fixed_type, _update)) = observation_event(kind) else {
                return invalid(format!("type: Invalid discriminator value `{kind}`"));
            };
            let o: ObsInput = serde_json::from_str(body.get())
                .map_err(|e| (400, "Invalid request data".into(), json!(e.to_string())))?;
            let obs_type = match (fixed_type, o.kind.as_deref()) {
                (Some(t), _) => t.to_string(),
                (None, Some(t)) if OBSERVATION_TYPES.contains(&t) => t.to_string(),
                (None, other) => {
                    return invalid(format!(
                        "type: Invalid enum value `{}`",
                        other.unwrap_or("undefined")
                    ));
                }
            };
            if let Some(l) = &o.level
                && !matches!(l.as_str(), "DEBUG" | "DEFAULT" | "WARNING" | "ERROR")
            {
                return invalid(format!("level: Invalid enum value `{l}`"));
            }
            let environment =
                env(o.environment).map_err(|e| (400, "Invalid request data".into(), json!(e)))?;
            let parse_t = |f: &str, v: &Option<String>| {
                time(f, v).map_err(|e| (400u16, "Invalid request data".to_string(), json!(e)))
            };
            let start = parse_t("startTime", &o.start_time)?;
            let end = parse_t("endTime", &o.end_time)?;
            let cst = parse_t("completionStartTime", &o.completion_start_time)?;
            let start = start.or(envelope_time).unwrap_or_else(now_ms);
            let existing_trace = o.id.as_deref().and_then(|id| {
                let slot = store.observations.first_of(id)?;
                store.observations.get(slot)?.trace_id.clone()
            });
            let trace_id = match o.trace_id.or(existing_trace) {
                Some(t) => t,
                None => {
                    // Langfuse creates a trace for an observation that names none.
                    let t = new_id();
                    upsert_trace(store, shallow_trace(&t, start, &environment, visible_at));
                    t
                }
            };
            let id = o.id.unwrap_or_else(new_id);
            let (usage, mut cost) = usage_details(o.usage.as_ref(), o.usage_details.as_ref());
            if let Some(c) = o.cost_details {
                cost.extend(c);
            }
            let mut row = ObsRow::new(id, Some(trace_id), &obs_type, start);
            row.name = o.name;
            row.end_time = end;
            row.completion_start_time = cst;
            row.model = o.model;
            row.model_parameters = o.model_parameters;
            row.input = o.input;
            row.output = o.output;
            row.metadata = o.metadata;
            row.version = o.version;
            let level_given = o.level.is_some();
            if let Some(l) = o.level {
                row.level = l;
            }
            row.status_message = o.status_message;
            row.parent_observation_id = o.parent_observation_id;
            row.prompt_name = o.prompt_name;
            row.prompt_version = o.prompt_version;
            row.usage_details = usage;
            row.cost_details = cost;
            row.environment = environment;
            row.visible_at = visible_at;
            store.link_prompt(&mut row);
            upsert_obs(store, row, level_given);
            Ok(201)
        }
    }
}

pub async fn handle(
    State(st): State<AppState>,
    fault: Option<Extension<Fired>>,
    body: Body,
) -> ApiResult<Response> {
    let batch: Batch = crate::body::json(body).await?;
    let fail = match fault {
        Some(Extension(f)) if f.kind == crate::config::FaultKind::Partial207 => {
            partial_failures(f.seed, batch.batch.len())
        }
        _ => vec![false; batch.batch.len()],
    };
    let mut successes = Vec::new();
    let mut errors = Vec::new();
    let mut store = st.store.write();
    for (raw_event, fail) in batch.batch.iter().zip(fail) {
        let ev: Envelope = match serde_json::from_str(raw_event.get()) {
            Ok(ev) => ev,
            Err(e) => {
                errors.push(json!({"id": "", "status": 400, "message": "Invalid request data", "error": e.to_string()}));
                continue;
            }
        };
        let id = ev.id.clone().unwrap_or_default();
        if ev.id.is_none() || ev.timestamp.is_none() {
            errors.push(json!({"id": id, "status": 400, "message": "Invalid request data", "error": "id and timestamp are required on every event"}));
            continue;
        }
        if fail {
            errors.push(json!({"id": id, "status": 500, "message": "Internal Server Error", "error": "injected fault: event not processed"}));
            continue;
        }
        match apply_event(&st, &mut store, &ev) {
            Ok(status) => successes.push(json!({"id": id, "status": status})),
            Err((status, message, error)) => {
                errors.push(json!({"id": id, "status": status, "message": message, "error": error}))
            }
        }
    }
    drop(store);
    Ok((
        StatusCode::MULTI_STATUS,
        axum::Json(json!({"successes": successes, "errors": errors})),
    )
        .into_response())
}
