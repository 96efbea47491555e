//! Counts: per entity (read, written, skipped, failed), and the live counters a run bumps from
//! any task.

use super::model::Entity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts for one entity.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EntityCounts {
    pub read: u64,
    pub written: u64,
    pub skipped: u64,
    pub failed: u64,
    /// The target held other content under the same id before the run (see `ObjectState::Conflict`).
    #[serde(default)]
    pub conflicts: u64,
}

/// Live counters; cheap to bump from any task.
#[derive(Debug, Default)]
pub struct Counters {
    per_entity: [[AtomicU64; 4]; Entity::ALL.len()],
    retries: AtomicU64,
    rate_limit_waits: AtomicU64,
    /// Requests sent, per rate-limit bucket (see `Bucket::ALL`).
    requests: [AtomicU64; 5],
    /// Expected totals per entity (0 = unknown), from the source's count.
    expected: [AtomicU64; Entity::ALL.len()],
}

fn idx(e: Entity) -> usize {
    Entity::ALL
        .iter()
        .position(|x| *x == e)
        .expect("entity listed")
}

impl Counters {
    pub fn add_read(&self, e: Entity, n: u64) {
        self.per_entity[idx(e)][0].fetch_add(n, Ordering::Relaxed);
    }
    pub fn add_written(&self, e: Entity, n: u64) {
        self.per_entity[idx(e)][1].fetch_add(n, Ordering::Relaxed);
    }
    pub fn add_skipped(&self, e: Entity, n: u64) {
        self.per_entity[idx(e)][2].fetch_add(n, Ordering::Relaxed);
    }
    pub fn add_failed(&self, e: Entity, n: u64) {
        self.per_entity[idx(e)][3].fetch_add(n, Ordering::Relaxed);
    }
    pub fn add_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add_rate_limit_wait(&self) {
        self.rate_limit_waits.fetch_add(1, Ordering::Relaxed);
    }
    pub fn set_expected(&self, e: Entity, n: u64) {
        self.expected[idx(e)].store(n, Ordering::Relaxed);
    }
    pub fn expected(&self, e: Entity) -> Option<u64> {
        Some(self.expected[idx(e)].load(Ordering::Relaxed)).filter(|n| *n > 0)
    }
    pub fn add_request(&self, bucket_index: usize) {
        self.requests[bucket_index].fetch_add(1, Ordering::Relaxed);
    }
    /// Requests sent per bucket, in the order of `Bucket::ALL`.
    pub fn requests(&self) -> [u64; 5] {
        std::array::from_fn(|i| self.requests[i].load(Ordering::Relaxed))
    }
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
    pub fn rate_limit_waits(&self) -> u64 {
        self.rate_limit_waits.load(Ordering::Relaxed)
    }

    pub fn entity(&self, e: Entity) -> EntityCounts {
        let a = &self.per_entity[idx(e)];
        EntityCounts {
            read: a[0].load(Ordering::Relaxed),
            written: a[1].load(Ordering::Relaxed),
            skipped: a[2].load(Ordering::Relaxed),
            failed: a[3].load(Ordering::Relaxed),
            conflicts: 0,
        }
    }

    pub fn snapshot(&self) -> BTreeMap<Entity, EntityCounts> {
        Entity::ALL
            .into_iter()
            .map(|e| (e, self.entity(e)))
            .filter(|(_, c)| *c != EntityCounts::default())
            .collect()
    }

    /// Seeds the counters from the journal when a run resumes.
    pub fn preset(&self, e: Entity, c: EntityCounts) {
        let a = &self.per_entity[idx(e)];
        a[0].store(c.read, Ordering::Relaxed);
        a[1].store(c.written, Ordering::Relaxed);
        a[2].store(c.skipped, Ordering::Relaxed);
        a[3].store(c.failed, Ordering::Relaxed);
    }
}
