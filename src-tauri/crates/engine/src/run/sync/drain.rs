//! The switch, the drain and the finish of a live sync, as journaled.
//!
//! - A *switch* is the moment the application was pointed at the target (`mark_switched`); a
//!   switch-back ends it. A later switch is a row of its own, so a copy-back always knows
//!   since when the application wrote to the target.
//! - While a switch stands, every object the sync sees for the first time is noted with what
//!   names its sender (SDK, service, release, environment): instances still running the old
//!   configuration keep writing to the source, and the drain shows them.
//! - `quiet_since` is when the source last showed something new (any time, switched or not).
//! - A *finish request* is a journal flag, so another process (the CLI's `finish`) can ask a
//!   running sync to finish; the sync reads it between passes. A finished sync is *cut over*.

use crate::run::journal::Journal;
use crate::vocab::{EngineError, Entity, Record};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::path::Path;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sync_switches(
  n INTEGER PRIMARY KEY, switched_at TEXT NOT NULL, switched_back_at TEXT);
CREATE TABLE IF NOT EXISTS sync_news(
  entity TEXT NOT NULL, source_id TEXT NOT NULL, trace_id TEXT, seen_at TEXT NOT NULL,
  sdk TEXT, sdk_version TEXT, service TEXT, release TEXT, environment TEXT,
  PRIMARY KEY(entity, source_id)) WITHOUT ROWID;
"#;

/// Meta keys: when the source last showed something new; a finish asked for; the cut-over.
const QUIET_SINCE: &str = "sync_quiet_since";
const FINISH_REQUESTED: &str = "sync_finish_requested";
const CUT_OVER: &str = "sync_cut_over";

/// Who still writes to the source after the switch: objects first seen since, grouped by what
/// names their sender. Fields an object does not carry are taken from its trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderSeen {
    /// The SDK's name and version (OpenTelemetry scope or `telemetry.sdk.*`; legacy ingestion
    /// does not keep them, so `None` there).
    pub sdk: Option<String>,
    pub sdk_version: Option<String>,
    /// The OpenTelemetry `service.name`, when the sender set one.
    pub service: Option<String>,
    pub release: Option<String>,
    pub environment: Option<String>,
    /// Objects (traces, observations, scores) first seen since the switch.
    pub objects: u64,
    /// When the newest of them was first seen.
    pub last_seen: String,
}

/// A finished sync: when, up to when the window was validated, and what validation found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CutOver {
    pub at: String,
    /// The window validated: `[plan from, window_to)`.
    pub window_to: String,
    pub validation_clean: bool,
    /// Validation's findings in one sentence (what is missing, extra or different).
    pub validation_summary: String,
}

pub(crate) fn ensure_tables(journal: &Journal) -> Result<(), EngineError> {
    journal.with_conn(|c| c.execute_batch(SCHEMA))
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn open_sync(data_dir: &Path, run_id: &str) -> Result<Journal, EngineError> {
    let journal = Journal::open(data_dir, run_id)?;
    if !super::status::is_sync(&journal)? {
        return Err(EngineError::InvalidPlan(format!(
            "run {run_id} is not a live sync, so there is no switch to record or drain to follow"
        )));
    }
    ensure_tables(&journal)?;
    Ok(journal)
}

/// Journals that the application was switched to the target at `at`. Idempotent while the
/// switch stands; after a switch-back, a new switch is a new row.
pub fn mark_switched(data_dir: &Path, run_id: &str, at: DateTime<Utc>) -> Result<(), EngineError> {
    switched_in(&open_sync(data_dir, run_id)?, at)
}

pub(crate) fn switched_in(journal: &Journal, at: DateTime<Utc>) -> Result<(), EngineError> {
    ensure_tables(journal)?;
    if current_switch(journal)?.is_some() {
        return Ok(());
    }
    journal.with_conn(|c| {
        c.execute(
            "INSERT INTO sync_switches(switched_at) VALUES (?1)",
            [iso(at)],
        )
        .map(|_| ())
    })?;
    journal.log(
        "info",
        &format!("the application was switched to the target at {}", iso(at)),
    )
}

/// Journals that the switch was rolled back at `at` (the `.env` restored). Nothing when no
/// switch stands.
pub fn mark_switched_back(
    data_dir: &Path,
    run_id: &str,
    at: DateTime<Utc>,
) -> Result<(), EngineError> {
    switched_back_in(&open_sync(data_dir, run_id)?, at)
}

pub(crate) fn switched_back_in(journal: &Journal, at: DateTime<Utc>) -> Result<(), EngineError> {
    ensure_tables(journal)?;
    let changed = journal.with_conn(|c| {
        c.execute(
            "UPDATE sync_switches SET switched_back_at = ?1 WHERE switched_back_at IS NULL",
            [iso(at)],
        )
    })?;
    if changed > 0 {
        journal.log(
            "info",
            &format!(
                "the application was switched back to the source at {}",
                iso(at)
            ),
        )?;
    }
    Ok(())
}

/// The switch that stands now (not switched back), if any.
pub(crate) fn current_switch(journal: &Journal) -> Result<Option<DateTime<Utc>>, EngineError> {
    newest_switch(journal, "WHERE switched_back_at IS NULL")
}

/// The latest switch, standing or switched back (a copy-back starts there).
pub fn latest_switch(journal: &Journal) -> Result<Option<DateTime<Utc>>, EngineError> {
    ensure_tables(journal)?;
    newest_switch(journal, "")
}

fn newest_switch(journal: &Journal, filter: &str) -> Result<Option<DateTime<Utc>>, EngineError> {
    let t: Option<String> = journal.with_conn(|c| {
        c.query_row(
            &format!("SELECT switched_at FROM sync_switches {filter} ORDER BY n DESC LIMIT 1"),
            [],
            |r| r.get(0),
        )
        .optional()
    })?;
    Ok(t.and_then(|t| crate::vocab::filter::parse_time(&t)))
}

/// What names the sender of `r`, from the fields Langfuse keeps (OpenTelemetry spans carry
/// their scope and resource in metadata).
fn sender_of(r: &Record) -> [Option<String>; 5] {
    let body = &r.body;
    let metadata: serde_json::Value = body
        .get("metadata")
        .and_then(|m| serde_json::from_str(m.get()).ok())
        .unwrap_or_default();
    let text = |path: &[&str]| -> Option<String> {
        let mut at = &metadata;
        for p in path {
            at = at.get(*p)?;
        }
        at.as_str().filter(|s| !s.is_empty()).map(str::to_string)
    };
    // The instrumentation scope names the Langfuse SDK (`langfuse-sdk` 3.x); `telemetry.sdk`
    // names the OpenTelemetry SDK under it, the best there is for other instrumentations.
    // A LangSmith run carries the LangSmith SDK's runtime (`extra.runtime`, kept by the mapping).
    let sdk = text(&["scope", "name"])
        .or_else(|| text(&["resourceAttributes", "telemetry.sdk.name"]))
        .or_else(|| text(&["langsmith_runtime", "sdk"]));
    let sdk_version = if text(&["scope", "name"]).is_some() {
        text(&["scope", "version"])
    } else if text(&["resourceAttributes", "telemetry.sdk.name"]).is_some() {
        text(&["resourceAttributes", "telemetry.sdk.version"])
    } else {
        text(&["langsmith_runtime", "sdk_version"])
    };
    [
        sdk,
        sdk_version,
        text(&["resourceAttributes", "service.name"]),
        body.str("release"),
        body.str("environment"),
    ]
}

/// Notes `r`, seen for the first time at `now`, as news since the switch.
pub(crate) fn note_news(
    journal: &Journal,
    r: &Record,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    let [sdk, sdk_version, service, release, environment] = sender_of(r);
    let trace_id = match r.entity {
        Entity::Traces => Some(r.id.clone()),
        _ => r.body.str("traceId"),
    };
    journal.with_conn(|c| {
        c.prepare_cached(
            "INSERT OR IGNORE INTO sync_news(entity, source_id, trace_id, seen_at, sdk, sdk_version, service, release, environment)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            r.entity.as_str(),
            r.id,
            trace_id,
            iso(now),
            sdk,
            sdk_version,
            service,
            release,
            environment
        ])
        .map(|_| ())
    })
}

/// The senders seen since the standing switch (empty when none stands), most objects first.
pub fn senders(journal: &Journal) -> Result<Vec<SenderSeen>, EngineError> {
    ensure_tables(journal)?;
    let Some(since) = current_switch(journal)? else {
        return Ok(vec![]);
    };
    // An object may lack what others of its trace carry (an observation its trace's release, a
    // v4 trace its spans' SDK): each field is taken from the object, else from its trace's
    // objects, so one sender is not counted as two.
    journal.with_conn(|c| {
        let mut st = c.prepare(
            "WITH per_trace AS (
               SELECT trace_id, MAX(sdk) AS sdk, MAX(sdk_version) AS sdk_version,
                      MAX(service) AS service, MAX(release) AS release,
                      MAX(environment) AS environment
               FROM sync_news WHERE trace_id IS NOT NULL GROUP BY trace_id)
             SELECT COALESCE(n.sdk, p.sdk), COALESCE(n.sdk_version, p.sdk_version),
                    COALESCE(n.service, p.service), COALESCE(n.release, p.release),
                    COALESCE(n.environment, p.environment), COUNT(*), MAX(n.seen_at)
             FROM sync_news n LEFT JOIN per_trace p ON p.trace_id = n.trace_id
             WHERE n.seen_at >= ?1
             GROUP BY 1, 2, 3, 4, 5 ORDER BY 6 DESC, 7 DESC",
        )?;
        st.query_map([iso(since)], |r| {
            Ok(SenderSeen {
                sdk: r.get(0)?,
                sdk_version: r.get(1)?,
                service: r.get(2)?,
                release: r.get(3)?,
                environment: r.get(4)?,
                objects: r.get::<_, i64>(5)? as u64,
                last_seen: r.get(6)?,
            })
        })?
        .collect()
    })
}

/// Records that the source showed something new at `at`.
pub(crate) fn set_quiet_since(journal: &Journal, at: DateTime<Utc>) -> Result<(), EngineError> {
    journal.set_meta(QUIET_SINCE, &iso(at))
}

/// When the source last showed something new (`None`: nothing seen yet).
pub fn quiet_since(journal: &Journal) -> Result<Option<DateTime<Utc>>, EngineError> {
    Ok(journal
        .meta(QUIET_SINCE)?
        .and_then(|t| crate::vocab::filter::parse_time(&t)))
}

/// Asks the sync of `run_id` to finish: a running sync reads the flag between passes; a sync
/// that is not running finishes when it is resumed.
pub fn request_finish(data_dir: &Path, run_id: &str) -> Result<(), EngineError> {
    let journal = open_sync(data_dir, run_id)?;
    if journal.meta(CUT_OVER)?.is_some() {
        return Err(EngineError::InvalidPlan(format!(
            "run {run_id} is already cut over; there is nothing left to finish"
        )));
    }
    request_finish_in(&journal, "finishing was asked for")
}

pub(crate) fn request_finish_in(journal: &Journal, why: &str) -> Result<(), EngineError> {
    if finish_requested(journal)? {
        return Ok(());
    }
    journal.set_meta(FINISH_REQUESTED, &iso(Utc::now()))?;
    journal.log(
        "info",
        &format!("{why}: the sync runs a last pass, validates and cuts over"),
    )
}

pub(crate) fn finish_requested(journal: &Journal) -> Result<bool, EngineError> {
    Ok(journal.meta(FINISH_REQUESTED)?.is_some())
}

pub(crate) fn mark_cut_over(journal: &Journal, c: &CutOver) -> Result<(), EngineError> {
    journal.set_meta(
        CUT_OVER,
        &serde_json::to_string(c).expect("cut-over serialises"),
    )?;
    journal.log(
        "info",
        &format!("cut over at {}: {}", c.at, c.validation_summary),
    )
}

/// The sync's cut-over, once it finished.
pub fn cut_over(journal: &Journal) -> Result<Option<CutOver>, EngineError> {
    journal
        .meta(CUT_OVER)?
        .map(|s| {
            serde_json::from_str(&s).map_err(|e| {
                EngineError::Journal(format!("the cut-over record cannot be read: {e}"))
            })
        })
        .transpose()
}

/// Meta keys of the last pass: its number and its window's end (the end of the validated window).
const FINAL_PASS: &str = "sync_final_pass";
const FINAL_WINDOW_TO: &str = "sync_final_window_to";

/// Both in one statement: a crash leaves neither or both.
pub(crate) fn set_final_pass(journal: &Journal, pass: u64, to: &str) -> Result<(), EngineError> {
    journal.with_conn(|c| {
        c.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2), (?3, ?4)",
            params![FINAL_PASS, pass.to_string(), FINAL_WINDOW_TO, to],
        )
        .map(|_| ())
    })
}

/// The number of the sync's last pass, once it started.
pub(crate) fn final_pass(journal: &Journal) -> Result<Option<u64>, EngineError> {
    Ok(journal.meta(FINAL_PASS)?.and_then(|p| p.parse().ok()))
}

/// The end of the last pass's window, once it started.
pub(crate) fn final_window_to(journal: &Journal) -> Result<Option<DateTime<Utc>>, EngineError> {
    Ok(journal
        .meta(FINAL_WINDOW_TO)?
        .and_then(|t| crate::vocab::filter::parse_time(&t)))
}
