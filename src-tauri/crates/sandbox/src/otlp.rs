//! `POST /api/public/otel/v1/traces`: OTLP/HTTP exports in protobuf or JSON, optionally gzipped,
//! validated as a whole (one malformed span rejects the export), then mapped to rows by
//! `otel_map`.

use std::io::Read;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use base64::Engine;
use prost::Message;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::otel_map;
use crate::state::AppState;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};

pub type Attrs = Vec<(String, Value)>;

/// One span, decoded from either encoding.
#[derive(Clone, Debug)]
pub struct SpanIn {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub start_ns: Option<i128>,
    pub end_ns: Option<i128>,
    pub attributes: Attrs,
    pub status_code: i64,
    pub status_message: Option<String>,
    pub events: Vec<(String, Attrs)>,
    pub resource: Arc<Attrs>,
    pub scope_name: Option<String>,
    pub scope_version: Option<String>,
}

fn otlp_err(msg: impl Into<String>) -> ApiError {
    ApiError::OtlpBadRequest(msg.into())
}

pub async fn handle(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let version_header = headers
        .get("x-langfuse-ingestion-version")
        .or_else(|| headers.get("x_langfuse_ingestion_version"))
        .and_then(|v| v.to_str().ok());
    if let Some(v) = version_header {
        let digits: String = v
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .collect();
        match digits.parse::<i64>() {
            Ok(n) if n <= 4 => {}
            _ => {
                return Err(otlp_err(format!(
                    "Unsupported x-langfuse-ingestion-version: \"{v}\". Maximum supported: \"4\"."
                )));
            }
        }
    }
    let ctype = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_proto = ctype.contains("application/x-protobuf");
    let is_json = ctype.contains("application/json");
    if !is_proto && !is_json {
        return Err(otlp_err("Invalid content type"));
    }
    let mut bytes = crate::body::read(body, crate::body::OTLP_BODY_LIMIT)
        .await?
        .to_vec();
    let gz = headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("gzip"));
    if gz {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|_| otlp_err("Failed to decompress request body"))?;
        bytes = out;
    }
    let spans = if is_proto {
        let req = ExportTraceServiceRequest::decode(bytes.as_slice())
            .map_err(|_| otlp_err("Failed to parse OTel Protobuf Trace"))?;
        from_proto(req)?
    } else {
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|_| otlp_err("Failed to parse OTel JSON Trace"))?;
        from_json(&v)?
    };
    if spans.is_empty() {
        return Ok(Json(json!({})));
    }
    otel_map::ingest(&st, spans);
    Ok(Json(json!({})))
}

// ---------- protobuf ----------

fn any_to_json(v: &AnyValue) -> Value {
    match &v.value {
        None => Value::Null,
        Some(any_value::Value::StringValue(s)) => json!(s),
        Some(any_value::Value::BoolValue(b)) => json!(b),
        Some(any_value::Value::IntValue(i)) => json!(i),
        Some(any_value::Value::DoubleValue(d)) => json!(d),
        Some(any_value::Value::ArrayValue(a)) => {
            Value::Array(a.values.iter().map(any_to_json).collect())
        }
        Some(any_value::Value::KvlistValue(kv)) => {
            let m: serde_json::Map<String, Value> = kv
                .values
                .iter()
                .map(|k| {
                    (
                        k.key.clone(),
                        k.value.as_ref().map(any_to_json).unwrap_or(Value::Null),
                    )
                })
                .collect();
            Value::String(json!({"kvlistValue": {"values": m}}).to_string())
        }
        // A profiles-only string-table reference; never sent in trace exports.
        Some(any_value::Value::StringValueStrindex(_)) => Value::Null,
        Some(any_value::Value::BytesValue(b)) => Value::String(
            json!({"bytesValue": base64::engine::general_purpose::STANDARD.encode(b)}).to_string(),
        ),
    }
}

fn kv_attrs(kvs: &[KeyValue]) -> Attrs {
    kvs.iter()
        .map(|k| {
            (
                k.key.clone(),
                k.value.as_ref().map(any_to_json).unwrap_or(Value::Null),
            )
        })
        .collect()
}

fn from_proto(req: ExportTraceServiceRequest) -> ApiResult<Vec<SpanIn>> {
    let mut out = Vec::new();
    for rs in req.resource_spans {
        let resource = Arc::new(
            rs.resource
                .map(|r| kv_attrs(&r.attributes))
                .unwrap_or_default(),
        );
        for ss in rs.scope_spans {
            let (scope_name, scope_version) = match &ss.scope {
                Some(s) => (
                    Some(s.name.clone()),
                    Some(s.version.clone()).filter(|v| !v.is_empty()),
                ),
                None => (None, None),
            };
            for sp in ss.spans {
                if sp.trace_id.is_empty() || sp.span_id.is_empty() {
                    return Err(otlp_err(format!(
                        "Invalid OTLP trace export: span is missing an id (traceId:{}, spanId:{})",
                        if sp.trace_id.is_empty() {
                            "absent"
                        } else {
                            "present"
                        },
                        if sp.span_id.is_empty() {
                            "absent"
                        } else {
                            "present"
                        },
                    )));
                }
                let status = sp.status.clone().unwrap_or_default();
                out.push(SpanIn {
                    trace_id: hex::encode(&sp.trace_id),
                    span_id: hex::encode(&sp.span_id),
                    parent_span_id: (!sp.parent_span_id.is_empty())
                        .then(|| hex::encode(&sp.parent_span_id)),
                    name: sp.name,
                    start_ns: (sp.start_time_unix_nano != 0)
                        .then_some(sp.start_time_unix_nano as i128),
                    end_ns: (sp.end_time_unix_nano != 0).then_some(sp.end_time_unix_nano as i128),
                    attributes: kv_attrs(&sp.attributes),
                    status_code: status.code as i64,
                    status_message: Some(status.message).filter(|m| !m.is_empty()),
                    events: sp
                        .events
                        .iter()
                        .map(|e| (e.name.clone(), kv_attrs(&e.attributes)))
                        .collect(),
                    resource: resource.clone(),
                    scope_name: scope_name.clone(),
                    scope_version: scope_version.clone(),
                });
            }
        }
    }
    Ok(out)
}

// ---------- JSON ----------

/// An id in OTLP JSON: a string is kept as sent; byte arrays and Buffer objects become hex.
fn json_id(v: Option<&Value>) -> Result<Option<String>, &'static str> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Array(a)) => bytes_hex(a).map(Some).ok_or("invalid"),
        Some(Value::Object(m)) if m.get("type").and_then(Value::as_str) == Some("Buffer") => {
            match m.get("data") {
                Some(Value::Array(a)) => bytes_hex(a).map(Some).ok_or("invalid"),
                _ => Err("invalid"),
            }
        }
        Some(_) => Err("invalid"),
    }
}

fn bytes_hex(a: &[Value]) -> Option<String> {
    let bytes: Option<Vec<u8>> = a
        .iter()
        .map(|b| b.as_u64().filter(|n| *n < 256).map(|n| n as u8))
        .collect();
    bytes.map(hex::encode)
}

fn json_nanos(v: Option<&Value>) -> Option<i128> {
    match v? {
        Value::String(s) => s.parse::<i128>().ok(),
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_f64().map(|f| f as i128)),
        Value::Object(m) => {
            let high = m.get("high")?.as_i64()?;
            let low = m.get("low")?.as_i64()?;
            Some(((high as i128) << 32) | (low as u32 as i128))
        }
        _ => None,
    }
}

fn json_any(v: &Value) -> Value {
    let Value::Object(m) = v else {
        return Value::Null;
    };
    if let Some(s) = m.get("stringValue") {
        return s.clone();
    }
    if let Some(b) = m.get("boolValue") {
        return b.clone();
    }
    if let Some(d) = m.get("doubleValue") {
        return d.clone();
    }
    if let Some(i) = m.get("intValue") {
        return match i {
            Value::String(s) => s.parse::<i64>().map(|n| json!(n)).unwrap_or(Value::Null),
            Value::Object(_) => json_nanos(Some(i))
                .map(|n| json!(n as i64))
                .unwrap_or(Value::Null),
            other => other.clone(),
        };
    }
    if let Some(a) = m.get("arrayValue") {
        return Value::Array(
            a.get("values")
                .and_then(Value::as_array)
                .map(|vs| vs.iter().map(json_any).collect())
                .unwrap_or_default(),
        );
    }
    if m.contains_key("kvlistValue") || m.contains_key("bytesValue") {
        return Value::String(v.to_string());
    }
    Value::Null
}

fn json_attrs(v: Option<&Value>, what: &str) -> Result<Attrs, String> {
    match v {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => Ok(a
            .iter()
            .filter_map(|kv| {
                let key = kv.get("key")?.as_str()?.to_string();
                Some((key, kv.get("value").map(json_any).unwrap_or(Value::Null)))
            })
            .collect()),
        Some(_) => Err(format!("{what} is not an array")),
    }
}

fn arr<'a>(v: Option<&'a Value>, what: &str) -> Result<&'a [Value], String> {
    match v {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("{what} is not an array")),
    }
}

fn from_json(v: &Value) -> ApiResult<Vec<SpanIn>> {
    let invalid = |detail: String| otlp_err(format!("Invalid OTLP trace export: {detail}"));
    let mut out = Vec::new();
    let resource_spans = arr(v.get("resourceSpans"), "resourceSpans").map_err(invalid)?;
    for rs in resource_spans {
        let resource = Arc::new(
            json_attrs(
                rs.get("resource").and_then(|r| r.get("attributes")),
                "resource.attributes",
            )
            .map_err(invalid)?,
        );
        for ss in arr(rs.get("scopeSpans"), "scopeSpans").map_err(invalid)? {
            let scope = ss.get("scope");
            let scope_name = scope
                .and_then(|s| s.get("name"))
                .and_then(Value::as_str)
                .map(String::from);
            let scope_version = scope
                .and_then(|s| s.get("version"))
                .and_then(Value::as_str)
                .map(String::from);
            for sp in arr(ss.get("spans"), "spans").map_err(invalid)? {
                let trace_id = json_id(sp.get("traceId"));
                let span_id = json_id(sp.get("spanId"));
                let parent = match sp.get("parentSpanId") {
                    Some(Value::String(s)) if s.is_empty() => Ok(None),
                    other => json_id(other),
                };
                let (trace_id, span_id, parent) = match (trace_id, span_id, parent) {
                    (Ok(Some(t)), Ok(Some(s)), Ok(p)) if !t.is_empty() && !s.is_empty() => {
                        (t, s, p)
                    }
                    (t, s, p) => {
                        let state = |r: &Result<Option<String>, &str>| match r {
                            Ok(Some(x)) if !x.is_empty() => "present",
                            Ok(_) => "absent",
                            Err(_) => "invalid",
                        };
                        return Err(invalid(format!(
                            "span has a malformed id (traceId:{}, spanId:{}, parentSpanId:{})",
                            state(&t),
                            state(&s),
                            state(&p)
                        )));
                    }
                };
                let attributes =
                    json_attrs(sp.get("attributes"), "span.attributes").map_err(invalid)?;
                let mut events = Vec::new();
                for e in arr(sp.get("events"), "span.events").map_err(invalid)? {
                    let name = e
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    events.push((
                        name,
                        json_attrs(e.get("attributes"), "event.attributes").map_err(invalid)?,
                    ));
                }
                let status = sp.get("status");
                out.push(SpanIn {
                    trace_id,
                    span_id,
                    parent_span_id: parent,
                    name: sp
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    start_ns: json_nanos(sp.get("startTimeUnixNano")),
                    end_ns: json_nanos(sp.get("endTimeUnixNano")),
                    attributes,
                    status_code: status
                        .and_then(|s| s.get("code"))
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                    status_message: status
                        .and_then(|s| s.get("message"))
                        .and_then(Value::as_str)
                        .filter(|m| !m.is_empty())
                        .map(String::from),
                    events,
                    resource: resource.clone(),
                    scope_name: scope_name.clone(),
                    scope_version: scope_version.clone(),
                });
            }
        }
    }
    Ok(out)
}
