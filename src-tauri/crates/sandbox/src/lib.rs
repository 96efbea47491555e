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
mod merge;
mod otel_map;
mod otlp;
mod params;
mod ratelimit;
mod request_check;
mod routes;
mod sample;
mod server;
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
pub use ratelimit::{Bucket, deletes_per_day, per_minute};
/// The sample data's timestamps lie in `[SAMPLE_START_MS, SAMPLE_END_MS]` (ms since the epoch).
pub use sample::{SAMPLE_END_MS, SAMPLE_START_MS};

/// The dump keys (`dataset_runs` is an addition to the contract's list).
pub const ENTITIES: [&str; 12] = store::ENTITIES;

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
    }

    /// Adds the deterministic sample data to the project (visible at once).
    pub fn load_sample(&self, spec: &SampleSpec) {
        sample::generate(&mut self.state.store.write(), spec);
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
