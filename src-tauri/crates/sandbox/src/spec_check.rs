//! The Langfuse OpenAPI document as validators: of the requests a client sends (the opt-in
//! request check, so a client and the sandbox cannot agree on something Langfuse would refuse)
//! and of the sandbox's own answers (its tests).
//!
//! Profiles before the current one read `spec/langfuse-openapi.yml` (server 4.16) as is; the
//! current `v4` profile reads it with `spec/langfuse-current.yml` merged over it (what the SDK
//! 5.x client shows the newer API changed).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use serde_json::{Map, Value, json};

use crate::config::ServerProfile;

const SPEC_4_16: &str = include_str!("../spec/langfuse-openapi.yml");
const CURRENT_OVERLAY: &str = include_str!("../spec/langfuse-current.yml");

struct QueryParam {
    name: String,
    required: bool,
    schema: Value,
}

struct Operation {
    id: String,
    method: String,
    segments: Vec<String>,
    query: Vec<QueryParam>,
    body: Option<Value>,
    responses: HashMap<String, Value>,
}

/// One generation's API description, with compiled schemas cached by name.
pub struct ApiSpec {
    components: Value,
    operations: Vec<Operation>,
    compiled: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// JSON Merge Patch (RFC 7396).
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("made an object");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// OpenAPI 3.0 schema to JSON Schema: `nullable` becomes `anyOf [.., null]`, `oneOf` becomes
/// `anyOf`, refs point at `$defs`.
fn convert(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, val) in m {
                match k.as_str() {
                    "nullable" | "discriminator" | "example" => {}
                    // Langfuse checks bodies with zod unions, where the first matching member
                    // wins. The generated description lists overlapping members (`MapValue`:
                    // integer and number), which JSON Schema's exclusive `oneOf` would refuse
                    // for every whole number.
                    "oneOf" => {
                        out.insert("anyOf".into(), convert(val));
                    }
                    "$ref" => {
                        let r = val
                            .as_str()
                            .unwrap_or_default()
                            .replace("#/components/schemas/", "#/$defs/");
                        out.insert(k.clone(), Value::String(r));
                    }
                    "properties" => {
                        let props = val
                            .as_object()
                            .map(|p| p.iter().map(|(pk, pv)| (pk.clone(), convert(pv))).collect())
                            .unwrap_or_default();
                        out.insert(k.clone(), Value::Object(props));
                    }
                    _ => {
                        out.insert(k.clone(), convert(val));
                    }
                }
            }
            let out = Value::Object(out);
            if m.get("nullable") == Some(&Value::Bool(true)) {
                json!({"anyOf": [out, {"type": "null"}]})
            } else {
                out
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(convert).collect()),
        other => other.clone(),
    }
}

impl ApiSpec {
    /// The description a profile answers to (parsed once per process).
    pub fn for_profile(profile: ServerProfile) -> &'static ApiSpec {
        static SPEC_4_16_PARSED: OnceLock<ApiSpec> = OnceLock::new();
        static CURRENT: OnceLock<ApiSpec> = OnceLock::new();
        if profile.is_current() {
            CURRENT.get_or_init(|| ApiSpec::parse(true))
        } else {
            SPEC_4_16_PARSED.get_or_init(|| ApiSpec::parse(false))
        }
    }

    fn parse(current: bool) -> ApiSpec {
        let mut doc: Value = serde_yaml::from_str(SPEC_4_16).expect("the copied spec parses");
        if current {
            let overlay: Value =
                serde_yaml::from_str(CURRENT_OVERLAY).expect("the current-API overlay parses");
            merge_patch(&mut doc, &overlay);
        }
        let components = convert(&doc["components"]["schemas"]);
        let mut operations = Vec::new();
        for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in ops.as_object().into_iter().flatten() {
                let Some(id) = op["operationId"].as_str() else {
                    continue;
                };
                let query = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "query")
                    .map(|p| QueryParam {
                        name: p["name"].as_str().unwrap_or_default().to_string(),
                        required: p["required"] == true,
                        schema: convert(&p["schema"]),
                    })
                    .collect();
                let body = op["requestBody"]["content"]["application/json"]["schema"].clone();
                let responses = op["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(_, r)| !r["content"]["application/json"]["schema"].is_null())
                    .map(|(status, r)| {
                        (
                            status.clone(),
                            convert(&r["content"]["application/json"]["schema"]),
                        )
                    })
                    .collect();
                operations.push(Operation {
                    id: id.to_string(),
                    method: method.to_uppercase(),
                    segments: path.split('/').map(String::from).collect(),
                    query,
                    body: (!body.is_null()).then(|| convert(&body)),
                    responses,
                });
            }
        }
        ApiSpec {
            components,
            operations,
            compiled: Mutex::new(HashMap::new()),
        }
    }

    /// The operation a request goes to: literal segments must match, `{param}` matches any one;
    /// the template with the most literal matches wins.
    fn find(&self, method: &str, path: &str) -> Option<&Operation> {
        let path = path.split('?').next().unwrap_or_default();
        let segs: Vec<&str> = path.split('/').collect();
        self.operations
            .iter()
            .filter(|o| o.method == method && o.segments.len() == segs.len())
            .filter(|o| {
                o.segments
                    .iter()
                    .zip(&segs)
                    .all(|(a, b)| a.starts_with('{') || a == b)
            })
            .max_by_key(|o| o.segments.iter().filter(|s| !s.starts_with('{')).count())
    }

    /// The operationId of `method path`, if the API has it.
    pub fn operation(&self, method: &str, path: &str) -> Option<&str> {
        self.find(method, path).map(|o| o.id.as_str())
    }

    /// Compiling a schema with every component takes a while: each is compiled once.
    fn validator(&self, key: &str, schema: &Value) -> Arc<jsonschema::Validator> {
        if let Some(v) = self.compiled.lock().get(key) {
            return v.clone();
        }
        let mut root = json!({"allOf": [schema]});
        if schema.to_string().contains("$ref") {
            root["$defs"] = self.components.clone();
        }
        let v = Arc::new(
            jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema {key} does not compile: {e}")),
        );
        self.compiled.lock().insert(key.to_string(), v.clone());
        v
    }

    fn violations(&self, key: &str, schema: &Value, value: &Value) -> Vec<String> {
        self.validator(key, schema)
            .iter_errors(value)
            .map(|e| format!("{e} at `{}`", e.instance_path()))
            .collect()
    }

    /// Every way the request breaks the API description: an operation the API lacks, a query
    /// parameter it does not know (Langfuse would ignore it) or cannot parse, a missing required
    /// one, a JSON body that does not match the operation's schema.
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        json_body: Option<&Value>,
    ) -> Vec<String> {
        let Some(op) = self.find(method, path) else {
            return vec![format!("{method} {path}: the API has no such operation")];
        };
        let mut out = Vec::new();
        let mut given: Vec<(String, Vec<String>)> = Vec::new();
        for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match given.iter_mut().find(|(name, _)| *name == k) {
                Some((_, values)) => values.push(v.into_owned()),
                None => given.push((k.into_owned(), vec![v.into_owned()])),
            }
        }
        for (name, values) in &given {
            let Some(param) = op.query.iter().find(|p| &p.name == name) else {
                out.push(format!("unknown query parameter `{name}`"));
                continue;
            };
            let value = self.typed_query_value(&param.schema, values);
            let key = format!("{} query {name}", op.id);
            for e in self.violations(&key, &param.schema, &value) {
                out.push(format!("query parameter `{name}`: {e}"));
            }
        }
        for p in op.query.iter().filter(|p| p.required) {
            if !given.iter().any(|(n, _)| *n == p.name) {
                out.push(format!("required query parameter `{}` is missing", p.name));
            }
        }
        if let (Some(schema), Some(body)) = (&op.body, json_body) {
            for e in self.violations(&format!("{} body", op.id), schema, body) {
                out.push(format!("body: {e}"));
            }
        }
        out.into_iter()
            .map(|e| format!("{method} {path} ({}): {e}", op.id))
            .collect()
    }

    /// A query string's text as the JSON value its schema describes (numbers, booleans, arrays).
    fn typed_query_value(&self, schema: &Value, values: &[String]) -> Value {
        let ty = self.schema_type(schema);
        let one = |ty: &str, v: &str| -> Value {
            match ty {
                "integer" => v
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| v.into()),
                "number" => v
                    .parse::<f64>()
                    .ok()
                    .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
                    .unwrap_or_else(|| v.into()),
                "boolean" => match v {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => v.into(),
                },
                _ => v.into(),
            }
        };
        if ty == "array" {
            let item_ty = self.schema_type(&schema["items"]);
            return Value::Array(values.iter().map(|v| one(&item_ty, v)).collect());
        }
        if values.len() > 1 {
            // Repeating a single-valued parameter: Langfuse reads one of them.
            return Value::Array(values.iter().map(|v| Value::String(v.clone())).collect());
        }
        one(&ty, values.first().map(String::as_str).unwrap_or_default())
    }

    /// The JSON type a (converted) schema describes, looking through `anyOf [x, null]` and refs.
    fn schema_type(&self, schema: &Value) -> String {
        if let Some(t) = schema["type"].as_str() {
            return t.to_string();
        }
        if let Some(r) = schema["$ref"].as_str() {
            let name = r.trim_start_matches("#/$defs/");
            return self.schema_type(&self.components[name]);
        }
        for k in ["anyOf", "oneOf", "allOf"] {
            if let Some(t) = schema[k]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| self.schema_type(s))
                .find(|t| !t.is_empty() && t != "null")
            {
                return t;
            }
        }
        String::new()
    }

    /// Whether the API describes a JSON answer for `op` with `status`.
    pub fn has_response(&self, op: &str, status: u16) -> bool {
        self.response_schema(op, status).is_some()
    }

    fn response_schema(&self, op: &str, status: u16) -> Option<&Value> {
        self.operations
            .iter()
            .find(|o| o.id == op)
            .and_then(|o| o.responses.get(&status.to_string()))
    }

    /// Every way `body` breaks `op`'s response schema for `status`; `Err` when the API describes
    /// no such answer.
    pub fn check_response(
        &self,
        op: &str,
        status: u16,
        body: &Value,
    ) -> Result<Vec<String>, String> {
        let schema = self
            .response_schema(op, status)
            .ok_or_else(|| format!("the API has no {status} JSON response for {op}"))?;
        Ok(self.violations(&format!("{op} {status}"), schema, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_merges_replaces_and_deletes() {
        let mut t = json!({"a": {"b": 1, "c": 2}, "d": [1]});
        merge_patch(&mut t, &json!({"a": {"b": null, "e": 3}, "d": [2]}));
        assert_eq!(t, json!({"a": {"c": 2, "e": 3}, "d": [2]}));
    }
}
