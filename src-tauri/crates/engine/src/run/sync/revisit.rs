//! Where a short pass looks besides its window: around the objects still waiting to settle
//! whose start lies before it.
//!
//! The watermark never passes an object that waits (everything before the watermark is
//! copied), so a span open for an hour holds it an hour back. A short pass therefore reads its
//! window after the previous pass's end (`window`), and then, per entity, narrow windows
//! around the start times of the waiting objects before it, so one of them is copied in the
//! first pass after it ends instead of every pass reading the hour again. An object's window
//! spans its whole tree as the journal knows it (the trace and its waiting observations): a
//! source that hands over whole trees (LangSmith) needs the root to place a child.
//!
//! The windows are read after the pass's own window, as more pages of the same stream: the
//! gate's cursor names the window it is in (`Cursor`), so a pass interrupted in one resumes
//! there. Which windows follow is asked of the journal again at the end of each one: those
//! ending later, so a crash or objects settling meanwhile never skip a part. A deep pass reads
//! from before every waiting object, so it has none; it also remains the safety net for any
//! object these windows miss.

use crate::run::journal::Journal;
use crate::vocab::{EngineError, Entity};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How far around a waiting object's start its window reaches (sources round times, and an
/// object's window should not hinge on the last millisecond).
const MARGIN: Duration = Duration::seconds(1);

/// At most this many windows per entity and pass: more waiting objects than that share windows
/// (the nearest ones first), so a pass costs a bounded number of requests (a Hobby plan allows
/// 30 legacy reads a minute: a pass every 30 s of 3 reads and up to 12 revisits stays within).
const MAX_WINDOWS: usize = 4;

/// What marks a gate cursor as one inside a revisit window.
const PREFIX: &str = "sync-revisit:";

/// A half-open window `[from, to)` of start times.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A page position inside a revisit window: the window and the source's own cursor in it.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    pub window: Window,
    pub inner: Option<String>,
}

impl Cursor {
    /// The cursor of a revisit window's page, or `None` for a cursor of the pass's own window.
    pub fn parse(cursor: Option<&str>) -> Option<Cursor> {
        serde_json::from_str(cursor?.strip_prefix(PREFIX)?).ok()
    }

    pub fn encode(&self) -> String {
        format!(
            "{PREFIX}{}",
            serde_json::to_string(self).expect("a cursor serialises")
        )
    }
}

/// The first window of `entity` to read after `after` (`None`: after the pass's own window),
/// among those before `before` (where the pass's own window starts).
pub(crate) fn next(
    journal: &Journal,
    entity: Entity,
    before: DateTime<Utc>,
    after: Option<DateTime<Utc>>,
) -> Result<Option<Window>, EngineError> {
    let windows = windows(&waiting_starts(journal, before)?, entity, before);
    Ok(windows
        .into_iter()
        .filter(|w| after.is_none_or(|a| w.to > a))
        .map(|w| Window {
            from: after.map_or(w.from, |a| w.from.max(a)),
            to: w.to,
        })
        .next())
}

/// A waiting object: its entity, its tree (trace id, or its own id) and its start.
struct Start {
    entity: String,
    tree: String,
    at: DateTime<Utc>,
}

/// The waiting objects of the trees with a waiting object that started before `before` (times
/// are journaled in one format, so they compare as text).
fn waiting_starts(journal: &Journal, before: DateTime<Utc>) -> Result<Vec<Start>, EngineError> {
    let before = before.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let rows = journal.with_conn(|c| {
        let mut st = c.prepare_cached(
            "SELECT entity, COALESCE(trace_id, source_id), start_time FROM sync_waiting
             WHERE start_time IS NOT NULL AND COALESCE(trace_id, source_id) IN
               (SELECT COALESCE(trace_id, source_id) FROM sync_waiting WHERE start_time < ?1)",
        )?;
        st.query_map([&before], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()
    })?;
    Ok(rows
        .into_iter()
        .filter_map(|(entity, tree, at)| {
            Some(Start {
                entity,
                tree,
                at: crate::vocab::filter::parse_time(&at)?,
            })
        })
        .collect())
}

/// The windows of `entity`, in order, before `before`: one per tree with a waiting object of
/// `entity`, over the start times of all the tree's waiting objects, merged where they touch
/// and down to `MAX_WINDOWS`.
fn windows(starts: &[Start], entity: Entity, before: DateTime<Utc>) -> Vec<Window> {
    let mut trees: BTreeMap<&str, (DateTime<Utc>, DateTime<Utc>, bool)> = BTreeMap::new();
    for s in starts {
        let t = trees.entry(&s.tree).or_insert((s.at, s.at, false));
        t.0 = t.0.min(s.at);
        t.1 = t.1.max(s.at);
        t.2 |= s.entity == entity.as_str();
    }
    let mut spans: Vec<Window> = trees
        .into_values()
        .filter(|(_, _, of_entity)| *of_entity)
        .map(|(lo, hi, _)| Window {
            from: lo - MARGIN,
            to: (hi + MARGIN).min(before),
        })
        .filter(|w| w.from < w.to)
        .collect();
    spans.sort_by_key(|w| w.from);
    let mut merged: Vec<Window> = vec![];
    for w in spans {
        match merged.last_mut() {
            Some(last) if w.from <= last.to => last.to = last.to.max(w.to),
            _ => merged.push(w),
        }
    }
    while merged.len() > MAX_WINDOWS {
        let closest = (1..merged.len())
            .min_by_key(|&i| merged[i].from - merged[i - 1].to)
            .expect("more than one window");
        let w = merged.remove(closest);
        merged[closest - 1].to = merged[closest - 1].to.max(w.to);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(1_000_000 + s)
    }

    fn start(entity: Entity, tree: &str, s: i64) -> Start {
        Start {
            entity: entity.as_str().into(),
            tree: tree.into(),
            at: at(s),
        }
    }

    #[test]
    fn a_window_spans_the_waiting_part_of_a_tree_before_the_pass_and_no_more() {
        let starts = [
            start(Entity::Traces, "a", 0),
            start(Entity::Observations, "a", 30),
            start(Entity::Observations, "b", 500),
            // Inside the pass's own window: read there.
            start(Entity::Observations, "c", 2000),
        ];
        let obs = windows(&starts, Entity::Observations, at(1000));
        assert_eq!(
            obs,
            vec![
                Window {
                    from: at(-1),
                    to: at(31)
                },
                Window {
                    from: at(499),
                    to: at(501)
                }
            ]
        );
        // Traces: only the tree with a waiting trace.
        assert_eq!(windows(&starts, Entity::Traces, at(1000)).len(), 1);
        assert!(windows(&starts, Entity::Scores, at(1000)).is_empty());
    }

    #[test]
    fn many_waiting_objects_share_a_bounded_number_of_windows_and_none_is_left_out() {
        let starts: Vec<Start> = (0..50)
            .map(|i| start(Entity::Observations, &format!("t{i}"), i * i * 10))
            .collect();
        let w = windows(&starts, Entity::Observations, at(1_000_000));
        assert_eq!(w.len(), MAX_WINDOWS);
        for s in &starts {
            assert!(
                w.iter().any(|w| w.from <= s.at && s.at < w.to),
                "{} is in a window",
                s.at
            );
        }
        assert!(w.windows(2).all(|p| p[0].to < p[1].from), "in order, apart");
    }

    #[test]
    fn a_cursor_names_its_window_and_a_plain_cursor_is_the_pass_windows() {
        let c = Cursor {
            window: Window {
                from: at(0),
                to: at(1),
            },
            inner: Some("page 2".into()),
        };
        assert_eq!(Cursor::parse(Some(&c.encode())), Some(c));
        assert_eq!(Cursor::parse(Some("eyJwYWdlIjoyfQ")), None);
        assert_eq!(Cursor::parse(None), None);
    }
}
