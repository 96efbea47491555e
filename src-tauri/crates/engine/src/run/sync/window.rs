//! Which time window a follow pass reads.
//!
//! Reading `[watermark − lookback, now)` every pass re-reads the whole lookback every `poll`
//! seconds: at 1,000 objects a second and a 60 s lookback that is 60,000 objects a pass to find
//! the few thousand new ones, and with v4's one-hour lookback a sync could never keep up. So:
//!
//! - a **near** pass reads `[end of the last pass − overlap, now)` with `overlap = settle +
//!   2 × poll` (at most the lookback): what arrived since the last pass and objects a little
//!   late. Objects still waiting to settle from before that are read in narrow windows around
//!   their start times (`revisit`): the watermark is never after an object that waits, so
//!   reading from the watermark would read everything since a long-open span started, every
//!   pass;
//! - a **deep** pass reads from the lowest watermark since the previous deep pass started, less
//!   the lookback. One runs every `lookback / 2` seconds, as the last pass of a finishing sync,
//!   and before a sync stops for being idle.
//!
//! Why nothing that used to be read is lost: an object that shows up at time `v` with a start
//! at or after `watermark(v) − lookback` (what every pass used to read) is read by the first
//! deep pass after `v` at the latest. At `v` the last finished pass is the one before the
//! previous deep pass or a later one, so `watermark(v)` is at least the lowest watermark since
//! then, where the deep pass starts reading. Late objects therefore still arrive, at most
//! `lookback / 2 + poll` after they show up; the journal's skip keeps re-reads from copying
//! anything twice.

use super::SyncTiming;
use super::status::{self, SyncPass};
use crate::run::journal::Journal;
use crate::vocab::EngineError;
use chrono::{DateTime, Utc};

/// The journal key naming the last deep pass (none yet: the backfill, pass 1, read everything).
const LAST_DEEP: &str = "sync_last_deep_pass";

/// The window of the next pass, and whether it is a deep one.
#[derive(Debug, PartialEq)]
pub(crate) struct PassWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub deep: bool,
}

fn since(t: DateTime<Utc>) -> chrono::Duration {
    Utc::now() - t
}

fn span(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn before(t: DateTime<Utc>, d: std::time::Duration, floor: DateTime<Utc>) -> DateTime<Utc> {
    t.checked_sub_signed(span(d)).unwrap_or(floor).max(floor)
}

/// The pass the last deep read was (1, the backfill, until a follow pass was deep).
fn last_deep(journal: &Journal) -> Result<u64, EngineError> {
    Ok(journal
        .meta(LAST_DEEP)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(1))
}

/// Notes that `pass` read deep. Written after the pass is journaled: a crash in between leaves
/// an earlier deep pass on record, so the next deep pass comes sooner and reads more, never less.
pub(crate) fn mark_deep(journal: &Journal, pass: u64) -> Result<(), EngineError> {
    journal.set_meta(LAST_DEEP, &pass.to_string())
}

/// Whether `pass` read deep (the backfill did: it read everything).
pub(crate) fn was_deep(journal: &Journal, pass: u64) -> Result<bool, EngineError> {
    Ok(pass == 1 || journal.meta(LAST_DEEP)?.and_then(|v| v.parse().ok()) == Some(pass))
}

/// The window of the next pass (`plan_from` is the earliest any pass reads). `deep` asks for a
/// deep pass whether or not one is due.
pub(crate) fn next(
    journal: &Journal,
    timing: &SyncTiming,
    plan_from: DateTime<Utc>,
    deep: bool,
) -> Result<PassWindow, EngineError> {
    let passes = status::passes(journal)?;
    let finished: Vec<&SyncPass> = passes.iter().filter(|p| p.ended_at.is_some()).collect();
    let now = Utc::now();
    let to = |from: DateTime<Utc>| now.max(from + chrono::Duration::milliseconds(1));
    let watermark = |p: &SyncPass| p.watermark.as_deref().and_then(parse);
    // No pass finished yet: the backfill reads everything from the plan's start.
    let Some(latest) = finished.last().and_then(|p| watermark(p)) else {
        return Ok(PassWindow {
            from: plan_from,
            to: to(plan_from),
            deep: true,
        });
    };
    let deep_pass = last_deep(journal)?;
    let deep_started = passes
        .iter()
        .find(|p| p.pass == deep_pass)
        .and_then(|p| parse(&p.started_at));
    let due = deep_started.is_none_or(|t| since(t) >= span(timing.lookback() / 2));
    if deep || due {
        let lowest = finished
            .iter()
            .filter(|p| p.pass + 1 >= deep_pass)
            .filter_map(|p| watermark(p))
            .min()
            .unwrap_or(latest);
        let from = before(lowest, timing.lookback(), plan_from);
        return Ok(PassWindow {
            from,
            to: to(from),
            deep: true,
        });
    }
    // From the previous pass's end, not the watermark: an object still waiting holds the
    // watermark at its start, and it is looked at where it is (`revisit`), not by reading
    // everything since it started.
    let frontier = finished
        .last()
        .and_then(|p| parse(&p.window_to))
        .unwrap_or(latest);
    let overlap = (timing.settle() + timing.poll() * 2).min(timing.lookback());
    let from = before(frontier, overlap, plan_from);
    Ok(PassWindow {
        from,
        to: to(from),
        deep: false,
    })
}

fn parse(s: &str) -> Option<DateTime<Utc>> {
    crate::vocab::filter::parse_time(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::sync::status::PassOutcome;

    fn journal(dir: &std::path::Path) -> Journal {
        let plan = crate::run::plan::Plan::from_toml(
            "[source]\nkind = \"langfuse\"\nurl = \"http://127.0.0.1:1\"\npublic_key = \"pk\"\n[target]\nkind = \"archive\"\npath = \"/tmp/x\"\n",
        )
        .unwrap();
        let j = Journal::create_sync(dir, "r", &plan, "{}").unwrap();
        status::ensure_tables(&j).unwrap();
        j
    }

    fn timing(lookback: f64) -> SyncTiming {
        SyncTiming {
            poll_secs: 5.0,
            settle_secs: 5.0,
            lookback_secs: lookback,
            until_idle_secs: None,
            drain_secs: None,
        }
    }

    fn run_pass(j: &Journal, w: &PassWindow) {
        let p = status::start_pass(j, w.from, w.to, &[]).unwrap();
        if w.deep {
            mark_deep(j, p.pass).unwrap();
        }
        let outcome = PassOutcome {
            seen: 0,
            copied: 0,
            skipped: 0,
        };
        status::finish_pass(j, &p, &outcome).unwrap();
    }

    fn secs(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
        (b - a).num_milliseconds() as f64 / 1000.0
    }

    #[test]
    fn follow_passes_read_a_short_overlap_and_a_deep_pass_reads_the_lookback_when_due() {
        let dir = tempfile::tempdir().unwrap();
        let j = journal(dir.path());
        let origin = Utc::now() - chrono::Duration::days(1);
        let t = timing(600.0);
        let backfill = next(&j, &t, origin, false).unwrap();
        assert_eq!((backfill.from, backfill.deep), (origin, true));
        run_pass(&j, &backfill);
        let near = next(&j, &t, origin, false).unwrap();
        assert!(!near.deep);
        let read = secs(near.from, near.to);
        assert!(
            (15.0..16.0).contains(&read),
            "settle + 2 × poll before the watermark: {read} s"
        );
        run_pass(&j, &near);
        // Asked for (finishing, stopping idle): deep, back to the lookback before the lowest
        // watermark since the backfill.
        let deep = next(&j, &t, origin, true).unwrap();
        assert!(deep.deep);
        let read = secs(deep.from, deep.to);
        assert!((600.0..602.0).contains(&read), "{read} s");
        assert!(was_deep(&j, 1).unwrap());
        run_pass(&j, &deep);
        assert!(was_deep(&j, 3).unwrap());
        assert!(!was_deep(&j, 2).unwrap());
        assert!(!next(&j, &t, origin, false).unwrap().deep);
        // Due once `lookback / 2` has passed since the last deep pass started.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let due = next(&j, &timing(0.01), origin, false).unwrap();
        assert!(due.deep);
    }

    #[test]
    fn an_object_waiting_far_back_holds_the_watermark_but_not_the_near_window() {
        let dir = tempfile::tempdir().unwrap();
        let j = journal(dir.path());
        let origin = Utc::now() - chrono::Duration::days(1);
        let t = timing(600.0);
        run_pass(&j, &next(&j, &t, origin, false).unwrap());
        // A span opened an hour ago and still running.
        let opened = Utc::now() - chrono::Duration::hours(1);
        status::set_waiting(
            &j,
            &status::Unsettled {
                entity: crate::vocab::Entity::Observations,
                id: "open",
                first_seen: Utc::now(),
                content_hash: "h",
                start_time: Some(opened),
                trace_id: Some("t"),
                open: status::Hold::Open,
            },
        )
        .unwrap();
        run_pass(&j, &next(&j, &t, origin, false).unwrap());
        let held = status::watermark(&j).unwrap().unwrap();
        assert!(
            (held - opened).num_milliseconds().abs() <= 1,
            "the watermark stays at the open span's start"
        );
        let near = next(&j, &t, origin, false).unwrap();
        assert!(!near.deep);
        let read = secs(near.from, near.to);
        assert!(
            (15.0..16.0).contains(&read),
            "settle + 2 × poll before the last pass's end, not the hour since the span opened: {read} s"
        );
    }
}
