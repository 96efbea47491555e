//! Reading a LangSmith workspace: which server it is, the chosen projects, and one page at a
//! time of each entity. Runs come from `POST /api/v2/runs/query` (1000 a page) where the server
//! has it, else from v1 (100 a page); everything else from LangSmith's offset lists (100 a page).
//!
//! Runs are read as whole trees: a trace is in the window when its root run starts in
//! `[from, to)` (`trace_filter`); its runs are scanned from an hour before `from` (clock skew) to
//! a day after `to` (long traces).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::LangsmithEndpoint;
use super::{others, runs, tree};
use crate::connectors::Page;
use crate::connectors::http::{HttpClient, HttpFailure, Idempotency};
use crate::vocab::{
    Bucket, ConnectionError, Counters, EngineError, Entity, NoteKind, Record, Remark, Scope,
};

/// LangSmith Cloud's per-key limits, mapped onto the client's buckets: run queries (15 per
/// 10 s) use `LegacyRead`, `/repos` (100 per minute) `Prompts`, everything else (1000 per 10 s)
/// `PublicApi`.
pub fn cloud_quotas() -> Vec<(Bucket, u32, Duration)> {
    vec![
        (Bucket::LegacyRead, 15, Duration::from_secs(10)),
        (Bucket::Prompts, 100, Duration::from_secs(60)),
        (Bucket::PublicApi, 1000, Duration::from_secs(10)),
        (Bucket::Datasets, 1000, Duration::from_secs(10)),
    ]
}

/// LangSmith Cloud's limits, each cut to `percent` (at least one request per window), so the
/// application's own use of the key keeps the rest.
pub fn cloud_quotas_share(percent: Option<u8>) -> Vec<(Bucket, u32, Duration)> {
    let p = u32::from(percent.unwrap_or(100).clamp(1, 100));
    cloud_quotas()
        .into_iter()
        .map(|(b, n, w)| (b, (n * p / 100).max(1), w))
        .collect()
}

const V2_SELECTS: [&str; 30] = [
    "ID",
    "NAME",
    "RUN_TYPE",
    "STATUS",
    "START_TIME",
    "END_TIME",
    "FIRST_TOKEN_TIME",
    "ERROR",
    "EXTRA",
    "EVENTS",
    "INPUTS",
    "OUTPUTS",
    "PARENT_RUN_IDS",
    "PROJECT_ID",
    "TRACE_ID",
    "DOTTED_ORDER",
    "IS_ROOT",
    "REFERENCE_EXAMPLE_ID",
    "TAGS",
    "TOTAL_TOKENS",
    "PROMPT_TOKENS",
    "COMPLETION_TOKENS",
    "TOTAL_COST",
    "PROMPT_COST",
    "COMPLETION_COST",
    "PROMPT_TOKEN_DETAILS",
    "COMPLETION_TOKEN_DETAILS",
    "PROMPT_COST_DETAILS",
    "COMPLETION_COST_DETAILS",
    "APP_PATH",
];

const V1_SELECT: [&str; 27] = [
    "id",
    "name",
    "run_type",
    "status",
    "start_time",
    "end_time",
    "first_token_time",
    "error",
    "extra",
    "events",
    "inputs",
    "outputs",
    "parent_run_id",
    "parent_run_ids",
    "session_id",
    "trace_id",
    "dotted_order",
    "reference_example_id",
    "tags",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "total_cost",
    "prompt_cost",
    "completion_cost",
    "prompt_token_details",
    "completion_token_details",
];

/// What `/info` and a first authenticated call told about the server.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LangsmithInfo {
    pub url: String,
    pub version: String,
    /// `POST /api/v2/runs/query` exists (LangSmith Cloud, self-hosted ≥ 0.16).
    pub v2_queries: bool,
    /// The chosen projects: (id, name, run count when known, reference dataset).
    pub projects: Vec<ProjectInfo>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ProjectInfo {
    pub id: String,
    pub name: String,
    pub run_count: Option<u64>,
    pub reference_dataset_id: Option<String>,
}

pub struct LangSmith {
    http: HttpClient,
    pub info: LangsmithInfo,
    environment: Option<String>,
    /// A bulk-export folder runs are read from instead of the API (`export_path`).
    pub(super) export: Option<super::export::ExportFolder>,
    /// The export's trees in the window, read once per window (see `export`).
    pub(super) export_index: Mutex<Option<(TreeKey, Arc<super::export::ExportIndex>)>>,
    /// Stay within LangSmith Cloud's per-key limits.
    pub(super) cloud_limits: bool,
    /// The plan named projects: datasets are then those their experiments reference, feedback
    /// configs those their feedback uses.
    pub(super) named_projects: bool,
    /// The observation stream's runs waiting for their parent, with the window and cursor they
    /// were left at (see `tree`).
    pub(super) trees: Mutex<Option<(TreeKey, tree::Trees)>>,
    /// How many of them may wait in memory.
    pub(super) waiting_cap: usize,
    /// Followed by a live sync from this time on: feedback is read as `follow` says.
    follow_from: Option<DateTime<Utc>>,
    /// The observation stream's next API page, requested while the page before it was mapped
    /// (see `tree_stream`), with the window and API cursor it was asked for.
    pub(super) prefetched: Mutex<Option<(TreeKey, RunsPage)>>,
}

pub(super) type TreeKey = (DateTime<Utc>, DateTime<Utc>, Option<String>);

/// One page of a run query: the runs and the API's cursor to the next page.
pub(super) type RunsPage = (Vec<Map<String, Value>>, Option<String>);

pub(super) fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The scan bounds of run queries: `[from − 1 h, min(to, now) + 1 day]`.
pub(super) fn scan_bounds(scope: &Scope) -> (DateTime<Utc>, DateTime<Utc>) {
    let lo = scope.from - chrono::Duration::hours(1);
    let hi = scope.to.min(Utc::now() + chrono::Duration::hours(1)) + chrono::Duration::days(1);
    (lo, hi)
}

pub(super) fn root_window_filter(scope: &Scope) -> String {
    format!(
        "and(gte(start_time, \"{}\"), lt(start_time, \"{}\"))",
        iso(scope.from),
        iso(scope.to.min(Utc::now() + chrono::Duration::days(3650)))
    )
}

#[derive(Serialize, Deserialize, Default)]
pub(super) struct Nested {
    /// Index in the list being walked (project, dataset, repo).
    pub i: usize,
    pub offset: usize,
    pub cursor: Option<String>,
}

pub(super) fn nested(cursor: Option<String>) -> Nested {
    cursor
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or_default()
}

impl LangSmith {
    /// What a LangSmith source yields (`read_page`); a plan's other kinds are not read from it,
    /// and the app does not offer them for it.
    pub const ENTITIES: [Entity; 8] = [
        Entity::ScoreConfigs,
        Entity::Datasets,
        Entity::Prompts,
        Entity::Traces,
        Entity::Observations,
        Entity::DatasetItems,
        Entity::Scores,
        Entity::DatasetRunItems,
    ];

    pub async fn connect(
        e: &LangsmithEndpoint,
        timeout: Duration,
        concurrency: usize,
        counters: Arc<Counters>,
    ) -> Result<Self, EngineError> {
        let base = e.base_url();
        let key = e.resolve_api_key()?;
        let quotas = if e.cloud_limits() {
            cloud_quotas_share(e.cloud_share_percent)
        } else {
            vec![]
        };
        let http = HttpClient::with_header(
            &base,
            "x-api-key",
            secrecy::ExposeSecret::expose_secret(&key),
            timeout,
            quotas,
            e.budget_time_scale,
            concurrency,
            counters,
        );
        let mut me = LangSmith {
            http,
            info: LangsmithInfo {
                url: base.clone(),
                version: String::new(),
                v2_queries: false,
                projects: vec![],
            },
            environment: e.environment.clone(),
            trees: Mutex::new(None),
            waiting_cap: e.waiting_in_memory.unwrap_or(tree::WAITING_IN_MEMORY),
            named_projects: !e.projects.is_empty(),
            cloud_limits: e.cloud_limits(),
            export: e
                .export_path
                .as_deref()
                .map(super::export::ExportFolder::open)
                .transpose()?,
            export_index: Mutex::new(None),
            follow_from: e.follow_from,
            prefetched: Mutex::new(None),
        };
        me.info.version = me.server_version().await?;
        let all = me.list_projects().await?;
        me.info.projects = select_projects(all, &e.projects)?;
        me.info.v2_queries = me.probe_v2().await?;
        Ok(me)
    }

    fn url(&self) -> &str {
        &self.info.url
    }

    async fn server_version(&self) -> Result<String, EngineError> {
        let url = self.url().to_string();
        let resp = self
            .http
            .get_anonymous("/api/v1/info")
            .send()
            .await
            .map_err(|e| connection_error(&url, &e))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        match body.get("version").and_then(Value::as_str) {
            Some(v)
                if status.is_success()
                    && (body.get("batch_ingest_config").is_some()
                        || body.get("instance_flags").is_some()) =>
            {
                Ok(v.to_string())
            }
            _ => Err(ConnectionError::NotLangsmith(
                url,
                format!(
                    "GET /api/v1/info answered {} without LangSmith's server info",
                    status.as_u16()
                ),
            )
            .into()),
        }
    }

    /// A GET or POST with the key, budgets and retries, decoded as JSON; 401/403 become the
    /// connection errors a user can act on.
    pub(super) async fn call(
        &self,
        bucket: Bucket,
        method: &str,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Value, EngineError> {
        let resp = self
            .http
            .send(
                bucket,
                || match body {
                    Some(b) => self.http.post(path).json(b),
                    None if method == "GET" => self.http.get(path),
                    None => self.http.post(path),
                },
                Idempotency::Safe,
            )
            .await
            .map_err(|f| self.failure(f, what))?;
        resp.json().await.map_err(|e| EngineError::Protocol {
            url: self.url().to_string(),
            what: what.to_string(),
            detail: e.to_string(),
        })
    }

    fn failure(&self, f: HttpFailure, what: &str) -> EngineError {
        let url = self.url().to_string();
        match f {
            HttpFailure::Rejected { status: 401, .. } => {
                ConnectionError::LangsmithKeyRejected(url).into()
            }
            HttpFailure::Rejected { status: 403, .. } => {
                ConnectionError::LangsmithForbidden(url).into()
            }
            HttpFailure::Rejected { status, body } => EngineError::Http {
                url,
                what: what.to_string(),
                status,
                message: crate::connectors::http::truncate(&body, 300),
            },
            other => EngineError::Http {
                url,
                what: what.to_string(),
                status: 0,
                message: other.describe(),
            },
        }
    }

    async fn list_projects(&self) -> Result<Vec<ProjectInfo>, EngineError> {
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let page = self
                .call(
                    Bucket::PublicApi,
                    "GET",
                    &format!("/api/v1/sessions?limit=100&offset={offset}&include_stats=true"),
                    None,
                    "listing projects",
                )
                .await?;
            let items = page.as_array().cloned().unwrap_or_default();
            for p in &items {
                out.push(ProjectInfo {
                    id: p["id"].as_str().unwrap_or_default().to_string(),
                    name: p["name"].as_str().unwrap_or_default().to_string(),
                    run_count: p["run_count"].as_u64(),
                    reference_dataset_id: p["reference_dataset_id"].as_str().map(String::from),
                });
            }
            if items.len() < 100 {
                return Ok(out);
            }
            offset += items.len();
        }
    }

    /// Whether v2 run queries exist: a 404 means an older self-hosted server.
    async fn probe_v2(&self) -> Result<bool, EngineError> {
        let Some(p) = self.info.projects.first() else {
            return Ok(false);
        };
        let body =
            json!({"project_ids": [p.id], "page_size": 1, "min_start_time": iso(Utc::now())});
        match self
            .http
            .send(
                Bucket::LegacyRead,
                || self.http.post("/api/v2/runs/query").json(&body),
                Idempotency::Safe,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(HttpFailure::Rejected {
                status: 404 | 405, ..
            }) => Ok(false),
            Err(f) => Err(self.failure(f, "probing v2 run queries")),
        }
    }

    fn project_name(&self, id: &str) -> Option<&str> {
        self.info
            .projects
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.name.as_str())
    }

    /// One page of runs of `projects`, newest first, normalised to v1 names.
    async fn runs_page(
        &self,
        projects: &[String],
        is_root: Option<bool>,
        min: DateTime<Utc>,
        max: DateTime<Utc>,
        trace_filter: Option<String>,
        cursor: Option<String>,
    ) -> Result<(Vec<Map<String, Value>>, Option<String>), EngineError> {
        self.runs_query(projects, is_root, (min, max), trace_filter, None, cursor)
            .await
    }

    /// One page of a run query, optionally of the runs with these ids only.
    pub(super) async fn runs_query(
        &self,
        projects: &[String],
        is_root: Option<bool>,
        (min, max): (DateTime<Utc>, DateTime<Utc>),
        trace_filter: Option<String>,
        ids: Option<&[String]>,
        cursor: Option<String>,
    ) -> Result<(Vec<Map<String, Value>>, Option<String>), EngineError> {
        if projects.is_empty() {
            return Ok((vec![], None));
        }
        // v1 and v2 differ in the body's names, the path and where items and cursor come back.
        let (mut body, path, what, items_at, next_at) = if self.info.v2_queries {
            (
                json!({"project_ids": projects, "min_start_time": iso(min), "max_start_time": iso(max),
                    "page_size": 1000, "selects": V2_SELECTS}),
                "/api/v2/runs/query",
                "querying runs (v2)",
                "/items",
                "/next_cursor",
            )
        } else {
            (
                json!({"session": projects, "start_time": iso(min), "limit": 100, "select": V1_SELECT,
                    "filter": format!("lte(start_time, \"{}\")", iso(max))}),
                "/api/v1/runs/query",
                "querying runs (v1)",
                "/runs",
                "/cursors/next",
            )
        };
        if let Some(r) = is_root {
            body["is_root"] = json!(r);
        }
        if let Some(t) = &trace_filter {
            body["trace_filter"] = json!(t);
        }
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        if let Some(ids) = ids {
            body[if self.info.v2_queries { "ids" } else { "id" }] = json!(ids);
        }
        let mut page = self
            .call(Bucket::LegacyRead, "POST", path, Some(&body), what)
            .await?;
        // Taken out of the page, not copied: a page of 1000 runs with their inputs and outputs.
        let items = match page.pointer_mut(items_at).map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => vec![],
        };
        let next = page
            .pointer(next_at)
            .and_then(Value::as_str)
            .map(String::from);
        let runs = items
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(m) => Some(runs::normalise(m)),
                _ => None,
            })
            .collect();
        Ok((runs, next))
    }

    pub(super) async fn offset_list(
        &self,
        bucket: Bucket,
        path: &str,
        offset: usize,
        what: &str,
    ) -> Result<Vec<Value>, EngineError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page = self
            .call(
                bucket,
                "GET",
                &format!("{path}{sep}limit=100&offset={offset}"),
                None,
                what,
            )
            .await?;
        Ok(page.as_array().cloned().unwrap_or_default())
    }

    pub(super) fn project_ids(&self, experiments_only: bool) -> Vec<String> {
        self.info
            .projects
            .iter()
            .filter(|p| !experiments_only || p.reference_dataset_id.is_some())
            .map(|p| p.id.clone())
            .collect()
    }

    /// The datasets to copy: every one when the plan names no project; else only those the
    /// chosen experiments reference (a tracing project has no dataset of its own, and copying
    /// the whole workspace's datasets for one project would surprise).
    pub(super) async fn datasets(&self) -> Result<Vec<Value>, EngineError> {
        let mut all = self.all_datasets().await?;
        if self.named_projects {
            let referenced: HashSet<&str> = self
                .info
                .projects
                .iter()
                .filter_map(|p| p.reference_dataset_id.as_deref())
                .collect();
            all.retain(|d| d["id"].as_str().is_some_and(|id| referenced.contains(id)));
        }
        Ok(all)
    }

    async fn all_datasets(&self) -> Result<Vec<Value>, EngineError> {
        let mut out = Vec::new();
        loop {
            let page = self
                .offset_list(
                    Bucket::Datasets,
                    "/api/v1/datasets",
                    out.len(),
                    "listing datasets",
                )
                .await?;
            let n = page.len();
            out.extend(page);
            if n < 100 {
                return Ok(out);
            }
        }
    }

    /// One page of the root runs of `projects` (from the export when the plan names one).
    async fn roots_page(
        &self,
        projects: &[String],
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<(Vec<Map<String, Value>>, Option<String>), EngineError> {
        if self.export.is_some() {
            return self.export_roots(projects, scope, cursor).await;
        }
        self.runs_page(
            projects,
            Some(true),
            scope.from,
            scope.to.min(Utc::now() + chrono::Duration::days(1)),
            None,
            cursor,
        )
        .await
    }

    pub(super) async fn read_traces(
        &self,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let (runs, next) = self
            .roots_page(&self.project_ids(false), scope, cursor)
            .await?;
        let records = runs
            .iter()
            .filter(|r| in_window(r, scope))
            .filter_map(|r| self.trace_record(r))
            .collect();
        Ok(Page { records, next })
    }

    /// A root run's trace.
    pub(super) fn trace_record(&self, root: &Map<String, Value>) -> Option<Record> {
        let project = root
            .get("session_id")
            .and_then(Value::as_str)
            .and_then(|s| self.project_name(s));
        let t = runs::trace(root, project, self.environment.as_deref())?;
        Some(Record::new(Entity::Traces, t.str("id")?, t))
    }

    /// A run's observation with what the report says about it.
    pub(super) fn observation_record(
        &self,
        r: &Map<String, Value>,
        orphan: Option<Remark>,
    ) -> Option<Record> {
        let project = r
            .get("session_id")
            .and_then(Value::as_str)
            .and_then(|s| self.project_name(s));
        let mut o = runs::observation(r, project)?;
        if let Some(e) = &self.environment {
            o.set("environment", e);
        }
        let mut remarks = runs::remarks(r);
        remarks.extend(orphan);
        Some(Record::new(Entity::Observations, o.str("id")?, o).with_remarks(remarks))
    }

    /// The runs with these ids within the scan bounds (every page of them).
    pub(super) async fn runs_by_id(
        &self,
        projects: &[String],
        bounds: (DateTime<Utc>, DateTime<Utc>),
        ids: &[String],
    ) -> Result<Vec<Map<String, Value>>, EngineError> {
        let mut out = vec![];
        for chunk in ids.chunks(100) {
            let mut cursor = None;
            loop {
                let (runs, next) = self
                    .runs_query(projects, None, bounds, None, Some(chunk), cursor)
                    .await?;
                out.extend(runs);
                match next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        Ok(out)
    }

    pub(super) async fn read_scores(
        &self,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let mut c = nested(cursor);
        let projects = self.project_ids(false);
        let Some(p) = projects.get(c.i) else {
            return Ok(Page::default());
        };
        let since = self
            .follow_from
            .map(|f| super::follow::feedback_since(scope, f))
            .unwrap_or_default();
        let page = self
            .offset_list(
                Bucket::PublicApi,
                &format!("/api/v1/feedback?session={p}{since}"),
                c.offset,
                "listing feedback",
            )
            .await?;
        let records = page
            .iter()
            .filter(|f| match self.follow_from {
                Some(from) => super::follow::feedback_in_pass(f, scope, from),
                None => feedback_in_window(f, scope),
            })
            .filter_map(|f| {
                let (o, remarks) = others::score(f, self.environment.as_deref())?;
                Some(Record::new(Entity::Scores, o.str("id")?, o).with_remarks(remarks))
            })
            .collect();
        if page.len() < 100 {
            c = Nested {
                i: c.i + 1,
                offset: 0,
                cursor: None,
            };
        } else {
            c.offset += page.len();
        }
        let next =
            (c.i < projects.len()).then(|| serde_json::to_string(&c).expect("cursor serialises"));
        Ok(Page { records, next })
    }

    pub(super) async fn read_datasets(&self) -> Result<Page, EngineError> {
        let records = self
            .datasets()
            .await?
            .iter()
            .filter_map(others::dataset)
            .filter_map(|o| Some(Record::new(Entity::Datasets, o.str("id")?, o)))
            .collect();
        Ok(Page {
            records,
            next: None,
        })
    }

    pub(super) async fn read_items(&self, cursor: Option<String>) -> Result<Page, EngineError> {
        let mut c = nested(cursor);
        let datasets = self.datasets().await?;
        let Some(d) = datasets.get(c.i) else {
            return Ok(Page::default());
        };
        let id = d["id"].as_str().unwrap_or_default();
        let name = d["name"].as_str().unwrap_or_default();
        let page = self
            .offset_list(
                Bucket::Datasets,
                &format!("/api/v1/examples?dataset={id}"),
                c.offset,
                "listing examples",
            )
            .await?;
        let records = page
            .iter()
            .filter_map(|e| others::item(e, name))
            .filter_map(|o| Some(Record::new(Entity::DatasetItems, o.str("id")?, o)))
            .collect();
        if page.len() < 100 {
            c = Nested {
                i: c.i + 1,
                offset: 0,
                cursor: None,
            };
        } else {
            c.offset += page.len();
        }
        let next =
            (c.i < datasets.len()).then(|| serde_json::to_string(&c).expect("cursor serialises"));
        Ok(Page { records, next })
    }

    pub(super) async fn read_run_items(
        &self,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let experiments = self.project_ids(true);
        if experiments.is_empty() {
            return Ok(Page::default());
        }
        let datasets = self.datasets().await?;
        let (runs, next) = self.roots_page(&experiments, scope, cursor).await?;
        let mut records = Vec::new();
        for r in runs.iter().filter(|r| in_window(r, scope)) {
            let Some(exp) = r
                .get("session_id")
                .and_then(Value::as_str)
                .and_then(|s| self.info.projects.iter().find(|p| p.id == s))
            else {
                continue;
            };
            let ds = exp.reference_dataset_id.as_deref().unwrap_or_default();
            let ds_name = datasets
                .iter()
                .find(|d| d["id"] == ds)
                .and_then(|d| d["name"].as_str())
                .unwrap_or_default();
            let experiment = json!({"id": exp.id, "name": exp.name, "reference_dataset_id": ds});
            if let Some(o) = others::run_item(r, &experiment, ds_name) {
                records.push(Record::new(
                    Entity::DatasetRunItems,
                    o.str("id").unwrap_or_default(),
                    o,
                ));
            }
        }
        Ok(Page { records, next })
    }

    /// One repo per page: every commit, oldest first, as versions with their tags as labels.
    pub(super) async fn read_prompts(&self, cursor: Option<String>) -> Result<Page, EngineError> {
        let c = nested(cursor);
        let page = self
            .call(
                Bucket::Prompts,
                "GET",
                &format!("/api/v1/repos?limit=1&offset={}", c.i),
                None,
                "listing prompts",
            )
            .await?;
        let total = page["total"].as_u64().unwrap_or(0) as usize;
        let Some(repo) = page["repos"].as_array().and_then(|r| r.first()).cloned() else {
            return Ok(Page::default());
        };
        let handle = repo["repo_handle"].as_str().unwrap_or_default().to_string();
        let mut commits = Vec::new();
        loop {
            let p = self
                .call(
                    Bucket::PublicApi,
                    "GET",
                    &format!(
                        "/api/v1/commits/-/{handle}?limit=100&offset={}",
                        commits.len()
                    ),
                    None,
                    "listing prompt commits",
                )
                .await?;
            let items = p["commits"].as_array().cloned().unwrap_or_default();
            let n = items.len();
            commits.extend(items);
            if n < 100 || commits.len() >= p["total"].as_u64().unwrap_or(0) as usize {
                break;
            }
        }
        commits.reverse();
        let tags = self
            .call(
                Bucket::Prompts,
                "GET",
                &format!("/api/v1/repos/-/{handle}/tags"),
                None,
                "listing prompt tags",
            )
            .await?;
        let mut records = Vec::new();
        let newest = commits.len().saturating_sub(1);
        for (k, commit) in commits.iter().enumerate() {
            let mut labels: Vec<String> = tags
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| {
                    t["commit_id"] == commit["id"]
                        || (t["commit_hash"] == commit["commit_hash"]
                            && !commit["commit_hash"].is_null())
                })
                .filter_map(|t| t["tag_name"].as_str().map(String::from))
                .collect();
            // LangSmith serves the newest commit when no tag is asked for; Langfuse calls that
            // version `latest` (and sets the label itself, so validation expects it there).
            if k == newest {
                labels.insert(0, "latest".to_string());
            }
            match others::prompt_version(&repo, commit, k as i64 + 1, labels) {
                Ok((o, approximate)) => {
                    let key = format!("{handle}:{}", k + 1);
                    let remarks = approximate
                        .into_iter()
                        .map(|what| {
                            Remark::new(NoteKind::Approximate, format!("prompt templates: {what}"))
                                .detail(format!("prompt {handle}, version {}", k + 1))
                        })
                        .collect();
                    records.push(Record::new(Entity::Prompts, key, o).with_remarks(remarks));
                }
                Err(e) => return Err(EngineError::Unsupported(format!("prompt {handle}"), e)),
            }
        }
        let next = (c.i + 1 < total).then(|| {
            serde_json::to_string(&Nested {
                i: c.i + 1,
                offset: 0,
                cursor: None,
            })
            .expect("cursor")
        });
        Ok(Page { records, next })
    }
}

/// Feedback on a run that the window's scan reads (feedback without a time always).
pub(super) fn feedback_in_window(f: &Value, scope: &Scope) -> bool {
    let (lo, hi) = scan_bounds(scope);
    f["start_time"]
        .as_str()
        .and_then(runs::iso_ms)
        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        .is_none_or(|t| t >= lo && t < hi)
}

pub(super) fn in_window(run: &Map<String, Value>, scope: &Scope) -> bool {
    run.get("start_time")
        .and_then(Value::as_str)
        .and_then(runs::iso_ms)
        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        .is_some_and(|t| t >= scope.from && t < scope.to)
}

fn select_projects(
    all: Vec<ProjectInfo>,
    names: &[String],
) -> Result<Vec<ProjectInfo>, EngineError> {
    if names.is_empty() {
        return Ok(all);
    }
    let mut out = Vec::new();
    for n in names {
        match all.iter().find(|p| &p.name == n) {
            Some(p) => out.push(p.clone()),
            None => {
                return Err(EngineError::InvalidPlan(format!(
                    "the LangSmith workspace has no project named \"{n}\" (it has: {})",
                    all.iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    Ok(out)
}

fn connection_error(url: &str, e: &reqwest::Error) -> EngineError {
    if e.is_timeout() {
        ConnectionError::Timeout(url.to_string()).into()
    } else {
        ConnectionError::Unreachable(
            url.to_string(),
            crate::connectors::http::describe_reqwest_error(e),
        )
        .into()
    }
}
