//! Test harness: a LangSmith sandbox on a free port, a reqwest client with `x-api-key`, and
//! validation of every JSON answer against the response schema the LangSmith platform spec gives
//! for that operation and status (OpenAPI 3.1 schemas are JSON Schema 2020-12 already).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use langsmith_sandbox::{SampleSpec, Sandbox, SandboxConfig};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const KEY: &str = "lsv2_sk_sandbox";

pub struct Spec {
    doc: Value,
    /// (METHOD, template segments, spec path).
    routes: Vec<(String, Vec<String>, String)>,
    cache: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

fn rewrite_refs(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "discriminator" && k.as_str() != "example")
                .map(|(k, x)| {
                    if k == "$ref" {
                        let r = x
                            .as_str()
                            .unwrap_or_default()
                            .replace("#/components/schemas/", "#/$defs/");
                        (k.clone(), Value::String(r))
                    } else {
                        (k.clone(), rewrite_refs(x))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(rewrite_refs).collect()),
        other => other.clone(),
    }
}

pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/spec/langsmith-platform-openapi.json"
        );
        let doc: Value = serde_json::from_str(
            &std::fs::read_to_string(path).expect("spec copied into the crate"),
        )
        .expect("spec parses");
        let mut routes = Vec::new();
        for (p, ops) in doc["paths"].as_object().expect("paths") {
            for m in ops.as_object().expect("ops").keys() {
                routes.push((
                    m.to_uppercase(),
                    p.split('/').map(String::from).collect(),
                    p.clone(),
                ));
            }
        }
        Spec {
            doc,
            routes,
            cache: Mutex::new(HashMap::new()),
        }
    })
}

impl Spec {
    /// The spec path of a request path as the SDK sends it (`/runs/query` is
    /// `/api/v1/runs/query`, `/runs/multipart` and `/commits/..` are at the root, `/v2/..`).
    pub fn operation(&self, method: &str, path: &str) -> Option<String> {
        let path = path
            .split('?')
            .next()
            .unwrap_or_default()
            .trim_end_matches('/');
        for candidate in [format!("/api/v1{path}"), path.to_string()] {
            let segs: Vec<&str> = candidate.split('/').collect();
            let best = self
                .routes
                .iter()
                .filter(|(m, t, _)| m == method && t.len() == segs.len())
                .filter(|(_, t, _)| {
                    t.iter()
                        .zip(&segs)
                        .all(|(a, b)| a.starts_with('{') || a == b)
                })
                .max_by_key(|(_, t, _)| t.iter().filter(|s| !s.starts_with('{')).count());
            if let Some((_, _, p)) = best {
                return Some(p.clone());
            }
        }
        None
    }

    /// Panics with every violation when `body` is not what the spec says `path` answers with
    /// `status`; answers the spec does not describe are not checked.
    pub fn check(&self, method: &str, spec_path: &str, status: u16, body: &Value) {
        let schema = &self.doc["paths"][spec_path][method.to_lowercase()]["responses"]
            [status.to_string()]["content"]["application/json"]["schema"];
        if schema.is_null() {
            return;
        }
        let key = format!("{method} {spec_path} {status}");
        let v = {
            let mut cache = self.cache.lock().unwrap();
            cache
                .entry(key.clone())
                .or_insert_with(|| {
                    let root = json!({"allOf": [rewrite_refs(schema)], "$defs": rewrite_refs(&self.doc["components"]["schemas"])});
                    Arc::new(
                        jsonschema::draft202012::options()
                            .should_validate_formats(true)
                            .build(&root)
                            .unwrap_or_else(|e| panic!("schema of {key} does not compile: {e}")),
                    )
                })
                .clone()
        };
        let errors: Vec<String> = v
            .iter_errors(body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{key} body violates the spec:\n{}\nbody: {}",
            errors.join("\n"),
            body.to_string().chars().take(2000).collect::<String>()
        );
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

pub struct Api {
    pub sb: Sandbox,
    pub http: reqwest::Client,
    pub key: String,
}

pub async fn start(config: SandboxConfig) -> Api {
    let key = config.api_key.clone();
    let sb = Sandbox::start(config).await.expect("sandbox starts");
    Api {
        sb,
        http: reqwest::Client::new(),
        key,
    }
}

pub async fn sample(traces: usize) -> Api {
    start(SandboxConfig {
        sample: Some(SampleSpec { seed: 7, traces }),
        ..SandboxConfig::default()
    })
    .await
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.sb.url(), path)
    }

    /// Sends with the key; every JSON answer is validated against the spec.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.send_with(method, path, body, Some(&self.key)).await
    }

    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Resp {
        let m = method.to_string();
        let mut req = self.http.request(method, self.url(path));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request reaches the sandbox");
        Self::finish(&m, path, r).await
    }

    pub async fn finish(method: &str, path: &str, r: reqwest::Response) -> Resp {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        let normalised = path.strip_prefix("/api/v1").unwrap_or(path);
        let normalised = normalised
            .strip_prefix("/api")
            .filter(|p| p.starts_with("/v2"))
            .unwrap_or(normalised);
        if let Some(p) = spec().operation(method, normalised) {
            spec().check(method, &p, status.as_u16(), &body);
        }
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self.send(Method::GET, path, None).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.body);
        r.body
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let r = self.send(Method::POST, path, Some(body)).await;
        assert!(
            r.status.is_success(),
            "POST {path}: {} {}",
            r.status,
            r.body
        );
        r.body
    }

    /// Every run of `projects` through v1 pages of 100.
    pub async fn all_runs_v1(&self, projects: &[String]) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut body = json!({"session": projects, "limit": 100});
            if let Some(c) = &cursor {
                body["cursor"] = json!(c);
            }
            let page = self.post("/api/v1/runs/query", body).await;
            out.extend(page["runs"].as_array().unwrap().iter().cloned());
            match page["cursors"]["next"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }

    /// Ids of every project (tracing and experiments).
    pub async fn project_ids(&self) -> Vec<String> {
        let list = self.get("/api/v1/sessions?limit=100").await;
        list.as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    }

    pub async fn project_id(&self, name: &str) -> String {
        let list = self.get(&format!("/api/v1/sessions?name={name}")).await;
        list[0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no project {name}"))
            .to_string()
    }
}
