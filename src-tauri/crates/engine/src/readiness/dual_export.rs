//! Dual export before a cutover: an OpenTelemetry Collector configuration that receives the
//! application's spans once and sends them to two backends (old and new Langfuse, or
//! LangSmith's OTLP endpoint and Langfuse), plus the application's environment settings.
//!
//! - Langfuse takes OTLP over HTTP only: `otlphttp` exporters to `<host>/api/public/otel` (the
//!   exporter appends `/v1/traces`), `Authorization: Basic …`, and on v4 the header
//!   `x-langfuse-ingestion-version: "4"`.
//! - Secrets appear only as `${env:NAME}` references, resolved by the collector at start.
//! - Each exporter has a persistent sending queue (`file_storage` extension), so a restart or
//!   a short outage of one backend loses nothing. The collector's fan-out is synchronous: once
//!   one exporter's queue is full, the other backend waits too.
//! - Trace ids are the same on both sides, so the plan's `fan_out_started_at` lets a later
//!   backfill stop where the fan-out began, and nothing is copied twice.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use ts_rs::TS;

/// One side of the fan-out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[ts(export)]
pub enum ExportBackend {
    /// A Langfuse server: `url` is its base URL; `v4` adds the v4 ingestion header.
    Langfuse { url: String, v4: bool },
    /// LangSmith's OTLP endpoint (`https://api.smith.langchain.com/otel` unless given).
    Langsmith {
        url: Option<String>,
        project: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DualExportRequest {
    /// Where the application sends today.
    pub old: ExportBackend,
    /// Where it will send after the cutover.
    pub new: ExportBackend,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DualExportConfig {
    /// `otel-collector.yaml`.
    pub collector_yaml: String,
    /// Environment settings for the collector and the application, with phases.
    pub env_snippet: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DualExportError {
    #[error("\"{0}\" is not a server address: give a URL starting with http:// or https://")]
    BadUrl(String),
    #[error("old and new are the same server ({0}): dual export needs two different ones")]
    SameServer(String),
    #[error("both sides are LangSmith: the new side must be Langfuse")]
    NoLangfuse,
}

pub const LANGSMITH_OTLP: &str = "https://api.smith.langchain.com/otel";
const QUEUE_EXTENSION: &str = "file_storage/queue";

// The collector configuration, as the collector reads it (only the parts written here).
#[derive(Serialize)]
struct Collector {
    extensions: BTreeMap<String, FileStorage>,
    receivers: BTreeMap<String, OtlpReceiver>,
    processors: BTreeMap<String, BTreeMap<String, String>>,
    exporters: BTreeMap<String, OtlpHttpExporter>,
    service: Service,
}

#[derive(Serialize)]
struct FileStorage {
    directory: String,
    create_directory: bool,
}

#[derive(Serialize)]
struct OtlpReceiver {
    protocols: BTreeMap<String, Endpoint>,
}

#[derive(Serialize)]
struct Endpoint {
    endpoint: String,
}

#[derive(Serialize)]
struct OtlpHttpExporter {
    endpoint: String,
    headers: BTreeMap<String, String>,
    compression: String,
    sending_queue: SendingQueue,
    retry_on_failure: Retry,
}

#[derive(Serialize)]
struct SendingQueue {
    enabled: bool,
    storage: String,
    queue_size: u32,
}

#[derive(Serialize)]
struct Retry {
    enabled: bool,
    max_elapsed_time: String,
}

#[derive(Serialize)]
struct Service {
    extensions: Vec<String>,
    pipelines: BTreeMap<String, Pipeline>,
}

#[derive(Serialize)]
struct Pipeline {
    receivers: Vec<String>,
    processors: Vec<String>,
    exporters: Vec<String>,
}

fn check_url(url: &str) -> Result<String, DualExportError> {
    let u = url::Url::parse(url.trim()).map_err(|_| DualExportError::BadUrl(url.to_string()))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(DualExportError::BadUrl(url.to_string()));
    }
    Ok(url
        .trim()
        .trim_end_matches('/')
        .trim_end_matches("/api/public/otel")
        .trim_end_matches("/api/public")
        .trim_end_matches('/')
        .to_string())
}

/// An exporter's id and settings, and the environment variables (name, what to put in it) it needs.
type Exporter = (String, OtlpHttpExporter, Vec<(String, String)>);

fn exporter(side: &str, b: &ExportBackend) -> Result<Exporter, DualExportError> {
    let upper = side.to_ascii_uppercase();
    let (name, endpoint, headers, vars) = match b {
        ExportBackend::Langfuse { url, v4 } => {
            let base = check_url(url)?;
            let var = format!("{upper}_LANGFUSE_BASIC_AUTH");
            let mut headers =
                BTreeMap::from([("Authorization".to_string(), format!("Basic ${{env:{var}}}"))]);
            if *v4 {
                headers.insert("x-langfuse-ingestion-version".into(), "4".into());
            }
            (
                format!("otlphttp/{side}_langfuse"),
                format!("{base}/api/public/otel"),
                headers,
                vec![(
                    var,
                    format!(
                        "base64 of \"<public key>:<secret key>\" of the {side} Langfuse project"
                    ),
                )],
            )
        }
        ExportBackend::Langsmith { url, project } => {
            let endpoint = match url {
                Some(u) => {
                    let base = check_url(u)?;
                    if base.ends_with("/otel") {
                        base
                    } else {
                        format!("{base}/otel")
                    }
                }
                None => LANGSMITH_OTLP.to_string(),
            };
            let mut headers = BTreeMap::from([(
                "x-api-key".to_string(),
                "${env:LANGSMITH_API_KEY}".to_string(),
            )]);
            if let Some(p) = project.as_deref().filter(|p| !p.trim().is_empty()) {
                headers.insert("Langsmith-Project".into(), p.trim().to_string());
            }
            (
                format!("otlphttp/{side}_langsmith"),
                endpoint,
                headers,
                vec![(
                    "LANGSMITH_API_KEY".to_string(),
                    "the LangSmith API key".to_string(),
                )],
            )
        }
    };
    Ok((
        name,
        OtlpHttpExporter {
            endpoint,
            headers,
            compression: "gzip".into(),
            sending_queue: SendingQueue {
                enabled: true,
                storage: QUEUE_EXTENSION.into(),
                queue_size: 5000,
            },
            retry_on_failure: Retry {
                enabled: true,
                max_elapsed_time: "0s".into(),
            },
        },
        vars,
    ))
}

fn endpoint_of(b: &ExportBackend) -> String {
    match b {
        ExportBackend::Langfuse { url, .. } => check_url(url).unwrap_or_default(),
        ExportBackend::Langsmith { url, .. } => {
            url.clone().unwrap_or_else(|| LANGSMITH_OTLP.into())
        }
    }
}

pub fn generate(req: &DualExportRequest) -> Result<DualExportConfig, DualExportError> {
    if matches!(req.new, ExportBackend::Langsmith { .. }) {
        return Err(DualExportError::NoLangfuse);
    }
    if endpoint_of(&req.old) == endpoint_of(&req.new) {
        return Err(DualExportError::SameServer(endpoint_of(&req.old)));
    }
    let (old_name, old_exp, old_vars) = exporter("old", &req.old)?;
    let (new_name, new_exp, new_vars) = exporter("new", &req.new)?;
    let config = Collector {
        extensions: BTreeMap::from([(
            QUEUE_EXTENSION.to_string(),
            FileStorage {
                directory: "${env:OTELCOL_QUEUE_DIR}".into(),
                create_directory: true,
            },
        )]),
        receivers: BTreeMap::from([(
            "otlp".to_string(),
            OtlpReceiver {
                protocols: BTreeMap::from([
                    (
                        "grpc".to_string(),
                        Endpoint {
                            endpoint: "localhost:4317".into(),
                        },
                    ),
                    (
                        "http".to_string(),
                        Endpoint {
                            endpoint: "localhost:4318".into(),
                        },
                    ),
                ]),
            },
        )]),
        processors: BTreeMap::from([("batch".to_string(), BTreeMap::new())]),
        exporters: BTreeMap::from([(old_name.clone(), old_exp), (new_name.clone(), new_exp)]),
        service: Service {
            extensions: vec![QUEUE_EXTENSION.into()],
            pipelines: BTreeMap::from([(
                "traces".to_string(),
                Pipeline {
                    receivers: vec!["otlp".into()],
                    processors: vec!["batch".into()],
                    exporters: vec![old_name, new_name],
                },
            )]),
        },
    };
    let body = serde_yaml_ng::to_string(&config).expect("collector config serialises");
    let collector_yaml = format!(
        "# OpenTelemetry Collector: every span the application sends goes to both backends.\n\
         # Secrets are read from the environment at start (see the env snippet); none is in this file.\n\
         # Each exporter keeps a persistent queue in OTELCOL_QUEUE_DIR, so a restart or a short outage\n\
         # of one backend loses nothing; a full queue makes the other backend wait too.\n\
         # Note the moment this fan-out starts, and set it as `fan_out_started_at` in the migration\n\
         # plan's [scope]: the copy of older data then stops there and nothing arrives twice.\n{body}"
    );

    let mut env = String::new();
    env.push_str("# --- The collector's environment (keep it out of version control) ---\n");
    env.push_str("OTELCOL_QUEUE_DIR=/var/lib/otelcol/queue\n");
    let mut seen = vec![];
    for (var, what) in old_vars.iter().chain(&new_vars) {
        if !seen.contains(var) {
            env.push_str(&format!("# {what}\n{var}=\n"));
            seen.push(var.clone());
        }
    }
    env.push('\n');
    let new_base = endpoint_of(&req.new);
    let v4_header = matches!(req.new, ExportBackend::Langfuse { v4: true, .. });
    let direct_headers = format!(
        "Authorization=Basic%20<base64 of public key:secret key>{}",
        if v4_header {
            ",x-langfuse-ingestion-version=4"
        } else {
            ""
        }
    );
    match req.old {
        ExportBackend::Langsmith { .. } => {
            env.push_str(&format!(
                "# --- The application, Python (langsmith >= 0.4.1): hybrid mode, phase 1 ---\n\
                 # Every run still goes to LangSmith, and the same spans go over OpenTelemetry to Langfuse.\n\
                 LANGSMITH_TRACING=true\n\
                 LANGSMITH_OTEL_ENABLED=true\n\
                 OTEL_EXPORTER_OTLP_ENDPOINT={new_base}/api/public/otel\n\
                 OTEL_EXPORTER_OTLP_HEADERS={direct_headers}\n\
                 # --- Phase 2, at cutover: stop sending to LangSmith ---\n\
                 # LANGSMITH_OTEL_ONLY=true\n\n\
                 # --- The application, JS/TS (no hybrid mode): send through the collector above ---\n\
                 # LANGSMITH_TRACING_MODE switches the process to OpenTelemetry at once; the collector\n\
                 # keeps LangSmith fed until cutover, then remove its exporter from the pipeline.\n\
                 LANGSMITH_TRACING=true\n\
                 LANGSMITH_TRACING_MODE=otel\n\
                 OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318\n"
            ));
        }
        ExportBackend::Langfuse { .. } => {
            env.push_str(&format!(
                "# --- The application: send OpenTelemetry spans to the collector ---\n\
                 OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318\n\
                 # --- At cutover: remove the old exporter from the pipeline, or point the application at\n\
                 # the new server directly:\n\
                 # OTEL_EXPORTER_OTLP_ENDPOINT={new_base}/api/public/otel\n\
                 # OTEL_EXPORTER_OTLP_HEADERS={direct_headers}\n"
            ));
        }
    }
    Ok(DualExportConfig {
        collector_yaml,
        env_snippet: env,
    })
}
