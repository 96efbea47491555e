//! One HTTP client per Langfuse endpoint: authentication, a rate budget (governor), concurrency
//! that halves on 429 and grows back on success, and retries with exponential backoff and jitter
//! (backon) for 429, 5xx, timeouts and resets.
//!
//! Writes that are not idempotent are never blindly retried once they may have reached the
//! server: a timeout or reset after sending is returned as `HttpFailure::Unknown`, and the caller
//! checks the target for the objects before sending them again.

// Where these lived before the vocabulary had a folder of its own.
use crate::vocab::Counters;
pub use crate::vocab::{Bucket, Budget, CloudPlan};
use backon::{BackoffBuilder, ExponentialBuilder};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderValue;
use reqwest::{RequestBuilder, Response, StatusCode};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// Whether a request may be repeated without checking the target first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads and upserts: retry on anything transient.
    Safe,
    /// Creates that duplicate on re-send: retry only when the request surely did not apply.
    Unsafe,
}

#[derive(Debug)]
pub enum HttpFailure {
    /// The server answered with a definite refusal (4xx other than 408/429).
    Rejected { status: u16, body: String },
    /// The request may or may not have been applied (timeout or reset after sending, 5xx on an
    /// unsafe write).
    Unknown(String),
    /// Transient failures kept happening; nothing is known to have been applied.
    GaveUp(String),
}

impl HttpFailure {
    pub fn describe(&self) -> String {
        match self {
            HttpFailure::Rejected { status, body } => {
                format!("the server refused it ({status}): {}", truncate(body, 300))
            }
            HttpFailure::Unknown(s) => format!("the outcome is unknown ({s})"),
            HttpFailure::GaveUp(s) => format!("it kept failing ({s})"),
        }
    }
}

pub fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_string()
    } else {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}

/// A concurrency limit that adapts: halves on 429, grows by one after a run of successes.
pub struct AdaptiveLimit {
    state: Mutex<(usize, usize, usize)>, // (limit, in_flight, successes since last change)
    max: usize,
    notify: Notify,
}

pub struct Permit<'a>(&'a AdaptiveLimit);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.state.lock().expect("limit lock").1 -= 1;
        self.0.notify.notify_waiters();
    }
}

impl AdaptiveLimit {
    pub fn new(start: usize, max: usize) -> Self {
        Self {
            state: Mutex::new((start.clamp(1, max), 0, 0)),
            max,
            notify: Notify::new(),
        }
    }

    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let notified = self.notify.notified();
            {
                let mut s = self.state.lock().expect("limit lock");
                if s.1 < s.0 {
                    s.1 += 1;
                    return Permit(self);
                }
            }
            notified.await;
        }
    }

    pub fn on_throttled(&self) {
        let mut s = self.state.lock().expect("limit lock");
        s.0 = (s.0 / 2).max(1);
        s.2 = 0;
    }

    pub fn on_success(&self) {
        let mut s = self.state.lock().expect("limit lock");
        s.2 += 1;
        if s.2 >= 20 && s.0 < self.max {
            s.0 += 1;
            s.2 = 0;
            drop(s);
            self.notify.notify_waiters();
        }
    }

    pub fn current(&self) -> usize {
        self.state.lock().expect("limit lock").0
    }
}

pub struct HttpClient {
    pub base: String,
    client: reqwest::Client,
    /// The authentication header's name (`Authorization`, `x-api-key`).
    auth_name: &'static str,
    /// Its value (`Basic base64(public:secret)`, an API key), marked sensitive so no log or
    /// `Debug` output shows it.
    auth_header: HeaderValue,
    limiters: Vec<(Bucket, DefaultDirectRateLimiter)>,
    pub concurrency: AdaptiveLimit,
    counters: Arc<Counters>,
    max_attempts: usize,
    timeout: Duration,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("base", &self.base)
            .finish()
    }
}

impl HttpClient {
    pub fn new(
        base: &str,
        public_key: &str,
        secret: &str,
        timeout: Duration,
        budget: Budget,
        concurrency: usize,
        counters: Arc<Counters>,
    ) -> Self {
        use base64::Engine;
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{public_key}:{secret}"));
        // Langfuse Cloud counts requests per minute window, so a whole minute's quota may go at
        // once; where our refill and the server's window disagree, the 429 handling
        // (Retry-After) absorbs the difference.
        let quotas = Bucket::ALL
            .into_iter()
            .filter_map(|b| Some((b, budget.per_minute(b)?, Duration::from_secs(60))))
            .collect();
        Self::with_header(
            base,
            "Authorization",
            &format!("Basic {token}"),
            timeout,
            quotas,
            budget.time_scale,
            concurrency,
            counters,
        )
    }

    /// A client that authenticates with one header (LangSmith: `x-api-key`) and stays within
    /// `quotas`: per bucket, so many requests per window (the window shortened by `time_scale`).
    #[allow(clippy::too_many_arguments)]
    pub fn with_header(
        base: &str,
        header: &'static str,
        value: &str,
        timeout: Duration,
        quotas: Vec<(Bucket, u32, Duration)>,
        time_scale: f64,
        concurrency: usize,
        counters: Arc<Counters>,
    ) -> Self {
        let client = client_builder(timeout).build().expect("http client builds");
        let limiters = quotas
            .into_iter()
            .filter_map(|(b, n, window)| {
                let n = NonZeroU32::new(n)?;
                let period = window.div_f64(time_scale.max(0.001) * n.get() as f64);
                let quota = Quota::with_period(period)
                    .expect("non-zero period")
                    .allow_burst(n);
                Some((b, RateLimiter::direct(quota)))
            })
            .collect();
        Self {
            base: base.trim_end_matches('/').to_string(),
            client,
            auth_name: header,
            auth_header: {
                let mut v = HeaderValue::from_str(value).expect("a valid header value");
                v.set_sensitive(true);
                v
            },
            limiters,
            concurrency: AdaptiveLimit::new(concurrency, concurrency.max(1) * 4),
            counters,
            max_attempts: 8,
            timeout,
        }
    }

    /// The same client, also trusting `roots` (a private certificate authority) next to the
    /// system's. Certificates are still verified.
    pub fn trusting(mut self, roots: Vec<reqwest::Certificate>) -> Result<Self, reqwest::Error> {
        self.client = client_builder(self.timeout)
            .tls_certs_merge(roots)
            .build()?;
        Ok(self)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client
            .get(self.url(path))
            .header(self.auth_name, self.auth_header.clone())
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client
            .post(self.url(path))
            .header(self.auth_name, self.auth_header.clone())
    }

    pub fn put(&self, path: &str) -> RequestBuilder {
        self.client
            .put(self.url(path))
            .header(self.auth_name, self.auth_header.clone())
    }

    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.client
            .patch(self.url(path))
            .header(self.auth_name, self.auth_header.clone())
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.client
            .delete(self.url(path))
            .header(self.auth_name, self.auth_header.clone())
    }

    /// The client without credentials, for presigned storage URLs (media).
    pub fn plain(&self) -> &reqwest::Client {
        &self.client
    }

    /// A request without credentials (health check).
    pub fn get_anonymous(&self, path: &str) -> RequestBuilder {
        self.client.get(self.url(path))
    }

    /// Sends a request with the endpoint's budget, concurrency and retry policy. `build` is
    /// called once per attempt. Success is any 2xx (207 included; callers read per-item results).
    pub async fn send(
        &self,
        bucket: Bucket,
        build: impl Fn() -> RequestBuilder,
        idempotency: Idempotency,
    ) -> Result<Response, HttpFailure> {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .with_max_times(self.max_attempts)
            .build();
        let mut last_problem;
        loop {
            if let Some((_, l)) = self.limiters.iter().find(|(b, _)| *b == bucket)
                && l.check().is_err()
            {
                self.counters.add_rate_limit_wait();
                l.until_ready().await;
            }
            let permit = self.concurrency.acquire().await;
            self.counters
                .add_request(Bucket::ALL.iter().position(|b| *b == bucket).unwrap_or(0));
            let result = build().send().await;
            drop(permit);
            let mut wait: Option<Duration> = None;
            match result {
                Ok(resp) => {
                    let status = resp.status();
                    if status.is_success() {
                        self.concurrency.on_success();
                        return Ok(resp);
                    }
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        self.concurrency.on_throttled();
                        self.counters.add_rate_limit_wait();
                        wait = retry_after(&resp).map(|w| w.min(MAX_RETRY_AFTER));
                        last_problem = "the server asked to slow down (429)".into();
                    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
                        last_problem = format!("server error {}", status.as_u16());
                        if idempotency == Idempotency::Unsafe {
                            return Err(HttpFailure::Unknown(last_problem));
                        }
                    } else {
                        let body = resp.text().await.unwrap_or_default();
                        return Err(HttpFailure::Rejected {
                            status: status.as_u16(),
                            body,
                        });
                    }
                }
                Err(e) => {
                    last_problem = describe_reqwest_error(&e);
                    // A connect error means nothing was sent: always safe to retry.
                    if !e.is_connect() && idempotency == Idempotency::Unsafe {
                        return Err(HttpFailure::Unknown(last_problem));
                    }
                }
            }
            let Some(delay) = backoff.next() else {
                return Err(HttpFailure::GaveUp(last_problem));
            };
            self.counters.add_retry();
            tokio::time::sleep(wait.map(|w| w.max(delay / 4)).unwrap_or(delay)).await;
        }
    }
}

fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(64)
        .user_agent(concat!("langfuse-migrator/", env!("CARGO_PKG_VERSION")))
}

/// The longest `Retry-After` a request waits out before trying again.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// How long a response's `Retry-After` header asks the client to wait: seconds or an HTTP date.
/// `None` when the header is absent or unreadable.
pub fn retry_after(resp: &Response) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?;
    if let Ok(secs) = v.trim().parse::<f64>() {
        return Duration::try_from_secs_f64(secs.max(0.0)).ok();
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    when.signed_duration_since(chrono::Utc::now()).to_std().ok()
}

/// A short description of a transport error, without the URL's query or any header.
pub fn describe_reqwest_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the request timed out".into()
    } else if e.is_connect() {
        "the connection could not be made".into()
    } else if e.is_body() || e.is_decode() {
        "the response body broke off".into()
    } else {
        "the connection was interrupted".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn adaptive_limit_halves_and_recovers() {
        let l = AdaptiveLimit::new(8, 16);
        l.on_throttled();
        assert_eq!(l.current(), 4);
        for _ in 0..20 {
            l.on_success();
        }
        assert_eq!(l.current(), 5);
        let a = l.acquire().await;
        drop(a);
    }
}
