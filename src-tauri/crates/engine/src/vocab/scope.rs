//! What a run covers: the entities, the time window `[from, to)` and the filters.

use super::model::Entity;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    #[serde(default)]
    pub entities: EntitySelection,
    /// Inclusive lower bound of the time window.
    #[serde(default = "default_from")]
    pub from: DateTime<Utc>,
    /// Exclusive upper bound of the time window.
    #[serde(default = "default_to")]
    pub to: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// When dual export (the OpenTelemetry Collector fan-out) started sending to the target.
    /// Everything after it reaches the target through the fan-out, so the copy stops there:
    /// loading a plan moves `to` back to this moment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fan_out_started_at: Option<DateTime<Utc>>,
    /// A copy-back: leave out every object live sync run `copy_back_of` carried or saw (its
    /// journal), so only what the application itself wrote to the sync's target is copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_back_of: Option<CopyBackOf>,
}

/// The live sync a copy-back undoes, and where its journal lives.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CopyBackOf {
    pub run_id: String,
    /// The data folder the sync run lives in.
    pub data_dir: std::path::PathBuf,
}

fn default_from() -> DateTime<Utc> {
    DateTime::from_timestamp(0, 0).expect("epoch")
}
fn default_to() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("9999-01-01T00:00:00Z")
        .expect("valid")
        .with_timezone(&Utc)
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            entities: EntitySelection::default(),
            from: default_from(),
            to: default_to(),
            environments: vec![],
            trace_names: vec![],
            tags: vec![],
            fan_out_started_at: None,
            copy_back_of: None,
        }
    }
}

/// `entities = "all"` or a list such as `["traces", "observations", "scores"]`.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum EntitySelection {
    #[default]
    All,
    Only(Vec<Entity>),
}

impl EntitySelection {
    pub fn includes(&self, e: Entity) -> bool {
        match self {
            EntitySelection::All => true,
            EntitySelection::Only(v) => v.contains(&e),
        }
    }
}

impl Serialize for EntitySelection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            EntitySelection::All => s.serialize_str("all"),
            EntitySelection::Only(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for EntitySelection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Word(String),
            List(Vec<String>),
        }
        match Repr::deserialize(d)? {
            Repr::Word(w) if w == "all" => Ok(EntitySelection::All),
            Repr::Word(w) => Entity::parse(&w)
                .map(|e| EntitySelection::Only(vec![e]))
                .ok_or_else(|| serde::de::Error::custom(format!("unknown entity \"{w}\""))),
            Repr::List(l) => l
                .iter()
                .map(|w| {
                    Entity::parse(w).ok_or_else(|| {
                        serde::de::Error::custom(format!(
                            "unknown entity \"{w}\" (known: {})",
                            Entity::ALL.map(|e| e.as_str()).join(", ")
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(EntitySelection::Only),
        }
    }
}
