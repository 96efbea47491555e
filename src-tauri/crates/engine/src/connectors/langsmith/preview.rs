//! The mapping preview a plan shows: one sample trace of the window as LangSmith holds it, and
//! the trace and observations Langfuse will receive for it. The "after" side comes from the
//! copy's own mapping (`LangSmith::trace_record`, `LangSmith::observation_record`,
//! `tree::reattach`), never from a second one, so the preview shows what a run writes.
//!
//! Bounded: one trace; at most [`READ_AT_MOST`] of its runs are read and [`SHOWN_AT_MOST`]
//! shown, the rest counted ("and N more").

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use ts_rs::TS;

use super::source::{LangSmith, in_window, iso, root_window_filter, scan_bounds};
use super::{LangsmithEndpoint, tree};
use crate::vocab::{Bucket, Counters, EngineError, Record, Scope};

type Run = Map<String, Value>;

/// Nodes shown per side.
pub const SHOWN_AT_MOST: usize = 200;
/// Runs of the sample trace read at most (the count of those not shown is a floor beyond it).
pub const READ_AT_MOST: usize = 1000;

/// One run as LangSmith holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RunNode {
    pub id: String,
    pub name: String,
    /// `chain`, `llm`, `tool`, `retriever`, …
    pub run_type: String,
    pub parent_run_id: Option<String>,
    /// 0 for the root run.
    pub depth: u32,
}

/// The Langfuse trace the root run becomes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TraceNode {
    pub id: String,
    pub name: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub tags: Vec<String>,
}

/// One Langfuse observation a run becomes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ObservationNode {
    pub id: String,
    /// `GENERATION`, `CHAIN`, `TOOL`, `SPAN`, …
    pub observation_type: String,
    pub name: Option<String>,
    /// `null` for an observation directly under the trace.
    pub parent_observation_id: Option<String>,
    /// The LangSmith run it comes from.
    pub run_id: String,
    pub model: Option<String>,
    /// `usageDetails` (tokens by kind); empty when the run carries none.
    pub usage: BTreeMap<String, f64>,
    /// 0 directly under the trace.
    pub depth: u32,
}

/// One sample trace before (LangSmith) and after (Langfuse) the mapping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MappingPreview {
    /// The LangSmith project the trace belongs to.
    pub project: Option<String>,
    /// Depth first, children in start order.
    pub runs: Vec<RunNode>,
    pub trace: TraceNode,
    /// Depth first, children in start order.
    pub observations: Vec<ObservationNode>,
    /// Runs of the trace not shown.
    pub more: u32,
    /// The trace has more runs than were read, so `more` is a floor.
    pub more_unread: bool,
    /// What the run's report will say about these objects (one line per kind of remark).
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error(
        "The window {window} holds no LangSmith trace in {projects}, so there is no sample trace to preview. Widen the window or pick other projects."
    )]
    NoRuns { window: String, projects: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

fn text<'a>(r: &'a Run, k: &str) -> Option<&'a str> {
    r.get(k).and_then(Value::as_str)
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Connects to the LangSmith source as a run would and previews one trace of `scope`'s window.
pub async fn mapping_preview(
    source: &LangsmithEndpoint,
    scope: &Scope,
) -> Result<MappingPreview, PreviewError> {
    let counters = Arc::new(Counters::default());
    let ls = LangSmith::connect(source, Duration::from_secs(30), 2, counters).await?;
    preview_from(&ls, scope).await
}

impl LangSmith {
    /// The newest trace in the window with a model call below its root, else with any child,
    /// else any — from a tracing project first (an experiment's traces are evaluation runs);
    /// its runs and whether all of them were read.
    async fn api_sample(&self, scope: &Scope) -> Result<Option<(Vec<Run>, bool)>, EngineError> {
        let all = self.project_ids(false);
        let tracing: Vec<String> = self
            .info
            .projects
            .iter()
            .filter(|p| p.reference_dataset_id.is_none())
            .map(|p| p.id.clone())
            .collect();
        let llm = "eq(run_type, \"llm\")";
        for projects in [tracing, all] {
            if projects.is_empty() {
                continue;
            }
            for (is_root, filter) in [(false, Some(llm)), (false, None), (true, None)] {
                let Some(trace) = self.sample_trace(&projects, scope, is_root, filter).await?
                else {
                    continue;
                };
                return Ok(Some(self.trace_runs(&projects, scope, &trace).await?));
            }
        }
        Ok(None)
    }

    /// Among the newest runs matching `filter` whose trace's root starts in the window (one
    /// small page, ids only), the trace of the first that is nested below a child of its root,
    /// else of the first.
    async fn sample_trace(
        &self,
        projects: &[String],
        scope: &Scope,
        is_root: bool,
        filter: Option<&str>,
    ) -> Result<Option<String>, EngineError> {
        const CANDIDATES: usize = 20;
        let (lo, hi) = scan_bounds(scope);
        let (body, path, items_at) = if self.info.v2_queries {
            let mut b = json!({"project_ids": projects, "min_start_time": iso(lo),
                "max_start_time": iso(hi), "page_size": CANDIDATES,
                "selects": ["ID", "TRACE_ID", "PARENT_RUN_IDS"],
                "is_root": is_root, "trace_filter": root_window_filter(scope)});
            if let Some(f) = filter {
                b["filter"] = json!(f);
            }
            (b, "/api/v2/runs/query", "/items")
        } else {
            let before = format!("lte(start_time, \"{}\")", iso(hi));
            let f = match filter {
                Some(f) => format!("and({before}, {f})"),
                None => before,
            };
            let b = json!({"session": projects, "start_time": iso(lo), "limit": CANDIDATES,
                "select": ["id", "trace_id", "parent_run_id"], "is_root": is_root, "filter": f,
                "trace_filter": root_window_filter(scope)});
            (b, "/api/v1/runs/query", "/runs")
        };
        let page = self
            .call(
                Bucket::LegacyRead,
                "POST",
                path,
                Some(&body),
                "finding a sample trace",
            )
            .await?;
        let candidates: Vec<Run> = page
            .pointer(items_at)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_object().cloned().map(super::runs::normalise))
            .collect();
        let trace_of = |r: &Run| text(r, "trace_id").or(text(r, "id")).map(String::from);
        let nested = candidates
            .iter()
            .find(|r| text(r, "parent_run_id").is_some_and(|p| Some(p) != text(r, "trace_id")));
        Ok(nested.or(candidates.first()).and_then(trace_of))
    }

    /// The runs of one trace (up to [`READ_AT_MOST`]), and whether that is all of them.
    async fn trace_runs(
        &self,
        projects: &[String],
        scope: &Scope,
        trace: &str,
    ) -> Result<(Vec<Run>, bool), EngineError> {
        let bounds = scan_bounds(scope);
        // A trace filter is judged on each run's root, whose id is the trace id.
        let of_trace = format!("eq(id, \"{trace}\")");
        let mut out = vec![];
        let mut cursor = None;
        loop {
            let (runs, next) = self
                .runs_query(projects, None, bounds, Some(of_trace.clone()), None, cursor)
                .await?;
            out.extend(runs);
            match next {
                Some(c) if out.len() < READ_AT_MOST => cursor = Some(c),
                Some(_) => break,
                None => return Ok((out, true)),
            }
        }
        // Newest first, a long trace's root (its oldest run) comes last: read it on its own.
        if !out.iter().any(|r| text(r, "id") == Some(trace)) {
            let ids = [trace.to_string()];
            let (root, _) = self
                .runs_query(projects, None, bounds, None, Some(&ids), None)
                .await?;
            out.extend(root);
        }
        Ok((out, false))
    }

    /// From a bulk-export folder: the trace (root in the window, chosen projects) with the most
    /// runs, a model call counting first; its runs. Two passes over the files, one trace kept.
    async fn export_sample(&self, scope: &Scope) -> Result<Option<(Vec<Run>, bool)>, EngineError> {
        let folder = self.export.as_ref().expect("an export folder");
        let projects: HashSet<String> = self.project_ids(false).into_iter().collect();
        let rows_of = |file: &std::path::Path| {
            tokio::task::block_in_place(|| folder.read(file)).unwrap_or_default()
        };
        let chosen = |r: &Run| text(r, "session_id").is_some_and(|s| projects.contains(s));
        // Per trace: whether its root is in the window, its run count, whether a model ran.
        let mut stats: HashMap<String, (bool, usize, bool)> = HashMap::new();
        for file in &folder.files {
            for r in rows_of(file).iter().filter(|r| chosen(r)) {
                let Some(trace) = text(r, "trace_id") else {
                    continue;
                };
                let s = stats.entry(trace.to_string()).or_default();
                s.0 |= r.get("parent_run_id").is_none_or(Value::is_null) && in_window(r, scope);
                s.1 += 1;
                s.2 |= text(r, "run_type").is_some_and(super::runs::is_model);
            }
        }
        let Some(trace) = stats
            .into_iter()
            .filter(|(_, s)| s.0)
            .max_by_key(|(id, s)| (s.2 && s.1 > 1, s.1, id.clone()))
            .map(|(id, _)| id)
        else {
            return Ok(None);
        };
        let mut runs = vec![];
        for file in &folder.files {
            runs.extend(
                rows_of(file)
                    .into_iter()
                    .filter(|r| chosen(r) && text(r, "trace_id") == Some(trace.as_str())),
            );
        }
        // Parents before children (the root first), so a cut keeps the top of the tree.
        runs.sort_by_key(|r| sort_key(r, "dotted_order", "start_time"));
        let complete = runs.len() <= READ_AT_MOST;
        runs.truncate(READ_AT_MOST);
        Ok(Some((runs, complete)))
    }
}

/// Reads one trace of the window (preferring one with nested runs and a model call) and maps
/// it as a run would.
pub async fn preview_from(ls: &LangSmith, scope: &Scope) -> Result<MappingPreview, PreviewError> {
    let sample = if ls.export.is_some() {
        ls.export_sample(scope).await?
    } else {
        ls.api_sample(scope).await?
    };
    let Some((runs, complete)) = sample else {
        let projects = ls
            .info
            .projects
            .iter()
            .map(|p| format!("“{}”", p.name))
            .collect::<Vec<_>>();
        return Err(PreviewError::NoRuns {
            window: format!("from {} to {}", day(scope.from), day(scope.to)),
            projects: match projects.len() {
                0 => "this workspace (it has no projects)".to_string(),
                1 => format!("the project {}", projects[0]),
                _ => format!("the projects {}", projects.join(", ")),
            },
        });
    };
    Ok(preview_of(ls, runs, complete))
}

/// Both trees of one trace's runs, mapped by the copy's functions.
fn preview_of(ls: &LangSmith, mut runs: Vec<Run>, complete: bool) -> MappingPreview {
    let read = runs.len();
    let ids: HashSet<String> = runs
        .iter()
        .filter_map(|r| text(r, "id").map(String::from))
        .collect();
    // As the copy does: with the whole trace read, a run whose parent is not in it hangs
    // under the root. With part of it read, such a run is only not shown.
    let mut orphans: HashMap<String, crate::vocab::Remark> = HashMap::new();
    if complete {
        for r in &mut runs {
            if text(r, "parent_run_id").is_some_and(|p| !ids.contains(p)) {
                let id = text(r, "id").unwrap_or_default().to_string();
                orphans.insert(id, tree::reattach(r));
            }
        }
    }
    let order = depth_first(&runs, |r| {
        (
            text(r, "id").map(String::from),
            text(r, "parent_run_id").map(String::from),
            sort_key(r, "dotted_order", "start_time"),
        )
    });
    let shown: Vec<(usize, u32)> = order.into_iter().take(SHOWN_AT_MOST).collect();
    let root = shown.first().map(|(i, _)| &runs[*i]);
    let project = root
        .and_then(|r| text(r, "session_id"))
        .and_then(|s| ls.info.projects.iter().find(|p| p.id == s))
        .map(|p| p.name.clone());
    let trace = root
        .and_then(|r| ls.trace_record(r))
        .map(|t| trace_node(&t))
        .unwrap_or_else(|| TraceNode {
            id: String::new(),
            name: None,
            session_id: None,
            user_id: None,
            tags: vec![],
        });
    let run_nodes = shown
        .iter()
        .map(|(i, depth)| {
            let r = &runs[*i];
            RunNode {
                id: text(r, "id").unwrap_or_default().into(),
                name: text(r, "name").unwrap_or_default().into(),
                run_type: text(r, "run_type").unwrap_or("chain").into(),
                parent_run_id: text(r, "langsmith_missing_parent")
                    .or(text(r, "parent_run_id"))
                    .map(String::from),
                depth: *depth,
            }
        })
        .collect();
    let records: Vec<Record> = shown
        .iter()
        .filter_map(|(i, _)| {
            let r = &runs[*i];
            let orphan = text(r, "id").and_then(|id| orphans.get(id)).cloned();
            ls.observation_record(r, orphan)
        })
        .collect();
    let mut notes: Vec<String> = vec![];
    for remark in records.iter().flat_map(|r| &r.remarks) {
        if !notes.contains(&remark.what) {
            notes.push(remark.what.clone());
        }
    }
    let observations = observation_tree(&records);
    MappingPreview {
        project,
        runs: run_nodes,
        trace,
        observations,
        more: (read - shown.len()) as u32,
        more_unread: !complete,
        notes,
    }
}

/// Children sort by `dotted_order` (LangSmith's own start order) or, lacking it, start time.
fn sort_key(r: &Run, first: &str, second: &str) -> String {
    text(r, first)
        .or(text(r, second))
        .unwrap_or_default()
        .into()
}

/// Indexes of `items` depth first from their roots (those with no parent among them), with each
/// one's depth. Items whose parent is not among them, nor reachable, are left out.
fn depth_first<T>(
    items: &[T],
    key: impl Fn(&T) -> (Option<String>, Option<String>, String),
) -> Vec<(usize, u32)> {
    let keys: Vec<_> = items.iter().map(key).collect();
    let ids: HashSet<&str> = keys.iter().filter_map(|k| k.0.as_deref()).collect();
    let mut children: HashMap<Option<&str>, Vec<usize>> = HashMap::new();
    for (i, (_, parent, _)) in keys.iter().enumerate() {
        let parent = parent.as_deref();
        match parent {
            Some(p) if !ids.contains(p) => continue,
            _ => children.entry(parent).or_default().push(i),
        }
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| keys[*a].2.cmp(&keys[*b].2));
    }
    let mut out = vec![];
    let mut stack: Vec<(usize, u32)> = children
        .get(&None)
        .into_iter()
        .flatten()
        .rev()
        .map(|i| (*i, 0))
        .collect();
    while let Some((i, depth)) = stack.pop() {
        out.push((i, depth));
        if let Some(kids) = keys[i].0.as_deref().and_then(|id| children.get(&Some(id))) {
            stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
        }
    }
    out
}

fn trace_node(t: &Record) -> TraceNode {
    let b = &t.body;
    TraceNode {
        id: b.str("id").unwrap_or_default(),
        name: b.str("name"),
        session_id: b.str("sessionId"),
        user_id: b.str("userId"),
        tags: b
            .get("tags")
            .and_then(|v| serde_json::from_str(v.get()).ok())
            .unwrap_or_default(),
    }
}

/// The observations as the mapping links them (`parentObservationId`), depth first.
fn observation_tree(records: &[Record]) -> Vec<ObservationNode> {
    let order = depth_first(records, |r| {
        (
            r.body.str("id"),
            r.body.str("parentObservationId"),
            r.body.str("startTime").unwrap_or_default(),
        )
    });
    order
        .into_iter()
        .map(|(i, depth)| {
            let b = &records[i].body;
            let metadata: Value = b
                .get("metadata")
                .and_then(|v| serde_json::from_str(v.get()).ok())
                .unwrap_or(Value::Null);
            ObservationNode {
                id: b.str("id").unwrap_or_default(),
                observation_type: b.str("type").unwrap_or_default(),
                name: b.str("name"),
                parent_observation_id: b.str("parentObservationId"),
                run_id: metadata["langsmith_run_id"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
                model: b.str("model"),
                usage: b
                    .get_present("usageDetails")
                    .and_then(|v| serde_json::from_str(v.get()).ok())
                    .unwrap_or_default(),
                depth,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_first_orders_children_by_start_and_leaves_out_unreachable_ones() {
        // (id, parent, start)
        let items = [
            ("c2", Some("r"), "3"),
            ("r", None, "0"),
            ("g", Some("c1"), "2"),
            ("c1", Some("r"), "1"),
            ("lost", Some("nowhere"), "1"),
        ];
        let order = depth_first(&items, |(id, p, s)| {
            (Some(id.to_string()), p.map(String::from), s.to_string())
        });
        let got: Vec<(&str, u32)> = order.iter().map(|(i, d)| (items[*i].0, *d)).collect();
        assert_eq!(got, vec![("r", 0), ("c1", 1), ("g", 2), ("c2", 1)]);
    }
}
