//! The in-memory workspace: projects (LangSmith "sessions"), runs with a start-time index,
//! feedback, datasets, examples, prompt repos with their commits and tags.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use crate::timefmt;

pub const ENTITIES: [&str; 8] = [
    "projects", "runs", "feedback", "datasets", "examples", "repos", "commits", "tags",
];

/// One run as stored: the fields LangSmith keeps, in v1 names, with the run's own usage (before
/// LangSmith's roll-up into ancestors, which reads compute).
#[derive(Clone, Debug)]
pub struct Run {
    pub start_us: i64,
    pub v: Map<String, Value>,
}

impl Run {
    pub fn id(&self) -> &str {
        self.v.get("id").and_then(Value::as_str).unwrap_or_default()
    }
    pub fn str(&self, k: &str) -> Option<&str> {
        self.v.get(k).and_then(Value::as_str)
    }
    pub fn dotted_order(&self) -> &str {
        self.str("dotted_order").unwrap_or_default()
    }
    /// Ancestor ids, root first, from `dotted_order` (`<stamp>Z<uuid>` segments).
    pub fn ancestors(&self) -> Vec<String> {
        let segs: Vec<&str> = self.dotted_order().split('.').collect();
        segs[..segs.len().saturating_sub(1)]
            .iter()
            .filter_map(|s| s.split_once('Z').map(|(_, id)| id.to_string()))
            .collect()
    }
    pub fn is_root(&self) -> bool {
        !self.dotted_order().contains('.')
    }
}

pub struct Store {
    pub tenant_id: String,
    pub projects: BTreeMap<String, Value>,
    runs: HashMap<String, Run>,
    /// (start µs, id): newest-first iteration for cursors.
    order: BTreeSet<(i64, String)>,
    /// trace id → run ids, for roll-ups.
    traces: HashMap<String, Vec<String>>,
    pub feedback: BTreeMap<String, Value>,
    pub datasets: BTreeMap<String, Value>,
    pub examples: BTreeMap<String, Value>,
    /// repo handle → repo.
    pub repos: BTreeMap<String, Value>,
    /// repo handle → commits, oldest first.
    pub commits: BTreeMap<String, Vec<Value>>,
    /// repo handle → tags.
    pub tags: BTreeMap<String, Vec<Value>>,
    /// feedback key → `FeedbackConfigSchema`.
    pub feedback_configs: BTreeMap<String, Value>,
    /// Patches that arrived before their post, applied when it comes.
    pending_patches: HashMap<String, Map<String, Value>>,
}

impl Store {
    pub fn new() -> Self {
        crate::routes::feedback::FEEDBACK_CHANGES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Store {
            tenant_id: "7a4c1d2e-0000-4000-8000-00000000a001".into(),
            projects: BTreeMap::new(),
            runs: HashMap::new(),
            order: BTreeSet::new(),
            traces: HashMap::new(),
            feedback: BTreeMap::new(),
            datasets: BTreeMap::new(),
            examples: BTreeMap::new(),
            repos: BTreeMap::new(),
            commits: BTreeMap::new(),
            tags: BTreeMap::new(),
            feedback_configs: BTreeMap::new(),
            pending_patches: HashMap::new(),
        }
    }

    pub fn reset(&mut self) {
        let tenant = std::mem::take(&mut self.tenant_id);
        *self = Store::new();
        self.tenant_id = tenant;
    }

    pub fn run(&self, id: &str) -> Option<&Run> {
        self.runs.get(id)
    }

    /// Run ids newest first, strictly after `after` (start µs, id) in that order.
    pub fn runs_newest_first(
        &self,
        after: Option<(i64, String)>,
    ) -> impl Iterator<Item = &Run> + '_ {
        let upper = match after {
            Some(k) => std::ops::Bound::Excluded(k),
            None => std::ops::Bound::Unbounded,
        };
        self.order
            .range((std::ops::Bound::Unbounded, upper))
            .rev()
            .filter_map(|(_, id)| self.runs.get(id))
    }

    pub fn trace_runs(&self, trace_id: &str) -> impl Iterator<Item = &Run> + '_ {
        self.traces
            .get(trace_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.runs.get(id))
    }

    pub fn insert_run(&mut self, run: Run) {
        let id = run.id().to_string();
        if let Some(old) = self.runs.remove(&id) {
            self.order.remove(&(old.start_us, id.clone()));
        } else if let Some(t) = run.str("trace_id") {
            self.traces
                .entry(t.to_string())
                .or_default()
                .push(id.clone());
        }
        self.order.insert((run.start_us, id.clone()));
        self.runs.insert(id.clone(), run);
        if let Some(p) = self.pending_patches.remove(&id) {
            self.patch_run(&id, p);
        }
    }

    pub fn remove_run(&mut self, id: &str) -> bool {
        match self.runs.remove(id) {
            Some(r) => {
                self.order.remove(&(r.start_us, id.to_string()));
                true
            }
            None => false,
        }
    }

    /// Applies a PATCH (end time, outputs, error, events, extra, tags...); held until the post
    /// arrives when the run is not there yet.
    pub fn patch_run(&mut self, id: &str, patch: Map<String, Value>) {
        let Some(run) = self.runs.get_mut(id) else {
            self.pending_patches
                .entry(id.to_string())
                .or_default()
                .extend(patch);
            return;
        };
        for (k, v) in patch {
            if v.is_null()
                || matches!(
                    k.as_str(),
                    "id" | "trace_id" | "dotted_order" | "start_time"
                )
            {
                continue;
            }
            if k == "extra"
                && let (Some(Value::Object(old)), Value::Object(new)) = (run.v.get_mut("extra"), &v)
            {
                for (ek, ev) in new {
                    old.insert(ek.clone(), ev.clone());
                }
                continue;
            }
            run.v.insert(k, v);
        }
        derive_status_and_usage(&mut run.v);
    }

    pub fn project_by_name(&self, name: &str) -> Option<&Value> {
        self.projects.values().find(|p| p["name"] == name)
    }

    /// The project named `name`, created (as LangSmith does on first ingest) when missing.
    pub fn ensure_project(&mut self, name: &str) -> String {
        if let Some(p) = self.project_by_name(name) {
            return p["id"].as_str().unwrap_or_default().to_string();
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.projects.insert(
            id.clone(),
            json!({
                "id": id, "name": name, "tenant_id": self.tenant_id,
                "start_time": timefmt::format_us(timefmt::now_us()),
                "end_time": null, "extra": null, "description": null,
                "default_dataset_id": null, "reference_dataset_id": null,
                "trace_tier": "longlived",
            }),
        );
        id
    }

    pub fn dump(&self) -> Value {
        let mut runs: Vec<&Run> = self.runs.values().collect();
        runs.sort_by(|a, b| a.id().cmp(b.id()));
        let commits: Vec<&Value> = self.commits.values().flatten().collect();
        let tags: Vec<&Value> = self.tags.values().flatten().collect();
        json!({
            "projects": self.projects.values().collect::<Vec<_>>(),
            "runs": runs.iter().map(|r| &r.v).collect::<Vec<_>>(),
            "feedback": self.feedback.values().collect::<Vec<_>>(),
            "datasets": self.datasets.values().collect::<Vec<_>>(),
            "examples": self.examples.values().collect::<Vec<_>>(),
            "repos": self.repos.values().collect::<Vec<_>>(),
            "commits": commits,
            "tags": tags,
        })
    }

    pub fn counts(&self) -> BTreeMap<String, usize> {
        let n = [
            self.projects.len(),
            self.runs.len(),
            self.feedback.len(),
            self.datasets.len(),
            self.examples.len(),
            self.repos.len(),
            self.commits.values().map(Vec::len).sum(),
            self.tags.values().map(Vec::len).sum(),
        ];
        ENTITIES
            .iter()
            .zip(n)
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }
}

/// Status from end time and error; the run's own usage from `outputs.usage_metadata` (what the
/// SDK's wrappers and LangChain put there) when it has no explicit token fields.
pub fn derive_status_and_usage(v: &mut Map<String, Value>) {
    let has_error = v.get("error").is_some_and(|e| !e.is_null());
    let ended = v.get("end_time").is_some_and(|e| !e.is_null());
    let status = if has_error {
        "error"
    } else if ended {
        "success"
    } else {
        "pending"
    };
    v.insert("status".into(), json!(status));
    let is_model = matches!(
        v.get("run_type").and_then(Value::as_str),
        Some("llm" | "embedding")
    );
    if !is_model || v.contains_key("prompt_tokens") {
        return;
    }
    let Some(u) = v
        .get("outputs")
        .and_then(|o| o.get("usage_metadata"))
        .cloned()
    else {
        return;
    };
    let int = |k: &str| u.get(k).and_then(Value::as_i64);
    if let Some(i) = int("input_tokens") {
        v.insert("prompt_tokens".into(), json!(i));
    }
    if let Some(o) = int("output_tokens") {
        v.insert("completion_tokens".into(), json!(o));
    }
    let total = int("total_tokens")
        .or_else(|| Some(int("input_tokens").unwrap_or(0) + int("output_tokens").unwrap_or(0)));
    v.insert("total_tokens".into(), json!(total));
    if let Some(d) = u.get("input_token_details") {
        v.insert("prompt_token_details".into(), d.clone());
    }
    if let Some(d) = u.get("output_token_details") {
        v.insert("completion_token_details".into(), d.clone());
    }
    for (from, to) in [
        ("input_cost", "prompt_cost"),
        ("output_cost", "completion_cost"),
        ("total_cost", "total_cost"),
    ] {
        if let Some(c) = u.get(from).and_then(Value::as_f64) {
            v.insert(to.into(), json!(format!("{c}")));
        }
    }
}
