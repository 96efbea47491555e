//! The journal's record of a live sync: one row per pass (window read, objects seen, copied,
//! skipped, waiting, watermark, lag) and the objects waiting to settle. The run's plan stays as
//! it was journaled; only these tables move.

use crate::run::journal::Journal;
use crate::vocab::time::now_iso_millis;
use crate::vocab::{EngineError, Entity};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sync_passes(
  pass INTEGER PRIMARY KEY, window_from TEXT NOT NULL, window_to TEXT NOT NULL,
  started_at TEXT NOT NULL, ended_at TEXT, attempts INTEGER NOT NULL DEFAULT 1,
  seen INTEGER NOT NULL DEFAULT 0, copied INTEGER NOT NULL DEFAULT 0,
  skipped INTEGER NOT NULL DEFAULT 0, waiting INTEGER NOT NULL DEFAULT 0,
  watermark TEXT, lag_seconds REAL);
CREATE TABLE IF NOT EXISTS sync_waiting(
  entity TEXT NOT NULL, source_id TEXT NOT NULL, first_seen TEXT NOT NULL,
  content_hash TEXT NOT NULL, start_time TEXT, trace_id TEXT, open INTEGER NOT NULL,
  PRIMARY KEY(entity, source_id)) WITHOUT ROWID;
"#;

/// One pass of a sync, as journaled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncPass {
    pub pass: u64,
    /// The start-time window read: `[window_from, window_to)`.
    pub window_from: String,
    pub window_to: String,
    pub started_at: String,
    /// `None` while the pass runs (or was interrupted; resume finishes it).
    pub ended_at: Option<String>,
    /// How often the pass was started (more than once after an outage or a crash).
    pub attempts: u64,
    /// Objects read in the window.
    pub seen: u64,
    /// Objects this pass wrote to the target.
    pub copied: u64,
    /// Objects read again that the journal already held, or that the target already had.
    pub skipped: u64,
    /// Objects left waiting to settle when the pass ended.
    pub waiting: u64,
    /// Everything whose time is before this is copied (or failed with a reason).
    pub watermark: Option<String>,
    /// How far the watermark was behind the pass's end.
    pub lag_seconds: Option<f64>,
}

/// Where a sync stands (the run report and `runs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub passes: u64,
    pub watermark: Option<String>,
    pub lag_seconds: Option<f64>,
    /// Objects seen at the source and not yet copied: still open, or not yet at rest.
    pub waiting: u64,
    /// Of those, the ones without an end yet (they hold the watermark back).
    pub waiting_open: u64,
    pub last_pass: Option<SyncPass>,
    /// The timing the sync runs with (defaults of the source filled in).
    pub timing: Option<super::SyncTiming>,
    /// When the application was switched to the target, while that switch stands.
    #[serde(default)]
    pub switched_at: Option<String>,
    /// Who still writes to the source since the switch (the drain's "still receiving from N
    /// services").
    #[serde(default)]
    pub senders: Vec<super::drain::SenderSeen>,
    /// When the source last showed something new.
    #[serde(default)]
    pub quiet_since: Option<String>,
    /// Finishing was asked for and the run is not cut over yet.
    #[serde(default)]
    pub finishing: bool,
    /// Set once the sync finished: last pass, validation of the whole window.
    #[serde(default)]
    pub cut_over: Option<super::drain::CutOver>,
}

/// An object seen at the source and not copied yet.
pub(crate) struct Waiting {
    pub first_seen: DateTime<Utc>,
    pub content_hash: String,
}

pub(crate) fn ensure_tables(journal: &Journal) -> Result<(), EngineError> {
    journal.with_conn(|c| c.execute_batch(SCHEMA))?;
    super::drain::ensure_tables(journal)
}

/// Whether the run is a live sync.
pub fn is_sync(journal: &Journal) -> Result<bool, EngineError> {
    Ok(journal.meta("sync")?.is_some())
}

fn parse(s: &str) -> Option<DateTime<Utc>> {
    crate::vocab::filter::parse_time(s)
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

const PASS_COLUMNS: &str = "pass, window_from, window_to, started_at, ended_at, attempts, seen, copied, skipped, waiting, watermark, lag_seconds";

fn pass_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<SyncPass> {
    Ok(SyncPass {
        pass: r.get::<_, i64>(0)? as u64,
        window_from: r.get(1)?,
        window_to: r.get(2)?,
        started_at: r.get(3)?,
        ended_at: r.get(4)?,
        attempts: r.get::<_, i64>(5)? as u64,
        seen: r.get::<_, i64>(6)? as u64,
        copied: r.get::<_, i64>(7)? as u64,
        skipped: r.get::<_, i64>(8)? as u64,
        waiting: r.get::<_, i64>(9)? as u64,
        watermark: r.get(10)?,
        lag_seconds: r.get(11)?,
    })
}

/// Every pass of a sync run, oldest first (empty for a plain run).
pub fn passes(journal: &Journal) -> Result<Vec<SyncPass>, EngineError> {
    if !is_sync(journal)? {
        return Ok(vec![]);
    }
    ensure_tables(journal)?;
    journal.with_conn(|c| {
        let mut st = c.prepare(&format!(
            "SELECT {PASS_COLUMNS} FROM sync_passes ORDER BY pass"
        ))?;
        st.query_map([], pass_of)?.collect()
    })
}

fn last_pass(journal: &Journal, closed_only: bool) -> Result<Option<SyncPass>, EngineError> {
    journal.with_conn(|c| {
        c.query_row(
            &format!(
                "SELECT {PASS_COLUMNS} FROM sync_passes {} ORDER BY pass DESC LIMIT 1",
                if closed_only {
                    "WHERE ended_at IS NOT NULL"
                } else {
                    ""
                }
            ),
            [],
            pass_of,
        )
        .optional()
    })
}

/// The pass a crash or an outage left unfinished, if any.
pub(crate) fn open_pass(journal: &Journal) -> Result<Option<SyncPass>, EngineError> {
    Ok(last_pass(journal, false)?.filter(|p| p.ended_at.is_none()))
}

/// The watermark the last finished pass reached.
pub(crate) fn watermark(journal: &Journal) -> Result<Option<DateTime<Utc>>, EngineError> {
    Ok(last_pass(journal, true)?
        .and_then(|p| p.watermark)
        .and_then(|w| parse(&w)))
}

/// Where validation of a sync run must stop: everything before the watermark is copied;
/// after it, objects may still be waiting to settle. `None` for a plain run.
pub fn validation_end(journal: &Journal) -> Result<Option<DateTime<Utc>>, EngineError> {
    if !is_sync(journal)? {
        return Ok(None);
    }
    ensure_tables(journal)?;
    // A finishing or finished sync is validated over its whole window, up to the final pass's end.
    if let Some(end) = super::drain::final_window_to(journal)? {
        return Ok(Some(end));
    }
    Ok(Some(
        watermark(journal)?.unwrap_or(DateTime::<Utc>::MIN_UTC),
    ))
}

/// Starts pass `n` over `[from, to)`: its row, and the read checkpoints of `streams` reset, in
/// one transaction (a crash leaves either the previous pass finished or this one started).
pub(crate) fn start_pass(
    journal: &Journal,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    streams: &[String],
) -> Result<SyncPass, EngineError> {
    let started_at = now_iso_millis();
    let (window_from, window_to) = (iso(from), iso(to));
    let pass = journal.with_conn(|c| {
        let tx = c.transaction()?;
        let n: i64 = tx.query_row("SELECT COALESCE(MAX(pass), 0) + 1 FROM sync_passes", [], |r| {
            r.get(0)
        })?;
        tx.execute(
            "INSERT INTO sync_passes(pass, window_from, window_to, started_at) VALUES (?1, ?2, ?3, ?4)",
            params![n, window_from, window_to, started_at],
        )?;
        for s in streams {
            tx.execute("DELETE FROM checkpoints WHERE stream = ?1", [s])?;
        }
        tx.commit()?;
        Ok(n as u64)
    })?;
    Ok(SyncPass {
        pass,
        window_from,
        window_to,
        started_at,
        ended_at: None,
        attempts: 1,
        seen: 0,
        copied: 0,
        skipped: 0,
        waiting: 0,
        watermark: None,
        lag_seconds: None,
    })
}

/// Counts one more attempt of an unfinished pass (after an outage or on resume).
pub(crate) fn again(journal: &Journal, pass: u64) -> Result<(), EngineError> {
    journal.with_conn(|c| {
        c.execute(
            "UPDATE sync_passes SET attempts = attempts + 1 WHERE pass = ?1",
            [pass as i64],
        )
        .map(|_| ())
    })
}

/// What a finished pass did.
pub(crate) struct PassOutcome {
    pub seen: u64,
    pub copied: u64,
    pub skipped: u64,
}

/// Finishes a pass: the watermark is the window's end, or the earliest time of an object still
/// waiting, whichever is first; lag is how far it is behind now.
pub(crate) fn finish_pass(
    journal: &Journal,
    pass: &SyncPass,
    outcome: &PassOutcome,
) -> Result<SyncPass, EngineError> {
    let window_to = parse(&pass.window_to).unwrap_or_else(Utc::now);
    let earliest_waiting = journal.with_conn(|c| {
        let mut st =
            c.prepare("SELECT start_time FROM sync_waiting WHERE start_time IS NOT NULL")?;
        let times = st
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(times.iter().filter_map(|t| parse(t)).min())
    })?;
    let mark = earliest_waiting.map_or(window_to, |t| t.min(window_to));
    let now = Utc::now();
    let lag = (now - mark).num_milliseconds().max(0) as f64 / 1000.0;
    let waiting = count_waiting(journal)?.0;
    journal.with_conn(|c| {
        c.execute(
            "UPDATE sync_passes SET ended_at = ?2, seen = ?3, copied = ?4, skipped = ?5, waiting = ?6,
             watermark = ?7, lag_seconds = ?8 WHERE pass = ?1",
            params![
                pass.pass as i64,
                iso(now),
                outcome.seen as i64,
                outcome.copied as i64,
                outcome.skipped as i64,
                waiting as i64,
                iso(mark),
                lag
            ],
        )
        .map(|_| ())
    })?;
    Ok(last_pass(journal, true)?.expect("the pass just finished"))
}

/// (objects waiting, of which open: without an end, a trace with an open observation, or a
/// run held by an open run of its tree).
pub(crate) fn count_waiting(journal: &Journal) -> Result<(u64, u64), EngineError> {
    journal.with_conn(|c| {
        c.query_row(
            "SELECT COUNT(*), COALESCE(SUM(open <> 0), 0) FROM sync_waiting",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )
    })
}

pub(crate) fn waiting(
    journal: &Journal,
    entity: Entity,
    id: &str,
) -> Result<Option<Waiting>, EngineError> {
    let row = journal.with_conn(|c| {
        c.prepare_cached(
            "SELECT first_seen, content_hash FROM sync_waiting WHERE entity = ?1 AND source_id = ?2",
        )?
        .query_row(params![entity.as_str(), id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .optional()
    })?;
    Ok(row.map(|(first_seen, content_hash)| Waiting {
        first_seen: parse(&first_seen).unwrap_or_else(Utc::now),
        content_hash,
    }))
}

/// Whether an observation of `trace_id` is known to be still open.
pub(crate) fn trace_has_open_observation(
    journal: &Journal,
    trace_id: &str,
) -> Result<bool, EngineError> {
    journal.with_conn(|c| {
        c.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM sync_waiting WHERE entity = 'observations' AND trace_id = ?1 AND open = 1)",
        )?
        .query_row([trace_id], |r| r.get(0))
    })
}

/// Whether another observation of `trace_id` keeps the tree from being copied whole: it is
/// still open, or it has not rested since `rested_before`.
pub(crate) fn tree_unsettled(
    journal: &Journal,
    trace_id: &str,
    except: &str,
    rested_before: DateTime<Utc>,
) -> Result<bool, EngineError> {
    journal.with_conn(|c| {
        c.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM sync_waiting WHERE entity = 'observations' AND trace_id = ?1
             AND source_id <> ?2 AND (open = 1 OR first_seen > ?3))",
        )?
        .query_row(params![trace_id, except, iso(rested_before)], |r| r.get(0))
    })
}

/// What keeps a waiting object back (the `open` column).
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Hold {
    /// Ended: it waits out the settle time.
    Resting = 0,
    /// Not ended yet (or a trace with an observation that has not).
    Open = 1,
    /// Ended, but another run of its tree is still open: the tree is copied whole.
    Tree = 2,
}

/// An object that is not settled yet, as it was seen now.
pub(crate) struct Unsettled<'a> {
    pub entity: Entity,
    pub id: &'a str,
    pub first_seen: DateTime<Utc>,
    pub content_hash: &'a str,
    pub start_time: Option<DateTime<Utc>>,
    pub trace_id: Option<&'a str>,
    pub open: Hold,
}

pub(crate) fn set_waiting(journal: &Journal, w: &Unsettled<'_>) -> Result<(), EngineError> {
    journal.with_conn(|c| {
        c.prepare_cached(
            "INSERT OR REPLACE INTO sync_waiting(entity, source_id, first_seen, content_hash, start_time, trace_id, open)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            w.entity.as_str(),
            w.id,
            iso(w.first_seen),
            w.content_hash,
            w.start_time.map(iso),
            w.trace_id,
            w.open as i64
        ])
        .map(|_| ())
    })
}

pub(crate) fn clear_waiting(
    journal: &Journal,
    entity: Entity,
    id: &str,
) -> Result<(), EngineError> {
    journal.with_conn(|c| {
        c.prepare_cached("DELETE FROM sync_waiting WHERE entity = ?1 AND source_id = ?2")?
            .execute(params![entity.as_str(), id])
            .map(|_| ())
    })
}

/// The sync's standing, for the run report and `runs` (`None` for a plain run).
pub fn status(
    journal: &Journal,
    timing: Option<super::SyncTiming>,
) -> Result<Option<SyncStatus>, EngineError> {
    if !is_sync(journal)? {
        return Ok(None);
    }
    ensure_tables(journal)?;
    let last = last_pass(journal, true)?;
    let passes: i64 =
        journal.with_conn(|c| c.query_row("SELECT COUNT(*) FROM sync_passes", [], |r| r.get(0)))?;
    let (waiting, waiting_open) = count_waiting(journal)?;
    let cut_over = super::drain::cut_over(journal)?;
    Ok(Some(SyncStatus {
        passes: passes as u64,
        watermark: last.as_ref().and_then(|p| p.watermark.clone()),
        lag_seconds: last.as_ref().and_then(|p| p.lag_seconds),
        waiting,
        waiting_open,
        last_pass: last,
        timing,
        switched_at: super::drain::current_switch(journal)?.map(iso),
        senders: super::drain::senders(journal)?,
        quiet_since: super::drain::quiet_since(journal)?.map(iso),
        finishing: cut_over.is_none() && super::drain::finish_requested(journal)?,
        cut_over,
    }))
}
