//! Rate limits: the request buckets Langfuse Cloud counts separately, its plans, and the budget
//! a side of a run stays within.

/// Langfuse Cloud counts requests per organisation in separate buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// `POST /ingestion`, `POST /otel/v1/traces`.
    Ingestion,
    /// Deprecated reads: traces, v1 observations, sessions, v2 scores.
    LegacyRead,
    Datasets,
    Prompts,
    /// Everything else.
    PublicApi,
}

impl Bucket {
    pub const ALL: [Bucket; 5] = [
        Bucket::Ingestion,
        Bucket::LegacyRead,
        Bucket::Datasets,
        Bucket::Prompts,
        Bucket::PublicApi,
    ];
}

/// Requests per minute per bucket: from a Cloud plan, or one figure for everything. `None`: not
/// Langfuse Cloud, or the plan was not given (no budget beyond what the server answers with 429).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum CloudPlan {
    #[default]
    None,
    Hobby,
    Core,
    Pro,
}

#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub plan: CloudPlan,
    /// Rate-limit minutes pass this many times faster (sandbox time scale).
    pub time_scale: f64,
    /// Overrides every bucket when set.
    pub requests_per_minute: Option<u32>,
    /// The share (1–100 %) of each of the plan's bucket limits this side may take (a live sync
    /// leaves the rest to the application); `None` = all of each.
    pub share_percent: Option<u8>,
}

impl Budget {
    pub fn per_minute(&self, b: Bucket) -> Option<u32> {
        if let Some(n) = self.requests_per_minute {
            return Some(n);
        }
        // Langfuse Cloud's published per-minute limits per plan.
        let (ingest, legacy, datasets, prompts, api) = match self.plan {
            CloudPlan::None => return None,
            CloudPlan::Hobby => (1_000, 30, 100, 1_000, 30),
            CloudPlan::Core => (4_000, 100, 200, 5_000, 100),
            CloudPlan::Pro => (20_000, 1_000, 1_000, 20_000, 1_000),
        };
        let limit: u32 = match b {
            Bucket::Ingestion => ingest,
            Bucket::LegacyRead => legacy,
            Bucket::Datasets => datasets,
            Bucket::Prompts => prompts,
            Bucket::PublicApi => api,
        };
        // Each bucket its own share: a busy bucket never cuts a quiet one (at least one
        // request a minute, or nothing would move).
        let percent = u32::from(self.share_percent.unwrap_or(100).clamp(1, 100));
        Some((limit * percent / 100).max(1))
    }
}
