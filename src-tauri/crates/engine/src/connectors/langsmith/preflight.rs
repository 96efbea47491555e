//! The pre-flight of a LangSmith source: what the window holds — traces and runs per project
//! (`POST /api/v1/runs/stats`, one request each, or the bulk-export folder's Parquet files when
//! the plan reads runs from one: see `export_counts`), feedback, datasets and examples
//! (`GET /api/v1/examples/count`), prompt commits (`num_commits` of each repo) — and the least
//! time LangSmith Cloud's per-key limits allow for reading it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::export_counts::{self, Method, Tally};
use super::source::{LangSmith, feedback_in_window, iso, root_window_filter, scan_bounds};
use crate::connectors::traits::SourceCounts;
use crate::vocab::{Bucket, EngineError, Entity, Scope};

/// LangSmith Cloud's published per-key limits, in requests per second.
const RUN_QUERIES_PER_S: f64 = 15.0 / 10.0;
const REPOS_PER_S: f64 = 100.0 / 60.0;
const OTHERS_PER_S: f64 = 1000.0 / 10.0;

fn pages(n: u64, size: u64) -> u64 {
    n.div_ceil(size)
}

pub async fn counts(
    ls: &LangSmith,
    entities: &[Entity],
    scope: &Scope,
) -> Result<SourceCounts, EngineError> {
    let wants = |e: Entity| entities.contains(&e);
    let mut notes = vec![];
    let (mut traces, mut runs, mut experiment_roots) = (0, 0, 0);
    let (lo, hi) = scan_bounds(scope);
    // Runs read from a bulk export are counted there: no API call, no run-query budget.
    let exported = ls.export.as_ref().map(|folder| {
        tokio::task::block_in_place(|| export_counts::count(folder, &ls.project_ids(false), scope))
    });
    for p in &ls.info.projects {
        let (roots, all, how) = match &exported {
            Some(x) => {
                let (t, how) = x
                    .projects
                    .get(&p.id)
                    .copied()
                    .unwrap_or((Tally::default(), Method::Footers));
                let how = match how {
                    Method::Footers => "from the bulk export's Parquet footers",
                    Method::Columns => "read from the bulk export's files",
                };
                (t.traces, t.runs, how)
            }
            None => (
                run_count(
                    ls,
                    json!({"session": [p.id], "is_root": true, "start_time": iso(scope.from),
                        "filter": root_window_filter(scope)}),
                )
                .await?,
                run_count(
                    ls,
                    json!({"session": [p.id], "start_time": iso(lo),
                        "filter": format!("lte(start_time, \"{}\")", iso(hi)),
                        "trace_filter": root_window_filter(scope)}),
                )
                .await?,
                "LangSmith's run stats",
            ),
        };
        let kind = if p.reference_dataset_id.is_some() {
            experiment_roots += roots;
            "experiment"
        } else {
            "project"
        };
        notes.push(format!(
            "{kind} {}: {roots} traces, {all} runs in the window ({how})",
            p.name
        ));
        traces += roots;
        runs += all;
    }
    for file in exported.iter().flat_map(|x| &x.unreadable) {
        notes.push(format!(
            "the bulk-export file {file} cannot be read as Parquet; its runs are not counted"
        ));
    }
    let mut feedback = 0;
    if wants(Entity::Scores) {
        for p in &ls.info.projects {
            ls.for_each_feedback(&p.id, "counting feedback", |f| {
                feedback += u64::from(feedback_in_window(f, scope));
            })
            .await?;
        }
    }
    let datasets = ls.datasets().await?;
    let mut examples = 0;
    for d in &datasets {
        let id = d["id"].as_str().unwrap_or_default();
        let n = ls
            .call(
                Bucket::Datasets,
                "GET",
                &format!("/api/v1/examples/count?dataset={id}"),
                None,
                "counting examples",
            )
            .await?;
        examples += n.as_u64().unwrap_or(0);
    }
    let (repos, commits, commit_pages) = prompt_commits(ls).await?;

    let mut counts = BTreeMap::new();
    for (e, n) in [
        (Entity::Traces, traces),
        (Entity::Observations, runs),
        (Entity::Scores, feedback),
        (Entity::Datasets, datasets.len() as u64),
        (Entity::DatasetItems, examples),
        (Entity::DatasetRunItems, experiment_roots),
        (Entity::Prompts, commits),
    ] {
        if wants(e) {
            counts.insert(e, Some(n));
        }
    }
    let least_seconds = ls.cloud_limits.then(|| {
        let page = if ls.info.v2_queries { 1000 } else { 100 };
        // Traces, runs and experiment roots all come from the export when there is one.
        let run_queries = if exported.is_some() {
            0
        } else {
            pages(traces, page)
                + pages(runs, page)
                + if wants(Entity::DatasetRunItems) {
                    pages(experiment_roots, page)
                } else {
                    0
                }
        };
        // Each repo is listed on its own and its tags read: two `/repos` requests.
        let prompts = wants(Entity::Prompts);
        let repo_calls = if prompts { 2 * repos } else { 0 };
        let others = pages(feedback, 100)
            + if wants(Entity::Datasets) {
                pages(datasets.len() as u64, 100)
            } else {
                0
            }
            + if wants(Entity::DatasetItems) {
                pages(examples, 100)
            } else {
                0
            }
            + if prompts { commit_pages } else { 0 };
        let t = run_queries as f64 / RUN_QUERIES_PER_S
            + repo_calls as f64 / REPOS_PER_S
            + others as f64 / OTHERS_PER_S;
        let runs_from = match exported {
            Some(_) => " (runs come from the bulk export, which needs none)",
            None => "",
        };
        notes.push(format!(
            "LangSmith Cloud's limits (15 run queries per 10 s, 100 /repos requests per minute, 1000 other requests per 10 s) allow this copy in no less than {t:.0} s: {run_queries} run queries of {page} runs{runs_from}, {repo_calls} /repos requests, {others} others"
        ));
        t
    });
    Ok(SourceCounts {
        counts,
        notes,
        least_seconds,
    })
}

async fn run_count(ls: &LangSmith, body: Value) -> Result<u64, EngineError> {
    let stats = ls
        .call(
            Bucket::PublicApi,
            "POST",
            "/api/v1/runs/stats",
            Some(&body),
            "counting runs",
        )
        .await?;
    Ok(stats["run_count"].as_u64().unwrap_or(0))
}

/// How many prompt repos there are, how many commits they hold, and how many pages of 100
/// listing those commits takes.
async fn prompt_commits(ls: &LangSmith) -> Result<(u64, u64, u64), EngineError> {
    let (mut repos, mut commits, mut commit_pages, mut offset) = (0, 0, 0, 0);
    loop {
        let page = ls
            .call(
                Bucket::Prompts,
                "GET",
                &format!("/api/v1/repos?limit=100&offset={offset}"),
                None,
                "counting prompts",
            )
            .await?;
        let list = page["repos"].as_array().cloned().unwrap_or_default();
        repos += list.len() as u64;
        for r in &list {
            let n = r["num_commits"].as_u64().unwrap_or(0);
            commits += n;
            commit_pages += pages(n, 100).max(1);
        }
        offset += list.len();
        if list.len() < 100 {
            return Ok((repos, commits, commit_pages));
        }
    }
}
