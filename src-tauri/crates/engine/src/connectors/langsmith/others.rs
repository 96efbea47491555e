//! LangSmith feedback, feedback configs, datasets, examples, experiments and prompt commits →
//! Langfuse scores, score configs, datasets, items, dataset run items and prompt versions.

use serde_json::{Map, Value, json};

use super::ids::{observation_id, trace_id};
use super::runs::iso_ms;
use super::template::prompt_from_manifest;
use crate::vocab::{NoteKind, RawObject, Remark};

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// A feedback as a score, keeping its id: a boolean score → BOOLEAN, a number → NUMERIC, a
/// string value → CATEGORICAL. On the trace, and on the observation when the feedback is not on
/// the root run. Source `model` → EVAL, every other source → API. The comment is kept; the
/// correction, the source and any object value go to metadata. `None` when it names no run.
pub fn score(f: &Value, environment: Option<&str>) -> Option<(RawObject, Vec<Remark>)> {
    let id = s(f, "id")?;
    let run = s(f, "run_id")?;
    let trace = trace_id(s(f, "trace_id").unwrap_or(run))?;
    let mut o = RawObject::new();
    let mut meta = Map::new();
    let mut approx = vec![];
    o.set("id", id);
    o.set("traceId", &trace);
    let on_root = f["is_root"]
        .as_bool()
        .unwrap_or_else(|| s(f, "trace_id").is_none_or(|t| t == run));
    o.set("observationId", &(!on_root).then(|| observation_id(run)));
    o.set("name", &s(f, "key"));
    match (&f["score"], &f["value"]) {
        (Value::Bool(b), _) | (Value::Null, Value::Bool(b)) => {
            o.set("dataType", "BOOLEAN");
            o.set("value", &(if *b { 1.0 } else { 0.0 }));
            o.set("stringValue", if *b { "True" } else { "False" });
        }
        (Value::Number(n), v) => {
            o.set("dataType", "NUMERIC");
            o.set("value", &n.as_f64());
            if !v.is_null() {
                meta.insert("langsmith_value".into(), v.clone());
                approx.push(
                    Remark::new(
                        NoteKind::Approximate,
                        "feedback with both a score and a value: the value is kept only in the score's metadata `langsmith_value`",
                    )
                    .detail(format!("feedback {id} ({})", s(f, "key").unwrap_or_default())),
                );
            }
        }
        (Value::Null, Value::Number(n)) => {
            o.set("dataType", "NUMERIC");
            o.set("value", &n.as_f64());
        }
        (Value::Null, Value::String(v)) => {
            o.set("dataType", "CATEGORICAL");
            o.set("stringValue", v);
        }
        (Value::Null, v) => {
            // An object value or none at all: Langfuse needs a value, so the JSON text is the
            // category and the report names it.
            o.set("dataType", "CATEGORICAL");
            o.set(
                "stringValue",
                &if v.is_null() {
                    "(none)".to_string()
                } else {
                    v.to_string()
                },
            );
            approx.push(
                Remark::new(
                    NoteKind::Approximate,
                    "feedback without a score and with a non-text value became a categorical score whose category is the value as JSON",
                )
                .detail(format!("feedback {id} ({})", s(f, "key").unwrap_or_default())),
            );
        }
        (other, _) => {
            o.set("dataType", "CATEGORICAL");
            o.set("stringValue", &other.to_string());
        }
    }
    o.set("comment", &s(f, "comment"));
    o.set(
        "source",
        if f["feedback_source"]["type"] == "model" {
            "EVAL"
        } else {
            "API"
        },
    );
    o.set("timestamp", &s(f, "created_at").and_then(iso_ms));
    if !f["correction"].is_null() {
        meta.insert("correction".into(), f["correction"].clone());
        approx.push(
            Remark::new(
                NoteKind::Approximate,
                "feedback corrections are kept only in the score's metadata `correction`",
            )
            .detail(format!(
                "feedback {id} ({})",
                s(f, "key").unwrap_or_default()
            )),
        );
    }
    if !f["feedback_source"].is_null() {
        meta.insert(
            "langsmith_feedback_source".into(),
            f["feedback_source"].clone(),
        );
    }
    meta.insert("langsmith_run_id".into(), json!(run));
    o.set("metadata", &meta);
    if let Some(e) = environment {
        o.set("environment", e);
    }
    Some((o, approx))
}

/// A feedback config as a score config: continuous → NUMERIC (min/max), categorical →
/// CATEGORICAL; freeform has no Langfuse config (`None`).
pub fn score_config(c: &Value) -> Option<RawObject> {
    let name = s(c, "feedback_key")?;
    let cfg = &c["feedback_config"];
    let mut o = RawObject::new();
    o.set("id", name);
    o.set("name", name);
    match s(cfg, "type")? {
        "continuous" => {
            o.set("dataType", "NUMERIC");
            if let Some(m) = cfg["min"].as_f64() {
                o.set("minValue", &m);
            }
            if let Some(m) = cfg["max"].as_f64() {
                o.set("maxValue", &m);
            }
        }
        "categorical" => {
            o.set("dataType", "CATEGORICAL");
            let cats: Vec<Value> = cfg["categories"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| json!({"value": c["value"], "label": c["label"].as_str().map(String::from).unwrap_or_else(|| c["value"].to_string())}))
                .collect();
            o.set("categories", &cats);
        }
        _ => return None,
    }
    o.set("isArchived", &false);
    o.set(
        "description",
        &format!("From LangSmith feedback config `{name}`"),
    );
    Some(o)
}

pub fn dataset(d: &Value) -> Option<RawObject> {
    let mut o = RawObject::new();
    o.set("id", s(d, "id")?);
    o.set("name", s(d, "name")?);
    o.set("description", &s(d, "description"));
    let mut meta = d["metadata"].as_object().cloned().unwrap_or_default();
    meta.insert("langsmith_dataset_id".into(), d["id"].clone());
    o.set("metadata", &meta);
    Some(o)
}

/// An example as a dataset item with the same id; its splits stay in `metadata.dataset_split`;
/// the run it came from becomes `sourceTraceId` (LangSmith records the run, which is the root of
/// its trace when an example is made from a trace).
pub fn item(e: &Value, dataset_name: &str) -> Option<RawObject> {
    let mut o = RawObject::new();
    o.set("id", s(e, "id")?);
    o.set("datasetId", s(e, "dataset_id")?);
    o.set("datasetName", dataset_name);
    o.set("input", &e["inputs"]);
    o.set("expectedOutput", &e["outputs"]);
    let mut meta = e["metadata"].as_object().cloned().unwrap_or_default();
    if let Some(r) = s(e, "source_run_id") {
        meta.insert("langsmith_source_run_id".into(), json!(r));
        o.set("sourceTraceId", &trace_id(r));
    }
    o.set("metadata", &meta);
    o.set("status", "ACTIVE");
    Some(o)
}

/// A root run of an experiment as a dataset run item (run name = the experiment's name).
pub fn run_item(
    root: &Map<String, Value>,
    experiment: &Value,
    dataset_name: &str,
) -> Option<RawObject> {
    let example = root.get("reference_example_id")?.as_str()?;
    let trace = trace_id(
        root.get("trace_id")
            .and_then(Value::as_str)
            .or(root.get("id")?.as_str())?,
    )?;
    let mut o = RawObject::new();
    o.set("id", root.get("id")?.as_str()?);
    o.set("datasetRunName", s(experiment, "name")?);
    o.set("datasetRunId", s(experiment, "id")?);
    o.set("datasetItemId", example);
    o.set("traceId", &trace);
    o.set("observationId", &None::<String>);
    o.set("datasetId", s(experiment, "reference_dataset_id")?);
    o.set("datasetName", dataset_name);
    o.set("runDescription", &s(experiment, "description"));
    let mut meta = experiment["extra"]["metadata"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    meta.insert("langsmith_experiment_id".into(), experiment["id"].clone());
    o.set("runMetadata", &meta);
    o.set(
        "createdAt",
        &root
            .get("start_time")
            .and_then(Value::as_str)
            .and_then(iso_ms),
    );
    Some(o)
}

/// One commit (oldest first: `version` = position + 1) as a prompt version with its tags as
/// labels. `Err` names a manifest the migrator cannot read.
pub fn prompt_version(
    repo: &Value,
    commit: &Value,
    version: i64,
    labels: Vec<String>,
) -> Result<(RawObject, Vec<String>), String> {
    let name = s(repo, "repo_handle").ok_or("a repo without a handle")?;
    let hash = s(commit, "commit_hash").unwrap_or_default();
    let body = prompt_from_manifest(&commit["manifest"]).ok_or_else(|| {
        format!("commit {hash} of prompt {name} holds no prompt template the migrator can read")
    })?;
    let mut config = body.config;
    config.insert("langsmith_commit_hash".into(), json!(hash));
    let mut o = RawObject::new();
    o.set("name", name);
    o.set("version", &version);
    o.set("type", body.kind);
    o.set("prompt", &body.prompt);
    o.set("config", &config);
    o.set("labels", &labels);
    o.set(
        "tags",
        &repo["tags"].as_array().cloned().unwrap_or_default(),
    );
    o.set(
        "commitMessage",
        &s(commit, "description")
            .filter(|d| !d.is_empty())
            .map(String::from)
            .or_else(|| Some(format!("LangSmith commit {}", &hash[..hash.len().min(8)]))),
    );
    Ok((o, body.approximate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_kinds_become_score_types_and_keep_their_id() {
        let base = |extra: Value| {
            let mut f = json!({"id": "f1", "run_id": "0193f0a0-0000-7000-8000-000000000002",
                "trace_id": "0193f0a0-0000-7000-8000-000000000001", "key": "k", "is_root": false,
                "created_at": "2026-03-02T10:00:00Z", "feedback_source": {"type": "model"}});
            f.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            score(&f, None).unwrap().0
        };
        let b = base(json!({"score": true}));
        assert_eq!(b.str("dataType").unwrap(), "BOOLEAN");
        assert_eq!(b.get("value").unwrap().get(), "1.0");
        assert_eq!(b.str("id").unwrap(), "f1");
        assert_eq!(b.str("source").unwrap(), "EVAL");
        assert_eq!(
            b.str("traceId").unwrap(),
            "0193f0a0000070008000000000000001"
        );
        assert_eq!(
            b.str("observationId").unwrap(),
            observation_id("0193f0a0-0000-7000-8000-000000000002")
        );
        let n = base(
            json!({"score": 0.25, "comment": "c", "correction": {"a": 1}, "feedback_source": {"type": "app"}}),
        );
        assert_eq!(n.str("dataType").unwrap(), "NUMERIC");
        assert_eq!(n.str("comment").unwrap(), "c");
        assert_eq!(n.str("source").unwrap(), "API");
        assert!(
            n.get("metadata")
                .unwrap()
                .get()
                .contains("\"correction\":{\"a\":1}")
        );
        let c = base(json!({"value": "friendly"}));
        assert_eq!(c.str("dataType").unwrap(), "CATEGORICAL");
        assert_eq!(c.str("stringValue").unwrap(), "friendly");
    }
}
