//! The OpenTelemetry provenance Langfuse v4 keeps in an observation's metadata: the span's
//! resource (`resourceAttributes`: service name, SDK name and version, …) and instrumentation
//! scope (`scope`). The server fills both from the OTLP request itself and overwrites whatever
//! the metadata says, so a copy carries them the only way that survives: as the resource and
//! scope of the export request that holds the span.
//!
//! For a scope other than the Langfuse SDK's, v4 also files the span's unmapped attributes under
//! `attributes`; those go back as span attributes for the same reason.

use super::attr_value::AttrValue;
use serde_json::{Map, Value};

const RESOURCE_KEY: &str = "resourceAttributes";
const SCOPE_KEY: &str = "scope";
const ATTRIBUTES_KEY: &str = "attributes";
/// The Langfuse SDK's scope; spans from any other scope get their unmapped attributes filed.
const LANGFUSE_SDK_SCOPE: &str = "langfuse-sdk";

/// Where a span came from at the source.
#[derive(Clone, Debug, PartialEq)]
pub struct Provenance {
    pub resource: Vec<(String, AttrValue)>,
    /// `None`: the source named no scope, so the migrator's own stands.
    pub scope: Option<Scope>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scope {
    pub name: String,
    pub version: String,
}

/// A source observation's metadata, split into its provenance and the rest.
pub struct Split {
    pub provenance: Provenance,
    /// Span attributes v4 filed under `attributes` (other scopes only).
    pub span_attrs: Vec<(String, AttrValue)>,
    /// The metadata without the keys the server fills itself.
    pub metadata: Map<String, Value>,
}

/// Splits metadata that carries v4 provenance; `None` when it carries none (v2/v3 sources, or
/// metadata that is not an object), so the span goes as before.
pub fn split(metadata_json: &str) -> Option<Split> {
    let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(metadata_json) else {
        return None;
    };
    if !m.contains_key(RESOURCE_KEY) && !m.contains_key(SCOPE_KEY) {
        return None;
    }
    let resource = m
        .remove(RESOURCE_KEY)
        .and_then(as_object)
        .map(|r| r.into_iter().map(|(k, v)| (k, attr_value(v))).collect())
        .unwrap_or_default();
    let scope = m.remove(SCOPE_KEY).and_then(as_object).and_then(|s| {
        let text = |k: &str| s.get(k).and_then(Value::as_str).map(String::from);
        Some(Scope {
            name: text("name")?,
            version: text("version").unwrap_or_default(),
        })
    });
    let files_attributes = scope.as_ref().is_some_and(|s| s.name != LANGFUSE_SDK_SCOPE);
    let span_attrs = if files_attributes {
        m.remove(ATTRIBUTES_KEY)
            .and_then(as_object)
            .map(|a| {
                a.into_iter()
                    .map(|(k, v)| {
                        let text = match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (k, AttrValue::Str(text))
                    })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Some(Split {
        provenance: Provenance { resource, scope },
        span_attrs,
        metadata: m,
    })
}

/// v4 reads metadata as a string map: a nested object arrives as its JSON text.
fn as_object(v: Value) -> Option<Map<String, Value>> {
    match v {
        Value::Object(m) => Some(m),
        Value::String(s) => match serde_json::from_str(&s) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        },
        _ => None,
    }
}

fn attr_value(v: Value) -> AttrValue {
    match v {
        Value::String(s) => AttrValue::Str(s),
        Value::Bool(b) => AttrValue::Bool(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => AttrValue::Int(i),
            None => AttrValue::Double(n.as_f64().unwrap_or_default()),
        },
        Value::Array(items) if items.iter().all(Value::is_string) => AttrValue::Strings(
            items
                .into_iter()
                .filter_map(|i| i.as_str().map(String::from))
                .collect(),
        ),
        other => AttrValue::Str(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_string_map_metadata_gives_resource_scope_and_the_rest() {
        let m = r#"{"customer":"acme","resourceAttributes":"{\"service.name\":\"api\",\"telemetry.sdk.version\":\"1.2\",\"pid\":42,\"ok\":true,\"ratio\":0.5}","scope":"{\"name\":\"langfuse-sdk\",\"version\":\"5.0.4\"}"}"#;
        let s = split(m).unwrap();
        assert_eq!(
            s.provenance.scope,
            Some(Scope {
                name: "langfuse-sdk".into(),
                version: "5.0.4".into()
            })
        );
        let r: std::collections::HashMap<_, _> = s.provenance.resource.into_iter().collect();
        assert_eq!(r["service.name"], AttrValue::Str("api".into()));
        assert_eq!(r["pid"], AttrValue::Int(42));
        assert_eq!(r["ok"], AttrValue::Bool(true));
        assert_eq!(r["ratio"], AttrValue::Double(0.5));
        assert_eq!(
            Value::Object(s.metadata),
            serde_json::json!({"customer": "acme"})
        );
        assert!(s.span_attrs.is_empty());
    }

    #[test]
    fn another_scope_gives_back_its_filed_attributes() {
        let m = r#"{"scope":{"name":"openinference.instrumentation.openai","version":"0.1"},"resourceAttributes":{},"attributes":{"llm.system":"openai"}}"#;
        let s = split(m).unwrap();
        assert_eq!(
            s.span_attrs,
            vec![("llm.system".to_string(), AttrValue::Str("openai".into()))]
        );
        assert!(s.metadata.is_empty());
    }

    #[test]
    fn metadata_without_provenance_is_left_alone() {
        assert!(split(r#"{"customer":"acme"}"#).is_none());
        assert!(split(r#""text""#).is_none());
    }
}
