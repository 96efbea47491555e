//! Canonical data model: Langfuse's own object shapes, kept as shallowly parsed JSON.
//!
//! Objects are `RawObject`s: an ordered list of top-level keys with their values kept as raw JSON
//! text. Payloads (input, output, metadata) are never parsed, unknown fields from newer servers
//! travel through untouched, and a parse costs a fraction of a full `serde_json::Value` parse
//! (see shared/notes/json-throughput.md: no `#[serde(flatten)]` on the hot path).

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::fmt;

/// Everything the migrator moves. The order is the dependency order used by the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    /// The project's connections to LLM providers (what evaluators and the playground use);
    /// their secret keys are never readable, so the user supplies them.
    LlmConnections,
    ScoreConfigs,
    /// Annotation queues (over the project's score configs); their items follow the comments.
    AnnotationQueues,
    Models,
    Datasets,
    Prompts,
    /// LLM-as-judge and code evaluators (their latest version); they judge with an LLM
    /// connection named by provider.
    Evaluators,
    /// Which observations the evaluators score: filter, sampling, variable mappings.
    EvaluationRules,
    /// Saved queries with a chart, which dashboards place.
    DashboardWidgets,
    /// Dashboards: their filters and where each widget (or Langfuse preset) sits.
    Dashboards,
    Traces,
    Observations,
    Sessions,
    DatasetItems,
    Scores,
    DatasetRunItems,
    Comments,
    /// Traces, observations and sessions waiting in an annotation queue, with their status.
    AnnotationQueueItems,
    /// Attachments behind `@@@langfuseMedia:…@@@` references; copied with the objects that
    /// refer to them (no phase of their own).
    Media,
}

impl Entity {
    pub const ALL: [Entity; 19] = [
        Entity::LlmConnections,
        Entity::ScoreConfigs,
        Entity::AnnotationQueues,
        Entity::Models,
        Entity::Datasets,
        Entity::Prompts,
        Entity::Evaluators,
        Entity::EvaluationRules,
        Entity::DashboardWidgets,
        Entity::Dashboards,
        Entity::Traces,
        Entity::Observations,
        Entity::Sessions,
        Entity::DatasetItems,
        Entity::Scores,
        Entity::DatasetRunItems,
        Entity::Comments,
        Entity::AnnotationQueueItems,
        Entity::Media,
    ];

    /// The key used in journals, archives, reports and the sandbox dump.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::LlmConnections => "llm_connections",
            Entity::ScoreConfigs => "score_configs",
            Entity::AnnotationQueues => "annotation_queues",
            Entity::AnnotationQueueItems => "annotation_queue_items",
            Entity::Models => "models",
            Entity::Datasets => "datasets",
            Entity::Prompts => "prompts",
            Entity::Evaluators => "evaluators",
            Entity::EvaluationRules => "evaluation_rules",
            Entity::DashboardWidgets => "dashboard_widgets",
            Entity::Dashboards => "dashboards",
            Entity::Traces => "traces",
            Entity::Observations => "observations",
            Entity::Sessions => "sessions",
            Entity::DatasetItems => "dataset_items",
            Entity::Scores => "scores",
            Entity::DatasetRunItems => "dataset_run_items",
            Entity::Comments => "comments",
            Entity::Media => "media",
        }
    }

    pub fn parse(s: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// Entities whose ids the target assigns; the journal maps source ids to target ids.
    pub fn target_assigns_ids(self) -> bool {
        matches!(
            self,
            Entity::LlmConnections
                | Entity::ScoreConfigs
                | Entity::AnnotationQueues
                | Entity::AnnotationQueueItems
                | Entity::Models
                | Entity::Datasets
                | Entity::Prompts
                | Entity::Evaluators
                | Entity::EvaluationRules
                | Entity::DashboardWidgets
                | Entity::Dashboards
                | Entity::DatasetRunItems
                | Entity::Comments
        )
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A JSON object with its top-level values kept as raw JSON text, in source order.
#[derive(Clone, Debug, Default)]
pub struct RawObject {
    fields: Vec<(Box<str>, Box<RawValue>)>,
}

impl RawObject {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.fields
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }

    /// The value, unless absent or JSON `null`.
    pub fn get_present(&self, key: &str) -> Option<&RawValue> {
        self.get(key).filter(|v| v.get() != "null")
    }

    /// A string field (`None` when absent, null or not a string).
    pub fn str(&self, key: &str) -> Option<String> {
        self.get(key)
            .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key)
            .and_then(|v| serde_json::from_str(v.get()).ok())
    }

    pub fn i64(&self, key: &str) -> Option<i64> {
        self.get(key)
            .and_then(|v| serde_json::from_str(v.get()).ok())
    }

    pub fn set_raw(&mut self, key: &str, value: Box<RawValue>) {
        if let Some(slot) = self.fields.iter_mut().find(|(k, _)| &**k == key) {
            slot.1 = value;
        } else {
            self.fields.push((key.into(), value));
        }
    }

    pub fn set<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        let raw = serde_json::value::to_raw_value(value).expect("serialisable value");
        self.set_raw(key, raw);
    }

    pub fn remove(&mut self, key: &str) -> Option<Box<RawValue>> {
        let pos = self.fields.iter().position(|(k, _)| &**k == key)?;
        Some(self.fields.remove(pos).1)
    }

    pub fn rename(&mut self, from: &str, to: &str) {
        if let Some(v) = self.remove(from) {
            self.set_raw(to, v);
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| &**k)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.fields.iter().map(|(k, v)| (&**k, &**v))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("raw object serialises")
    }

    /// Approximate serialized size, used for batching by bytes.
    pub fn approx_len(&self) -> usize {
        self.fields
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum::<usize>()
            + 2
    }

    /// An upper bound of the size once every value is written as a JSON string (as OTLP/JSON
    /// carries input, output and metadata): quotes and backslashes double, control characters
    /// become `\u00XX`.
    pub fn escaped_len(&self) -> usize {
        self.fields
            .iter()
            .map(|(k, v)| k.len() + escaped_len(v.get()) + 6)
            .sum::<usize>()
            + 2
    }
}

/// The length of `text` written as the content of a JSON string.
pub fn escaped_len(text: &str) -> usize {
    text.len()
        + text
            .bytes()
            .map(|b| match b {
                b'"' | b'\\' => 1,
                0..=0x1f => 5,
                _ => 0,
            })
            .sum::<usize>()
}

impl Serialize for RawObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.fields.len()))?;
        for (k, v) in &self.fields {
            map.serialize_entry(&**k, &**v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawObject, A::Error> {
                let mut fields = Vec::with_capacity(m.size_hint().unwrap_or(16));
                while let Some((k, v)) = m.next_entry::<Box<str>, Box<RawValue>>()? {
                    fields.push((k, v));
                }
                Ok(RawObject { fields })
            }
        }
        d.deserialize_map(V)
    }
}

/// One object read from a source, ready to be mapped onto a target.
#[derive(Clone, Debug)]
pub struct Record {
    pub entity: Entity,
    /// The source's id (for target-assigned entities: the source's id, mapped via the journal).
    pub id: String,
    pub body: RawObject,
    /// What the source says about how it mapped this object (journaled, summed in the report).
    pub remarks: Vec<super::Remark>,
    /// The source could not read this object: it fails with this reason, and the others move.
    pub failure: Option<String>,
}

impl Record {
    pub fn new(entity: Entity, id: String, body: RawObject) -> Self {
        Self {
            entity,
            id,
            body,
            remarks: vec![],
            failure: None,
        }
    }

    /// A stand-in for what the source could not read (a bulk-export file, say), failing with
    /// `reason`.
    pub fn unreadable(entity: Entity, id: String, reason: String) -> Self {
        Self {
            failure: Some(reason),
            ..Self::new(entity, id, RawObject::new())
        }
    }

    pub fn with_remarks(mut self, remarks: Vec<super::Remark>) -> Self {
        self.remarks = remarks;
        self
    }

    /// A stable hash of the object's content, stored in the journal (sha256 of its JSON text).
    pub fn content_hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for (k, v) in self.body.iter() {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(v.get().as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..16])
    }
}

/// A generation of Langfuse's API: what a server offers and how it reads and writes objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Generation {
    V2,
    V3,
    V4,
}

impl Generation {
    pub fn is_v4(self) -> bool {
        self == Generation::V4
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Generation::V2 => "v2",
            Generation::V3 => "v3",
            Generation::V4 => "v4",
        })
    }
}

/// The platform whose data a source holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Langfuse,
}

/// The shape of a source's payloads. Every source hands over Langfuse's canonical objects; the
/// dialect says which of Langfuse's object shapes they follow, and so how a writer maps them and
/// how validation compares them: in `LangfuseV4` an observation carries its trace's columns and a
/// trace is derived from its root span (metadata values are strings); in the older dialects a
/// trace is an object of its own and its observations need not form one tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dialect {
    LangfuseV2,
    LangfuseV3,
    LangfuseV4,
}

impl Dialect {
    /// The dialect of the objects a Langfuse server of generation `g` returns.
    pub fn of(g: Generation) -> Dialect {
        match g {
            Generation::V2 => Dialect::LangfuseV2,
            Generation::V3 => Dialect::LangfuseV3,
            Generation::V4 => Dialect::LangfuseV4,
        }
    }

    /// The API generation whose objects this dialect follows (what an archive manifest records).
    pub fn generation(self) -> Generation {
        match self {
            Dialect::LangfuseV2 => Generation::V2,
            Dialect::LangfuseV3 => Generation::V3,
            Dialect::LangfuseV4 => Generation::V4,
        }
    }

    pub fn is_v4(self) -> bool {
        self == Dialect::LangfuseV4
    }
}

/// What a source's records are: the platform the data comes from and the dialect of its
/// payloads. Decides how they are written and compared, whatever server or file they came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payloads {
    pub platform: Platform,
    pub dialect: Dialect,
}

impl Payloads {
    pub fn langfuse(dialect: Dialect) -> Self {
        Payloads {
            platform: Platform::Langfuse,
            dialect,
        }
    }
}

/// The key that identifies an object across projects: its id where the client sets ids, a
/// natural key where the target assigns them (so a re-run finds what the last run created).
pub fn natural_key(entity: Entity, o: &RawObject) -> Option<String> {
    match entity {
        Entity::Datasets | Entity::ScoreConfigs => o.str("name"),
        // Langfuse upserts connections by provider, unique in a project.
        Entity::LlmConnections => o.str("provider"),
        // Queue names are unique in a project; an item is its queue's name and its object.
        Entity::AnnotationQueues => o.str("name"),
        // Names are not unique in Langfuse, but what a person tells evaluators apart by; a
        // second one of the same type and name is taken for the first.
        Entity::Evaluators => Some(format!(
            "{}|{}",
            o.str("type").unwrap_or_else(|| "llm_as_judge".into()),
            o.str("name")?
        )),
        Entity::EvaluationRules | Entity::Dashboards => o.str("name"),
        Entity::DashboardWidgets => Some(format!(
            "{}|{}|{}",
            o.str("name")?,
            o.str("view").unwrap_or_default(),
            o.str("chartType").unwrap_or_default()
        )),
        Entity::AnnotationQueueItems => Some(format!(
            "{}|{}|{}",
            o.str("queueName")?,
            o.str("objectType")?,
            o.str("objectId")?
        )),
        Entity::Models => Some(format!(
            "{}|{}",
            o.str("modelName")?,
            o.str("matchPattern").unwrap_or_default()
        )),
        Entity::Prompts => Some(format!("{}:{}", o.str("name")?, o.i64("version")?)),
        Entity::DatasetRunItems => Some(format!(
            "{}|{}|{}",
            o.str("datasetRunName")?,
            o.str("datasetItemId")?,
            o.str("traceId").unwrap_or_default()
        )),
        Entity::Comments => Some(format!(
            "{}|{}|{}",
            o.str("objectType")?,
            o.str("objectId")?,
            {
                use sha2::{Digest, Sha256};
                hex::encode(&Sha256::digest(o.str("content")?.as_bytes())[..8])
            }
        )),
        _ => o.str("id"),
    }
}

/// What makes a prompt version the same version in both projects: its type, text and config.
/// Version numbers and ids are each project's own (a source with deleted versions has gaps the
/// target does not), and labels move separately.
pub fn prompt_fingerprint(o: &RawObject) -> String {
    use sha2::{Digest, Sha256};
    fn canonical(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let sorted: std::collections::BTreeMap<String, serde_json::Value> =
                    m.into_iter().map(|(k, v)| (k, canonical(v))).collect();
                serde_json::Value::Object(sorted.into_iter().collect())
            }
            serde_json::Value::Array(a) => {
                serde_json::Value::Array(a.into_iter().map(canonical).collect())
            }
            other => other,
        }
    }
    let field = |k: &str| -> serde_json::Value {
        o.get_present(k)
            .and_then(|v| serde_json::from_str(v.get()).ok())
            .map(canonical)
            .unwrap_or(serde_json::Value::Null)
    };
    let config = match field("config") {
        // No config and an empty one are the same to Langfuse.
        serde_json::Value::Null => serde_json::json!({}),
        c => c,
    };
    let text = serde_json::json!([field("type"), field("prompt"), config]).to_string();
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_object_round_trips_unknown_fields_and_payload_bytes() {
        let text = r#"{"id":"a","input":{"b": [1, 2.50]},"futureField":{"x":true}}"#;
        let o = RawObject::from_json(text).unwrap();
        assert_eq!(o.get("input").unwrap().get(), r#"{"b": [1, 2.50]}"#);
        assert_eq!(
            o.to_json(),
            r#"{"id":"a","input":{"b": [1, 2.50]},"futureField":{"x":true}}"#
        );
        assert_eq!(o.str("id").as_deref(), Some("a"));
    }

    #[test]
    fn set_rename_remove_keep_order() {
        let mut o = RawObject::from_json(r#"{"a":1,"b":2}"#).unwrap();
        o.rename("a", "c");
        o.set("b", &3);
        assert_eq!(o.to_json(), r#"{"b":3,"c":1}"#);
        assert!(o.remove("zzz").is_none());
    }
}
