//! The in-memory project: one table per entity, plus dump/count/raw-edit for tests.

pub mod derived;
pub mod rows;
pub mod table;

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::config::ServerProfile;
use crate::error::SandboxError;
use crate::views;
pub use rows::*;
pub use table::{Row, Slot, Table};

/// The dump keys, in the order the contract lists them (`dataset_runs` is an addition).
pub const ENTITIES: [&str; 19] = [
    "traces",
    "observations",
    "scores",
    "sessions",
    "datasets",
    "dataset_items",
    "dataset_run_items",
    "dataset_runs",
    "prompts",
    "score_configs",
    "models",
    "comments",
    "llm_connections",
    "annotation_queues",
    "annotation_queue_items",
    "evaluators",
    "evaluation_rules",
    "dashboard_widgets",
    "dashboards",
];

pub struct Store {
    pub profile: ServerProfile,
    pub project_id: String,
    pub project_name: String,
    pub traces: Table<TraceRow>,
    pub observations: Table<ObsRow>,
    pub scores: Table<ScoreRow>,
    pub sessions: Table<SessionRow>,
    pub datasets: Table<DatasetRow>,
    pub dataset_items: Table<DatasetItemRow>,
    pub dataset_runs: Table<DatasetRunRow>,
    pub dataset_run_items: Table<DatasetRunItemRow>,
    pub prompts: Table<PromptRow>,
    pub score_configs: Table<ScoreConfigRow>,
    pub models: Table<ModelRow>,
    pub comments: Table<CommentRow>,
    pub llm_connections: Table<LlmConnectionRow>,
    pub annotation_queues: Table<AnnotationQueueRow>,
    pub annotation_queue_items: Table<AnnotationQueueItemRow>,
    pub evaluators: Table<EvaluatorRow>,
    pub evaluation_rules: Table<EvaluationRuleRow>,
    pub dashboard_widgets: Table<DashboardWidgetRow>,
    pub dashboards: Table<DashboardRow>,
}

impl Store {
    pub fn new(profile: ServerProfile, project_name: &str) -> Self {
        let mut s = Store {
            profile,
            project_id: "sandbox-project".into(),
            project_name: project_name.to_string(),
            traces: Table::default(),
            observations: Table::default(),
            scores: Table::default(),
            sessions: Table::default(),
            datasets: Table::default(),
            dataset_items: Table::default(),
            dataset_runs: Table::default(),
            dataset_run_items: Table::default(),
            prompts: Table::default(),
            score_configs: Table::default(),
            models: Table::default(),
            comments: Table::default(),
            llm_connections: Table::default(),
            annotation_queues: Table::default(),
            annotation_queue_items: Table::default(),
            evaluators: Table::default(),
            evaluation_rules: Table::default(),
            dashboard_widgets: Table::default(),
            dashboards: Table::default(),
        };
        s.add_managed_models();
        s
    }

    /// Langfuse lists its own model definitions next to the project's; a migrator must skip them.
    fn add_managed_models(&mut self) {
        for (id, name, pattern, inp, out) in [
            (
                "lf-managed-gpt-4o",
                "gpt-4o",
                "(?i)^(openai/)?(gpt-4o)$",
                2.5e-6,
                1e-5,
            ),
            (
                "lf-managed-claude-3-5-sonnet",
                "claude-3-5-sonnet-20241022",
                "(?i)^(anthropic/)?(claude-3-5-sonnet-20241022)$",
                3e-6,
                1.5e-5,
            ),
        ] {
            let mut prices = BTreeMap::new();
            prices.insert("input".to_string(), ModelPrice { price: inp });
            prices.insert("output".to_string(), ModelPrice { price: out });
            self.models.insert(ModelRow {
                id: id.into(),
                model_name: name.into(),
                match_pattern: pattern.into(),
                start_date: None,
                unit: Some("TOKENS".into()),
                input_price: Some(inp),
                output_price: Some(out),
                total_price: None,
                tokenizer_id: None,
                tokenizer_config: None,
                is_langfuse_managed: true,
                created_at: 1_704_067_200_000,
                prices,
                pricing_tiers: Vec::new(),
                visible_at: 0,
            });
        }
    }

    pub fn reset(&mut self) {
        *self = Store::new(self.profile, &self.project_name.clone());
    }

    pub fn make_all_visible(&mut self) {
        self.traces.make_all_visible();
        self.observations.make_all_visible();
        self.scores.make_all_visible();
        self.sessions.make_all_visible();
        self.datasets.make_all_visible();
        self.dataset_items.make_all_visible();
        self.dataset_runs.make_all_visible();
        self.dataset_run_items.make_all_visible();
        self.prompts.make_all_visible();
        self.score_configs.make_all_visible();
        self.models.make_all_visible();
        self.comments.make_all_visible();
        self.llm_connections.make_all_visible();
        self.annotation_queues.make_all_visible();
        self.annotation_queue_items.make_all_visible();
        self.evaluators.make_all_visible();
        self.evaluation_rules.make_all_visible();
        self.dashboard_widgets.make_all_visible();
        self.dashboards.make_all_visible();
    }

    /// Removes what a dropped write added (rows stamped `NEVER`).
    pub fn purge_dropped(&mut self) {
        self.traces.purge_never();
        self.observations.purge_never();
        self.scores.purge_never();
        self.sessions.purge_never();
        self.dataset_run_items.purge_never();
    }

    /// Langfuse links a generation to the prompt version it names.
    pub fn link_prompt(&self, o: &mut ObsRow) {
        if o.prompt_id.is_some() {
            return;
        }
        if let (Some(name), Some(version)) = (&o.prompt_name, o.prompt_version) {
            o.prompt_id = self
                .prompts
                .iter()
                .find(|(_, p)| &p.name == name && p.version == version)
                .map(|(_, p)| p.id.clone());
        }
    }

    /// True when traces are derived from observation rows (the v4 events model).
    pub fn derived_traces(&self) -> bool {
        self.profile.is_v4()
    }

    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut c = BTreeMap::new();
        let (traces, sessions) = if self.derived_traces() {
            (
                derived::traces(self, u64::MAX).len(),
                derived::sessions(self, u64::MAX).len(),
            )
        } else {
            (self.traces.len(), self.sessions.len())
        };
        c.insert("traces".into(), traces);
        c.insert("observations".into(), self.observations.len());
        c.insert("scores".into(), self.scores.len());
        c.insert("sessions".into(), sessions);
        c.insert("datasets".into(), self.datasets.len());
        c.insert("dataset_items".into(), self.dataset_items.len());
        c.insert("dataset_runs".into(), self.dataset_runs.len());
        c.insert("dataset_run_items".into(), self.dataset_run_items.len());
        c.insert("prompts".into(), self.prompts.len());
        c.insert("score_configs".into(), self.score_configs.len());
        c.insert("models".into(), self.models.len());
        c.insert("comments".into(), self.comments.len());
        c.insert("llm_connections".into(), self.llm_connections.len());
        c.insert("annotation_queues".into(), self.annotation_queues.len());
        c.insert(
            "annotation_queue_items".into(),
            self.annotation_queue_items.len(),
        );
        c.insert("evaluators".into(), self.evaluators.len());
        c.insert("evaluation_rules".into(), self.evaluation_rules.len());
        c.insert("dashboard_widgets".into(), self.dashboard_widgets.len());
        c.insert("dashboards".into(), self.dashboards.len());
        c
    }

    pub fn dump(&self) -> Value {
        let mut out = Map::new();
        let traces: Vec<(String, Value)> = if self.derived_traces() {
            derived::traces(self, u64::MAX)
                .into_iter()
                .map(|t| (t.id.clone(), to_value(&t)))
                .collect()
        } else {
            self.traces
                .iter()
                .map(|(_, t)| (t.id.clone(), to_value(t)))
                .collect()
        };
        out.insert("traces".into(), sorted(traces));
        out.insert(
            "observations".into(),
            sorted(
                self.observations
                    .iter()
                    .map(|(_, o)| (o.id.clone(), views::obs_dump(o)))
                    .collect(),
            ),
        );
        out.insert("scores".into(), dump_table(&self.scores));
        let sessions: Vec<(String, Value)> = if self.derived_traces() {
            derived::sessions(self, u64::MAX)
                .into_iter()
                .map(|s| (s.id.clone(), to_value(&s)))
                .collect()
        } else {
            self.sessions
                .iter()
                .map(|(_, s)| (s.id.clone(), to_value(s)))
                .collect()
        };
        out.insert("sessions".into(), sorted(sessions));
        out.insert("datasets".into(), dump_table(&self.datasets));
        out.insert("dataset_items".into(), dump_table(&self.dataset_items));
        out.insert("dataset_runs".into(), dump_table(&self.dataset_runs));
        out.insert(
            "dataset_run_items".into(),
            dump_table(&self.dataset_run_items),
        );
        let mut prompts: Vec<&PromptRow> = self.prompts.iter().map(|(_, p)| p).collect();
        prompts.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
        out.insert(
            "prompts".into(),
            Value::Array(prompts.into_iter().map(to_value).collect()),
        );
        out.insert("score_configs".into(), dump_table(&self.score_configs));
        out.insert("models".into(), dump_table(&self.models));
        out.insert("comments".into(), dump_table(&self.comments));
        out.insert("llm_connections".into(), dump_table(&self.llm_connections));
        out.insert(
            "annotation_queues".into(),
            dump_table(&self.annotation_queues),
        );
        out.insert(
            "annotation_queue_items".into(),
            dump_table(&self.annotation_queue_items),
        );
        out.insert("evaluators".into(), dump_table(&self.evaluators));
        out.insert(
            "evaluation_rules".into(),
            dump_table(&self.evaluation_rules),
        );
        out.insert(
            "dashboard_widgets".into(),
            dump_table(&self.dashboard_widgets),
        );
        out.insert("dashboards".into(), dump_table(&self.dashboards));
        Value::Object(out)
    }

    pub fn insert_raw(&mut self, entity: &str, row: Value) -> Result<(), SandboxError> {
        if entity == "traces" && self.derived_traces() {
            return Err(invalid(
                entity,
                "on v4 traces are derived from observations; insert an observation instead",
            ));
        }
        if entity == "sessions" && self.derived_traces() {
            return Err(invalid(
                entity,
                "on v4 sessions are derived from observations; insert an observation instead",
            ));
        }
        match entity {
            "traces" => self.traces.insert(parse_row(entity, &row)?),
            "observations" => self.observations.insert(parse_row(entity, &row)?),
            "scores" => self.scores.insert(parse_row(entity, &row)?),
            "sessions" => self.sessions.insert(parse_row(entity, &row)?),
            "datasets" => self.datasets.insert(parse_row(entity, &row)?),
            "dataset_items" => self.dataset_items.insert(parse_row(entity, &row)?),
            "dataset_runs" => self.dataset_runs.insert(parse_row(entity, &row)?),
            "dataset_run_items" => self.dataset_run_items.insert(parse_row(entity, &row)?),
            "prompts" => self.prompts.insert(parse_row(entity, &row)?),
            "score_configs" => self.score_configs.insert(parse_row(entity, &row)?),
            "models" => self.models.insert(parse_row(entity, &row)?),
            "comments" => self.comments.insert(parse_row(entity, &row)?),
            "llm_connections" => self.llm_connections.insert(parse_row(entity, &row)?),
            "annotation_queues" => self.annotation_queues.insert(parse_row(entity, &row)?),
            "annotation_queue_items" => {
                self.annotation_queue_items.insert(parse_row(entity, &row)?)
            }
            "evaluators" => self.evaluators.insert(parse_row(entity, &row)?),
            "evaluation_rules" => self.evaluation_rules.insert(parse_row(entity, &row)?),
            "dashboard_widgets" => self.dashboard_widgets.insert(parse_row(entity, &row)?),
            "dashboards" => self.dashboards.insert(parse_row(entity, &row)?),
            other => return Err(SandboxError::UnknownEntity(other.to_string())),
        };
        Ok(())
    }

    pub fn patch_raw(&mut self, entity: &str, id: &str, patch: Value) -> Result<(), SandboxError> {
        fn apply<T: Row + Serialize + DeserializeOwned>(
            t: &mut Table<T>,
            entity: &str,
            id: &str,
            patch: &Value,
        ) -> Result<(), SandboxError> {
            let Value::Object(patch) = patch else {
                return Err(invalid(entity, "a patch must be a JSON object"));
            };
            let slots = t.slots_of(id).to_vec();
            if slots.is_empty() {
                return Err(SandboxError::NotFound {
                    entity: entity.into(),
                    id: id.into(),
                });
            }
            for slot in slots {
                let row = t.get(slot).expect("indexed slot is live");
                let visible_at = row.visible_at();
                let mut v = to_value(row);
                if let Value::Object(m) = &mut v {
                    for (k, val) in patch {
                        m.insert(k.clone(), val.clone());
                    }
                }
                let mut new: T = parse_row(entity, &v)?;
                new.set_visible_at(visible_at);
                t.replace(slot, new);
            }
            Ok(())
        }
        match entity {
            "traces" if !self.derived_traces() => apply(&mut self.traces, entity, id, &patch),
            "observations" => apply(&mut self.observations, entity, id, &patch),
            "scores" => apply(&mut self.scores, entity, id, &patch),
            "sessions" if !self.derived_traces() => apply(&mut self.sessions, entity, id, &patch),
            "datasets" => apply(&mut self.datasets, entity, id, &patch),
            "dataset_items" => apply(&mut self.dataset_items, entity, id, &patch),
            "dataset_runs" => apply(&mut self.dataset_runs, entity, id, &patch),
            "dataset_run_items" => apply(&mut self.dataset_run_items, entity, id, &patch),
            "prompts" => apply(&mut self.prompts, entity, id, &patch),
            "score_configs" => apply(&mut self.score_configs, entity, id, &patch),
            "models" => apply(&mut self.models, entity, id, &patch),
            "comments" => apply(&mut self.comments, entity, id, &patch),
            "llm_connections" => apply(&mut self.llm_connections, entity, id, &patch),
            "annotation_queues" => apply(&mut self.annotation_queues, entity, id, &patch),
            "annotation_queue_items" => apply(&mut self.annotation_queue_items, entity, id, &patch),
            "evaluators" => apply(&mut self.evaluators, entity, id, &patch),
            "evaluation_rules" => apply(&mut self.evaluation_rules, entity, id, &patch),
            "dashboard_widgets" => apply(&mut self.dashboard_widgets, entity, id, &patch),
            "dashboards" => apply(&mut self.dashboards, entity, id, &patch),
            "traces" | "sessions" => Err(invalid(
                entity,
                "on v4 this entity is derived from observations; patch the observations",
            )),
            other => Err(SandboxError::UnknownEntity(other.to_string())),
        }
    }

    pub fn delete_raw(&mut self, entity: &str, id: &str) -> Result<(), SandboxError> {
        let removed = match entity {
            "traces" if self.derived_traces() => {
                let slots = self.observations.slots_of_trace(id).to_vec();
                slots
                    .into_iter()
                    .filter_map(|s| self.observations.remove(s))
                    .count()
            }
            "sessions" if self.derived_traces() => {
                let slots: Vec<Slot> = self
                    .observations
                    .iter()
                    .filter(|(_, o)| o.session_id.as_deref() == Some(id))
                    .map(|(s, _)| s)
                    .collect();
                for s in &slots {
                    if let Some(o) = self.observations.get_mut(*s) {
                        o.session_id = None;
                    }
                }
                slots.len()
            }
            "traces" => self.traces.remove_id(id).len(),
            "observations" => self.observations.remove_id(id).len(),
            "scores" => self.scores.remove_id(id).len(),
            "sessions" => self.sessions.remove_id(id).len(),
            "datasets" => self.datasets.remove_id(id).len(),
            "dataset_items" => self.dataset_items.remove_id(id).len(),
            "dataset_runs" => self.dataset_runs.remove_id(id).len(),
            "dataset_run_items" => self.dataset_run_items.remove_id(id).len(),
            "prompts" => self.prompts.remove_id(id).len(),
            "score_configs" => self.score_configs.remove_id(id).len(),
            "models" => self.models.remove_id(id).len(),
            "comments" => self.comments.remove_id(id).len(),
            "llm_connections" => self.llm_connections.remove_id(id).len(),
            "annotation_queues" => self.annotation_queues.remove_id(id).len(),
            "annotation_queue_items" => self.annotation_queue_items.remove_id(id).len(),
            "evaluators" => self.evaluators.remove_id(id).len(),
            "evaluation_rules" => self.evaluation_rules.remove_id(id).len(),
            "dashboard_widgets" => self.dashboard_widgets.remove_id(id).len(),
            "dashboards" => self.dashboards.remove_id(id).len(),
            other => return Err(SandboxError::UnknownEntity(other.to_string())),
        };
        if removed == 0 {
            return Err(SandboxError::NotFound {
                entity: entity.into(),
                id: id.into(),
            });
        }
        Ok(())
    }
}

fn invalid(entity: &str, reason: &str) -> SandboxError {
    SandboxError::InvalidRow {
        entity: entity.into(),
        reason: reason.into(),
    }
}

/// Rows hold `RawValue` payloads, which only deserialize from text.
fn parse_row<T: DeserializeOwned>(entity: &str, v: &Value) -> Result<T, SandboxError> {
    serde_json::from_str(&v.to_string()).map_err(|e| invalid(entity, &e.to_string()))
}

pub fn to_value<T: Serialize>(row: &T) -> Value {
    serde_json::to_value(row).expect("rows serialize")
}

fn dump_table<T: Row + Serialize>(t: &Table<T>) -> Value {
    sorted(
        t.iter()
            .map(|(_, r)| (r.id().to_string(), to_value(r)))
            .collect(),
    )
}

/// Sorted by id, then insertion order (the sort is stable).
fn sorted(mut rows: Vec<(String, Value)>) -> Value {
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(rows.into_iter().map(|(_, v)| v).collect())
}
