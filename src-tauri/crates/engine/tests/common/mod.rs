//! Shared helpers for the engine's integration tests: sandboxes, plans and dump comparison.
#![allow(dead_code)]

pub mod langsmith_export;

use langfuse_sandbox::{FaultConfig, SampleSpec, Sandbox, SandboxConfig, ServerProfile};
use migrator_engine::{EndpointSpec, Entity, LangfuseEndpoint, Plan, RunReport};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

pub async fn sandbox(profile: ServerProfile, sample: Option<(u64, usize, usize)>) -> Sandbox {
    Sandbox::start(SandboxConfig {
        // Every request the migrator sends is checked against the API description.
        validate_requests: true,
        profile,
        visibility_delay: Some(Duration::from_millis(30)),
        sample: sample.map(|(seed, traces, observations_per_trace)| SampleSpec {
            seed,
            traces,
            observations_per_trace,
        }),
        faults: FaultConfig::default(),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
}

pub fn endpoint(s: &Sandbox) -> LangfuseEndpoint {
    LangfuseEndpoint::new(&s.url(), "pk-lf-sandbox", "sk-lf-sandbox")
}

pub fn plan(source: EndpointSpec, target: EndpointSpec) -> Plan {
    let mut p = Plan::from_toml(
        r#"
[source]
kind = "archive"
path = "/nonexistent"
[target]
kind = "langfuse"
url = "http://127.0.0.1:1"
public_key = "pk"
secret_key_env = "UNUSED"
[scope]
entities = "all"
from = "2020-01-01T00:00:00Z"
to = "2030-01-01T00:00:00Z"
[options]
visibility_wait_ms = 100
request_timeout_secs = 2
"#,
    )
    .expect("plan parses");
    p.source = source;
    p.target = target;
    p
}

pub fn lf(s: &Sandbox) -> EndpointSpec {
    EndpointSpec::Langfuse(endpoint(s))
}

/// The key the migrator adds to the metadata of every observation and score it writes (the
/// plan's `run_tag` option, on by default), naming the run.
const RUN_TAG: &str = "langfuse_migrator_run";

/// Keys Langfuse's OTLP mapping adds to the metadata of every span it stores
/// (shared/specs/langfuse-otel-mapping.md §3, "Metadata shape").
const OTLP_METADATA_KEYS: [&str; 2] = ["resourceAttributes", "scope"];

/// The target's metadata as the source's should compare with it: the run tag must be there
/// (on observations and scores) and is taken out; keys the OTLP mapping adds and the source
/// lacks are taken out; what is left must be the source's metadata, `{}` standing for none.
fn target_metadata(entity: &str, target: Option<&Value>, source: Option<&Value>) -> Value {
    let must_be_tagged = matches!(entity, "observations" | "scores");
    let Some(Value::Object(target)) = target else {
        return match target {
            _ if must_be_tagged => json!({"(run tag missing)": target}),
            Some(v) => v.clone(),
            None => Value::Null,
        };
    };
    let mut m = target.clone();
    let tag = m.remove(RUN_TAG);
    let tagged = tag
        .as_ref()
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if must_be_tagged && !tagged {
        return json!({"(run tag missing)": Value::Object(m)});
    }
    let source_keys = source.and_then(Value::as_object);
    for k in OTLP_METADATA_KEYS {
        if source_keys.is_none_or(|s| !s.contains_key(k)) {
            m.remove(k);
        }
    }
    if m.is_empty() && source.is_none_or(Value::is_null) {
        return source.cloned().unwrap_or(Value::Null);
    }
    Value::Object(m)
}

/// Equal JSON, numbers by value (`1` and `1.0` are one number; nothing else is forgiven).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// A dump reduced to what a migration must preserve: server-assigned fields removed,
/// target-assigned ids replaced by natural keys, the run tag removed.
pub fn normalise(dump: &Value) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut out: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let config_names: BTreeMap<String, String> = dump["score_configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Prompt versions get new ids in the target: name them by name and version.
    let prompt_keys: BTreeMap<String, String> = dump["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                format!("{}:{}", p["name"].as_str().unwrap(), p["version"]),
            )
        })
        .collect();
    // A run item without an observation reads back as linking its trace's root (v4 API).
    let roots: std::collections::BTreeSet<&str> = dump["observations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["parentObservationId"].is_null())
        .filter_map(|o| o["id"].as_str())
        .collect();
    for (entity, rows) in dump.as_object().unwrap() {
        let mut map = BTreeMap::new();
        for row in rows.as_array().unwrap() {
            let mut r = row.clone();
            let o = r.as_object_mut().unwrap();
            for k in ["createdAt", "updatedAt", "projectId", "htmlPath"] {
                o.remove(k);
            }
            if entity == "prompts" {
                // A set; the server keeps `latest` on the newest version itself.
                if let Some(Value::Array(l)) = o.get_mut("labels") {
                    l.sort_by_key(|v| v.to_string());
                }
            }
            if entity == "sessions" {
                // Derived from whichever trace the server saw first; not an attribute that moves.
                o.remove("environment");
            }
            if entity == "dataset_run_items"
                && o.get("observationId")
                    .and_then(|v| v.as_str())
                    .is_some_and(|id| roots.contains(id))
            {
                o.insert("observationId".into(), Value::Null);
            }
            if entity == "scores" {
                // The annotating user of the source organisation; the public API cannot set it.
                o.remove("authorUserId");
            }
            // The server links generations to its own prompt versions by name and version.
            if let Some(k) = o
                .get("promptId")
                .and_then(|v| v.as_str())
                .and_then(|id| prompt_keys.get(id))
            {
                o.insert("promptId".into(), Value::String(k.clone()));
            }
            if entity == "comments"
                && o["objectType"] == "PROMPT"
                && let Some(k) = o["objectId"].as_str().and_then(|id| prompt_keys.get(id))
            {
                o.insert("objectId".into(), Value::String(k.clone()));
            }
            let key = match entity.as_str() {
                "datasets" | "score_configs" => o["name"].as_str().unwrap().to_string(),
                "models" => format!("{}|{}", o["modelName"], o["matchPattern"]),
                "prompts" => format!("{}:{}", o["name"].as_str().unwrap(), o["version"]),
                "comments" => format!("{}|{}|{}", o["objectType"], o["objectId"], o["content"]),
                "dataset_runs" => format!("{}|{}", o["datasetName"], o["name"]),
                "dataset_run_items" => format!(
                    "{}|{}|{}",
                    o["datasetRunName"], o["datasetItemId"], o["traceId"]
                ),
                _ => o["id"].as_str().unwrap().to_string(),
            };
            if matches!(
                entity.as_str(),
                "datasets"
                    | "score_configs"
                    | "models"
                    | "prompts"
                    | "comments"
                    | "dataset_runs"
                    | "dataset_run_items"
            ) {
                o.remove("id");
                o.remove("datasetId");
                o.remove("datasetRunId");
            }
            if entity == "dataset_items" {
                o.remove("datasetId");
            }
            if let Some(Value::String(c)) = o.get("configId").cloned() {
                o.insert(
                    "configId".into(),
                    Value::String(config_names.get(&c).cloned().unwrap_or(c)),
                );
            }
            if map.contains_key(&key) {
                // A second row with the same id: a duplicate.
                map.insert(format!("{key}#dup{}", map.len()), r);
            } else {
                map.insert(key, r);
            }
        }
        out.insert(entity.clone(), map);
    }
    out
}

fn short(v: Option<&Value>) -> String {
    let s = v
        .map(|v| v.to_string())
        .unwrap_or_else(|| "(absent)".into());
    if s.len() > 120 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(120).map(|c| c.0).unwrap_or(s.len())]
        )
    } else {
        s
    }
}

/// Langfuse v4 keeps metadata as a map of strings and its API returns every value as a string,
/// so `1` and `"1"` cannot be told apart when reading a v4 source: compare top-level scalar
/// metadata values by their text.
fn v4_metadata_text(dump: &mut Value) {
    for e in ["observations", "traces"] {
        for row in dump[e].as_array_mut().unwrap() {
            for k in ["metadata", "traceMetadata"] {
                if let Some(Value::Object(m)) = row.get_mut(k) {
                    for v in m.values_mut() {
                        if matches!(v, Value::Number(_) | Value::Bool(_)) {
                            *v = Value::String(v.to_string());
                        }
                    }
                }
            }
        }
    }
}

/// Like `differences`, for a v4 source (see `v4_metadata_text`).
pub fn differences_from_v4(source: &Value, target: &Value, entities: &[&str]) -> Vec<String> {
    let (mut s, mut t) = (source.clone(), target.clone());
    v4_metadata_text(&mut s);
    v4_metadata_text(&mut t);
    differences(&s, &t, entities)
}

/// Compares source and target for the given entities; returns readable differences.
pub fn differences(source: &Value, target: &Value, entities: &[&str]) -> Vec<String> {
    let s = normalise(source);
    let mut target = target.clone();
    fold_item_spans(source, &mut target);
    let mut t = normalise(&target);
    let mut diffs = vec![];
    for e in entities {
        let empty = BTreeMap::new();
        let se = s.get(*e).unwrap_or(&empty);
        let te = t.get_mut(*e).map(std::mem::take).unwrap_or_default();
        for (k, sv) in se {
            match te.get(k) {
                None => diffs.push(format!("{e} {k}: missing in target")),
                Some(tv) => {
                    let mut tv = tv.clone();
                    if let Some(o) = tv.as_object_mut() {
                        let m = target_metadata(e, o.get("metadata"), sv.get("metadata"));
                        if !m.is_null() || o.contains_key("metadata") {
                            o.insert("metadata".into(), m);
                        }
                    }
                    if !same(&tv, sv) {
                        let (so, to) = (sv.as_object().unwrap(), tv.as_object().unwrap());
                        let fields: Vec<String> = so
                            .keys()
                            .chain(to.keys())
                            .filter(|f| match (so.get(*f), to.get(*f)) {
                                (Some(a), Some(b)) => !same(a, b),
                                (a, b) => a != b,
                            })
                            .map(|f| format!("{f}: {} -> {}", short(so.get(f)), short(to.get(f))))
                            .collect::<std::collections::BTreeSet<_>>()
                            .into_iter()
                            .collect();
                        diffs.push(format!("{e} {k}: {}", fields.join("; ")));
                    }
                }
            }
        }
        for k in te.keys() {
            if !se.contains_key(k) {
                diffs.push(format!("{e} {k}: extra in target"));
            }
        }
    }
    diffs
}

pub const ALL: &[&str] = &[
    "traces",
    "observations",
    "scores",
    "sessions",
    "datasets",
    "dataset_items",
    "dataset_runs",
    "dataset_run_items",
    "prompts",
    "score_configs",
    "models",
    "comments",
];

/// A v2/v3 trace written to v4 becomes a root span `t-<trace id>` that carries the trace, and
/// the source's top-level observations hang under it. Asserts one such span per source trace
/// (in that trace, without a parent) in the target, takes them out of the target, and returns
/// the source as the target must then hold it: top-level observations with the parent
/// `t-<trace id>`, and run items of whole traces on that span.
pub fn expect_trace_spans(source: &Value, target: &mut Value) -> Value {
    let traces: std::collections::BTreeSet<String> = source["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    let mut spans = std::collections::BTreeSet::new();
    target["observations"].as_array_mut().unwrap().retain(|o| {
        let id = o["id"].as_str().unwrap();
        let Some(trace) = id.strip_prefix("t-") else {
            return true;
        };
        assert_eq!(o["traceId"], trace, "the trace span {id} is in its trace");
        assert!(
            o["parentObservationId"].is_null(),
            "the trace span {id} has no parent"
        );
        spans.insert(trace.to_string());
        false
    });
    assert_eq!(spans, traces, "one root span per source trace");
    assert_eq!(
        fold_item_spans(source, target),
        run_items_sharing_a_trace(source),
        "one span of its own per further run item of a trace"
    );
    let mut expected = source.clone();
    for o in expected["observations"].as_array_mut().unwrap() {
        if o["parentObservationId"].is_null() {
            o["parentObservationId"] = format!("t-{}", o["traceId"].as_str().unwrap()).into();
        }
    }
    // A run item that linked a whole trace rides on that trace's span, so it names the span.
    if let Some(items) = expected["dataset_run_items"].as_array_mut() {
        for i in items {
            if i["observationId"].is_null() {
                i["observationId"] = format!("t-{}", i["traceId"].as_str().unwrap()).into();
            }
        }
    }
    expected
}

/// On v4 each further run item on one span gets a span of its own beside it: a span the source
/// does not have, named by exactly one run item of the target, under an observation of its trace.
/// Takes such spans out of the target and points their items at the span they hang under, as
/// the source's items point at it. Returns how many there were.
pub fn fold_item_spans(source: &Value, target: &mut Value) -> usize {
    let source_obs: std::collections::BTreeSet<&str> = source["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    let Some(items) = target["dataset_run_items"].as_array() else {
        return 0;
    };
    let mut named: BTreeMap<String, usize> = BTreeMap::new();
    for i in items {
        if let Some(o) = i["observationId"].as_str() {
            *named.entry(o.to_string()).or_default() += 1;
        }
    }
    let mut parents = BTreeMap::new();
    target["observations"].as_array_mut().unwrap().retain(|o| {
        let id = o["id"].as_str().unwrap();
        if source_obs.contains(id) || id.starts_with("t-") || !named.contains_key(id) {
            return true;
        }
        assert_eq!(named[id], 1, "the span {id} carries one run item");
        assert_eq!(o["type"], "SPAN", "{o}");
        let parent = o["parentObservationId"].as_str().unwrap_or_default();
        let trace = o["traceId"].as_str().unwrap();
        assert!(
            parent == format!("t-{trace}") || source_obs.contains(parent),
            "the span {id} hangs under an observation of its trace: {o}"
        );
        parents.insert(id.to_string(), parent.to_string());
        false
    });
    let n = parents.len();
    for i in target["dataset_run_items"].as_array_mut().unwrap() {
        if let Some(p) = i["observationId"].as_str().and_then(|o| parents.remove(o)) {
            i["observationId"] = p.into();
        }
    }
    n
}

/// The start time that halves the source's observations (for copies in two windows).
pub fn middle_start_time(source: &Sandbox) -> chrono::DateTime<chrono::Utc> {
    let mut starts: Vec<String> = source.dump()["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["startTime"].as_str().unwrap().to_string())
        .collect();
    starts.sort();
    chrono::DateTime::parse_from_rfc3339(&starts[starts.len() / 2])
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Runs a plan to its end (fresh run, no progress, not a dry run).
pub async fn copy(plan: Plan, data: &std::path::Path) -> RunReport {
    migrator_engine::run(
        plan,
        data,
        migrator_engine::NoProgress,
        migrator_engine::RunControl::new(),
        false,
    )
    .await
    .unwrap()
}

/// Validates a finished run with the sandbox secrets and short waits.
pub async fn validated(
    run_id: &str,
    data: &std::path::Path,
) -> migrator_engine::validate::ValidationReport {
    migrator_engine::validate_run(run_id, data, &validate_options(), &|_| {})
        .await
        .unwrap()
}

/// Resumes a run to its end with the sandbox secrets and its journaled plan.
pub async fn resume(run_id: &str, data: &std::path::Path) -> RunReport {
    migrator_engine::resume(
        run_id,
        data,
        None,
        sandbox_secrets(),
        migrator_engine::NoProgress,
        migrator_engine::RunControl::new(),
    )
    .await
    .unwrap()
}

/// Every run item arrives, also where several dataset runs link one trace (on v4 the first rides
/// on the trace's span, each further one on a span of its own in that trace): the report names
/// no run item as failed. Returns the source dump to compare with.
pub fn every_run_item_arrives(source: &Value, report: &RunReport) -> Value {
    let failed: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.entity == Entity::DatasetRunItems)
        .collect();
    assert!(failed.is_empty(), "no run item fails: {failed:#?}");
    source.clone()
}

/// How many run items of the source link a trace that an earlier run item already links.
pub fn run_items_sharing_a_trace(source: &Value) -> usize {
    let mut per_trace: BTreeMap<String, usize> = BTreeMap::new();
    for i in source["dataset_run_items"].as_array().unwrap() {
        *per_trace
            .entry(i["traceId"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    per_trace.values().map(|n| n - 1).sum()
}

/// Entities compared by tests about something other than run items.
pub fn v4_target_entities() -> Vec<&'static str> {
    ALL.iter()
        .copied()
        .filter(|e| !e.starts_with("dataset_run"))
        .collect()
}

fn assert_empty(diffs: Vec<String>) {
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Fails with the first differences, if any.
pub fn assert_no_differences(source: &Value, target: &Value, entities: &[&str]) {
    assert_empty(differences(source, target, entities));
}

/// Like `assert_no_differences`, for a v4 source.
pub fn assert_no_differences_from_v4(source: &Value, target: &Value, entities: &[&str]) {
    assert_empty(differences_from_v4(source, target, entities));
}

/// The sandboxes' secret for both sides: the journaled plan holds no secrets, so work on a
/// finished run (validation, rollback, resume) is handed them, as the app hands the keychain's.
pub fn sandbox_secrets() -> migrator_engine::Secrets {
    migrator_engine::Secrets {
        source: Some(migrator_engine::Secret::new("sk-lf-sandbox")),
        target: Some(migrator_engine::Secret::new("sk-lf-sandbox")),
        ..Default::default()
    }
}

/// Rollback with the sandbox secrets and waits sized for the sandboxes' short delete delay.
pub fn rollback_options() -> migrator_engine::RollbackOptions {
    migrator_engine::RollbackOptions {
        secrets: sandbox_secrets(),
        max_wait: Duration::from_secs(2),
        verify_limit: Duration::from_secs(20),
        ..migrator_engine::RollbackOptions::default()
    }
}

/// Validation with the sandbox secrets and waits sized for the sandboxes' short write delay.
pub fn validate_options() -> migrator_engine::ValidateOptions {
    migrator_engine::ValidateOptions {
        secrets: sandbox_secrets(),
        settle_limit: Duration::from_secs(30),
        settle_first_poll: Duration::from_millis(100),
        settle_quiet: Duration::from_secs(2),
        ..migrator_engine::ValidateOptions::default()
    }
}

/// Runs `plan` again over the same journal and asserts it wrote nothing of `entities`: each
/// object read is skipped as already copied and the target's rows stay as they were.
pub async fn assert_rerun_writes_nothing(
    plan: Plan,
    data: &std::path::Path,
    target: &Sandbox,
    entities: &[Entity],
) {
    let before = target.dump();
    let again = copy(plan, data).await;
    for e in entities {
        let c = &again.entities[e];
        assert_eq!((c.written, c.failed), (0, 0), "{e}: {again:#?}");
        assert_eq!(c.skipped, c.read, "{e}: {again:#?}");
    }
    target.settle();
    for e in entities {
        let key = e.as_str();
        assert_eq!(target.dump()[key], before[key], "the rerun changed {key}");
    }
}

/// Validates the run and asserts the rows of `entities` are clean and not empty.
pub async fn assert_clean_rows(run_id: &str, data: &std::path::Path, entities: &[Entity]) {
    let v = validated(run_id, data).await;
    for e in entities {
        let rec = v
            .entities
            .iter()
            .find(|r| r.entity == e.as_str())
            .expect("a validation row");
        assert!(rec.is_clean() && rec.source_count > 0, "{rec:#?}");
    }
}

/// Rolls a finished run back with the sandbox secrets, to its end.
pub async fn rolled_back(run_id: &str, data: &std::path::Path) -> migrator_engine::RollbackReport {
    migrator_engine::rollback(
        run_id,
        data,
        &rollback_options(),
        &migrator_engine::RunControl::new(),
        &|_| {},
    )
    .await
    .unwrap()
}

/// Exports `source` to an archive folder and imports that archive into `target`, each with the
/// plan `plan_of` makes; both must fail nothing. Returns the archive's manifest.
pub async fn through_an_archive(
    source: EndpointSpec,
    target: EndpointSpec,
    plan_of: impl Fn(EndpointSpec, EndpointSpec) -> Plan,
    data: &std::path::Path,
) -> Value {
    let folder = tempfile::tempdir().unwrap();
    let archive = EndpointSpec::Archive {
        path: folder.path().join("export"),
    };
    let export = copy(plan_of(source, archive.clone()), data).await;
    assert_eq!(export.failed_total(), 0, "{export:#?}");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(folder.path().join("export/manifest.json")).unwrap())
            .unwrap();
    let import = copy(plan_of(archive, target), data).await;
    assert_eq!(import.failed_total(), 0, "{import:#?}");
    manifest
}

/// LangSmith's documented ids in Langfuse: trace = the UUID without dashes, lower case.
pub fn hex(uuid: &str) -> String {
    uuid.replace('-', "").to_lowercase()
}

/// LangSmith's documented ids in Langfuse: observation = sha256("langsmith-run:" + hex)[..8].
pub fn obs_id(run: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(format!("langsmith-run:{}", hex(run)).as_bytes());
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
