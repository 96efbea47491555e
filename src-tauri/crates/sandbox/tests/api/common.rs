//! Test harness: a sandbox on a free port, a reqwest client with Basic auth, and validation of
//! every 2xx body against the response schema of its operation in the OpenAPI spec.

use langfuse_sandbox::spec_check::ApiSpec;
use langfuse_sandbox::{Sandbox, SandboxConfig, ServerProfile};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const PK: &str = "pk-lf-sandbox";
pub const SK: &str = "sk-lf-sandbox";

/// The 4.16 spec as validators (what `spec().check` uses where no sandbox is involved).
pub fn spec() -> Spec {
    Spec(ApiSpec::for_profile(ServerProfile::V4_16))
}

/// A profile's API description: the 4.16 spec, with the current-API overlay for `v4`.
#[derive(Clone, Copy)]
pub struct Spec(pub &'static ApiSpec);

impl Spec {
    pub fn of(profile: ServerProfile) -> Spec {
        Spec(ApiSpec::for_profile(profile))
    }

    pub fn operation(&self, method: &str, path: &str) -> Option<&'static str> {
        self.0.operation(method, path)
    }

    /// Panics with every schema violation when `body` does not match the operation's response.
    pub fn check(&self, op: &str, status: u16, body: &Value) {
        let errors = self
            .0
            .check_response(op, status, body)
            .unwrap_or_else(|e| panic!("{e}"));
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
    /// The API description this sandbox's profile answers to.
    pub fn spec(&self) -> Spec {
        Spec::of(self.sb.config().profile)
    }

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
            && let Some(op) = self.spec().operation(method_name.as_str(), path)
        {
            self.spec().check(op, status.as_u16(), &body);
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
            self.spec().operation(method.as_str(), path),
            Some(op),
            "{method} {path} is not {op}"
        );
        let r = self.send(method, path, body).await;
        if r.status.is_success() && r.status != StatusCode::NO_CONTENT {
            self.spec().check(op, r.status.as_u16(), &r.body);
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
