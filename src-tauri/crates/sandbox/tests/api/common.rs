//! Test harness: a sandbox on a free port, a reqwest client with Basic auth, and validation of
//! every 2xx body against the response schema of its operation in the OpenAPI spec.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use langfuse_sandbox::{Sandbox, SandboxConfig, ServerProfile};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

pub const PK: &str = "pk-lf-sandbox";
pub const SK: &str = "sk-lf-sandbox";

/// The spec's component schemas turned into JSON Schema (OpenAPI 3.0 `nullable` becomes
/// `anyOf [.., null]`), and each operation's JSON response schemas.
pub struct Spec {
    components: Value,
    responses: HashMap<(String, String), Value>,
    /// (METHOD, path template segments, operationId) for finding a request's operation.
    routes: Vec<(String, Vec<String>, String)>,
}

fn convert(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, val) in m {
                if k == "nullable" || k == "discriminator" || k == "example" {
                    continue;
                }
                if k == "$ref" {
                    let r = val
                        .as_str()
                        .unwrap_or_default()
                        .replace("#/components/schemas/", "#/$defs/");
                    out.insert(k.clone(), Value::String(r));
                    continue;
                }
                if k == "properties" {
                    let props: Map<String, Value> = val
                        .as_object()
                        .map(|p| p.iter().map(|(pk, pv)| (pk.clone(), convert(pv))).collect())
                        .unwrap_or_default();
                    out.insert(k.clone(), Value::Object(props));
                    continue;
                }
                out.insert(k.clone(), convert(val));
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

pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/langfuse-openapi.yml");
        let text = std::fs::read_to_string(path).expect("spec copied into the crate");
        let doc: Value = serde_yaml::from_str(&text).expect("spec parses");
        let components = convert(&doc["components"]["schemas"]);
        let mut responses = HashMap::new();
        let mut routes = Vec::new();
        for (path, ops) in doc["paths"].as_object().expect("paths") {
            for (method, op) in ops.as_object().expect("ops") {
                let Some(id) = op["operationId"].as_str() else {
                    continue;
                };
                let segments = path.split('/').map(String::from).collect();
                routes.push((method.to_uppercase(), segments, id.to_string()));
                for (status, r) in op["responses"].as_object().into_iter().flatten() {
                    let schema = &r["content"]["application/json"]["schema"];
                    if !schema.is_null() {
                        responses.insert((id.to_string(), status.clone()), convert(schema));
                    }
                }
            }
        }
        Spec {
            components,
            responses,
            routes,
        }
    })
}

impl Spec {
    /// The operation a request goes to: literal segments must match, `{param}` matches any one;
    /// the template with the most literal matches wins.
    pub fn operation(&self, method: &str, path: &str) -> Option<&str> {
        let path = path.split('?').next().unwrap_or_default();
        let segs: Vec<&str> = path.split('/').collect();
        self.routes
            .iter()
            .filter(|(m, t, _)| m == method && t.len() == segs.len())
            .filter(|(_, t, _)| {
                t.iter()
                    .zip(&segs)
                    .all(|(a, b)| a.starts_with('{') || a == b)
            })
            .max_by_key(|(_, t, _)| t.iter().filter(|s| !s.starts_with('{')).count())
            .map(|(_, _, id)| id.as_str())
    }

    /// Panics with every schema violation when `body` does not match the operation's response.
    /// Compiling a schema with all components takes a while; each is compiled once per run.
    fn validator(&self, op: &str, status: u16, schema: &Value) -> Arc<jsonschema::Validator> {
        static CACHE: OnceLock<Mutex<ValidatorCache>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(v) = cache.lock().unwrap().get(&(op.to_string(), status)) {
            return v.clone();
        }
        let mut root = schema.clone();
        if let Value::Object(m) = &mut root {
            m.insert("$defs".into(), self.components.clone());
        } else {
            root = json!({"allOf": [schema], "$defs": self.components});
        }
        let v = Arc::new(
            jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema of {op} does not compile: {e}")),
        );
        cache
            .lock()
            .unwrap()
            .insert((op.to_string(), status), v.clone());
        v
    }

    pub fn check(&self, op: &str, status: u16, body: &Value) {
        let schema = self
            .responses
            .get(&(op.to_string(), status.to_string()))
            .unwrap_or_else(|| panic!("the spec has no {status} JSON response for {op}"));
        let v = self.validator(op, status, schema);
        let errors: Vec<String> = v
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{op} {status} body violates the spec:\n{}\nbody: {}",
            errors.join("\n"),
            truncate(&body.to_string())
        );
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(2000).collect()
}

/// Compiled response validators by (operationId, status).
type ValidatorCache = HashMap<(String, u16), Arc<jsonschema::Validator>>;

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

pub struct Api {
    pub sb: Sandbox,
    pub http: reqwest::Client,
    pub base: String,
}

pub async fn start(config: SandboxConfig) -> Api {
    let sb = Sandbox::start(config).await.expect("sandbox starts");
    let base = sb.url();
    Api {
        sb,
        http: reqwest::Client::builder().build().unwrap(),
        base,
    }
}

pub async fn start_profile(profile: ServerProfile) -> Api {
    start(SandboxConfig {
        profile,
        visibility_delay: Some(std::time::Duration::ZERO),
        ..SandboxConfig::default()
    })
    .await
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let method_name = method.to_string();
        let mut req = self
            .http
            .request(method, self.url(path))
            .basic_auth(PK, Some(SK));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request reaches the sandbox");
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        // Every 2xx JSON answer of a spec operation is validated, whichever helper sent it.
        if status.is_success()
            && !body.is_null()
            && path.starts_with("/api/public/")
            && let Some(op) = spec().operation(method_name.as_str(), path)
        {
            spec().check(op, status.as_u16(), &body);
        }
        Resp {
            status,
            headers,
            body,
        }
    }

    /// A call whose 2xx body is validated against `op`'s response schema.
    pub async fn op(&self, op: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        assert_eq!(
            spec().operation(method.as_str(), path),
            Some(op),
            "{method} {path} is not {op}"
        );
        let r = self.send(method, path, body).await;
        if r.status.is_success() && r.status != StatusCode::NO_CONTENT {
            spec().check(op, r.status.as_u16(), &r.body);
        }
        r
    }

    pub async fn get(&self, op: &str, path: &str) -> Value {
        let r = self.op(op, Method::GET, path, None).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.body);
        r.body
    }

    pub async fn post(&self, op: &str, path: &str, body: Value) -> Value {
        let r = self.op(op, Method::POST, path, Some(body)).await;
        assert!(
            r.status.is_success(),
            "POST {path}: {} {}",
            r.status,
            r.body
        );
        r.body
    }

    pub async fn status(&self, method: Method, path: &str) -> StatusCode {
        self.send(method, path, None).await.status
    }
}

/// An ingestion envelope.
pub fn event(kind: &str, id: &str, body: Value) -> Value {
    json!({"id": id, "type": kind, "timestamp": "2026-11-01T10:00:00.000Z", "body": body})
}
