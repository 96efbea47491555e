//! A LangSmith workspace followed by a live sync (`run::sync`): what differs from a one-shot copy.
//!
//! - Only the API can be followed: a bulk-export folder is written once and never grows.
//! - A run is open while it is pending: LangSmith shows a run as soon as it starts, without an
//!   end time and with status `pending`, and fills both in when it ends. The sync's settle gate
//!   copies a run tree only once no run of it is open (`run::sync::gate`, whole trees).
//! - Feedback arrives later than its run, often long after the run was copied. A pass therefore
//!   reads the feedback *created* within its window (`min_created_at`), on runs from the plan's
//!   `from` on, instead of the feedback on runs that *started* within it, which a one-shot copy
//!   reads.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::LangsmithEndpoint;
use super::runs;
use super::source::{iso, scan_bounds};
use crate::vocab::{EngineError, Entity, Record, Scope};

/// Refuses a LangSmith source a sync cannot follow.
pub fn refuse_unfollowable(e: &LangsmithEndpoint) -> Result<(), EngineError> {
    if e.export_path.is_some() {
        return Err(EngineError::InvalidPlan(
            "a LangSmith bulk export is a folder written once, so there is nothing new to follow; copy it with a run, or sync from the LangSmith API (remove `export_path`)".into(),
        ));
    }
    Ok(())
}

/// Whether a run's observation is still open at the source: pending, or without an end time.
pub fn run_is_open(r: &Record) -> bool {
    if r.entity != Entity::Observations {
        return false;
    }
    let pending = r
        .body
        .get("metadata")
        .and_then(|m| serde_json::from_str::<Value>(m.get()).ok())
        .is_some_and(|m| m["langsmith_status"] == "pending");
    pending || r.body.get_present("endTime").is_none()
}

/// The feedback query's extra parameter for a followed pass: only what was created since the
/// pass's window began (the backfill, which starts at the plan's `from`, reads all of it).
pub(super) fn feedback_since(scope: &Scope, follow_from: DateTime<Utc>) -> String {
    if scope.from > follow_from {
        format!("&min_created_at={}", iso(scope.from))
    } else {
        String::new()
    }
}

/// Feedback a followed pass copies: on a run the sync's whole window reads (as a one-shot copy
/// of `[from, now)` would), created before the pass's window ends (the next pass reads what
/// comes later).
pub(super) fn feedback_in_pass(f: &Value, scope: &Scope, follow_from: DateTime<Utc>) -> bool {
    let whole = Scope {
        from: follow_from,
        ..scope.clone()
    };
    let (lo, hi) = scan_bounds(&whole);
    let time = |k: &str| {
        f[k].as_str()
            .and_then(runs::iso_ms)
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
    };
    let on_run = time("start_time").is_none_or(|t| t >= lo && t < hi);
    let created = time("created_at").is_none_or(|t| t < scope.to);
    on_run && created
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::RawObject;
    use serde_json::json;

    fn scope(from: &str, to: &str) -> Scope {
        Scope {
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
            ..Scope::default()
        }
    }

    #[test]
    fn a_later_pass_reads_feedback_created_in_its_window_on_runs_from_the_plans_start() {
        let plan_from: DateTime<Utc> = "2026-11-30T10:00:00Z".parse().unwrap();
        let pass = scope("2026-11-30T12:00:00Z", "2026-11-30T12:05:00Z");
        // The run started two hours before the pass's window: a one-shot copy of the window
        // would skip its feedback; a followed pass must not.
        let late =
            json!({"start_time": "2026-11-30T10:30:00Z", "created_at": "2026-11-30T12:01:00Z"});
        assert!(feedback_in_pass(&late, &pass, plan_from));
        assert!(!super::super::source::feedback_in_window(&late, &pass));
        let before_plan =
            json!({"start_time": "2026-11-29T10:30:00Z", "created_at": "2026-11-30T12:01:00Z"});
        assert!(!feedback_in_pass(&before_plan, &pass, plan_from));
        let after_pass =
            json!({"start_time": "2026-11-30T10:30:00Z", "created_at": "2026-11-30T12:06:00Z"});
        assert!(!feedback_in_pass(&after_pass, &pass, plan_from));
        assert_eq!(
            feedback_since(&pass, plan_from),
            "&min_created_at=2026-11-30T12:00:00.000000Z"
        );
        assert_eq!(
            feedback_since(
                &scope("2026-11-30T10:00:00Z", "2026-11-30T12:05:00Z"),
                plan_from
            ),
            ""
        );
    }

    #[test]
    fn a_pending_run_is_open_even_with_an_end_time() {
        let obs = |body: Value| {
            Record::new(
                Entity::Observations,
                "o".into(),
                RawObject::from_json(&body.to_string()).unwrap(),
            )
        };
        assert!(run_is_open(&obs(
            json!({"endTime": null, "metadata": {"langsmith_status": "pending"}})
        )));
        assert!(run_is_open(&obs(
            json!({"endTime": "2026-11-30T10:00:00.000Z", "metadata": {"langsmith_status": "pending"}})
        )));
        assert!(!run_is_open(&obs(
            json!({"endTime": "2026-11-30T10:00:00.000Z", "metadata": {"langsmith_status": "success"}})
        )));
    }
}
