//! State shared by every request handler.

use std::sync::Arc;

use langfuse_sandbox::faults::Faults;
use parking_lot::{Mutex, RwLock};

use crate::config::SandboxConfig;
use crate::ratelimit::Limiter;
use crate::store::Store;

pub struct Inner {
    pub config: SandboxConfig,
    pub store: RwLock<Store>,
    pub faults: Mutex<Faults>,
    pub limits: Mutex<Limiter>,
    /// API-key requests per rate-limit bucket, and those answered 429 (`GET /_sandbox/requests`):
    /// whether a client stayed within its share of the limits.
    pub requests: Mutex<Requests>,
}

/// Requests per bucket (`runs_query`, `repos`, `other`): received, and answered 429.
#[derive(Default, serde::Serialize)]
pub struct Requests {
    pub requests: std::collections::BTreeMap<&'static str, u64>,
    pub throttled: std::collections::BTreeMap<&'static str, u64>,
}

pub type AppState = Arc<Inner>;

impl Inner {
    pub fn new(config: SandboxConfig) -> AppState {
        Arc::new(Inner {
            store: RwLock::new(Store::new()),
            faults: Mutex::new(Faults::new(config.faults.clone())),
            limits: Mutex::new(Limiter::new(config.time_scale)),
            requests: Mutex::default(),
            config,
        })
    }
}
