//! Mapping canonical traces and observations onto OTLP spans for Langfuse v4
//! (shared/specs/langfuse-otel-mapping.md).
//!
//! Sent as OTLP/JSON so ids travel verbatim: Langfuse stores a JSON string id as sent, which keeps
//! UUIDs and custom ids from older SDKs intact (protobuf would force hex bytes).
//!
//! Legacy (v2/v3) traces have their own name, input, output and metadata, and their observations
//! need not form a single tree. On v4 a trace is derived from its spans, its I/O and metadata
//! from the root span. So every legacy trace becomes a root span with id `t-<traceId>` (the id
//! Langfuse itself uses for its synthetic trace spans) carrying the trace's fields, and the
//! trace's top-level observations hang under it. Validation maps them back: a `t-<traceId>` span
//! is the trace, a parent `t-<traceId>` means "no parent" in the source.

use crate::model::{Generation, RawObject};
use serde_json::value::RawValue;

pub const SCOPE_NAME: &str = "langfuse-sdk";
pub const RUN_TAG_KEY: &str = "langfuse_migrator_run";

/// The id of the root span that carries a legacy trace's own fields.
pub fn trace_span_id(trace_id: &str) -> String {
    format!("t-{trace_id}")
}

/// Writes a JSON string literal.
fn push_str_lit(out: &mut String, s: &str) {
    // serde_json escapes exactly as JSON requires.
    out.push_str(&serde_json::to_string(s).expect("string serialises"));
}

/// ISO-8601 to unix nanoseconds as a decimal string.
pub fn iso_to_nanos(s: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    Some(t.timestamp_nanos_opt()?.to_string())
}

/// Attribute writer for one span.
struct Attrs<'a> {
    out: &'a mut String,
    first: bool,
}

impl Attrs<'_> {
    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push_str("{\"key\":");
        push_str_lit(self.out, key);
        self.out.push_str(",\"value\":");
    }
    fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        self.out.push_str("{\"stringValue\":");
        push_str_lit(self.out, value);
        self.out.push_str("}}");
    }
    fn boolean(&mut self, key: &str, value: bool) {
        self.key(key);
        self.out.push_str(if value {
            "{\"boolValue\":true}}"
        } else {
            "{\"boolValue\":false}}"
        });
    }
    fn int(&mut self, key: &str, value: i64) {
        self.key(key);
        self.out
            .push_str(&format!("{{\"intValue\":\"{value}\"}}}}"));
    }
    fn strings(&mut self, key: &str, values: &[String]) {
        self.key(key);
        self.out.push_str("{\"arrayValue\":{\"values\":[");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str("{\"stringValue\":");
            push_str_lit(self.out, v);
            self.out.push('}');
        }
        self.out.push_str("]}}}");
    }
    /// A JSON payload as the JSON text Langfuse parses back (SDKs send `JSON.stringify(x)`).
    fn json(&mut self, key: &str, value: &RawValue) {
        self.string(key, value.get());
    }
}

fn is_empty_object(v: &RawValue) -> bool {
    let t = v.get().trim();
    t.starts_with('{') && t[1..].trim_start().starts_with('}')
}

fn present<'a>(o: &'a RawObject, k: &str) -> Option<&'a RawValue> {
    o.get_present(k)
}

/// Options that apply to every span of a request.
pub struct SpanOptions<'a> {
    pub run_tag: Option<&'a str>,
    pub source: Generation,
}

/// Builds one OTLP/JSON export request from spans already rendered by `observation_span` or
/// `trace_span`.
pub fn export_request(spans: &[String]) -> String {
    let total: usize = spans.iter().map(|s| s.len() + 1).sum();
    let mut out = String::with_capacity(total + 200);
    out.push_str("{\"resourceSpans\":[{\"resource\":{\"attributes\":[]},\"scopeSpans\":[{\"scope\":{\"name\":");
    push_str_lit(&mut out, SCOPE_NAME);
    out.push_str(",\"version\":");
    push_str_lit(&mut out, concat!("migrator-", env!("CARGO_PKG_VERSION")));
    out.push_str("},\"spans\":[");
    for (i, s) in spans.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(s);
    }
    out.push_str("]}]}]}");
    out
}

fn span_head(
    out: &mut String,
    trace_id: &str,
    span_id: &str,
    parent: Option<&str>,
    name: &str,
    start: Option<String>,
    end: Option<String>,
) {
    out.push_str("{\"traceId\":");
    push_str_lit(out, trace_id);
    out.push_str(",\"spanId\":");
    push_str_lit(out, span_id);
    out.push_str(",\"parentSpanId\":");
    push_str_lit(out, parent.unwrap_or(""));
    out.push_str(",\"name\":");
    push_str_lit(out, name);
    out.push_str(",\"kind\":1");
    if let Some(s) = start {
        out.push_str(",\"startTimeUnixNano\":\"");
        out.push_str(&s);
        out.push('"');
    }
    if let Some(e) = end {
        out.push_str(",\"endTimeUnixNano\":\"");
        out.push_str(&e);
        out.push('"');
    }
    out.push_str(",\"attributes\":[");
}

/// Why a record cannot become a span.
#[derive(Debug, PartialEq)]
pub struct MapError(pub String);

/// Trace-level attributes from an object that carries trace columns (a v4 observation or a trace).
fn trace_attrs(a: &mut Attrs<'_>, o: &RawObject, name_key: &str) {
    if let Some(n) = o.str(name_key) {
        if !n.is_empty() {
            a.string("langfuse.trace.name", &n);
        }
    }
    if let Some(u) = o.str("userId") {
        a.string("langfuse.user.id", &u);
    }
    if let Some(s) = o.str("sessionId") {
        a.string("langfuse.session.id", &s);
    }
    if let Some(tags) =
        present(o, "tags").and_then(|t| serde_json::from_str::<Vec<String>>(t.get()).ok())
    {
        if !tags.is_empty() {
            a.strings("langfuse.trace.tags", &tags);
        }
    }
    if o.bool("public") == Some(true) {
        a.boolean("langfuse.trace.public", true);
    }
    if let Some(r) = o.str("release") {
        a.string("langfuse.release", &r);
    }
}

fn metadata_attr(a: &mut Attrs<'_>, key: &str, o: &RawObject, run_tag: Option<&str>) {
    if let Some(m) = present(o, "metadata") {
        a.json(key, m);
    }
    if let Some(run) = run_tag {
        a.string(&format!("{key}.{RUN_TAG_KEY}"), run);
    }
}

/// One observation as an OTLP span.
pub fn observation_span(o: &RawObject, opts: &SpanOptions<'_>) -> Result<String, MapError> {
    let id = o
        .str("id")
        .ok_or_else(|| MapError("the observation has no id".into()))?;
    let trace_id = o.str("traceId").ok_or_else(|| {
        MapError(format!(
            "observation {id} belongs to no trace; Langfuse v4 cannot store it"
        ))
    })?;
    let start_iso = o
        .str("startTime")
        .ok_or_else(|| MapError(format!("observation {id} has no start time")))?;
    let start = iso_to_nanos(&start_iso)
        .ok_or_else(|| MapError(format!("observation {id} has an unreadable start time")))?;
    let end = o.str("endTime").and_then(|e| iso_to_nanos(&e));
    let mut parent = o.str("parentObservationId");
    if parent.is_none() && opts.source != Generation::V4 {
        parent = Some(trace_span_id(&trace_id));
    }
    let name = o.str("name").unwrap_or_default();
    let mut out = String::with_capacity(o.approx_len() + 600);
    span_head(
        &mut out,
        &trace_id,
        &id,
        parent.as_deref(),
        &name,
        Some(start),
        end,
    );
    {
        let mut a = Attrs {
            out: &mut out,
            first: true,
        };
        let kind = o
            .str("type")
            .unwrap_or_else(|| "SPAN".into())
            .to_lowercase();
        a.string("langfuse.observation.type", &kind);
        if let Some(l) = o.str("level") {
            a.string("langfuse.observation.level", &l);
        }
        if let Some(m) = o.str("statusMessage") {
            a.string("langfuse.observation.status_message", &m);
        }
        if let Some(v) = present(o, "input") {
            a.json("langfuse.observation.input", v);
        }
        if let Some(v) = present(o, "output") {
            a.json("langfuse.observation.output", v);
        }
        metadata_attr(&mut a, "langfuse.observation.metadata", o, opts.run_tag);
        if let Some(m) = o.str("model") {
            a.string("langfuse.observation.model.name", &m);
        }
        if let Some(v) = present(o, "modelParameters") {
            a.json("langfuse.observation.model.parameters", v);
        }
        // Empty usage would make Langfuse treat a span as a generation (old-SDK fix-up).
        if let Some(v) = present(o, "usageDetails").filter(|v| !is_empty_object(v)) {
            a.json("langfuse.observation.usage_details", v);
        }
        if let Some(v) = present(o, "costDetails").filter(|v| !is_empty_object(v)) {
            a.json("langfuse.observation.cost_details", v);
        }
        if let Some(c) = o.str("completionStartTime") {
            a.string("langfuse.observation.completion_start_time", &c);
        }
        if let Some(p) = o.str("promptName") {
            a.string("langfuse.observation.prompt.name", &p);
            if let Some(v) = o.i64("promptVersion") {
                a.int("langfuse.observation.prompt.version", v);
            }
        }
        if let Some(e) = o.str("environment") {
            a.string("langfuse.environment", &e);
        }
        if let Some(v) = o.str("version") {
            a.string("langfuse.version", &v);
        }
        // v4 observations carry their trace's columns; keep them on every span. A v4 trace's
        // metadata is its root span's.
        if opts.source == Generation::V4 {
            trace_attrs(&mut a, o, "traceName");
            if o.get_present("parentObservationId").is_none() {
                if let Some(m) = present(o, "metadata") {
                    a.json("langfuse.trace.metadata", m);
                }
            }
        }
    }
    out.push_str("],\"status\":{}}");
    Ok(out)
}

/// A legacy trace as its root span `t-<traceId>`.
pub fn trace_span(t: &RawObject, opts: &SpanOptions<'_>) -> Result<String, MapError> {
    let id = t
        .str("id")
        .ok_or_else(|| MapError("the trace has no id".into()))?;
    let ts = t
        .str("timestamp")
        .ok_or_else(|| MapError(format!("trace {id} has no timestamp")))?;
    let nanos = iso_to_nanos(&ts)
        .ok_or_else(|| MapError(format!("trace {id} has an unreadable timestamp")))?;
    let name = t.str("name").unwrap_or_default();
    let mut out = String::with_capacity(t.approx_len() + 600);
    span_head(
        &mut out,
        &id,
        &trace_span_id(&id),
        None,
        &name,
        Some(nanos.clone()),
        Some(nanos),
    );
    {
        let mut a = Attrs {
            out: &mut out,
            first: true,
        };
        a.string("langfuse.observation.type", "span");
        if let Some(v) = present(t, "input") {
            a.json("langfuse.observation.input", v);
            a.json("langfuse.trace.input", v);
        }
        if let Some(v) = present(t, "output") {
            a.json("langfuse.observation.output", v);
            a.json("langfuse.trace.output", v);
        }
        metadata_attr(&mut a, "langfuse.observation.metadata", t, opts.run_tag);
        if let Some(m) = present(t, "metadata") {
            a.json("langfuse.trace.metadata", m);
        }
        if let Some(e) = t.str("environment") {
            a.string("langfuse.environment", &e);
        }
        if let Some(v) = t.str("version") {
            a.string("langfuse.version", &v);
        }
        trace_attrs(&mut a, t, "name");
    }
    out.push_str("],\"status\":{}}");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(span: &str) -> serde_json::Map<String, serde_json::Value> {
        let v: serde_json::Value = serde_json::from_str(span).unwrap();
        v["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["key"].as_str().unwrap().to_string(), a["value"].clone()))
            .collect()
    }

    #[test]
    fn observation_keeps_ids_verbatim_and_times_in_nanos() {
        let o = RawObject::from_json(r#"{"id":"0b3c-UUID-like","traceId":"Trace-ABC","type":"GENERATION","name":"llm","startTime":"2024-03-01T10:00:00.123Z","endTime":"2024-03-01T10:00:01.000Z","input":{"messages":[1]},"output":"hi","usageDetails":{"input":3},"model":"gpt","parentObservationId":"p1","environment":"prod"}"#).unwrap();
        let s = observation_span(
            &o,
            &SpanOptions {
                run_tag: Some("run-1"),
                source: Generation::V4,
            },
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["traceId"], "Trace-ABC");
        assert_eq!(v["spanId"], "0b3c-UUID-like");
        assert_eq!(v["parentSpanId"], "p1");
        assert_eq!(v["startTimeUnixNano"], "1709287200123000000");
        let a = attrs(&s);
        assert_eq!(a["langfuse.observation.type"]["stringValue"], "generation");
        assert_eq!(
            a["langfuse.observation.input"]["stringValue"],
            r#"{"messages":[1]}"#
        );
        assert_eq!(a["langfuse.observation.output"]["stringValue"], r#""hi""#);
        assert_eq!(
            a["langfuse.observation.metadata.langfuse_migrator_run"]["stringValue"],
            "run-1"
        );
        assert_eq!(a["langfuse.environment"]["stringValue"], "prod");
    }

    #[test]
    fn legacy_top_level_observation_hangs_under_trace_span() {
        let o = RawObject::from_json(r#"{"id":"o","traceId":"t","type":"SPAN","startTime":"2024-03-01T10:00:00Z","parentObservationId":null}"#).unwrap();
        let s = observation_span(
            &o,
            &SpanOptions {
                run_tag: None,
                source: Generation::V3,
            },
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["parentSpanId"], "t-t");
        let t = RawObject::from_json(r#"{"id":"t","timestamp":"2024-03-01T10:00:00Z","name":"n","userId":"u","tags":["a"],"metadata":{"k":1}}"#).unwrap();
        let s = trace_span(
            &t,
            &SpanOptions {
                run_tag: None,
                source: Generation::V3,
            },
        )
        .unwrap();
        let a = attrs(&s);
        assert_eq!(a["langfuse.trace.name"]["stringValue"], "n");
        assert_eq!(a["langfuse.user.id"]["stringValue"], "u");
        assert_eq!(a["langfuse.trace.metadata"]["stringValue"], r#"{"k":1}"#);
    }

    #[test]
    fn observation_without_trace_is_refused_with_a_reason() {
        let o = RawObject::from_json(r#"{"id":"o","startTime":"2024-03-01T10:00:00Z"}"#).unwrap();
        let e = observation_span(
            &o,
            &SpanOptions {
                run_tag: None,
                source: Generation::V4,
            },
        )
        .unwrap_err();
        assert!(e.0.contains("belongs to no trace"));
    }
}
