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
}

pub type AppState = Arc<Inner>;

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
            config,
        })
    }

    /// When a write to an asynchronously ingested entity (ClickHouse in Langfuse) becomes visible.
    pub fn visible_at_for_new_write(&self) -> u64 {
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
