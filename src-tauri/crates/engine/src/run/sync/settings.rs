//! How often a live sync reads, how far back, and how long an object must rest before it is
//! copied: defaults from the source's generation, overridable per run.

use crate::vocab::Generation;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What the caller chose (`None`: the default for the source). Journaled with the run, so a
/// resume follows with the same timing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncSettings {
    /// Seconds between two passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_secs: Option<f64>,
    /// Seconds an object must have been visible, unchanged and ended before it is copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle_secs: Option<f64>,
    /// Seconds before the watermark each pass reads again, for objects that show up late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookback_secs: Option<f64>,
    /// Stop once the source has had nothing new for this many seconds (`None`: follow until
    /// cancelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_idle_secs: Option<f64>,
    /// After the application was switched: finish (last pass, validation, cut over) once the
    /// source has had nothing new for this many seconds (`None`: only when asked to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_secs: Option<f64>,
}

/// The timing a sync runs with, every value decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncTiming {
    pub poll_secs: f64,
    pub settle_secs: f64,
    pub lookback_secs: f64,
    pub until_idle_secs: Option<f64>,
    #[serde(default)]
    pub drain_secs: Option<f64>,
}

impl SyncTiming {
    pub fn poll(&self) -> Duration {
        Duration::from_secs_f64(self.poll_secs.max(0.0))
    }
    pub fn settle(&self) -> Duration {
        Duration::from_secs_f64(self.settle_secs.max(0.0))
    }
    pub fn lookback(&self) -> Duration {
        Duration::from_secs_f64(self.lookback_secs.max(0.0))
    }
    pub fn until_idle(&self) -> Option<Duration> {
        self.until_idle_secs
            .map(|s| Duration::from_secs_f64(s.max(0.0)))
    }
    pub fn drain(&self) -> Option<Duration> {
        self.drain_secs.map(|s| Duration::from_secs_f64(s.max(0.0)))
    }
}

/// The kind of source a sync follows, which its default timing depends on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Followed {
    /// A Langfuse project of this generation (`None`: not known).
    Langfuse(Option<Generation>),
    LangSmith,
}

impl Followed {
    pub fn of(source: &crate::run::plan::EndpointSpec, generation: Option<Generation>) -> Self {
        match source {
            crate::run::plan::EndpointSpec::Langsmith(_) => Followed::LangSmith,
            _ => Followed::Langfuse(generation),
        }
    }
}

impl SyncSettings {
    /// The settings with a Langfuse source's defaults filled in (see `resolve_for`).
    pub fn resolve(&self, generation: Option<Generation>) -> SyncTiming {
        self.resolve_for(Followed::Langfuse(generation))
    }

    /// The settings with the source's defaults filled in.
    ///
    /// - v2 writes synchronously: objects show at once, but SDKs batch for a few seconds.
    /// - v3 queues ingestion (up to ~15 s) and ClickHouse shows rows later still; updates of one
    ///   object arrive as separate events, so an object must rest before it is final.
    /// - v4 receives OpenTelemetry spans when they *end*: a long span shows up with a start time
    ///   far behind the watermark, so its lookback is the longest.
    /// - LangSmith ingests asynchronously: the SDK sends runs from a background queue in
    ///   batches, a run's start and its end as separate operations, and the server queues them
    ///   again before a query shows them, so the runs of one tree become visible over seconds
    ///   to a minute (longer under load). A tree is copied whole to a target that cannot change
    ///   it, so it must rest longer than on Langfuse (settle 60 s). A pending run is visible from
    ///   its start and holds the watermark while it runs; the lookback only has to cover runs
    ///   that show up late, e.g. short runs whose start and end were sent together when they
    ///   ended (30 min). Each pass costs at least three run queries of the 15 per 10 s LangSmith
    ///   Cloud allows a key, so polling every 30 s takes under a tenth of that budget.
    pub fn resolve_for(&self, source: Followed) -> SyncTiming {
        let (poll, settle, lookback) = match source {
            Followed::Langfuse(Some(Generation::V2)) => (10.0, 10.0, 300.0),
            Followed::Langfuse(Some(Generation::V3)) => (30.0, 30.0, 900.0),
            Followed::Langfuse(Some(Generation::V4)) => (30.0, 15.0, 3600.0),
            Followed::Langfuse(None) => (30.0, 30.0, 900.0),
            Followed::LangSmith => (30.0, 60.0, 1800.0),
        };
        SyncTiming {
            poll_secs: self.poll_secs.unwrap_or(poll),
            settle_secs: self.settle_secs.unwrap_or(settle),
            lookback_secs: self.lookback_secs.unwrap_or(lookback),
            until_idle_secs: self.until_idle_secs,
            drain_secs: self.drain_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_generation_and_overrides_win() {
        let none = SyncSettings::default();
        let v4 = none.resolve(Some(Generation::V4));
        let v3 = none.resolve(Some(Generation::V3));
        assert!(
            v4.lookback_secs > v3.lookback_secs,
            "v4 spans arrive when they end"
        );
        assert!(
            v3.settle_secs >= 15.0,
            "v3's ingestion queue takes up to ~15 s"
        );
        let ls = none.resolve_for(Followed::LangSmith);
        assert!(
            ls.settle_secs > v3.settle_secs,
            "a LangSmith tree is copied whole once its runs have all shown up"
        );
        assert!(
            ls.poll_secs >= 30.0,
            "three run queries a pass leave most of LangSmith Cloud's 15 per 10 s"
        );
        let mine = SyncSettings {
            poll_secs: Some(1.0),
            settle_secs: Some(2.0),
            lookback_secs: Some(3.0),
            until_idle_secs: Some(4.0),
            drain_secs: None,
        }
        .resolve(Some(Generation::V3));
        assert_eq!(
            (
                mine.poll_secs,
                mine.settle_secs,
                mine.lookback_secs,
                mine.until_idle_secs
            ),
            (1.0, 2.0, 3.0, Some(4.0))
        );
    }
}
