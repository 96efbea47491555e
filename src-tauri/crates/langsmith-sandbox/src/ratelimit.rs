//! LangSmith Cloud's published per-key limits: `POST /runs/query` 15 per 10 s, `/repos` 100 per
//! minute, every other API-key request 1000 per 10 s. A limited request gets 429 with
//! `Retry-After` (seconds). A time scale shortens the windows so tests do not wait.

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    RunsQuery,
    Repos,
    Other,
}

impl Bucket {
    pub fn name(self) -> &'static str {
        match self {
            Bucket::RunsQuery => "runs_query",
            Bucket::Repos => "repos",
            Bucket::Other => "other",
        }
    }

    /// (requests, window in seconds).
    pub fn limit(self) -> (u64, u64) {
        match self {
            Bucket::RunsQuery => (15, 10),
            Bucket::Repos => (100, 60),
            Bucket::Other => (1000, 10),
        }
    }
}

/// `path` is already without the `/api/v1` prefix.
pub fn classify(method: &Method, path: &str) -> Bucket {
    if *method == Method::POST && path.ends_with("/runs/query") {
        Bucket::RunsQuery
    } else if path.starts_with("/repos") {
        Bucket::Repos
    } else {
        Bucket::Other
    }
}

struct Window {
    started: Instant,
    used: u64,
}

pub struct Limiter {
    scale: f64,
    windows: [Window; 3],
}

impl Limiter {
    pub fn new(time_scale: f64) -> Self {
        let scale = if time_scale.is_finite() && time_scale > 0.0 {
            time_scale
        } else {
            1.0
        };
        let w = || Window {
            started: Instant::now(),
            used: 0,
        };
        Limiter {
            scale,
            windows: [w(), w(), w()],
        }
    }

    /// Counts the request; `Err(wait)` when the bucket's window is full.
    pub fn take(&mut self, b: Bucket) -> Result<(), Duration> {
        let (limit, secs) = b.limit();
        let len = Duration::from_secs_f64(secs as f64 / self.scale);
        let w = &mut self.windows[b as usize];
        if w.started.elapsed() >= len {
            w.started = Instant::now();
            w.used = 0;
        }
        if w.used >= limit {
            return Err(len.saturating_sub(w.started.elapsed()));
        }
        w.used += 1;
        Ok(())
    }
}

pub async fn enforce(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let bucket = classify(req.method(), req.uri().path());
    *st.requests
        .lock()
        .requests
        .entry(bucket.name())
        .or_default() += 1;
    if !st.config.plan {
        return next.run(req).await;
    }
    let verdict = st.limits.lock().take(bucket);
    match verdict {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            *st.requests
                .lock()
                .throttled
                .entry(bucket.name())
                .or_default() += 1;
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            let mut resp = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({"detail": "Too many requests"})),
            )
                .into_response();
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
            resp
        }
    }
}
