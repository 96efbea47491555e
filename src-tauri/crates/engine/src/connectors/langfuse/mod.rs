//! The Langfuse connector: detects the server's generation and capabilities, then reads and
//! writes each entity through the path that server offers.
//!
//! | entity | read v4 | read v2/v3 | write v4 | write v2/v3 |
//! |---|---|---|---|---|
//! | observations | `GET /v2/observations` (cursor, all field groups, metadata expanded) | `GET /observations` pages | OTLP/JSON, `x-langfuse-ingestion-version: 4` | `POST /ingestion` |
//! | traces | derived from root observations | `GET /traces` pages | carried by spans (legacy traces: a root span `t-<id>`) | `POST /ingestion` |
//! | scores | `GET /v3/scores` (cursor) | `GET /v2/scores` pages | `POST /ingestion` (`score-create`) | `POST /ingestion` |
//! | the rest | REST | REST | REST | REST |

pub mod annotation_queues;
mod attr_value;
pub mod dashboards;
pub mod endpoint;
pub mod evaluators;
pub mod experiments;
pub mod llm_connections;
mod media;
pub mod otlp;
mod provenance;
mod read;
mod rest;
mod write;

pub use endpoint::LangfuseEndpoint;

use crate::connectors::http::{HttpClient, HttpFailure, Idempotency};
use crate::vocab::{
    Bucket, Budget, ConnectionError, Counters, EngineError, ExposeSecret, Generation,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// What a Langfuse server offers, found by its health version and a few probes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Capabilities {
    /// `GET /v2/observations` with cursor and field groups.
    pub cursor_observations: bool,
    /// `GET /v3/scores` with cursor.
    pub scores_v3: bool,
    /// `GET /traces`, `GET /observations` (v1) page reads.
    pub legacy_reads: bool,
    /// `POST /ingestion` accepts trace and observation events (not the case on v4).
    pub legacy_ingestion: bool,
    /// `POST /otel/v1/traces`.
    pub otlp: bool,
    /// `GET|PUT /llm-connections` (Langfuse v3 and later).
    #[serde(default)]
    pub llm_connections: bool,
    /// `v2/evaluators` and `v2/evaluation-rules` (Langfuse 4.59 and later).
    #[serde(default)]
    pub evaluators: bool,
    /// `unstable/dashboards` and `unstable/dashboard-widgets`.
    #[serde(default)]
    pub dashboards: bool,
}

/// The result of a connection check, for the UI.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConnectionInfo {
    pub url: String,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    pub server_version: String,
    pub generation: Generation,
    pub capabilities: Capabilities,
}

/// A connected Langfuse project.
pub struct Langfuse {
    pub http: HttpClient,
    pub info: ConnectionInfo,
    pub run_tag: Option<String>,
    pub counters: Arc<Counters>,
    /// The API keys for the target's LLM connections, by provider (see
    /// [`LangfuseEndpoint::llm_key`]); held in memory for this run only.
    pub(crate) llm_keys: std::collections::BTreeMap<String, crate::vocab::SecretString>,
}

fn base_url(url: &str) -> String {
    url.trim_end_matches('/')
        .trim_end_matches("/api/public")
        .trim_end_matches('/')
        .to_string()
}

/// Describes a transport error in terms of what the user should fix.
fn classify_transport(url: &str, e: &reqwest::Error) -> ConnectionError {
    if let Some(problem) = crate::connectors::tls::certificate_problem(url, e) {
        return problem;
    }
    let mut chain = String::new();
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        chain.push_str(&format!("{s} {s:?} ").to_lowercase());
        src = s.source();
    }
    // rustls words its errors without saying "TLS" (e.g. "received corrupt message" when the
    // server speaks plain HTTP): look for its error kinds too.
    let tls_words = [
        "certificate",
        "tls",
        "handshake",
        "ssl",
        "invalidmessage",
        "corrupt message",
        "alert",
        "unknownissuer",
    ];
    if tls_words.iter().any(|w| chain.contains(w)) {
        let reason = if chain.contains("certificate") {
            "the certificate was not accepted"
        } else {
            "the secure handshake failed"
        };
        ConnectionError::Tls(url.to_string(), reason.to_string())
    } else if e.is_timeout() {
        ConnectionError::Timeout(url.to_string())
    } else if chain.contains("dns") || chain.contains("resolve") || chain.contains("lookup") {
        ConnectionError::Unreachable(
            url.to_string(),
            "the host name could not be resolved".into(),
        )
    } else if chain.contains("refused") {
        ConnectionError::Unreachable(url.to_string(), "the connection was refused".into())
    } else {
        ConnectionError::Unreachable(
            url.to_string(),
            crate::connectors::http::describe_reqwest_error(e),
        )
    }
}

/// The client, also trusting the private certificate authority in `ca_file`.
fn trust_ca_file(
    http: HttpClient,
    ca_file: &std::path::Path,
) -> Result<HttpClient, ConnectionError> {
    let roots = crate::connectors::tls::load_ca_file(ca_file)?;
    http.trusting(roots).map_err(|_| {
        ConnectionError::CaFile(
            ca_file.display().to_string(),
            "its certificates are not usable as a certificate authority".into(),
        )
    })
}

/// Sends a connection-check request, retrying a few times on resets and 502/503/504 (a
/// restarting server or a flaky proxy) before reporting the problem.
async fn send_checked(
    url: &str,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, ConnectionError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let last = attempt >= 4;
        match build().send().await {
            Ok(r) if !last && matches!(r.status().as_u16(), 500 | 502 | 503 | 504) => {}
            Ok(r) => return Ok(r),
            Err(e) if last || e.is_connect() => return Err(classify_transport(url, &e)),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
    }
}

/// The generation a release version names (`3.120.0`, `v4.16.0`); `None` for anything that is
/// not a release, such as `dev` or a git sha.
fn release_generation(version: &str) -> Option<Generation> {
    let mut parts = version.trim().trim_start_matches('v').split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor = parts.next()?;
    if minor.is_empty() || !minor.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match major {
        0..=2 => Generation::V2,
        3 => Generation::V3,
        _ => Generation::V4,
    })
}

/// Whether the OTLP route exists: a GET there is 405 (POST only) where it does, 404 where not.
async fn has_otlp(http: &HttpClient) -> bool {
    match http.get("/api/public/otel/v1/traces").send().await {
        Ok(r) => r.status().as_u16() != 404,
        Err(_) => false,
    }
}

#[derive(Deserialize)]
struct Health {
    version: Option<String>,
    status: Option<String>,
}

/// Reads a Langfuse server's version and generation from its health endpoint, which needs no
/// keys (the application readiness check uses it).
pub async fn server_generation(url: &str) -> Result<(String, Generation), EngineError> {
    let url = base_url(url);
    let http = HttpClient::new(
        &url,
        "",
        "",
        Duration::from_secs(15),
        Budget {
            plan: crate::vocab::CloudPlan::None,
            time_scale: 1.0,
            requests_per_minute: None,
            share_percent: None,
        },
        1,
        Arc::new(Counters::default()),
    );
    let version = server_version(&http, &url).await?;
    // Without keys the endpoints cannot be probed: a development build counts as the newest.
    let generation = release_generation(&version).unwrap_or(Generation::V4);
    Ok((version, generation))
}

/// Checks a Langfuse endpoint: reachable, a Langfuse server, keys accepted. Returns the project,
/// server version, generation and capabilities.
pub async fn check_connection(endpoint: &LangfuseEndpoint) -> Result<ConnectionInfo, EngineError> {
    let counters = Arc::new(Counters::default());
    Ok(
        Langfuse::connect(endpoint, Duration::from_secs(15), 1, None, counters)
            .await?
            .info,
    )
}

impl Langfuse {
    pub async fn connect(
        endpoint: &LangfuseEndpoint,
        timeout: Duration,
        concurrency: usize,
        run_tag: Option<String>,
        counters: Arc<Counters>,
    ) -> Result<Langfuse, EngineError> {
        // Before any request: a password in the address would be sent, logged and shown.
        if crate::url_credentials::has_credentials(&endpoint.url) {
            return Err(
                ConnectionError::CredentialsInUrl(crate::url_credentials::redacted(&endpoint.url))
                    .into(),
            );
        }
        // Before any request too: the keys would cross the network unencrypted.
        if crate::plain_http::to_another_host(&endpoint.url) && !endpoint.allow_plain_http {
            return Err(ConnectionError::PlainHttp(endpoint.url.clone()).into());
        }
        let url = base_url(&endpoint.url);
        let secret = endpoint.resolve_secret()?;
        let mut http = HttpClient::new(
            &url,
            &endpoint.public_key,
            secret.expose_secret(),
            timeout,
            Budget {
                plan: endpoint.cloud_plan,
                time_scale: endpoint.budget_time_scale,
                requests_per_minute: endpoint.requests_per_minute,
                share_percent: endpoint.cloud_share_percent,
            },
            concurrency,
            counters.clone(),
        );
        if let Some(ca_file) = &endpoint.ca_file {
            http = trust_ca_file(http, ca_file)?;
        }
        let version = server_version(&http, &url).await?;
        let (project_id, project_name) = project(&http, &url).await?;
        let generation = match release_generation(&version) {
            Some(g) => g,
            // A development build ("dev", a git sha): what it serves says what it is.
            None => generation_by_probes(&http, &url, &version).await?,
        };
        let capabilities = probe_capabilities(&http, generation, &version).await;
        let info = ConnectionInfo {
            url,
            project_id,
            project_name,
            server_version: version,
            generation,
            capabilities,
        };
        let llm_keys = endpoint
            .llm_keys
            .keys()
            .chain(endpoint.llm_key_env.keys())
            .filter_map(|p| Some((p.clone(), endpoint.llm_key(p)?)))
            .collect();
        Ok(Langfuse {
            http,
            info,
            run_tag,
            counters,
            llm_keys,
        })
    }

    pub fn generation(&self) -> Generation {
        self.info.generation
    }

    /// Reads v4 only through cursor endpoints; older servers through legacy pages.
    fn reads_v4_style(&self) -> bool {
        !self.info.capabilities.legacy_reads && self.info.capabilities.cursor_observations
    }

    /// GET a JSON body with the read retry policy.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        bucket: Bucket,
        path_and_query: &str,
        what: &str,
    ) -> Result<T, EngineError> {
        let resp = self
            .http
            .send(bucket, || self.http.get(path_and_query), Idempotency::Safe)
            .await
            .map_err(|f| self.failure(what, f))?;
        let bytes = resp.bytes().await.map_err(|e| EngineError::Protocol {
            url: self.info.url.clone(),
            what: what.to_string(),
            detail: crate::connectors::http::describe_reqwest_error(&e),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| EngineError::Protocol {
            url: self.info.url.clone(),
            what: what.to_string(),
            detail: e.to_string(),
        })
    }

    fn failure(&self, what: &str, f: HttpFailure) -> EngineError {
        match f {
            HttpFailure::Rejected { status: 401, .. } => {
                ConnectionError::WrongKeys(self.info.url.clone()).into()
            }
            HttpFailure::Rejected { status, body } => EngineError::Http {
                url: self.info.url.clone(),
                what: what.to_string(),
                status,
                message: crate::connectors::http::truncate(&body, 300),
            },
            other => EngineError::Http {
                url: self.info.url.clone(),
                what: what.to_string(),
                status: 0,
                message: other.describe(),
            },
        }
    }
}

/// 1. Health: is it there, and is it Langfuse? The server's version.
async fn server_version(http: &HttpClient, url: &str) -> Result<String, EngineError> {
    let resp = send_checked(url, || http.get_anonymous("/api/public/health")).await?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    if status.as_u16() == 503 {
        return Err(ConnectionError::Unhealthy(
            url.to_string(),
            "its health check reports a problem".into(),
        )
        .into());
    }
    let health: Option<Health> = serde_json::from_str(&body).ok();
    match (status.is_success(), health) {
        (
            true,
            Some(Health {
                version: Some(v),
                status: Some(_),
            }),
        ) => Ok(v),
        _ => Err(ConnectionError::NotLangfuse(
            url.to_string(),
            format!(
                "/api/public/health answered {} without a Langfuse version",
                status.as_u16()
            ),
        )
        .into()),
    }
}

/// A development build's generation, from the endpoints it serves.
async fn generation_by_probes(
    http: &HttpClient,
    url: &str,
    version: &str,
) -> Result<Generation, EngineError> {
    // Only the generation is wanted here: "0.0" leaves the evaluator probe out.
    let c = probe_capabilities(http, Generation::V4, "0.0").await;
    if c.cursor_observations && !c.legacy_reads {
        Ok(Generation::V4)
    } else if has_otlp(http).await {
        Ok(Generation::V3)
    } else if c.legacy_reads {
        Ok(Generation::V2)
    } else {
        Err(ConnectionError::NotLangfuse(
            url.to_string(),
            format!(
                "its version is \"{version}\", and it serves neither the v2/v3 nor the v4 read endpoints"
            ),
        )
        .into())
    }
}

/// 2. Keys: the project this key belongs to (id and name).
async fn project(
    http: &HttpClient,
    url: &str,
) -> Result<(Option<String>, Option<String>), EngineError> {
    let resp = send_checked(url, || http.get("/api/public/projects")).await?;
    match resp.status().as_u16() {
        401 => return Err(ConnectionError::WrongKeys(url.to_string()).into()),
        403 => return Err(ConnectionError::Forbidden(url.to_string()).into()),
        // Without the project the keys are not proven: a failing lookup fails the check.
        s if !(200..300).contains(&s) => {
            return Err(ConnectionError::ProjectLookup(url.to_string(), s.to_string()).into());
        }
        _ => {}
    }
    let projects: serde_json::Value = resp.json().await.unwrap_or_default();
    let project = projects.get("data").and_then(|d| d.get(0));
    let field = |k: &str| {
        project
            .and_then(|p| p.get(k))
            .and_then(|v| v.as_str())
            .map(String::from)
    };
    if field("id").is_none() {
        return Err(ConnectionError::ProjectLookup(
            url.to_string(),
            "an answer without a project".into(),
        )
        .into());
    }
    Ok((field("id"), field("name")))
}

/// 3. Probes: which read paths exist.
async fn probe_capabilities(
    http: &HttpClient,
    generation: Generation,
    version: &str,
) -> Capabilities {
    let probe = |path: &'static str| async move {
        match http
            .send(Bucket::PublicApi, || http.get(path), Idempotency::Safe)
            .await
        {
            Ok(_) => true,
            Err(HttpFailure::Rejected { status, .. }) => status != 404 && status != 405,
            Err(_) => false,
        }
    };
    let cursor_observations = probe("/api/public/v2/observations?limit=1&fields=core").await;
    let scores_v3 = probe("/api/public/v3/scores?limit=1").await;
    let legacy_reads = probe("/api/public/traces?limit=1&fields=core").await;
    let llm_connections = probe("/api/public/llm-connections?limit=1").await;
    let evaluators = evaluators::served_by(generation, version)
        && probe("/api/public/v2/evaluators?limit=1").await;
    let dashboards = probe("/api/public/unstable/dashboards?limit=1").await;
    Capabilities {
        evaluators,
        dashboards,
        llm_connections,
        cursor_observations,
        scores_v3,
        legacy_reads,
        legacy_ingestion: generation != Generation::V4,
        otlp: generation != Generation::V2,
    }
}

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is escaped, so a
/// value is safe both in a query and as one path segment (where `+` would not mean a space).
const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a query value or a path segment.
pub(crate) fn q(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, ESCAPED).to_string()
}
