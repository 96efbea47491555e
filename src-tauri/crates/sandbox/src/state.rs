//! State shared by every request handler.

use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use crate::config::SandboxConfig;
use crate::faults::Faults;
use crate::ratelimit::RateLimiter;
use crate::store::Store;

/// Milliseconds since the server started; row visibility is measured on this clock.
pub struct Clock {
    start: Instant,
}

impl Clock {
    fn new() -> Self {
        Clock {
            start: Instant::now(),
        }
    }
    /// Never 0, so a row with `visible_at == 0` is always visible.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64 + 1
    }
}

pub struct Inner {
    pub config: SandboxConfig,
    pub store: RwLock<Store>,
    pub clock: Clock,
    delay_ms: u64,
    pub faults: Mutex<Faults>,
    pub limits: Mutex<RateLimiter>,
    /// Media records and bytes (their own lock: uploads never wait for the row store).
    pub media: Mutex<crate::media::MediaStore>,
    /// Requests that broke the API description (only with `validate_requests`).
    pub violations: Mutex<Vec<String>>,
    /// The project's keys were revoked: every public API request is refused with 401.
    pub keys_revoked: std::sync::atomic::AtomicBool,
    /// Public API requests received, per `METHOD /path` (no query): what a client costs the
    /// server, e.g. a live sync's reads per minute (`GET /_sandbox/requests`).
    pub requests: Mutex<std::collections::BTreeMap<String, u64>>,
    /// Rows the list reads returned, per `METHOD /path` (so far the v1 and v2 observation
    /// lists, what a client reads most): how much a client re-reads, not only how often it asks.
    pub rows_listed: Mutex<std::collections::BTreeMap<String, u64>>,
    /// Requests answered 429 by the Cloud plan's limits, per `METHOD /path`: whether a client
    /// stayed within its budget.
    pub throttled: Mutex<std::collections::BTreeMap<String, u64>>,
}

pub type AppState = Arc<Inner>;

/// The visibility of rows a fault dropped: never, until they are removed.
pub const NEVER: u64 = u64::MAX;

impl Inner {
    pub fn new(config: SandboxConfig) -> AppState {
        let delay_ms = config.effective_visibility_delay().as_millis() as u64;
        Arc::new(Inner {
            store: RwLock::new(Store::new(config.profile, &config.project_name)),
            clock: Clock::new(),
            delay_ms,
            faults: Mutex::new(Faults::new(config.faults.clone())),
            limits: Mutex::new(RateLimiter::new(config.plan, config.time_scale)),
            media: Mutex::new(Default::default()),
            violations: Mutex::new(Vec::new()),
            keys_revoked: Default::default(),
            requests: Mutex::default(),
            rows_listed: Mutex::default(),
            throttled: Mutex::default(),
            config,
        })
    }

    /// When a write to an asynchronously ingested entity (ClickHouse in Langfuse) becomes visible
    /// (`NEVER` for a write a fault drops: its rows are removed after the request).
    pub fn visible_at_for_new_write(&self) -> u64 {
        match crate::faults::WRITE_FATE.try_with(|f| *f) {
            Ok(crate::faults::WriteFate::Dropped) => return NEVER,
            Ok(crate::faults::WriteFate::DelayedMs(ms)) => return self.clock.now() + ms,
            Err(_) => {}
        }
        if self.delay_ms == 0 {
            0
        } else {
            self.clock.now() + self.delay_ms
        }
    }

    pub fn profile(&self) -> crate::config::ServerProfile {
        self.config.profile
    }
}
