//! Langfuse Cloud's rate limits: per-organisation buckets counted per minute, and a daily budget
//! for deletes. Answers 429 with `Retry-After` and `X-RateLimit-*`. A time scale compresses the
//! minute (and the day) so tests do not wait.
//!
//! The per-plan figures approximate Langfuse Cloud's published limits; what matters for a client
//! is that the buckets are separate, small on hobby, and announced by headers.

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::config::CloudPlan;
use crate::state::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// `POST /api/public/ingestion`, `POST /api/public/otel/v1/traces`.
    Ingestion,
    /// Reads of the legacy (deprecated) endpoints: traces, v1 observations, sessions, v2 scores.
    LegacyRead,
    /// Datasets, dataset items, runs and run items.
    Datasets,
    /// Prompt management.
    Prompts,
    /// Everything else in the public API.
    PublicApi,
}

const BUCKETS: [Bucket; 5] = [
    Bucket::Ingestion,
    Bucket::LegacyRead,
    Bucket::Datasets,
    Bucket::Prompts,
    Bucket::PublicApi,
];

/// Requests per minute for a bucket on a plan, and deletes per day.
pub fn per_minute(plan: CloudPlan, b: Bucket) -> Option<u64> {
    let (ingest, legacy, datasets, prompts, api) = match plan {
        CloudPlan::None => return None,
        CloudPlan::Hobby => (1_000, 30, 100, 1_000, 30),
        CloudPlan::Core => (4_000, 100, 200, 5_000, 100),
        CloudPlan::Pro => (20_000, 1_000, 1_000, 20_000, 1_000),
    };
    Some(match b {
        Bucket::Ingestion => ingest,
        Bucket::LegacyRead => legacy,
        Bucket::Datasets => datasets,
        Bucket::Prompts => prompts,
        Bucket::PublicApi => api,
    })
}

pub fn deletes_per_day(plan: CloudPlan) -> Option<u64> {
    match plan {
        CloudPlan::None => None,
        CloudPlan::Hobby => Some(25),
        CloudPlan::Core => Some(100),
        CloudPlan::Pro => Some(1_000),
    }
}

pub fn classify(method: &Method, path: &str) -> Bucket {
    let p = path.trim_start_matches("/api/public");
    if p.starts_with("/ingestion") || p.starts_with("/otel/") {
        Bucket::Ingestion
    } else if p.starts_with("/v2/prompts") {
        Bucket::Prompts
    } else if p.starts_with("/v2/datasets")
        || p.starts_with("/datasets")
        || p.starts_with("/dataset-")
    {
        Bucket::Datasets
    } else if *method == Method::GET
        && (p.starts_with("/traces")
            || p.starts_with("/observations")
            || p.starts_with("/sessions")
            || p.starts_with("/v2/scores"))
    {
        Bucket::LegacyRead
    } else {
        Bucket::PublicApi
    }
}

struct Window {
    started: Instant,
    used: u64,
}

impl Window {
    fn new() -> Self {
        Window {
            started: Instant::now(),
            used: 0,
        }
    }
    /// Counts one request if the window has room; returns (allowed, remaining, time to reset).
    fn take(&mut self, limit: u64, len: Duration) -> (bool, u64, Duration) {
        if self.started.elapsed() >= len {
            *self = Window::new();
        }
        let reset = len.saturating_sub(self.started.elapsed());
        if self.used >= limit {
            return (false, 0, reset);
        }
        self.used += 1;
        (true, limit - self.used, reset)
    }
}

pub struct RateLimiter {
    plan: CloudPlan,
    minute: Duration,
    day: Duration,
    windows: Vec<Window>,
    deletes: Window,
}

/// What the limiter decided for one request.
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    pub reset_in: Duration,
}

impl RateLimiter {
    pub fn new(plan: CloudPlan, time_scale: f64) -> Self {
        let scale = if time_scale.is_finite() && time_scale > 0.0 {
            time_scale
        } else {
            1.0
        };
        RateLimiter {
            plan,
            minute: Duration::from_secs_f64(60.0 / scale),
            day: Duration::from_secs_f64(86_400.0 / scale),
            windows: BUCKETS.iter().map(|_| Window::new()).collect(),
            deletes: Window::new(),
        }
    }

    pub fn check(&mut self, bucket: Bucket, is_delete: bool) -> Option<Decision> {
        let limit = per_minute(self.plan, bucket)?;
        let i = BUCKETS
            .iter()
            .position(|b| *b == bucket)
            .expect("known bucket");
        if is_delete && let Some(day_limit) = deletes_per_day(self.plan) {
            let (ok, remaining, reset_in) = self.deletes.take(day_limit, self.day);
            if !ok {
                return Some(Decision {
                    allowed: false,
                    limit: day_limit,
                    remaining,
                    reset_in,
                });
            }
        }
        let (allowed, remaining, reset_in) = self.windows[i].take(limit, self.minute);
        Some(Decision {
            allowed,
            limit,
            remaining,
            reset_in,
        })
    }
}

fn headers(d: &Decision, h: &mut HeaderMap) {
    let reset_at = chrono::Utc::now() + chrono::Duration::from_std(d.reset_in).unwrap_or_default();
    h.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
    h.insert(
        "x-ratelimit-reset",
        HeaderValue::from(reset_at.timestamp().max(0) as u64 + 1),
    );
}

pub async fn enforce(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let bucket = classify(req.method(), req.uri().path());
    let is_delete = req.method() == Method::DELETE;
    let decision = st.limits.lock().check(bucket, is_delete);
    let Some(d) = decision else {
        return next.run(req).await;
    };
    if !d.allowed {
        *st.throttled
            .lock()
            .entry(format!("{} {}", req.method(), req.uri().path()))
            .or_default() += 1;
        let secs = d.reset_in.as_secs_f64().ceil().max(1.0) as u64;
        let mut resp = (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(json!({"message": "Rate limit exceeded", "error": "TooManyRequests"})),
        )
            .into_response();
        headers(&d, resp.headers_mut());
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(secs));
        return resp;
    }
    let mut resp = next.run(req).await;
    headers(&d, resp.headers_mut());
    resp
}
