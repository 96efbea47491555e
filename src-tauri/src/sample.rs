//! "Try with sample data": two Langfuse sandboxes in this process on loopback, a source filled
//! by the sandbox's sample generator and an empty target, plus a LangSmith sandbox with its own
//! sample workspace (for the LangSmith → Langfuse scenario), offered as ready-made connections.
//! Next to them is the sample application (`langfuse_sandbox::sample_app`): a folder in the data
//! dir whose `.env` points at the sample source, and a writer that sends a trace every few
//! seconds to whatever that `.env` names, so the zero-downtime cutover can switch it for real.
//! The writer starts with the first live sync from the sample source (until then the source
//! holds exactly the sample data, which plain sample migrations count on).
//!
//! The sandbox keys are made up for this session and are not real secrets; they live in this
//! struct and in the sample application's owner-only `.env` (never the keychain, never
//! profiles.json), and stop working when the app quits, together with the sandboxes and their
//! data.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use std::time::Duration;

use langfuse_sandbox::sample_app::SampleApp;
use langfuse_sandbox::{MediaSampleSpec, SampleSpec, Sandbox, SandboxConfig, ServerProfile};
use migrator_engine::profile::{
    Connection, LangSmithSettings, LangfuseSettings, Profile, ProfileId,
};
use secrecy::SecretString;
use serde::Serialize;
use ts_rs::TS;

/// Small enough that a whole migration, validation and rollback takes well under a minute.
pub const SAMPLE_TRACES: usize = 200;
/// Traces with media attachments (small images, audio, a PDF) on top, and a dataset item with
/// media: what a multimodal project holds.
pub const MEDIA_TRACES: usize = 3;
/// The source's one LLM connection (its secret key is the sandbox's; a copy needs one typed).
pub const LLM_PROVIDER: &str = "openai";
const SAMPLE_OBSERVATIONS_PER_TRACE: usize = 5;
/// Langfuse v3/v4 show writes after a delay; keep the sandbox's short so the demo stays quick
/// while validation still has to wait for it.
pub const VISIBILITY_DELAY: Duration = Duration::from_millis(800);

pub const SOURCE_ID: &str = "sample-source";
pub const TARGET_ID: &str = "sample-target";
pub const LANGSMITH_ID: &str = "sample-langsmith";
/// Root runs in the sample LangSmith workspace (each a tree of several runs).
pub const LANGSMITH_TRACES: usize = 40;
/// The sample application's folder under the data dir (it holds its `.env`).
pub const APP_FOLDER: &str = "sample-app";
/// How often the sample application sends a trace.
const APP_EVERY: Duration = Duration::from_secs(2);

struct SampleSide {
    sandbox: Sandbox,
    profile: Profile,
    secret: SecretString,
}

/// The running sample sandboxes, once started.
pub struct SampleSet {
    source: SampleSide,
    target: SampleSide,
    langsmith: LangsmithSide,
    app_env: PathBuf,
    /// Started by the first live sync from the sample source.
    app: std::sync::OnceLock<SampleApp>,
    /// When the sample application's `.env` was put back, per sync run: the end of what it
    /// wrote to the target (its copy-back window ends there).
    app_restored: std::sync::Mutex<std::collections::HashMap<String, DateTime<Utc>>>,
}

struct LangsmithSide {
    sandbox: langsmith_sandbox::Sandbox,
    profile: Profile,
    secret: SecretString,
}

/// What the window learns about the sample setup (no keys).
#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SampleInfo {
    pub source: Profile,
    pub target: Profile,
    /// A LangSmith workspace with sample runs, feedback, a dataset and prompts.
    pub langsmith_source: Profile,
    pub traces: u32,
    pub observations_per_trace: u32,
    /// The sample application's folder: its `.env` points at the sample source, and the
    /// application sends a trace every few seconds to whatever that `.env` names.
    pub app_folder: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("The sample servers could not be started: {0}")]
    Start(String),
    #[error("The sample application's folder {0} could not be written: {1}")]
    AppFolder(String, String),
}

impl SampleSet {
    /// Starts the sample servers and the sample application, whose folder goes under `data_dir`.
    pub async fn start(data_dir: &Path) -> Result<SampleSet, SampleError> {
        let source = start_side(
            SOURCE_ID,
            "Sample source (sandbox)",
            "Sample source project",
            Some(SampleSpec {
                seed: 7,
                traces: SAMPLE_TRACES,
                observations_per_trace: SAMPLE_OBSERVATIONS_PER_TRACE,
            }),
        )
        .await?;
        add_media_and_llm_connection(&source.sandbox)?;
        let target = start_side(
            TARGET_ID,
            "Sample target (sandbox)",
            "Sample target project",
            None,
        )
        .await?;
        let langsmith = start_langsmith().await?;
        let app_env = write_app_env(data_dir, &source)?;
        tracing::info!(source = %source.sandbox.url(), target = %target.sandbox.url(), langsmith = %langsmith.sandbox.url(), app = %app_env.display(), "sample sandboxes started");
        Ok(SampleSet {
            source,
            target,
            langsmith,
            app_env,
            app: std::sync::OnceLock::new(),
            app_restored: Default::default(),
        })
    }

    /// The sample application's `.env`.
    pub fn app_env(&self) -> &Path {
        &self.app_env
    }

    /// Starts the sample application's writer, once (a live sync from the sample source has
    /// something to follow then). Needs the async runtime.
    pub fn start_app(&self) -> &SampleApp {
        self.app.get_or_init(|| {
            tracing::info!(app = %self.app_env.display(), "sample application started");
            SampleApp::start(self.app_env.clone(), APP_EVERY)
        })
    }

    /// The sample application's writer, once started.
    pub fn app(&self) -> Option<&SampleApp> {
        self.app.get()
    }

    /// Notes that run `run_id`'s switch of the sample application was rolled back at `at`
    /// (nothing it wrote to the target is later, nothing it wrote to the source since is earlier).
    pub fn note_app_restored(&self, run_id: &str, at: DateTime<Utc>) {
        self.app_restored
            .lock()
            .unwrap()
            .insert(run_id.to_owned(), at);
    }

    /// When run `run_id`'s switch of the sample application was rolled back, in this session.
    pub fn app_restored(&self, run_id: &str) -> Option<DateTime<Utc>> {
        self.app_restored.lock().unwrap().get(run_id).copied()
    }

    pub fn info(&self) -> SampleInfo {
        SampleInfo {
            source: self.source.profile.clone(),
            target: self.target.profile.clone(),
            langsmith_source: self.langsmith.profile.clone(),
            traces: (SAMPLE_TRACES + MEDIA_TRACES) as u32,
            observations_per_trace: SAMPLE_OBSERVATIONS_PER_TRACE as u32,
            app_folder: self
                .app_env
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        }
    }

    pub fn profiles(&self) -> [&Profile; 3] {
        [
            &self.source.profile,
            &self.target.profile,
            &self.langsmith.profile,
        ]
    }

    /// The profile and its session-only key, for the engine.
    pub fn lookup(&self, id: &ProfileId) -> Option<(Profile, SecretString)> {
        [&self.source, &self.target]
            .into_iter()
            .map(|s| (&s.profile, &s.secret))
            .chain([(&self.langsmith.profile, &self.langsmith.secret)])
            .find(|(p, _)| &p.id == id)
            .map(|(p, s)| (p.clone(), s.clone()))
    }

    pub async fn stop(self) {
        if let Some(app) = self.app.into_inner() {
            app.stop().await;
        }
        self.source.sandbox.stop().await;
        self.target.sandbox.stop().await;
        self.langsmith.sandbox.stop().await;
    }
}

/// A fresh sample application folder (what an earlier session left there, its backups
/// included, names servers that are gone), its `.env` pointing at the sample source.
fn write_app_env(data_dir: &Path, source: &SampleSide) -> Result<PathBuf, SampleError> {
    let folder: PathBuf = data_dir.join(APP_FOLDER);
    let failed =
        |e: std::io::Error| SampleError::AppFolder(folder.display().to_string(), e.to_string());
    match std::fs::remove_dir_all(&folder) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed(e)),
        _ => {}
    }
    let Connection::Langfuse(l) = &source.profile.connection else {
        return Err(SampleError::Start(
            "the sample source is not a Langfuse project".into(),
        ));
    };
    use secrecy::ExposeSecret;
    langfuse_sandbox::sample_app::write_env(
        &folder,
        &l.host,
        &l.public_key,
        source.secret.expose_secret(),
    )
    .map_err(failed)
}

/// The multimodal traces and an LLM connection, so a sample copy shows media and asks for a key.
fn add_media_and_llm_connection(source: &Sandbox) -> Result<(), SampleError> {
    source.load_media_sample(&MediaSampleSpec {
        traces: MEDIA_TRACES,
        ..MediaSampleSpec::default()
    });
    source
        .insert_raw(
            "llm_connections",
            serde_json::json!({
                "id": "llm-sample-openai",
                "provider": LLM_PROVIDER,
                "adapter": "openai",
                "secretKey": "sk-sample-source-not-copied",
                "customModels": ["sample-model"],
                "withDefaultModels": true,
            }),
        )
        .map_err(|e| SampleError::Start(e.to_string()))
}

pub fn is_sample_id(id: &ProfileId) -> bool {
    [SOURCE_ID, TARGET_ID, LANGSMITH_ID].contains(&id.as_str())
}

/// The address each sample connection points at, to tell a plan made with them.
pub fn sample_url(profile: &Profile) -> &str {
    match &profile.connection {
        Connection::Langfuse(l) => &l.host,
        Connection::LangSmith(l) => &l.endpoint,
        Connection::Archive(a) => &a.folder,
    }
}

async fn start_langsmith() -> Result<LangsmithSide, SampleError> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let api_key = format!("lsv2_sk_sample_{}", &tag[..16]);
    let sandbox = langsmith_sandbox::Sandbox::start(langsmith_sandbox::SandboxConfig {
        api_key: api_key.clone(),
        sample: Some(langsmith_sandbox::SampleSpec {
            seed: 7,
            traces: LANGSMITH_TRACES,
        }),
        ..Default::default()
    })
    .await
    .map_err(|e| SampleError::Start(e.to_string()))?;
    let profile = Profile {
        id: ProfileId::from(LANGSMITH_ID),
        name: "Sample LangSmith (sandbox)".to_owned(),
        connection: Connection::LangSmith(LangSmithSettings {
            endpoint: sandbox.url(),
        }),
    };
    Ok(LangsmithSide {
        sandbox,
        profile,
        secret: SecretString::from(api_key),
    })
}

async fn start_side(
    id: &str,
    name: &str,
    project_name: &str,
    sample: Option<SampleSpec>,
) -> Result<SampleSide, SampleError> {
    // Fresh keys per session: nobody can reuse them, and nothing stores them.
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let public_key = format!("pk-lf-sample-{}", &tag[..8]);
    let secret_key = format!("sk-lf-sample-{}", &tag[8..24]);
    let sandbox = Sandbox::start(SandboxConfig {
        // v3 (what most self-hosted installs run): it counts every entity up front for the
        // pre-flight, and takes every entity through its API, dataset run items included.
        profile: ServerProfile::V3,
        public_key: public_key.clone(),
        secret_key: secret_key.clone(),
        project_name: project_name.to_owned(),
        visibility_delay: Some(VISIBILITY_DELAY),
        sample,
        ..SandboxConfig::default()
    })
    .await
    .map_err(|e| SampleError::Start(e.to_string()))?;
    let profile = Profile {
        id: ProfileId::from(id),
        name: name.to_owned(),
        connection: Connection::Langfuse(LangfuseSettings {
            host: sandbox.url(),
            public_key,
            cloud_plan: Default::default(),
            ca_file: None,
            allow_plain_http: false,
        }),
    };
    Ok(SampleSide {
        sandbox,
        profile,
        secret: SecretString::from(secret_key),
    })
}
