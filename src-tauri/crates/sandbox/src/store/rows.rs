//! The stored rows. Field names are the spec's (camelCase) so a row serializes as the API's GET
//! returns it; internal bookkeeping (`seq`, `visible_at`) is never serialized.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::table::Row;
use crate::timefmt::{iso, iso_opt, now_ms};

/// An opaque JSON payload kept exactly as received.
pub type Raw = Box<RawValue>;

pub fn raw(v: &serde_json::Value) -> Raw {
    RawValue::from_string(v.to_string()).expect("a serialized Value is valid JSON")
}

pub fn raw_str(s: &str) -> Raw {
    raw(&serde_json::Value::String(s.to_string()))
}

fn default_level() -> String {
    "DEFAULT".into()
}
pub fn default_env() -> String {
    "default".into()
}
fn default_span() -> String {
    "SPAN".into()
}

macro_rules! impl_row {
    ($t:ty, $time:ident, $trace:expr) => {
        impl Row for $t {
            fn id(&self) -> &str {
                &self.id
            }
            fn time(&self) -> i64 {
                self.$time
            }
            fn trace_id(&self) -> Option<&str> {
                let f: fn(&$t) -> Option<&str> = $trace;
                f(self)
            }
            fn visible_at(&self) -> u64 {
                self.visible_at
            }
            fn set_visible_at(&mut self, at: u64) {
                self.visible_at = at;
            }
        }
    };
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceRow {
    pub id: String,
    #[serde(with = "iso", default = "now_ms")]
    pub timestamp: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub input: Option<Raw>,
    #[serde(default)]
    pub output: Option<Raw>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub release: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub metadata: Option<Raw>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub public: bool,
    #[serde(default = "default_env")]
    pub environment: String,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(TraceRow, timestamp, |_| None);

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObsRow {
    pub id: String,
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(rename = "type", default = "default_span")]
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(with = "iso", default = "now_ms")]
    pub start_time: i64,
    #[serde(with = "iso_opt", default)]
    pub end_time: Option<i64>,
    #[serde(with = "iso_opt", default)]
    pub completion_start_time: Option<i64>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub model_parameters: Option<Raw>,
    #[serde(default)]
    pub input: Option<Raw>,
    #[serde(default)]
    pub output: Option<Raw>,
    #[serde(default)]
    pub metadata: Option<Raw>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default = "default_level")]
    pub level: String,
    #[serde(default)]
    pub status_message: Option<String>,
    #[serde(default)]
    pub parent_observation_id: Option<String>,
    #[serde(default)]
    pub prompt_id: Option<String>,
    #[serde(default)]
    pub prompt_name: Option<String>,
    #[serde(default)]
    pub prompt_version: Option<i64>,
    #[serde(default)]
    pub usage_details: BTreeMap<String, i64>,
    #[serde(default)]
    pub cost_details: BTreeMap<String, f64>,
    #[serde(default = "default_env")]
    pub environment: String,
    /// v4 events rows carry their trace's columns; the trace is derived from them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_metadata: Option<Raw>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_app_root: bool,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(ObsRow, start_time, |r| r.trace_id.as_deref());

impl ObsRow {
    pub fn new(id: String, trace_id: Option<String>, kind: &str, start_time: i64) -> Self {
        let now = now_ms();
        ObsRow {
            id,
            trace_id,
            kind: kind.to_string(),
            name: None,
            start_time,
            end_time: None,
            completion_start_time: None,
            model: None,
            model_parameters: None,
            input: None,
            output: None,
            metadata: None,
            version: None,
            level: default_level(),
            status_message: None,
            parent_observation_id: None,
            prompt_id: None,
            prompt_name: None,
            prompt_version: None,
            usage_details: BTreeMap::new(),
            cost_details: BTreeMap::new(),
            environment: default_env(),
            trace_name: None,
            user_id: None,
            session_id: None,
            tags: Vec::new(),
            public: false,
            release: None,
            trace_metadata: None,
            is_app_root: false,
            created_at: now,
            updated_at: now,
            visible_at: 0,
        }
    }

    pub fn is_root(&self) -> bool {
        self.parent_observation_id.is_none() || self.is_app_root
    }

    pub fn latency_secs(&self) -> Option<f64> {
        self.end_time.map(|e| (e - self.start_time) as f64 / 1000.0)
    }

    pub fn time_to_first_token(&self) -> Option<f64> {
        self.completion_start_time
            .map(|c| (c - self.start_time) as f64 / 1000.0)
    }

    pub fn total_cost(&self) -> Option<f64> {
        if self.cost_details.is_empty() {
            return None;
        }
        Some(
            self.cost_details
                .get("total")
                .copied()
                .unwrap_or_else(|| self.cost_details.values().sum()),
        )
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreRow {
    pub id: String,
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub observation_id: Option<String>,
    #[serde(default)]
    pub dataset_run_id: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    #[serde(default = "numeric")]
    pub data_type: String,
    #[serde(default = "api_source")]
    pub source: String,
    #[serde(with = "iso", default = "now_ms")]
    pub timestamp: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(default)]
    pub author_user_id: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub metadata: Option<Raw>,
    #[serde(default)]
    pub config_id: Option<String>,
    #[serde(default)]
    pub queue_id: Option<String>,
    #[serde(default = "default_env")]
    pub environment: String,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(ScoreRow, timestamp, |r| r.trace_id.as_deref());

fn numeric() -> String {
    "NUMERIC".into()
}

fn api_source() -> String {
    "API".into()
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRow {
    pub id: String,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(default)]
    pub project_id: String,
    #[serde(default = "default_env")]
    pub environment: String,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(SessionRow, created_at, |_| None);

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetRow {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Option<Raw>,
    #[serde(default)]
    pub input_schema: Option<Raw>,
    #[serde(default)]
    pub expected_output_schema: Option<Raw>,
    #[serde(default)]
    pub project_id: String,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(DatasetRow, created_at, |_| None);

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetItemRow {
    pub id: String,
    #[serde(default = "active")]
    pub status: String,
    #[serde(default)]
    pub input: Option<Raw>,
    #[serde(default)]
    pub expected_output: Option<Raw>,
    #[serde(default)]
    pub metadata: Option<Raw>,
    #[serde(default)]
    pub source_trace_id: Option<String>,
    #[serde(default)]
    pub source_observation_id: Option<String>,
    #[serde(default)]
    pub dataset_id: String,
    #[serde(default)]
    pub dataset_name: String,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(default)]
    pub media_references: Vec<serde_json::Value>,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(DatasetItemRow, created_at, |_| None);

fn active() -> String {
    "ACTIVE".into()
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetRunRow {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Option<Raw>,
    #[serde(default)]
    pub dataset_id: String,
    #[serde(default)]
    pub dataset_name: String,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(DatasetRunRow, created_at, |_| None);

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetRunItemRow {
    pub id: String,
    pub dataset_run_id: String,
    pub dataset_run_name: String,
    pub dataset_item_id: String,
    pub trace_id: String,
    #[serde(default)]
    pub observation_id: Option<String>,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(DatasetRunItemRow, created_at, |r| Some(r.trace_id.as_str()));

/// One prompt version. `id` is not in the spec's Prompt schema but Langfuse returns it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptRow {
    #[serde(default = "new_id")]
    pub id: String,
    pub name: String,
    pub version: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub prompt: Raw,
    #[serde(default = "empty_object")]
    pub config: Raw,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub commit_message: Option<String>,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(PromptRow, created_at, |_| None);

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn empty_object() -> Raw {
    RawValue::from_string("{}".into()).expect("valid JSON")
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConfigCategory {
    pub value: f64,
    pub label: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreConfigRow {
    pub id: String,
    pub name: String,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(default)]
    pub project_id: String,
    pub data_type: String,
    #[serde(default)]
    pub is_archived: bool,
    #[serde(default)]
    pub min_value: Option<f64>,
    #[serde(default)]
    pub max_value: Option<f64>,
    #[serde(default)]
    pub categories: Option<Vec<ConfigCategory>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(ScoreConfigRow, created_at, |_| None);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelPrice {
    pub price: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelRow {
    pub id: String,
    pub model_name: String,
    pub match_pattern: String,
    #[serde(with = "iso_opt", default)]
    pub start_date: Option<i64>,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub input_price: Option<f64>,
    #[serde(default)]
    pub output_price: Option<f64>,
    #[serde(default)]
    pub total_price: Option<f64>,
    #[serde(default)]
    pub tokenizer_id: Option<String>,
    #[serde(default)]
    pub tokenizer_config: Option<Raw>,
    #[serde(default)]
    pub is_langfuse_managed: bool,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(default)]
    pub prices: BTreeMap<String, ModelPrice>,
    #[serde(default)]
    pub pricing_tiers: Vec<serde_json::Value>,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(ModelRow, created_at, |_| None);

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentRow {
    pub id: String,
    #[serde(default)]
    pub project_id: String,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    pub object_type: String,
    pub object_id: String,
    pub content: String,
    #[serde(default)]
    pub author_user_id: Option<String>,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(CommentRow, created_at, |_| None);

/// An LLM connection as the project stores it, secret included: the API never returns
/// `secretKey` or the extra headers' values (see `routes::llm_connections::view`); the test dump
/// does, so a test can see which key a copy supplied.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LlmConnectionRow {
    pub id: String,
    pub provider: String,
    pub adapter: String,
    pub secret_key: String,
    #[serde(rename = "baseURL", default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub custom_models: Vec<String>,
    #[serde(default = "yes")]
    pub with_default_models: bool,
    #[serde(default)]
    pub extra_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(LlmConnectionRow, created_at, |_| None);

fn yes() -> bool {
    true
}

/// An annotation queue; `assignedUserIds` is the sandbox's own record of assignments (the API
/// has no read for them, see `routes::annotation_queues::view`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnnotationQueueRow {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub score_config_ids: Vec<String>,
    #[serde(default)]
    pub assigned_user_ids: Vec<String>,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(AnnotationQueueRow, created_at, |_| None);

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnnotationQueueItemRow {
    pub id: String,
    pub queue_id: String,
    pub object_id: String,
    pub object_type: String,
    #[serde(default = "pending")]
    pub status: String,
    #[serde(with = "iso_opt", default)]
    pub completed_at: Option<i64>,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(AnnotationQueueItemRow, created_at, |_| None);

fn pending() -> String {
    "PENDING".into()
}

/// An evaluator (current API, `v2/evaluators`). `definition` holds the latest version's
/// type-specific fields as the API shows them (`prompt`, `variables`, `variableMapping`,
/// `modelConfig`, `outputDefinition`, or `sourceCode`, `sourceCodeLanguage`); `history` the
/// earlier versions as `versions` lists them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluatorRow {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub definition: serde_json::Value,
    #[serde(default = "first_version")]
    pub version: u32,
    #[serde(default = "new_id")]
    pub version_id: String,
    #[serde(with = "iso", default = "now_ms")]
    pub version_created_at: i64,
    #[serde(default)]
    pub history: Vec<serde_json::Value>,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(EvaluatorRow, created_at, |_| None);

fn first_version() -> u32 {
    1
}

/// An evaluation rule (current API, `v2/evaluation-rules`): which observations its evaluators
/// score. `filter` and `evaluatorAssignments` are kept as the API shows them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationRuleRow {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    #[serde(default = "all")]
    pub sampling: f64,
    #[serde(default)]
    pub filter: Vec<serde_json::Value>,
    #[serde(default)]
    pub evaluator_assignments: Vec<serde_json::Value>,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(EvaluationRuleRow, created_at, |_| None);

fn all() -> f64 {
    1.0
}

/// A dashboard widget (`unstable/dashboard-widgets`); the query parts kept as the API shows them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardWidgetRow {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub view: String,
    #[serde(default)]
    pub dimensions: Vec<serde_json::Value>,
    #[serde(default)]
    pub metrics: Vec<serde_json::Value>,
    #[serde(default)]
    pub filters: Vec<serde_json::Value>,
    pub chart_type: String,
    #[serde(default)]
    pub chart_config: serde_json::Value,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(DashboardWidgetRow, created_at, |_| None);

/// A dashboard (`unstable/dashboards`): its placements (`definition.widgets`) and filters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardRow {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub placements: Vec<serde_json::Value>,
    #[serde(default)]
    pub filters: Vec<serde_json::Value>,
    #[serde(with = "iso", default = "now_ms")]
    pub created_at: i64,
    #[serde(with = "iso", default = "now_ms")]
    pub updated_at: i64,
    #[serde(skip)]
    pub visible_at: u64,
}
impl_row!(DashboardRow, created_at, |_| None);
