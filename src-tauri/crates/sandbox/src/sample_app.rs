//! The sample application of "Try with sample data": a folder with an application's `.env` and
//! a small writer that behaves like an application using a Langfuse SDK. Every tick it re-reads
//! the `.env` (as an application that reloads its settings does) and exports one trace, a span
//! with a generation under it, over OTLP/HTTP protobuf to whatever host and keys the file names,
//! the way the Langfuse SDKs 3.x and newer send. So a newcomer can switch it to another server
//! with the `.env` cutover, watch the source go quiet, and roll the switch back.
//!
//! Its spans carry an instrumentation scope (name, version), a `service.name`, a release and an
//! environment, which is what a sync's drain names senders by. Keys never reach a log line.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use sample_app_http as reqwest;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

/// The instrumentation scope the writer's spans carry (it is not the Langfuse SDK, so it does
/// not take that SDK's name).
pub const SDK_NAME: &str = "langfuse-migrator-sample-app";
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
pub const SERVICE_NAME: &str = "sample-app";
pub const RELEASE: &str = "sample-app-1";
pub const ENVIRONMENT: &str = "sample";
/// The name of every trace it writes.
pub const TRACE_NAME: &str = "sample-app request";

/// The variables the writer reads, as the Langfuse SDKs do (`LANGFUSE_BASE_URL` before
/// `LANGFUSE_HOST`).
const BASE_URL_VARS: [&str; 2] = ["LANGFUSE_BASE_URL", "LANGFUSE_HOST"];
const PUBLIC_KEY_VAR: &str = "LANGFUSE_PUBLIC_KEY";
const SECRET_KEY_VAR: &str = "LANGFUSE_SECRET_KEY";

/// Writes `<folder>/.env` with the Langfuse lines an application has, owner-only (it holds a
/// secret key). Returns its path.
pub fn write_env(
    folder: &Path,
    host: &str,
    public_key: &str,
    secret_key: &str,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(folder)?;
    let path = folder.join(".env");
    let text = format!(
        "# The sample application of Langfuse Migrator's \"Try with sample data\".\n\
         # It re-reads this file every few seconds and sends a trace to the server it names.\n\
         LANGFUSE_HOST={host}\n\
         LANGFUSE_PUBLIC_KEY={public_key}\n\
         LANGFUSE_SECRET_KEY={secret_key}\n"
    );
    write_private(&path, text.as_bytes())?;
    Ok(path)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode on open: make it owner-only too.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Where and as whom the application sends, as its `.env` says now.
#[derive(Clone, PartialEq, Eq)]
pub struct AppSettings {
    pub host: String,
    pub public_key: String,
    secret_key: String,
}

impl std::fmt::Debug for AppSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppSettings")
            .field("host", &self.host)
            .field("public_key", &self.public_key)
            .field("secret_key", &"********")
            .finish()
    }
}

/// Reads the Langfuse settings from `.env` text the way the SDKs' dotenv loaders do (`export `,
/// quotes, trailing comments; a later line wins). `None` when one of them is missing.
pub fn parse_env(text: &str) -> Option<AppSettings> {
    let vars: std::collections::HashMap<String, String> = dotenvy::from_read_iter(text.as_bytes())
        .filter_map(Result::ok)
        .collect();
    let value = |name: &str| vars.get(name).map(|v| v.trim().to_owned());
    let host = BASE_URL_VARS.iter().find_map(|v| value(v))?;
    Some(AppSettings {
        host: host.trim_end_matches('/').to_owned(),
        public_key: value(PUBLIC_KEY_VAR)?,
        secret_key: value(SECRET_KEY_VAR)?,
    })
    .filter(|s| !s.host.is_empty() && !s.public_key.is_empty())
}

/// One export the writer sent: where to, which trace, and whether the server took it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub host: String,
    pub trace_id: String,
    /// The HTTP status, or `None` when the server could not be reached.
    pub status: Option<u16>,
}

struct Shared {
    env_path: PathBuf,
    client: reqwest::Client,
    /// Held for a whole tick (read the `.env`, send), so [`SampleApp::follow_now`] knows no
    /// export to the old settings is still under way when it returns.
    tick: Mutex<()>,
    sent: parking_lot::Mutex<Vec<Sent>>,
}

/// The running sample application; it stops with [`SampleApp::stop`] or when dropped.
pub struct SampleApp {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl SampleApp {
    /// Starts writing one trace every `every`, to what `env_path` names at that moment.
    pub fn start(env_path: PathBuf, every: Duration) -> SampleApp {
        let shared = Arc::new(Shared {
            env_path,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            tick: Mutex::new(()),
            sent: parking_lot::Mutex::new(Vec::new()),
        });
        let (stop, mut stopped) = watch::channel(false);
        let worker = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            loop {
                worker.tick().await;
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
        SampleApp {
            shared,
            stop,
            task: Some(task),
        }
    }

    pub fn env_path(&self) -> &Path {
        &self.shared.env_path
    }

    /// Every export so far, oldest first.
    pub fn sent(&self) -> Vec<Sent> {
        self.shared.sent.lock().clone()
    }

    /// Returns once no export to the settings read before this call is still under way, and
    /// sends the next trace with the `.env` as it is now (an application restarted after its
    /// settings changed).
    pub async fn follow_now(&self) {
        self.shared.tick().await;
    }

    /// Keeps the application from sending (an export under way finishes first) until the guard
    /// is dropped: what it sent so far is all in, and what it sends next reads the `.env` as it
    /// is once the guard is gone.
    pub async fn hold(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.shared.tick.lock().await
    }

    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SampleApp {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Shared {
    async fn tick(&self) {
        let _one_at_a_time = self.tick.lock().await;
        // A few hundred bytes: read in place.
        let settings = match std::fs::read_to_string(&self.env_path) {
            Ok(text) => parse_env(&text),
            Err(e) => {
                tracing::warn!(path = %self.env_path.display(), error = %e, "the sample application cannot read its .env");
                return;
            }
        };
        let Some(settings) = settings else {
            tracing::warn!(path = %self.env_path.display(), "the sample application's .env names no Langfuse host and keys");
            return;
        };
        let trace_id = random_hex::<16>();
        let status = self.send(&settings, &trace_id).await;
        if status != Some(200) {
            // Host and status only: the keys stay out of the log.
            tracing::warn!(host = %settings.host, ?status, "the sample application's trace was not taken");
        }
        self.sent.lock().push(Sent {
            host: settings.host,
            trace_id,
            status,
        });
    }

    async fn send(&self, settings: &AppSettings, trace_id: &str) -> Option<u16> {
        let body = export(trace_id, now_nanos()).encode_to_vec();
        let response = self
            .client
            .post(format!("{}/api/public/otel/v1/traces", settings.host))
            .basic_auth(&settings.public_key, Some(&settings.secret_key))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .ok()?;
        Some(response.status().as_u16())
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn random_hex<const N: usize>() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    hex::encode(&bytes[..N])
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

/// One request handled by the application: a root span and an LLM call under it, both ended.
fn export(trace_id_hex: &str, end_ns: u64) -> ExportTraceServiceRequest {
    let trace_id = hex::decode(trace_id_hex).expect("hex");
    let root_id = hex::decode(random_hex::<8>()).expect("hex");
    let llm_id = hex::decode(random_hex::<8>()).expect("hex");
    let start_ns = end_ns.saturating_sub(300_000_000);
    let root = Span {
        trace_id: trace_id.clone(),
        span_id: root_id.clone(),
        name: "handle-request".into(),
        kind: 1,
        start_time_unix_nano: start_ns,
        end_time_unix_nano: end_ns,
        attributes: vec![
            text("langfuse.trace.name", TRACE_NAME),
            text(
                "langfuse.trace.input",
                r#"{"question":"How do I move my traces?"}"#,
            ),
            text("langfuse.trace.output", r#"{"answer":"With a live sync."}"#),
            text("langfuse.observation.type", "span"),
        ],
        ..Default::default()
    };
    let llm = Span {
        trace_id,
        span_id: llm_id,
        parent_span_id: root_id,
        name: "answer".into(),
        kind: 1,
        start_time_unix_nano: start_ns + 50_000_000,
        end_time_unix_nano: end_ns.saturating_sub(10_000_000),
        attributes: vec![
            text("langfuse.observation.type", "generation"),
            text("langfuse.observation.model.name", "sample-model"),
            text(
                "langfuse.observation.input",
                r#"[{"role":"user","content":"How do I move my traces?"}]"#,
            ),
            text("langfuse.observation.output", r#""With a live sync.""#),
            text(
                "langfuse.observation.usage_details",
                r#"{"input":9,"output":5}"#,
            ),
        ],
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    text("service.name", SERVICE_NAME),
                    text("telemetry.sdk.name", "opentelemetry"),
                    text("telemetry.sdk.language", "rust"),
                    text("langfuse.release", RELEASE),
                    text("langfuse.environment", ENVIRONMENT),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: SDK_NAME.into(),
                    version: SDK_VERSION.into(),
                    ..Default::default()
                }),
                spans: vec![root, llm],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_env_is_read_as_an_sdk_reads_it() {
        let s = parse_env(
            "A=1\nexport LANGFUSE_HOST=\"http://h:1/\" # old\nLANGFUSE_PUBLIC_KEY='pk'\nLANGFUSE_SECRET_KEY=sk-lf-hidden # x\n",
        )
        .unwrap();
        assert_eq!(
            (s.host.as_str(), s.public_key.as_str()),
            ("http://h:1", "pk")
        );
        assert_eq!(s.secret_key, "sk-lf-hidden");
        let newer = parse_env(
            "LANGFUSE_HOST=http://old\nLANGFUSE_BASE_URL=http://new\nLANGFUSE_PUBLIC_KEY=p\nLANGFUSE_SECRET_KEY=s\n",
        )
        .unwrap();
        assert_eq!(
            newer.host, "http://new",
            "the base URL wins, as in the SDKs"
        );
        assert_eq!(parse_env("LANGFUSE_HOST=http://h\n"), None);
        assert!(
            !format!("{s:?}").contains("hidden"),
            "the Debug form masks the secret"
        );
    }
}
