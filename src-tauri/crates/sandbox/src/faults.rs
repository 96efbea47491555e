//! Seeded, reproducible fault injection. The same seed and the same request order give the same
//! faults; the configuration can be switched while the server runs.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{FaultConfig, FaultKind};

/// What becomes of the rows one request writes, when a fault decides it (a task-local around
/// the request, read where a handler stamps its rows' visibility).
#[derive(Clone, Copy, Debug)]
pub enum WriteFate {
    /// Accepted, then dropped: the rows are removed once the answer is made.
    Dropped,
    /// Visible only after this many milliseconds.
    DelayedMs(u64),
}

tokio::task_local! {
    pub static WRITE_FATE: WriteFate;
}

pub struct Faults {
    config: FaultConfig,
    rng: ChaCha8Rng,
    /// When not empty, faults fire only on requests with these methods (upper case).
    methods: Vec<String>,
    /// When not empty, faults fire only on requests whose path starts with one of these.
    paths: Vec<String>,
    /// Faults for the next requests, in order, before the seeded ones.
    script: std::collections::VecDeque<FaultKind>,
}

/// A fault chosen for one request; `seed` drives per-event choices (Partial207).
#[derive(Clone, Copy, Debug)]
pub struct Fired {
    pub kind: FaultKind,
    pub seed: u64,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        Faults {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            config,
            methods: vec![],
            paths: vec![],
            script: Default::default(),
        }
    }

    pub fn set(&mut self, config: FaultConfig) {
        let methods = std::mem::take(&mut self.methods);
        let paths = std::mem::take(&mut self.paths);
        *self = Faults::new(config);
        self.methods = methods;
        self.paths = paths;
    }

    /// Limits faults to requests with these methods (empty: every request), as when a server's
    /// write path fails while its reads, served elsewhere, work.
    pub fn set_methods(&mut self, methods: &[&str]) {
        self.methods = methods.iter().map(|m| m.to_ascii_uppercase()).collect();
    }

    /// The next requests (that may meet a fault) meet these, one each, in this order.
    pub fn script(&mut self, kinds: &[FaultKind]) {
        self.script = kinds.iter().copied().collect();
    }

    /// Limits faults to requests whose path starts with one of these (empty: every path), as
    /// when one backing service of the server fails.
    pub fn set_paths(&mut self, prefixes: &[&str]) {
        self.paths = prefixes.iter().map(|p| p.to_string()).collect();
    }

    /// Whether a request with this method and path may meet a fault at all.
    pub fn applies_to(&self, method: &axum::http::Method, path: &str) -> bool {
        (self.methods.is_empty() || self.methods.iter().any(|m| m == method.as_str()))
            && (self.paths.is_empty() || self.paths.iter().any(|p| path.starts_with(p.as_str())))
    }

    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// Decides whether a fault fires for the next request. `Partial207` can only fire on a batch
    /// ingestion request, so it is not a candidate elsewhere.
    pub fn decide(&mut self, is_batch_ingestion: bool) -> Option<Fired> {
        if let Some(kind) = self.script.pop_front() {
            return Some(Fired {
                kind,
                seed: self.rng.random(),
            });
        }
        if self.config.rate <= 0.0 {
            return None;
        }
        let roll: f64 = self.rng.random();
        let seed: u64 = self.rng.random();
        let kinds: Vec<FaultKind> = if self.config.kinds.is_empty() {
            FaultKind::ALL.to_vec()
        } else {
            self.config.kinds.clone()
        };
        let candidates: Vec<FaultKind> = kinds
            .into_iter()
            .filter(|k| is_batch_ingestion || *k != FaultKind::Partial207)
            .collect();
        let pick = self.rng.random_range(0..candidates.len().max(1));
        if roll >= self.config.rate || candidates.is_empty() {
            return None;
        }
        Some(Fired {
            kind: candidates[pick],
            seed,
        })
    }
}

/// Which events of a batch fail under `Partial207`: about half, at least one.
pub fn partial_failures(seed: u64, n: usize) -> Vec<bool> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut v: Vec<bool> = (0..n).map(|_| rng.random_bool(0.5)).collect();
    if n > 0 && !v.iter().any(|b| *b) {
        let i = rng.random_range(0..n);
        v[i] = true;
    }
    v
}
