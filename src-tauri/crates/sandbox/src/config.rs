//! Configuration of a sandbox server: which Langfuse generation it imitates, which Cloud plan it
//! enforces, which faults it injects and which sample data it starts with.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The Langfuse server generation the sandbox reproduces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerProfile {
    /// Legacy endpoints only, synchronous ingestion, no OTLP.
    V2,
    /// Legacy endpoints plus v2 observations/scores and OTLP; asynchronous upserts.
    V3,
    /// The current v4 API (Langfuse Cloud, servers ≥ 4.59 that the official SDKs 5.x/6.x need):
    /// OTLP-only traces, cursor reads, immutable rows, batch score creation. Where it differs
    /// from the 4.16 spec it follows the SDK's generated client (see `spec/README.md`).
    #[default]
    V4,
    /// A 4.16-era self-hosted v4 server, exactly as `spec/langfuse-openapi.yml` describes it.
    #[serde(rename = "v4-4.16")]
    V4_16,
}

impl ServerProfile {
    /// The version `/api/public/health` reports.
    pub fn version(self) -> &'static str {
        match self {
            ServerProfile::V2 => "2.95.11",
            ServerProfile::V3 => "3.120.0",
            ServerProfile::V4 => "4.59.0",
            ServerProfile::V4_16 => "4.16.0",
        }
    }

    /// How long a write stays invisible when the config does not say.
    pub fn default_visibility_delay(self) -> Duration {
        match self {
            ServerProfile::V2 => Duration::ZERO,
            ServerProfile::V3 | ServerProfile::V4 | ServerProfile::V4_16 => Duration::from_secs(3),
        }
    }

    /// Either v4 generation: OTLP-only traces, derived trace reads, no legacy endpoints.
    pub fn is_v4(self) -> bool {
        matches!(self, ServerProfile::V4 | ServerProfile::V4_16)
    }

    /// The current API (SDK 5.x shapes) rather than the 4.16 spec where the two differ.
    pub fn is_current(self) -> bool {
        self == ServerProfile::V4
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "v2" => Some(Self::V2),
            "v3" => Some(Self::V3),
            "v4" => Some(Self::V4),
            "v4-4.16" => Some(Self::V4_16),
            _ => None,
        }
    }
}

/// Langfuse Cloud plan whose rate limits the sandbox enforces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CloudPlan {
    /// Self-hosted: no rate limits.
    #[default]
    None,
    Hobby,
    Core,
    Pro,
}

impl CloudPlan {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "hobby" => Some(Self::Hobby),
            "core" => Some(Self::Core),
            "pro" => Some(Self::Pro),
            _ => None,
        }
    }
}

/// A fault the sandbox can inject into a request.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Http500,
    Http502,
    Http503,
    Http504,
    /// The connection is closed without an answer; the write is not applied.
    ConnectionReset,
    /// The write is applied, then the answer is held for `timeout_ms` (past the client's timeout).
    TimeoutAfterApply,
    /// The answer is delayed by `slow_ms`, then served normally.
    Slow,
    /// On `POST /api/public/ingestion`: some events fail with 500 inside the 207 and are not applied.
    Partial207,
    /// The write is answered as accepted (2xx), then dropped before it became visible: the
    /// rows it would have added to the asynchronously ingested entities (traces, observations,
    /// scores, dataset run items) never show. Only when named in `kinds`.
    DropAfterAccept,
    /// The write's rows become visible only after `long_delay_ms` instead of the profile's
    /// visibility delay. Only when named in `kinds`.
    LongDelay,
}

impl FaultKind {
    /// The transient kinds an empty `kinds` list means; the data-loss and delay kinds
    /// (`DropAfterAccept`, `LongDelay`) fire only when named.
    pub const ALL: [FaultKind; 8] = [
        FaultKind::Http500,
        FaultKind::Http502,
        FaultKind::Http503,
        FaultKind::Http504,
        FaultKind::ConnectionReset,
        FaultKind::TimeoutAfterApply,
        FaultKind::Slow,
        FaultKind::Partial207,
    ];
}

/// Seeded, reproducible fault injection; switchable at runtime.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultConfig {
    pub seed: u64,
    /// Probability per request that some fault fires (0.0 = off).
    pub rate: f64,
    /// Which faults may fire; empty = every kind in `FaultKind::ALL`.
    pub kinds: Vec<FaultKind>,
    /// Delay for the Slow kind.
    pub slow_ms: u64,
    /// How long a TimeoutAfterApply response is held (should exceed the client timeout).
    pub timeout_ms: u64,
    /// How long the rows of a LongDelay write stay invisible.
    pub long_delay_ms: u64,
}

/// What the deterministic sample-data generator produces.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SampleSpec {
    pub seed: u64,
    pub traces: usize,
    pub observations_per_trace: usize,
}

#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// 0 = pick a free loopback port.
    pub port: u16,
    pub profile: ServerProfile,
    pub plan: CloudPlan,
    pub public_key: String,
    pub secret_key: String,
    pub project_name: String,
    /// None = profile default (v2: 0, v3/v4: 3 s).
    pub visibility_delay: Option<Duration>,
    /// 1.0 = real minutes; 60.0 = a rate-limit minute lasts 1 s.
    pub time_scale: f64,
    pub faults: FaultConfig,
    /// None = empty project.
    pub sample: Option<SampleSpec>,
    /// What `/api/public/health` reports as the version; `None` = the profile's release.
    /// Development builds report `dev` or a git sha.
    pub health_version: Option<String>,
    /// Requests whose path starts with one of these always get that status (a broken route
    /// behind a proxy, say), before faults and routing.
    pub failing_paths: Vec<(String, u16)>,
    /// Check every `/api/public` request (query parameters, JSON body) against the API
    /// description of the profile and record what breaks it (`Sandbox::request_violations`).
    /// Needs the `request-validation` feature.
    pub validate_requests: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            port: 0,
            profile: ServerProfile::V4,
            plan: CloudPlan::None,
            public_key: "pk-lf-sandbox".into(),
            secret_key: "sk-lf-sandbox".into(),
            project_name: "Sandbox project".into(),
            visibility_delay: None,
            time_scale: 1.0,
            faults: FaultConfig::default(),
            sample: None,
            health_version: None,
            failing_paths: vec![],
            validate_requests: false,
        }
    }
}

impl SandboxConfig {
    pub fn effective_visibility_delay(&self) -> Duration {
        self.visibility_delay
            .unwrap_or_else(|| self.profile.default_visibility_delay())
    }
}
