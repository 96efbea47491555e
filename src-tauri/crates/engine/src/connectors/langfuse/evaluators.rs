//! LLM-as-judge (and code) evaluators and their evaluation rules, through the current API's
//! `v2/evaluators` and `v2/evaluation-rules` (Langfuse 4.59 and later). An evaluator is created
//! in the target with its latest definition (the target starts it at version 1; earlier
//! versions stay behind); its model config names an LLM connection by provider, which the
//! target must hold. A rule is created with its filter and sampling, its assignments pointing
//! at the target's copies of its evaluators (the pipeline maps them through the journal) and
//! `datasetId` conditions at the target's datasets. Neither lets a client choose the id: the
//! journal keeps the id map. Servers without the API have none to read and take none; the
//! pre-flight and the report say so.

use super::Langfuse;
use crate::connectors::http::{Bucket, HttpFailure};
use crate::connectors::traits::{ExistingKey, Page, WriteOutcome};
use crate::vocab::{EngineError, Entity, Generation, RawObject, Record};
use serde::Deserialize;
use serde_json::{Value, json};

pub(crate) const EVALUATORS: &str = "/api/public/v2/evaluators";
pub(crate) const RULES: &str = "/api/public/v2/evaluation-rules";

/// The field the pipeline sets on a rule to its assignments with the target's evaluator ids;
/// an assignment whose evaluator is not in the target keeps `evaluatorId` null.
pub(crate) const TARGET_ASSIGNMENTS: &str = "targetEvaluatorAssignments";

/// The oldest server version that serves `v2/evaluators`: the current API the SDKs 5.x need.
const FIRST_VERSION: (u64, u64) = (4, 59);

/// Whether a server of this generation and version offers the API. Older ones are known to
/// lack it and are not asked (Langfuse 4.16's `unstable/evaluators` draft has another shape).
pub(crate) fn served_by(generation: Generation, version: &str) -> bool {
    if generation != Generation::V4 {
        return false;
    }
    let mut parts = version.trim_start_matches('v').split('.');
    let major = parts.next().and_then(|p| p.parse::<u64>().ok());
    let minor = parts.next().and_then(|p| p.parse::<u64>().ok());
    match (major, minor) {
        (Some(major), Some(minor)) => (major, minor) >= FIRST_VERSION,
        // An unreadable version (a development build): ask the server.
        _ => true,
    }
}

/// What the user reads when a side lacks the API.
pub fn lacking(side: &str, version: &str) -> String {
    format!(
        "The {side} (Langfuse {version}) does not offer LLM-as-judge evaluators and evaluation rules through its API (they came with Langfuse 4.59): they are not copied; recreate them in the target's Langfuse (Evaluators) after the run."
    )
}

#[derive(Deserialize)]
struct CursorPage {
    data: Vec<RawObject>,
    #[serde(default)]
    meta: CursorMeta,
}

#[derive(Deserialize, Default)]
struct CursorMeta {
    cursor: Option<String>,
}

impl Langfuse {
    fn serves_evaluators(&self) -> bool {
        self.info.capabilities.evaluators
    }

    /// One page of a newest-first cursor listing (100 at a time); empty where not served.
    async fn cursor_listing(
        &self,
        path: &str,
        cursor: Option<String>,
        what: &str,
    ) -> Result<(Vec<RawObject>, Option<String>), EngineError> {
        if !self.serves_evaluators() {
            return Ok((vec![], None));
        }
        let mut url = format!("{path}?limit=100");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", super::q(c)));
        }
        let p: CursorPage = self.get_json(Bucket::PublicApi, &url, what).await?;
        let next = p.meta.cursor.filter(|_| !p.data.is_empty());
        Ok((p.data, next))
    }

    async fn listing_all(&self, path: &str, what: &str) -> Result<Vec<RawObject>, EngineError> {
        let mut out = vec![];
        let mut cursor = None;
        loop {
            let (data, next) = self.cursor_listing(path, cursor, what).await?;
            out.extend(data);
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(out),
            }
        }
    }

    pub(crate) async fn read_evaluation_page(
        &self,
        entity: Entity,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let path = if entity == Entity::Evaluators {
            EVALUATORS
        } else {
            RULES
        };
        let (data, next) = self
            .cursor_listing(path, cursor, &format!("reading {entity}"))
            .await?;
        Ok(Page {
            records: data
                .into_iter()
                .filter_map(|o| Some(Record::new(entity, o.str("id")?, o)))
                .collect(),
            next,
        })
    }

    /// How many the project holds (`None` where the API is not served).
    pub(crate) async fn count_evaluation(
        &self,
        entity: Entity,
    ) -> Result<Option<u64>, EngineError> {
        if !self.serves_evaluators() {
            return Ok(None);
        }
        let path = if entity == Entity::Evaluators {
            EVALUATORS
        } else {
            RULES
        };
        Ok(Some(
            self.listing_all(path, &format!("counting {entity}"))
                .await?
                .len() as u64,
        ))
    }

    /// The target's evaluators or rules by natural key (a project holds few: one listing).
    pub(crate) async fn existing_evaluation_keys(
        &self,
        entity: Entity,
    ) -> Result<Vec<ExistingKey>, EngineError> {
        let path = if entity == Entity::Evaluators {
            EVALUATORS
        } else {
            RULES
        };
        let all = self
            .listing_all(path, &format!("listing {entity} in the target"))
            .await?;
        Ok(all
            .iter()
            .filter_map(|o| {
                Some(ExistingKey {
                    key: crate::vocab::natural_key(entity, o)?,
                    target_id: o.str("id"),
                })
            })
            .collect())
    }

    fn not_served(&self, entity: Entity, r: &Record) -> WriteOutcome {
        WriteOutcome::Failed(format!(
            "the target (Langfuse {}) does not offer {entity} through its API; create \"{}\" in its UI by hand",
            self.info.server_version,
            r.body.str("name").unwrap_or_default()
        ))
    }

    pub(crate) async fn write_evaluator(&self, r: &Record) -> WriteOutcome {
        if !self.serves_evaluators() {
            return self.not_served(Entity::Evaluators, r);
        }
        let body = match evaluator_body(&r.body) {
            Ok(b) => b,
            Err(why) => return WriteOutcome::Failed(why),
        };
        let name = r.body.str("name").unwrap_or_default();
        match self.send_json(EVALUATORS, &body).await {
            Ok(created) => WriteOutcome::Written {
                target_id: created.str("id"),
                object_id: None,
                warning: None,
            },
            Err(HttpFailure::Rejected { status: 422, body }) => {
                let provider = model_provider(&r.body).unwrap_or_default();
                WriteOutcome::Failed(format!(
                    "evaluator \"{name}\" judges with the LLM connection \"{provider}\", which the target cannot use (it answered: {}). Copy that connection with its key (or add it in the target's Langfuse under Settings → LLM Connections), then run again.",
                    body.chars().take(300).collect::<String>()
                ))
            }
            Err(f) => super::write::failure_outcome(&f),
        }
    }

    pub(crate) async fn write_evaluation_rule(&self, r: &Record) -> WriteOutcome {
        if !self.serves_evaluators() {
            return self.not_served(Entity::EvaluationRules, r);
        }
        let body = match rule_body(&r.body) {
            Ok(b) => b,
            Err(why) => return WriteOutcome::Failed(why),
        };
        match self.send_json(RULES, &body).await {
            Ok(created) => WriteOutcome::Written {
                target_id: created.str("id"),
                object_id: None,
                warning: None,
            },
            Err(f) => super::write::failure_outcome(&f),
        }
    }
}

/// A field's JSON value (absent and null alike: `None`).
pub(super) fn parsed(o: &RawObject, key: &str) -> Option<Value> {
    o.get_present(key)
        .and_then(|v| serde_json::from_str::<Value>(v.get()).ok())
        .filter(|v| !v.is_null())
}

fn model_provider(o: &RawObject) -> Option<String> {
    parsed(o, "modelConfig")?["provider"]
        .as_str()
        .map(str::to_string)
}

/// A variable mapping as read, in the shape a write takes; a legacy mapping cannot be sent.
fn mapping_input(list: &Value, whose: &str) -> Result<Value, String> {
    let mut out = vec![];
    for m in list.as_array().into_iter().flatten() {
        if m.get("mappingType").is_some_and(|t| t == "legacy") || m["source"].is_null() {
            return Err(format!(
                "{whose} maps variable \"{}\" the legacy way (by trace or observation), which Langfuse's API cannot write: set the mapping again in the target's Langfuse",
                m["variable"].as_str().unwrap_or_default()
            ));
        }
        let mut e = json!({"variable": m["variable"], "source": m["source"]});
        if m["jsonPath"].is_string() {
            e["jsonPath"] = m["jsonPath"].clone();
        }
        out.push(e);
    }
    Ok(Value::Array(out))
}

/// An object without its null fields (a write leaves them out).
pub(super) fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The create request for an evaluator's latest definition.
fn evaluator_body(o: &RawObject) -> Result<RawObject, String> {
    let name = o.str("name").unwrap_or_default();
    let kind = o.str("type").unwrap_or_else(|| "llm_as_judge".into());
    let mut b = RawObject::new();
    b.set("type", &kind);
    b.set("name", &name);
    if let Some(d) = o.str("description") {
        b.set("description", &d);
    }
    match kind.as_str() {
        "code" => {
            for k in ["sourceCode", "sourceCodeLanguage"] {
                if let Some(v) = o.get_present(k) {
                    b.set_raw(k, v.to_owned());
                }
            }
        }
        _ => {
            for k in ["prompt", "modelConfig"] {
                if let Some(v) = parsed(o, k) {
                    b.set(k, &v);
                }
            }
            if let Some(out) = parsed(o, "outputDefinition") {
                b.set("outputDefinition", &without_nulls(&out));
            }
            if let Some(m) = parsed(o, "variableMapping") {
                b.set(
                    "variableMapping",
                    &mapping_input(&m, &format!("evaluator \"{name}\""))?,
                );
            }
        }
    }
    Ok(b)
}

/// The create request for a rule; its assignments must have their evaluators in the target.
fn rule_body(o: &RawObject) -> Result<RawObject, String> {
    let name = o.str("name").unwrap_or_default();
    let mut b = RawObject::new();
    b.set("name", &name);
    for k in ["enabled", "sampling"] {
        if let Some(v) = o.get_present(k) {
            b.set_raw(k, v.to_owned());
        }
    }
    let filter: Vec<Value> = parsed(o, "filter")
        .and_then(|f| f.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(without_nulls)
        .collect();
    b.set("filter", &filter);
    let assigned = parsed(o, TARGET_ASSIGNMENTS)
        .or_else(|| parsed(o, "evaluatorAssignments"))
        .and_then(|a| a.as_array().cloned())
        .unwrap_or_default();
    let mut out = vec![];
    for a in assigned {
        if a["evaluatorId"].is_null() {
            return Err(format!(
                "evaluation rule \"{name}\" uses evaluator {} , which was not copied to the target: copy it first (or assign the rule's evaluators again in the target's Langfuse)",
                a["sourceEvaluatorId"].as_str().unwrap_or_default()
            ));
        }
        let mut e = json!({"evaluatorId": a["evaluatorId"]});
        if let Some(m) = a.get("variableMapping").filter(|m| !m.is_null()) {
            e["variableMapping"] = mapping_input(m, &format!("evaluation rule \"{name}\""))?;
        }
        out.push(e);
    }
    b.set("evaluatorAssignments", &out);
    Ok(b)
}
