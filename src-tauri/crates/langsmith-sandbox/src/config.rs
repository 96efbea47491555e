//! Configuration of a LangSmith sandbox: its API key, whether it enforces LangSmith Cloud's rate
//! limits, which faults it injects, whether it serves v2 run queries and its sample data.

use langfuse_sandbox::FaultConfig;

/// What the deterministic sample generator produces (see `sample.rs` for the shapes).
#[derive(Clone, Debug)]
pub struct SampleSpec {
    pub seed: u64,
    /// Root runs across the two tracing projects (the experiment adds one per example).
    pub traces: usize,
}

#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// 0 = pick a free loopback port.
    pub port: u16,
    /// The one key the server accepts in `x-api-key`.
    pub api_key: String,
    /// LangSmith Cloud's published per-key limits (429 + `Retry-After`) when true.
    pub plan: bool,
    /// 1.0 = real seconds; 10.0 = a 10 s rate-limit window lasts 1 s.
    pub time_scale: f64,
    pub faults: FaultConfig,
    /// False imitates a self-hosted LangSmith older than 0.16: `POST /v2/runs/query` is a 404.
    pub v2_queries: bool,
    pub sample: Option<SampleSpec>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            port: 0,
            api_key: "lsv2_sk_sandbox".into(),
            plan: false,
            time_scale: 1.0,
            faults: FaultConfig::default(),
            v2_queries: true,
            sample: None,
        }
    }
}
