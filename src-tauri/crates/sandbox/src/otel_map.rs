//! How spans become rows (langfuse-otel-mapping.md §2–§7). v4 writes every span as one immutable
//! events row carrying its trace's columns (a re-sent span is a second row). v3 follows the legacy
//! path: observations and traces are upserted, a root span gives a full trace, other spans a
//! shallow one.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::ingestion::{self, OBSERVATION_TYPES};
use crate::otlp::{Attrs, SpanIn};
use crate::routes::scores::valid_environment;
use crate::state::AppState;
use crate::store::{DatasetRunItemRow, DatasetRunRow, ObsRow, Raw, Store, TraceRow, raw, raw_str};
use crate::timefmt::{self, now_ms};

struct Lookup<'a> {
    span: &'a Attrs,
    resource: &'a Attrs,
    /// Metadata values are JSON text to decode (the current API, spans of SDK 5.x or newer).
    json_metadata_values: bool,
}

impl<'a> Lookup<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.span
            .iter()
            .find(|(k, v)| k == key && !v.is_null())
            .map(|(_, v)| v)
    }
    fn res(&self, key: &str) -> Option<&'a Value> {
        self.resource
            .iter()
            .find(|(k, v)| k == key && !v.is_null())
            .map(|(_, v)| v)
    }
    fn str(&self, key: &str) -> Option<String> {
        self.get(key).and_then(as_string)
    }
    fn first(&self, keys: &[&str]) -> Option<String> {
        keys.iter()
            .find_map(|k| self.str(k))
            .filter(|s| !s.is_empty())
    }
    fn span_or_resource(&self, keys: &[&str]) -> Option<String> {
        keys.iter()
            .find_map(|k| self.get(k).or_else(|| self.res(k)).and_then(as_string))
            .filter(|s| !s.is_empty())
    }
    /// `<prefix>` as a JSON object plus flat `<prefix>.<k>` keys.
    fn object(&self, prefixes: &[&str]) -> Option<Map<String, Value>> {
        let mut out = Map::new();
        let mut found = false;
        for p in prefixes {
            let value = |v: &Value| {
                if self.json_metadata_values {
                    decode_json_text(v)
                } else {
                    parse_json_str(v)
                }
            };
            if let Some(Value::Object(m)) = self.get(p).map(value) {
                out.extend(m);
                found = true;
            }
            let dotted = format!("{p}.");
            for (k, v) in self.span.iter().chain(self.resource.iter()) {
                if let Some(rest) = k.strip_prefix(&dotted) {
                    out.insert(rest.to_string(), value(v));
                    found = true;
                }
            }
        }
        found.then_some(out)
    }
}

fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A string attribute that holds JSON becomes that JSON; anything else stays as it is.
fn parse_json_str(v: &Value) -> Value {
    match v {
        Value::String(s) => {
            let t = s.trim_start();
            if t.starts_with('{') || t.starts_with('[') {
                serde_json::from_str(s).unwrap_or_else(|_| v.clone())
            } else {
                v.clone()
            }
        }
        other => other.clone(),
    }
}

/// The SDKs 5.x JSON-encode every metadata value, strings included ("123" and 123 stay
/// distinct), and the current server decodes them; text that is not JSON stays as it is.
fn decode_json_text(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

/// Spans of the official SDK at major version 5 or newer (scope `langfuse-sdk`).
fn from_sdk_5_or_newer(span: &SpanIn) -> bool {
    span.scope_name.as_deref() == Some("langfuse-sdk")
        && span
            .scope_version
            .as_deref()
            .and_then(|v| v.split('.').next())
            .and_then(|major| major.parse::<u32>().ok())
            .is_some_and(|major| major >= 5)
}

/// I/O attribute values are stored as-is: JSON text as JSON, other strings as strings.
fn io_raw(v: &Value) -> Raw {
    match v {
        Value::String(s) => serde_json::value::RawValue::from_string(s.clone())
            .ok()
            .filter(|_| serde_json::from_str::<Value>(s).is_ok())
            .unwrap_or_else(|| raw_str(s)),
        other => raw(other),
    }
}

fn ms(ns: i128) -> i64 {
    (ns / 1_000_000) as i64
}

fn observation_type(l: &Lookup) -> String {
    if let Some(t) = l.str("langfuse.observation.type") {
        let upper = t.to_uppercase();
        if t == t.to_lowercase() && OBSERVATION_TYPES.contains(&upper.as_str()) {
            if upper == "SPAN"
                && (l.get("langfuse.observation.model.name").is_some()
                    || l.get("langfuse.observation.usage_details").is_some())
            {
                return "GENERATION".into();
            }
            return upper;
        }
    }
    if let Some(k) = l.str("openinference.span.kind") {
        match k.as_str() {
            "LLM" => return "GENERATION".into(),
            "CHAIN" | "RETRIEVER" | "EMBEDDING" | "AGENT" | "TOOL" | "GUARDRAIL" | "EVALUATOR" => {
                return k;
            }
            _ => {}
        }
    }
    if let Some(op) = l.str("gen_ai.operation.name") {
        match op.as_str() {
            "chat" | "completion" | "text_completion" | "generate_content" | "generate" => {
                return "GENERATION".into();
            }
            "embeddings" => return "EMBEDDING".into(),
            "invoke_agent" | "create_agent" => return "AGENT".into(),
            "execute_tool" => return "TOOL".into(),
            _ => {}
        }
    }
    if l.get("gen_ai.tool.name").is_some() || l.get("gen_ai.tool.call.id").is_some() {
        return "TOOL".into();
    }
    let model_keys = [
        "langfuse.observation.model.name",
        "gen_ai.request.model",
        "gen_ai.response.model",
        "llm.model_name",
        "model",
    ];
    if model_keys
        .iter()
        .any(|k| l.str(k).is_some_and(|s| !s.is_empty()))
    {
        return "GENERATION".into();
    }
    "SPAN".into()
}

fn level(l: &Lookup, status_code: i64) -> String {
    match l
        .str("langfuse.observation.level")
        .map(|s| s.to_uppercase())
    {
        Some(s) => match s.as_str() {
            "DEBUG" | "TRACE" => "DEBUG",
            "WARNING" | "WARN" => "WARNING",
            "ERROR" | "FATAL" | "CRITICAL" => "ERROR",
            _ => "DEFAULT",
        }
        .into(),
        None if status_code == 2 => "ERROR".into(),
        None => "DEFAULT".into(),
    }
}

fn environment(l: &Lookup) -> String {
    let Some(e) = l.span_or_resource(&[
        "langfuse.environment",
        "deployment.environment.name",
        "deployment.environment",
    ]) else {
        return "default".into();
    };
    let e = e.to_lowercase();
    let e = e
        .strip_prefix("langfuse-")
        .or_else(|| e.strip_prefix("langfuse_"))
        .unwrap_or(&e)
        .to_string();
    if valid_environment(&e) {
        e
    } else {
        "default".into()
    }
}

fn tags(l: &Lookup) -> Vec<String> {
    let v = ["langfuse.trace.tags", "langfuse.tags", "tag.tags"]
        .iter()
        .find_map(|k| l.get(k));
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(as_string).collect(),
        Some(Value::String(s)) => {
            if let Ok(Value::Array(a)) = serde_json::from_str::<Value>(s) {
                a.iter().filter_map(as_string).collect()
            } else {
                s.split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect()
            }
        }
        _ => vec![],
    }
}

fn numbers_i64(v: &Value) -> std::collections::BTreeMap<String, i64> {
    match parse_json_str(v) {
        Value::Object(m) => m
            .into_iter()
            .filter_map(|(k, v)| {
                v.as_i64()
                    .or_else(|| v.as_f64().map(|f| f as i64))
                    .map(|n| (k, n))
            })
            .collect(),
        _ => Default::default(),
    }
}

fn numbers_f64(v: &Value) -> std::collections::BTreeMap<String, f64> {
    match parse_json_str(v) {
        Value::Object(m) => m
            .into_iter()
            .filter_map(|(k, v)| v.as_f64().map(|n| (k, n)))
            .collect(),
        _ => Default::default(),
    }
}

fn event_object(attrs: &Attrs) -> Value {
    Value::Object(
        attrs
            .iter()
            .map(|(k, v)| (k.clone(), parse_json_str(v)))
            .collect(),
    )
}

/// `gen_ai.{system,user,assistant,tool}.message` span events become an input message list.
fn events_input(span: &SpanIn) -> Option<Raw> {
    let msgs: Vec<Value> = span
        .events
        .iter()
        .filter_map(|(name, attrs)| {
            let role = name.strip_prefix("gen_ai.")?.strip_suffix(".message")?;
            if !matches!(role, "system" | "user" | "assistant" | "tool") {
                return None;
            }
            let mut m = match event_object(attrs) {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            m.entry("role").or_insert_with(|| json!(role));
            Some(Value::Object(m))
        })
        .collect();
    (!msgs.is_empty()).then(|| raw(&Value::Array(msgs)))
}

/// Trace columns a span carries, and whether it is a trace update (§3 triggers).
struct TraceCols {
    name: Option<String>,
    user_id: Option<String>,
    session_id: Option<String>,
    tags: Vec<String>,
    public: bool,
    metadata: Option<Map<String, Value>>,
    input: Option<Raw>,
    output: Option<Raw>,
    updates_trace: bool,
}

fn trace_cols(l: &Lookup) -> TraceCols {
    let updates_trace = l.span.iter().any(|(k, _)| {
        matches!(
            k.as_str(),
            "langfuse.trace.name"
                | "langfuse.trace.input"
                | "langfuse.trace.output"
                | "langfuse.trace.public"
                | "langfuse.trace.tags"
                | "user.id"
                | "session.id"
                | "langfuse.user.id"
                | "langfuse.session.id"
                | "tag.tags"
        ) || k.starts_with("langfuse.trace.metadata")
    });
    TraceCols {
        name: l.first(&["langfuse.trace.name"]),
        user_id: l.first(&["langfuse.user.id", "user.id"]),
        session_id: l.first(&[
            "langfuse.session.id",
            "session.id",
            "gen_ai.conversation.id",
        ]),
        tags: tags(l),
        public: matches!(
            l.get("langfuse.trace.public")
                .or_else(|| l.get("langfuse.public")),
            Some(Value::Bool(true))
        ) || l.str("langfuse.trace.public").as_deref() == Some("true"),
        metadata: l.object(&["langfuse.trace.metadata"]),
        input: l.get("langfuse.trace.input").map(io_raw),
        output: l.get("langfuse.trace.output").map(io_raw),
        updates_trace,
    }
}

/// Attribute keys consumed by the mapping; the rest go to `metadata.attributes`.
fn is_mapped(k: &str) -> bool {
    k.starts_with("langfuse.") || k == "user.id" || k == "session.id"
}

fn observation(span: &SpanIn, l: &Lookup, now: i64) -> ObsRow {
    let (start, end) = match (span.start_ns, span.end_ns) {
        (Some(s), Some(e)) => (ms(s), Some(ms(e))),
        (Some(s), None) => (ms(s), Some(ms(s))),
        (None, Some(e)) => (ms(e), Some(ms(e))),
        (None, None) => (now, Some(now)),
    };
    let kind = observation_type(l);
    let mut o = ObsRow::new(
        span.span_id.clone(),
        Some(span.trace_id.clone()),
        &kind,
        start,
    );
    o.end_time = end;
    o.parent_observation_id = span.parent_span_id.clone();
    o.name = l
        .first(&["gen_ai.tool.name", "logfire.msg", "ai.toolCall.name"])
        .or_else(|| Some(span.name.clone()));
    o.level = level(l, span.status_code);
    o.status_message = l
        .str("langfuse.observation.status_message")
        .or_else(|| span.status_message.clone());
    o.input = ["langfuse.observation.input", "input.value", "input"]
        .iter()
        .find_map(|k| l.get(k))
        .map(io_raw);
    o.output = ["langfuse.observation.output", "output.value", "output"]
        .iter()
        .find_map(|k| l.get(k))
        .map(io_raw);
    if o.input.is_none() {
        o.input = events_input(span);
    }
    if o.output.is_none() {
        o.output = span
            .events
            .iter()
            .find(|(n, _)| n == "gen_ai.choice")
            .map(|(_, a)| raw(&event_object(a)));
    }
    let mut meta = l
        .object(&["langfuse.observation.metadata", "langfuse.metadata"])
        .unwrap_or_default();
    let sdk_scope = span
        .scope_name
        .as_deref()
        .is_some_and(|s| s.starts_with("langfuse-sdk"));
    if !sdk_scope {
        let rest: Map<String, Value> = span
            .attributes
            .iter()
            .filter(|(k, _)| !is_mapped(k))
            .map(|(k, v)| (k.clone(), Value::String(as_string(v).unwrap_or_default())))
            .collect();
        meta.insert("attributes".into(), Value::Object(rest));
    }
    let res: Map<String, Value> = span
        .resource
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    meta.insert("resourceAttributes".into(), Value::Object(res));
    meta.insert(
        "scope".into(),
        json!({"name": span.scope_name, "version": span.scope_version}),
    );
    o.metadata = Some(raw(&Value::Object(meta)));
    o.model = l.first(&[
        "langfuse.observation.model.name",
        "gen_ai.response.model",
        "gen_ai.request.model",
        "llm.model_name",
        "model",
    ]);
    o.model_parameters = l
        .get("langfuse.observation.model.parameters")
        .map(|v| raw(&parse_json_str(v)));
    if let Some(u) = l.get("langfuse.observation.usage_details") {
        o.usage_details = numbers_i64(u);
    } else {
        for (from, to) in [
            ("gen_ai.usage.input_tokens", "input"),
            ("gen_ai.usage.prompt_tokens", "input"),
            ("gen_ai.usage.output_tokens", "output"),
            ("gen_ai.usage.completion_tokens", "output"),
            ("gen_ai.usage.total_tokens", "total"),
        ] {
            if let Some(n) = l.get(from).and_then(Value::as_i64) {
                o.usage_details.insert(to.into(), n);
            }
        }
    }
    if let Some(c) = l.get("langfuse.observation.cost_details") {
        o.cost_details = numbers_f64(c);
    } else if let Some(c) = l.get("gen_ai.usage.cost").and_then(Value::as_f64) {
        o.cost_details.insert("total".into(), c);
    }
    // The Python SDKs (3.x and newer) send it JSON-encoded, quotes included.
    o.completion_start_time = l
        .str("langfuse.observation.completion_start_time")
        .and_then(|s| {
            let unquoted = serde_json::from_str::<String>(&s).unwrap_or(s);
            timefmt::parse(&unquoted)
        });
    if o.kind == "GENERATION" {
        o.prompt_name = l.first(&["langfuse.observation.prompt.name", "langfuse.prompt.name"]);
        o.prompt_version = [
            "langfuse.observation.prompt.version",
            "langfuse.prompt.version",
        ]
        .iter()
        .find_map(|k| l.get(k))
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        });
    }
    o.environment = environment(l);
    o.release = l.span_or_resource(&["langfuse.release"]);
    o.version = l
        .first(&["langfuse.version"])
        .or_else(|| l.res("service.version").and_then(as_string));
    o.is_app_root = l.str("langfuse.internal.is_app_root").as_deref() == Some("true")
        || l.str("langfuse.internal.as_root").as_deref() == Some("true");
    o
}

/// Experiment attributes (`langfuse.experiment.*`) create the run and run item a v4 server
/// reads as experiments.
fn experiment(store: &mut Store, l: &Lookup, o: &ObsRow, visible_at: u64) {
    let (Some(exp_id), Some(item_id)) = (
        l.str("langfuse.experiment.id"),
        l.str("langfuse.experiment.item.id"),
    ) else {
        return;
    };
    let dataset_id = l.str("langfuse.experiment.dataset.id").unwrap_or_default();
    let dataset_name = store
        .datasets
        .first_of(&dataset_id)
        .and_then(|s| store.datasets.get(s))
        .map(|d| d.name.clone())
        .unwrap_or_default();
    let name = l
        .str("langfuse.experiment.name")
        .unwrap_or_else(|| exp_id.clone());
    if store.dataset_runs.first_of(&exp_id).is_none() {
        store.dataset_runs.insert(DatasetRunRow {
            id: exp_id.clone(),
            name: name.clone(),
            description: l.str("langfuse.experiment.description"),
            metadata: l
                .get("langfuse.experiment.metadata")
                .map(|v| raw(&parse_json_str(v))),
            dataset_id,
            dataset_name,
            created_at: o.start_time,
            updated_at: now_ms(),
            visible_at: 0,
        });
    }
    store.dataset_run_items.insert(DatasetRunItemRow {
        id: format!("{exp_id}:{item_id}:{}", o.id),
        dataset_run_id: exp_id,
        dataset_run_name: name,
        dataset_item_id: item_id,
        trace_id: o.trace_id.clone().unwrap_or_default(),
        observation_id: Some(o.id.clone()),
        created_at: o.start_time,
        updated_at: now_ms(),
        visible_at,
    });
}

pub fn ingest(st: &AppState, spans: Vec<SpanIn>) {
    let now = now_ms();
    let visible_at = st.visible_at_for_new_write();
    let v4 = st.profile().is_v4();
    let mut store = st.store.write();
    let full_trace_ids: HashSet<String> = spans
        .iter()
        .filter(|s| s.parent_span_id.is_none())
        .map(|s| s.trace_id.clone())
        .collect();
    for span in &spans {
        let l = Lookup {
            span: &span.attributes,
            resource: &span.resource,
            json_metadata_values: st.profile().is_current() && from_sdk_5_or_newer(span),
        };
        let mut o = observation(span, &l, now);
        o.visible_at = visible_at;
        let tc = trace_cols(&l);
        if v4 {
            o.trace_name = tc.name;
            o.user_id = tc.user_id;
            o.session_id = tc.session_id;
            o.tags = tc.tags;
            o.public = tc.public;
            o.trace_metadata = tc.metadata.map(|m| raw(&Value::Object(m)));
            experiment(&mut store, &l, &o, visible_at);
            store.link_prompt(&mut o);
            store.observations.insert(o);
            continue;
        }
        let is_root = o.parent_observation_id.is_none() || o.is_app_root;
        let trace = if is_root || tc.updates_trace {
            Some(TraceRow {
                id: span.trace_id.clone(),
                timestamp: o.start_time,
                name: tc
                    .name
                    .or_else(|| if is_root { o.name.clone() } else { None }),
                input: tc
                    .input
                    .or_else(|| if is_root { o.input.clone() } else { None }),
                output: tc
                    .output
                    .or_else(|| if is_root { o.output.clone() } else { None }),
                session_id: tc.session_id,
                release: o.release.clone(),
                version: o.version.clone(),
                user_id: tc.user_id,
                metadata: tc.metadata.map(|m| raw(&Value::Object(m))),
                tags: tc.tags,
                public: tc.public,
                environment: o.environment.clone(),
                created_at: now,
                updated_at: now,
                visible_at,
            })
        } else if store.traces.first_of(&span.trace_id).is_none()
            && !full_trace_ids.contains(&span.trace_id)
        {
            Some(ingestion::shallow_trace(
                &span.trace_id,
                o.start_time,
                &o.environment,
                visible_at,
            ))
        } else {
            None
        };
        if let Some(t) = trace {
            ingestion::upsert_trace(&mut store, t);
        }
        store.link_prompt(&mut o);
        ingestion::upsert_obs(&mut store, o, true);
    }
}
