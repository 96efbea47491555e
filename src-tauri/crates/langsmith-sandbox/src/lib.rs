//! A spec-faithful LangSmith API server for tests, benchmarks and the demo.
//!
//! Start it in-process with [`Sandbox::start`] on a free loopback port, point a LangSmith client
//! at [`Sandbox::url`] with the `x-api-key` of the config, and inspect what was written with
//! [`Sandbox::dump`] / [`Sandbox::counts`]. Every route is served both at the root (as the SDK
//! calls it) and under `/api/v1` (as the REST reference spells it); v2 queries at `/v2` and
//! `/api/v2`.

mod admin;
mod auth;
mod config;
mod error;
mod params;
mod ratelimit;
mod routes;
mod runfilter;
mod sample;
mod server;
mod state;
mod store;
mod timefmt;

use std::collections::BTreeMap;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{SampleSpec, SandboxConfig};
pub use langfuse_sandbox::{FaultConfig, FaultKind};
pub use sample::{DATASET, EXPERIMENT, SAMPLE_DAY};

/// The entities `dump` and `counts` report.
pub const ENTITIES: [&str; 8] = store::ENTITIES;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("could not bind the sandbox to 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
}

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
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|source| SandboxError::Bind {
                port: config.port,
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| SandboxError::Bind {
                port: config.port,
                source,
            })?
            .port();
        let sample = config.sample.clone();
        let state = state::Inner::new(config);
        if let Some(spec) = sample {
            sample::generate(&mut state.store.write(), &spec);
        }
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(server::run(listener, state.clone(), rx));
        Ok(Sandbox {
            state,
            port,
            shutdown,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn api_key(&self) -> &str {
        &self.state.config.api_key
    }

    /// Replaces the fault configuration (and restarts its random sequence from the seed).
    pub fn set_faults(&self, faults: FaultConfig) {
        self.state.faults.lock().set(faults);
    }

    /// Every stored object per entity, sorted by id.
    pub fn dump(&self) -> serde_json::Value {
        self.state.store.read().dump()
    }

    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.state.store.read().counts()
    }

    /// Empties the workspace.
    pub fn reset(&self) {
        self.state.store.write().reset();
    }

    /// Adds the deterministic sample data.
    pub fn load_sample(&self, spec: &SampleSpec) {
        sample::generate(&mut self.state.store.write(), spec);
    }

    /// Deletes one run (as LangSmith's retention or a user would), leaving its children orphaned.
    pub fn delete_run(&self, id: &str) -> bool {
        self.state.store.write().remove_run(id)
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
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
