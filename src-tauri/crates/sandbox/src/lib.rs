//! A spec-faithful Langfuse API server for tests, benchmarks and the demo.
//!
//! Start it in-process with [`Sandbox::start`] on a free loopback port, point a client at
//! [`Sandbox::url`], inspect what was written with [`Sandbox::dump`] / [`Sandbox::counts`].
//! Profiles reproduce Langfuse v2, v3 and v4 (see the crate README for the endpoints each serves).

mod admin;
mod auth;
mod body;
pub mod config;
mod error;
pub mod faults;
mod filter;
mod ingestion;
mod media;
mod merge;
mod otel_map;
mod otlp;
mod params;
mod ratelimit;
mod request_check;
mod routes;
mod sample;
#[cfg(feature = "sample-app")]
pub mod sample_app;
mod server;
mod settings_sample;
#[cfg(feature = "request-validation")]
pub mod spec_check;
mod state;
mod store;
mod timefmt;
mod views;

use std::collections::BTreeMap;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{CloudPlan, FaultConfig, FaultKind, SampleSpec, SandboxConfig, ServerProfile};
pub use error::SandboxError;
pub use media::sample::{MediaSample, MediaSampleSpec};
pub use media::{MediaInfo, MediaLink, MediaSettings};
pub use ratelimit::{Bucket, deletes_per_day, per_minute};
/// The sample data's timestamps lie in `[SAMPLE_START_MS, SAMPLE_END_MS]` (ms since the epoch).
pub use sample::{SAMPLE_END_MS, SAMPLE_START_MS};
pub use settings_sample::{DASHBOARD_NAME, EVALUATOR_NAMES, LLM_PROVIDERS, QUEUE_NAME, RULE_NAME};

/// The dump keys (`dataset_runs` is an addition to the contract's list).
pub const ENTITIES: [&str; 19] = store::ENTITIES;

/// A running sandbox server bound to 127.0.0.1.
pub struct Sandbox {
    state: state::AppState,
    port: u16,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds 127.0.0.1 (`port` 0 = a free port), loads the sample data if configured, serves.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let (listener, addr) =
            server::bind(config.port)
                .await
                .map_err(|source| SandboxError::Bind {
                    port: config.port,
                    source,
                })?;
        if config.validate_requests && !cfg!(feature = "request-validation") {
            return Err(SandboxError::ValidationUnavailable);
        }
        let sample = config.sample.clone();
        let state = state::Inner::new(config);
        if let Some(spec) = sample {
            sample::generate(&mut state.store.write(), &spec);
        }
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(server::run(listener, state.clone(), rx));
        Ok(Sandbox {
            state,
            port: addr.port(),
            shutdown,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.state.config
    }

    /// Replaces the fault configuration (and restarts its random sequence from the seed).
    pub fn set_faults(&self, faults: FaultConfig) {
        self.state.faults.lock().set(faults);
    }

    /// Limits the configured faults to requests with these HTTP methods (empty: all requests),
    /// e.g. `["POST", "PATCH", "DELETE"]` for a server whose writes fail while reads answer.
    pub fn set_fault_methods(&self, methods: &[&str]) {
        self.state.faults.lock().set_methods(methods);
    }

    /// Limits the configured faults to requests whose path starts with one of these prefixes
    /// (empty: all paths).
    pub fn set_fault_paths(&self, prefixes: &[&str]) {
        self.state.faults.lock().set_paths(prefixes);
    }

    /// The next requests that may meet a fault (see [`Sandbox::set_fault_methods`]) meet these,
    /// one each, in order; then the seeded faults apply again.
    pub fn script_faults(&self, kinds: &[FaultKind]) {
        self.state.faults.lock().script(kinds);
    }

    /// Revokes the project's keys (every public API request answers 401, as Langfuse does for
    /// a deleted key) or, with `false`, makes them work again.
    pub fn revoke_keys(&self, revoked: bool) {
        self.state
            .keys_revoked
            .store(revoked, std::sync::atomic::Ordering::SeqCst);
    }

    /// Makes every pending (delayed) write visible now.
    pub fn settle(&self) {
        self.state.store.write().make_all_visible();
    }

    /// Every stored row, visible or not, per entity, sorted by id.
    pub fn dump(&self) -> serde_json::Value {
        self.state.store.read().dump()
    }

    /// What the request check found wrong in the requests received so far (empty unless
    /// `validate_requests` is on), one sentence each; they count as seen (see `Drop`).
    pub fn take_request_violations(&self) -> Vec<String> {
        std::mem::take(&mut *self.state.violations.lock())
    }

    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.state.store.read().counts()
    }

    /// Empties the project (the Langfuse-managed models stay).
    pub fn reset(&self) {
        self.state.store.write().reset();
        self.state.media.lock().clear();
    }

    /// Adds traces and a dataset item whose JSON references uploaded media (visible at once).
    pub fn load_media_sample(&self, spec: &MediaSampleSpec) -> MediaSample {
        let mut store = self.state.store.write();
        media::sample::generate(&mut store, &mut self.state.media.lock(), spec)
    }

    /// Every media record (without bytes), sorted by id.
    pub fn media(&self) -> Vec<MediaInfo> {
        self.state.media.lock().infos()
    }

    /// The stored bytes of a media record, if it was uploaded.
    pub fn media_bytes(&self, id: &str) -> Option<bytes::Bytes> {
        self.state
            .media
            .lock()
            .get(id)
            .and_then(|r| r.bytes.clone())
    }

    /// Stores bytes as an SDK upload leaves them and returns the media id.
    pub fn insert_media(&self, content_type: &str, bytes: bytes::Bytes, link: MediaLink) -> String {
        self.state
            .media
            .lock()
            .insert_uploaded(content_type, bytes, link)
    }

    /// Stores bytes under an id of the caller's choice (older servers used UUIDs).
    pub fn insert_media_as(
        &self,
        id: &str,
        content_type: &str,
        bytes: bytes::Bytes,
        link: MediaLink,
    ) -> String {
        self.state
            .media
            .lock()
            .insert_uploaded_as(id, content_type, bytes, link)
    }

    /// Removes a media record and its bytes (media lost at the source); false if none.
    pub fn delete_media(&self, id: &str) -> bool {
        self.state.media.lock().remove(id)
    }

    pub fn media_settings(&self) -> MediaSettings {
        self.state.media.lock().settings.clone()
    }

    pub fn set_media_settings(&self, settings: MediaSettings) {
        self.state.media.lock().settings = settings;
    }

    /// Adds the deterministic sample data to the project (visible at once).
    pub fn load_sample(&self, spec: &SampleSpec) {
        sample::generate(&mut self.state.store.write(), spec);
    }

    /// Adds the project-settings sample: LLM connections named in [`LLM_PROVIDERS`], the
    /// annotation queue [`QUEUE_NAME`] with items on the first traces (load the trace sample first).
    pub fn load_settings_sample(&self) {
        settings_sample::load(&mut self.state.store.write());
    }

    pub fn insert_raw(&self, entity: &str, row: serde_json::Value) -> Result<(), SandboxError> {
        self.state.store.write().insert_raw(entity, row)
    }

    pub fn patch_raw(
        &self,
        entity: &str,
        id: &str,
        patch: serde_json::Value,
    ) -> Result<(), SandboxError> {
        self.state.store.write().patch_raw(entity, id, patch)
    }

    pub fn delete_raw(&self, entity: &str, id: &str) -> Result<(), SandboxError> {
        self.state.store.write().delete_raw(entity, id)
    }

    /// Stops accepting, drops open connections and waits for the server task.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Sandbox {
    /// With `validate_requests` on, a request that broke the API description and was not taken
    /// with `take_request_violations` fails the test that owns the sandbox: no client test can
    /// forget to look.
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        let left = std::mem::take(&mut *self.state.violations.lock());
        if !left.is_empty() && !std::thread::panicking() {
            panic!(
                "the sandbox received {} request(s) Langfuse's API does not describe:\n{}",
                left.len(),
                left.join("\n")
            );
        }
    }
}
