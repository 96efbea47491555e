//! Mapping canonical traces and observations onto OTLP spans for Langfuse v4
//! (shared/specs/langfuse-otel-mapping.md).
//!
//! Ids travel verbatim. Langfuse stores an OTLP/JSON string id as sent, which keeps UUIDs and
//! custom ids from older SDKs intact; protobuf carries ids as bytes that come back as lowercase
//! hex, so a request goes as protobuf (the `opentelemetry-proto` types) only when every id in it
//! already is 32/16-character lowercase hex, and as JSON otherwise.
//!
//! Legacy (v2/v3) traces have their own name, input, output and metadata, and their observations
//! need not form a single tree. On v4 a trace is derived from its spans, its I/O and metadata
//! from the root span. So every legacy trace becomes a root span with id `t-<traceId>` (the id
//! Langfuse itself uses for its synthetic trace spans) carrying the trace's fields, and the
//! trace's top-level observations hang under it. Validation maps them back: a `t-<traceId>` span
//! is the trace, a parent `t-<traceId>` means "no parent" in the source.

use super::provenance::{self, Provenance};
use crate::vocab::{Dialect, RawObject};
use serde_json::value::RawValue;

pub const SCOPE_NAME: &str = "langfuse-sdk";
pub const RUN_TAG_KEY: &str = "langfuse_migrator_run";

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

/// The id of the root span that carries a legacy trace's own fields.
pub fn trace_span_id(trace_id: &str) -> String {
    format!("t-{trace_id}")
}

/// ISO-8601 to unix nanoseconds.
pub fn iso_to_nanos(s: &str) -> Option<u64> {
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    u64::try_from(t.timestamp_nanos_opt()?).ok()
}

pub use super::attr_value::AttrValue;

/// One span, before it is written as OTLP/JSON or protobuf.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanData {
    pub trace_id: String,
    pub span_id: String,
    pub parent: Option<String>,
    pub name: String,
    pub start_ns: u64,
    pub end_ns: Option<u64>,
    pub attrs: Vec<(String, AttrValue)>,
    /// The source's resource and scope (v4 sources); `None`: the migrator's own.
    pub provenance: Option<Provenance>,
}

/// Whether a span with these ids can go as protobuf (whose id bytes Langfuse stores as
/// lowercase hex) without changing them.
pub fn ids_fit_protobuf(span: &str, trace: Option<&str>, parent: Option<&str>) -> bool {
    trace.is_some_and(|t| is_lower_hex(t, 32))
        && is_lower_hex(span, 16)
        && parent.is_none_or(|p| is_lower_hex(p, 16))
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl SpanData {
    /// Protobuf carries ids as bytes, which Langfuse reads back as lowercase hex: it fits only
    /// ids that already are 32/16-character lowercase hex.
    pub fn fits_protobuf(&self) -> bool {
        ids_fit_protobuf(&self.span_id, Some(&self.trace_id), self.parent.as_deref())
    }

    fn push_json(&self, out: &mut String) {
        out.push_str("{\"traceId\":");
        push_str_lit(out, &self.trace_id);
        out.push_str(",\"spanId\":");
        push_str_lit(out, &self.span_id);
        out.push_str(",\"parentSpanId\":");
        push_str_lit(out, self.parent.as_deref().unwrap_or(""));
        out.push_str(",\"name\":");
        push_str_lit(out, &self.name);
        out.push_str(",\"kind\":1");
        out.push_str(&format!(",\"startTimeUnixNano\":\"{}\"", self.start_ns));
        if let Some(e) = self.end_ns {
            out.push_str(&format!(",\"endTimeUnixNano\":\"{e}\""));
        }
        out.push_str(",\"attributes\":");
        push_attrs_json(out, &self.attrs);
        out.push_str(",\"status\":{}}");
    }

    /// The span as an OTLP/JSON object.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(
            256 + self.attrs.iter().map(|(k, _)| k.len() + 64).sum::<usize>(),
        );
        self.push_json(&mut out);
        out
    }

    fn into_proto(self) -> Span {
        let hex_bytes = |s: &str| hex::decode(s).unwrap_or_default();
        Span {
            trace_id: hex_bytes(&self.trace_id),
            span_id: hex_bytes(&self.span_id),
            parent_span_id: self.parent.as_deref().map(hex_bytes).unwrap_or_default(),
            name: self.name,
            kind: 1,
            start_time_unix_nano: self.start_ns,
            end_time_unix_nano: self.end_ns.unwrap_or(0),
            attributes: proto_attrs(self.attrs),
            ..Default::default()
        }
    }
}

/// Writes a JSON string literal.
fn push_str_lit(out: &mut String, s: &str) {
    // serde_json escapes exactly as JSON requires.
    out.push_str(&serde_json::to_string(s).expect("string serialises"));
}

/// An OTLP/JSON attribute list.
fn push_attrs_json(out: &mut String, attrs: &[(String, AttrValue)]) {
    out.push('[');
    for (i, (k, v)) in attrs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"key\":");
        push_str_lit(out, k);
        out.push_str(",\"value\":");
        match v {
            AttrValue::Str(s) => {
                out.push_str("{\"stringValue\":");
                push_str_lit(out, s);
                out.push('}');
            }
            AttrValue::Bool(b) => out.push_str(if *b {
                "{\"boolValue\":true}"
            } else {
                "{\"boolValue\":false}"
            }),
            // Langfuse's API describes `intValue` as a JSON integer (its server also reads the
            // proto3-JSON string form, but the description is the contract).
            AttrValue::Int(n) => out.push_str(&format!("{{\"intValue\":{n}}}")),
            AttrValue::Double(n) => out.push_str(&format!(
                "{{\"doubleValue\":{}}}",
                serde_json::Number::from_f64(*n).map_or("0".into(), |n| n.to_string())
            )),
            AttrValue::Strings(values) => {
                out.push_str("{\"arrayValue\":{\"values\":[");
                for (j, s) in values.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    out.push_str("{\"stringValue\":");
                    push_str_lit(out, s);
                    out.push('}');
                }
                out.push_str("]}}");
            }
        }
        out.push('}');
    }
    out.push(']');
}
fn proto_attrs(attrs: Vec<(String, AttrValue)>) -> Vec<KeyValue> {
    let value = |v: AttrValue| AnyValue {
        value: Some(match v {
            AttrValue::Str(s) => any_value::Value::StringValue(s),
            AttrValue::Bool(b) => any_value::Value::BoolValue(b),
            AttrValue::Int(n) => any_value::Value::IntValue(n),
            AttrValue::Double(n) => any_value::Value::DoubleValue(n),
            AttrValue::Strings(values) => any_value::Value::ArrayValue(ArrayValue {
                values: values
                    .into_iter()
                    .map(|s| AnyValue {
                        value: Some(any_value::Value::StringValue(s)),
                    })
                    .collect(),
            }),
        }),
    };
    attrs
        .into_iter()
        .map(|(key, v)| KeyValue {
            key,
            value: Some(value(v)),
            ..Default::default()
        })
        .collect()
}

fn scope_version() -> String {
    concat!("migrator-", env!("CARGO_PKG_VERSION")).to_string()
}

/// Spans grouped by where they came from, in first-seen order: one OTLP resource and scope
/// per group (a copy of SDK-written v4 data carries the source's; the rest goes as the
/// migrator's own).
fn by_provenance<'a, S: std::borrow::Borrow<SpanData> + 'a>(
    spans: impl Iterator<Item = S>,
) -> Vec<(Option<Provenance>, Vec<S>)> {
    let mut groups: Vec<(Option<Provenance>, Vec<S>)> = Vec::new();
    for s in spans {
        let p = &s.borrow().provenance;
        match groups.iter_mut().find(|(g, _)| g == p) {
            Some((_, members)) => members.push(s),
            None => groups.push((p.clone(), vec![s])),
        }
    }
    groups
}

fn scope_of(p: Option<&Provenance>) -> (String, String) {
    match p.and_then(|p| p.scope.as_ref()) {
        Some(s) => (s.name.clone(), s.version.clone()),
        None => (SCOPE_NAME.to_string(), scope_version()),
    }
}

/// One OTLP/JSON export request.
pub fn export_json<'a>(spans: impl Iterator<Item = &'a SpanData>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("{\"resourceSpans\":[");
    for (g, (provenance, members)) in by_provenance(spans).into_iter().enumerate() {
        if g > 0 {
            out.push(',');
        }
        out.push_str("{\"resource\":{\"attributes\":");
        push_attrs_json(
            &mut out,
            provenance.as_ref().map_or(&[][..], |p| &p.resource[..]),
        );
        let (name, version) = scope_of(provenance.as_ref());
        out.push_str("},\"scopeSpans\":[{\"scope\":{\"name\":");
        push_str_lit(&mut out, &name);
        out.push_str(",\"version\":");
        push_str_lit(&mut out, &version);
        out.push_str("},\"spans\":[");
        for (i, s) in members.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            s.push_json(&mut out);
        }
        out.push_str("]}]}");
    }
    out.push_str("]}");
    out
}

/// One OTLP protobuf export request, from the `opentelemetry-proto` types.
pub fn export_protobuf(spans: impl Iterator<Item = SpanData>) -> Vec<u8> {
    use prost::Message;
    let resource_spans = by_provenance(spans)
        .into_iter()
        .map(|(provenance, members)| {
            let (name, version) = scope_of(provenance.as_ref());
            ResourceSpans {
                resource: Some(Resource {
                    attributes: proto_attrs(provenance.map(|p| p.resource).unwrap_or_default()),
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name,
                        version,
                        ..Default::default()
                    }),
                    spans: members.into_iter().map(SpanData::into_proto).collect(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }.encode_to_vec()
}

/// Attribute collector for one span.
#[derive(Default)]
struct Attrs(Vec<(String, AttrValue)>);

impl Attrs {
    fn string(&mut self, key: &str, value: &str) {
        self.0
            .push((key.to_string(), AttrValue::Str(value.to_string())));
    }
    fn boolean(&mut self, key: &str, value: bool) {
        self.0.push((key.to_string(), AttrValue::Bool(value)));
    }
    fn int(&mut self, key: &str, value: i64) {
        self.0.push((key.to_string(), AttrValue::Int(value)));
    }
    fn strings(&mut self, key: &str, values: Vec<String>) {
        self.0.push((key.to_string(), AttrValue::Strings(values)));
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
    /// The dialect of the records' payloads.
    pub source: Dialect,
}

/// Why a record cannot become a span.
#[derive(Debug, PartialEq)]
pub struct MapError(pub String);

/// Trace-level attributes from an object that carries trace columns (a v4 observation or a trace).
fn trace_attrs(a: &mut Attrs, o: &RawObject, name_key: &str) {
    if let Some(n) = o.str(name_key)
        && !n.is_empty()
    {
        a.string("langfuse.trace.name", &n);
    }
    if let Some(u) = o.str("userId") {
        a.string("langfuse.user.id", &u);
    }
    if let Some(s) = o.str("sessionId") {
        a.string("langfuse.session.id", &s);
    }
    if let Some(tags) =
        present(o, "tags").and_then(|t| serde_json::from_str::<Vec<String>>(t.get()).ok())
        && !tags.is_empty()
    {
        a.strings("langfuse.trace.tags", tags);
    }
    if o.bool("public") == Some(true) {
        a.boolean("langfuse.trace.public", true);
    }
    if let Some(r) = o.str("release") {
        a.string("langfuse.release", &r);
    }
}

fn metadata_attr(a: &mut Attrs, key: &str, o: &RawObject, run_tag: Option<&str>) {
    if let Some(m) = present(o, "metadata") {
        a.json(key, m);
    }
    if let Some(run) = run_tag {
        a.string(&format!("{key}.{RUN_TAG_KEY}"), run);
    }
}

/// Metadata without the keys the server fills itself. The run tag goes inside the object: a
/// span under the SDK's scope has each dotted metadata value read as JSON, which would turn a
/// tag that looks like JSON into another type.
fn carried_metadata_attr(a: &mut Attrs, c: &provenance::Split, run_tag: Option<&str>) {
    let mut m = c.metadata.clone();
    if let Some(run) = run_tag {
        m.insert(RUN_TAG_KEY.into(), serde_json::Value::String(run.into()));
    }
    if !m.is_empty() {
        a.string(
            "langfuse.observation.metadata",
            &serde_json::Value::Object(m).to_string(),
        );
    }
}

/// `langfuse.experiment.*` on a span that carries a run item (see `experiments`).
fn experiment_attrs(a: &mut Attrs, o: &RawObject) {
    let Some(e) = o
        .get_present(crate::connectors::langfuse::experiments::BODY_KEY)
        .and_then(|v| {
            serde_json::from_str::<crate::connectors::langfuse::experiments::ExperimentAttrs>(
                v.get(),
            )
            .ok()
        })
    else {
        return;
    };
    a.string("langfuse.experiment.id", &e.id);
    a.string("langfuse.experiment.name", &e.name);
    a.string("langfuse.experiment.item.id", &e.item_id);
    if let Some(d) = &e.dataset_id {
        a.string("langfuse.experiment.dataset.id", d);
    }
    if let Some(d) = &e.description {
        a.string("langfuse.experiment.description", d);
    }
    if let Some(m) = &e.metadata {
        a.string("langfuse.experiment.metadata", m);
    }
}

/// One observation as an OTLP span.
pub fn observation_span(o: &RawObject, opts: &SpanOptions<'_>) -> Result<SpanData, MapError> {
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
    let start_ns = iso_to_nanos(&start_iso)
        .ok_or_else(|| MapError(format!("observation {id} has an unreadable start time")))?;
    let end_ns = o.str("endTime").and_then(|e| iso_to_nanos(&e));
    let mut parent = o.str("parentObservationId");
    if parent.is_none() && !opts.source.is_v4() {
        parent = Some(trace_span_id(&trace_id));
    }
    let mut a = Attrs::default();
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
    // v4 fills a span's resource and scope into its metadata itself: they travel as the
    // request's resource and scope instead (see `provenance`).
    let carried = present(o, "metadata")
        .filter(|_| opts.source.is_v4())
        .and_then(|m| provenance::split(m.get()));
    match &carried {
        Some(c) => carried_metadata_attr(&mut a, c, opts.run_tag),
        None => metadata_attr(&mut a, "langfuse.observation.metadata", o, opts.run_tag),
    }
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
    if opts.source.is_v4() {
        trace_attrs(&mut a, o, "traceName");
        if o.get_present("parentObservationId").is_none()
            && let Some(m) = present(o, "metadata")
        {
            match &carried {
                Some(c) => a.string(
                    "langfuse.trace.metadata",
                    &serde_json::Value::Object(c.metadata.clone()).to_string(),
                ),
                None => a.json("langfuse.trace.metadata", m),
            }
        }
    }
    experiment_attrs(&mut a, o);
    let (provenance, mut attrs) = match carried {
        Some(c) => (Some(c.provenance), c.span_attrs),
        None => (None, Vec::new()),
    };
    attrs.extend(a.0);
    Ok(SpanData {
        trace_id,
        span_id: id,
        parent,
        name: o.str("name").unwrap_or_default(),
        start_ns,
        end_ns,
        attrs,
        provenance,
    })
}

/// A legacy trace as its root span `t-<traceId>`.
pub fn trace_span(t: &RawObject, opts: &SpanOptions<'_>) -> Result<SpanData, MapError> {
    let id = t
        .str("id")
        .ok_or_else(|| MapError("the trace has no id".into()))?;
    let ts = t
        .str("timestamp")
        .ok_or_else(|| MapError(format!("trace {id} has no timestamp")))?;
    let nanos = iso_to_nanos(&ts)
        .ok_or_else(|| MapError(format!("trace {id} has an unreadable timestamp")))?;
    let mut a = Attrs::default();
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
    experiment_attrs(&mut a, t);
    Ok(SpanData {
        span_id: trace_span_id(&id),
        trace_id: id,
        parent: None,
        name: t.str("name").unwrap_or_default(),
        start_ns: nanos,
        end_ns: Some(nanos),
        attrs: a.0,
        provenance: None,
    })
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
                source: Dialect::LangfuseV4,
            },
        )
        .unwrap();
        assert!(!s.fits_protobuf(), "custom ids need JSON");
        let s = s.to_json();
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
                source: Dialect::LangfuseV3,
            },
        )
        .unwrap()
        .to_json();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["parentSpanId"], "t-t");
        let t = RawObject::from_json(r#"{"id":"t","timestamp":"2024-03-01T10:00:00Z","name":"n","userId":"u","tags":["a"],"metadata":{"k":1}}"#).unwrap();
        let s = trace_span(
            &t,
            &SpanOptions {
                run_tag: None,
                source: Dialect::LangfuseV3,
            },
        )
        .unwrap()
        .to_json();
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
                source: Dialect::LangfuseV4,
            },
        )
        .unwrap_err();
        assert!(e.0.contains("belongs to no trace"));
    }

    #[test]
    fn hex_ids_go_as_protobuf_and_decode_to_the_same_ids() {
        use prost::Message;
        let o = RawObject::from_json(r#"{"id":"00f067aa0ba902b7","traceId":"4bf92f3577b34da6a3ce929d0e0e4736","parentObservationId":"00f067aa0ba902b8","type":"SPAN","startTime":"2024-03-01T10:00:00Z","name":"n"}"#).unwrap();
        let s = observation_span(
            &o,
            &SpanOptions {
                run_tag: None,
                source: Dialect::LangfuseV4,
            },
        )
        .unwrap();
        assert!(s.fits_protobuf());
        let bytes = export_protobuf(std::iter::once(s));
        let req = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
        let span = &req.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(
            hex::encode(&span.trace_id),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(hex::encode(&span.span_id), "00f067aa0ba902b7");
        assert_eq!(hex::encode(&span.parent_span_id), "00f067aa0ba902b8");
        assert_eq!(span.start_time_unix_nano, 1_709_287_200_000_000_000);
    }

    fn v4_span(id: &str, scope_version: &str) -> SpanData {
        let o = RawObject::from_json(&format!(
            r#"{{"id":"{id}","traceId":"4bf92f3577b34da6a3ce929d0e0e4736","startTime":"2024-03-01T10:00:00Z","metadata":{{"k":"v","resourceAttributes":"{{\"service.name\":\"api\"}}","scope":"{{\"name\":\"langfuse-sdk\",\"version\":\"{scope_version}\"}}"}}}}"#
        ))
        .unwrap();
        let opts = SpanOptions {
            run_tag: Some("7"),
            source: Dialect::LangfuseV4,
        };
        observation_span(&o, &opts).unwrap()
    }

    #[test]
    fn spans_travel_under_their_source_resource_and_scope() {
        let spans = [
            v4_span("00f067aa0ba902b1", "5.0.4"),
            v4_span("00f067aa0ba902b2", "3.1.0"),
            v4_span("00f067aa0ba902b3", "5.0.4"),
        ];
        let v: serde_json::Value = serde_json::from_str(&export_json(spans.iter())).unwrap();
        let groups = v["resourceSpans"].as_array().unwrap();
        assert_eq!(groups.len(), 2);
        let first = &groups[0];
        assert_eq!(
            first["resource"]["attributes"][0],
            serde_json::json!({"key": "service.name", "value": {"stringValue": "api"}})
        );
        let scope = &first["scopeSpans"][0];
        assert_eq!(scope["scope"]["version"], "5.0.4");
        assert_eq!(scope["spans"].as_array().unwrap().len(), 2);
        // What the server fills itself is not in the metadata; the run tag is, as a string.
        let meta = &attrs(&scope["spans"][0].to_string())["langfuse.observation.metadata"];
        let meta: serde_json::Value =
            serde_json::from_str(meta["stringValue"].as_str().unwrap()).unwrap();
        assert_eq!(meta, serde_json::json!({"k": "v", RUN_TAG_KEY: "7"}));

        use prost::Message;
        let req =
            ExportTraceServiceRequest::decode(&export_protobuf(spans.into_iter())[..]).unwrap();
        let scopes: Vec<_> = req
            .resource_spans
            .iter()
            .map(|r| r.scope_spans[0].scope.as_ref().unwrap().version.clone())
            .collect();
        assert_eq!(scopes, ["5.0.4", "3.1.0"]);
        assert_eq!(
            req.resource_spans[0].resource.as_ref().unwrap().attributes[0].key,
            "service.name"
        );
    }
}
