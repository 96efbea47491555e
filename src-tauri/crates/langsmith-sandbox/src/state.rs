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
}

pub type AppState = Arc<Inner>;

impl Inner {
    pub fn new(config: SandboxConfig) -> AppState {
        Arc::new(Inner {
            store: RwLock::new(Store::new()),
            faults: Mutex::new(Faults::new(config.faults.clone())),
            limits: Mutex::new(Limiter::new(config.time_scale)),
            config,
        })
    }
}
