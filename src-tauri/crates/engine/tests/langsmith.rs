//! LangSmith → Langfuse through the engine over HTTP: `langsmith-sandbox` (sample workspace) to
//! `langfuse-sandbox` v4 and v3. The expectations are computed from the LangSmith side's own dump
//! (ids by the documented functions, written out here independently of the connector).

mod common;
use common::*;
use langfuse_sandbox::ServerProfile;
use langsmith_sandbox::{SampleSpec, Sandbox as LsSandbox, SandboxConfig as LsConfig};
use migrator_engine::{EndpointSpec, Entity, LangsmithEndpoint, NoProgress, RunControl};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

async fn langsmith(traces: usize) -> LsSandbox {
    LsSandbox::start(LsConfig {
        sample: Some(SampleSpec { seed: 5, traces }),
        ..LsConfig::default()
    })
    .await
    .expect("langsmith sandbox starts")
}

fn ls(s: &LsSandbox) -> EndpointSpec {
    EndpointSpec::Langsmith(LangsmithEndpoint::new(&s.url(), s.api_key()))
}

fn json_field(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or(v.clone()),
        other => other.clone(),
    }
}

/// Checks the target against the LangSmith dump; returns the observations by id.
fn check_copy(src: &Value, tgt: &Value, profile: ServerProfile) {
    let runs = src["runs"].as_array().unwrap();
    let obs: HashMap<String, &Value> = tgt["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_str().unwrap().to_string(), o))
        .collect();
    for r in runs {
        let id = r["id"].as_str().unwrap();
        let o = obs
            .get(&obs_id(id))
            .unwrap_or_else(|| panic!("run {id} ({}) has no observation", r["name"]));
        assert_eq!(
            o["traceId"],
            hex(r["trace_id"].as_str().unwrap()),
            "trace of {id}"
        );
        let parent = o["parentObservationId"].as_str();
        match r["parent_run_id"].as_str() {
            Some(p) => assert_eq!(parent, Some(obs_id(p).as_str()), "parent of {id}"),
            None => assert!(
                parent.is_none_or(|p| p.starts_with("t-")),
                "a root hangs under its trace: {parent:?}"
            ),
        }
        let meta = json_field(&o["metadata"]);
        assert_eq!(
            json_field(&meta["langsmith_run_id"]),
            json!(id),
            "a user finds the run by its id"
        );
        let model = matches!(r["run_type"].as_str(), Some("llm" | "embedding"));
        let usage = json_field(&o["usageDetails"]);
        if model {
            if let Some(p) = r["prompt_tokens"].as_i64().filter(|p| *p > 0) {
                assert_eq!(
                    usage["input"].as_f64(),
                    Some(p as f64),
                    "usage of {id}: {usage}"
                );
            }
        } else {
            assert!(
                usage.as_object().is_none_or(|u| u.is_empty()),
                "no usage on a {} ({usage})",
                r["run_type"]
            );
            let cost = json_field(&o["costDetails"]);
            assert!(
                cost.as_object().is_none_or(|u| u.is_empty()),
                "no cost on a {}",
                r["run_type"]
            );
        }
        if r["end_time"].is_null() {
            assert_eq!(json_field(&meta["langsmith_status"]), json!("pending"));
            if profile != ServerProfile::V4 {
                // v4 ingests OTLP, where every span ends (Langfuse uses the start time).
                assert!(o["endTime"].is_null(), "a pending run keeps no end time");
            }
        }
        if r["status"] == "error" {
            assert_eq!(o["level"], "ERROR");
            assert!(
                o["statusMessage"]
                    .as_str()
                    .unwrap()
                    .contains("ToolException")
            );
        }
    }
    if profile != ServerProfile::V4 {
        let traces: HashMap<&str, &Value> = tgt["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["id"].as_str().unwrap(), t))
            .collect();
        for root in runs.iter().filter(|r| r["parent_run_id"].is_null()) {
            let t = traces[hex(root["id"].as_str().unwrap()).as_str()];
            let m = &root["extra"]["metadata"];
            let conversation = ["thread_id", "session_id", "conversation_id"]
                .iter()
                .find_map(|k| m[*k].as_str());
            assert_eq!(
                t["sessionId"].as_str(),
                conversation,
                "the conversation, not the LangSmith project"
            );
            assert_eq!(t["userId"].as_str(), m["user_id"].as_str());
            assert_eq!(t["release"].as_str(), m["revision_id"].as_str());
            let tags: Vec<&str> = t["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap())
                .collect();
            assert!(
                tags.iter().any(|x| x.starts_with("langsmith-project:")),
                "the project is a tag: {tags:?}"
            );
            for tag in root["tags"].as_array().into_iter().flatten() {
                assert!(tags.contains(&tag.as_str().unwrap()));
            }
        }
    }
    let feedback = src["feedback"].as_array().unwrap();
    let scores: HashSet<&str> = tgt["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for f in feedback {
        assert!(
            scores.contains(f["id"].as_str().unwrap()),
            "feedback {} became a score with its id",
            f["id"]
        );
    }
    let items: HashSet<&str> = tgt["dataset_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for e in src["examples"].as_array().unwrap() {
        assert!(
            items.contains(e["id"].as_str().unwrap()),
            "example {} became an item with its id",
            e["id"]
        );
    }
    let prompts = tgt["prompts"].as_array().unwrap();
    assert_eq!(
        prompts.len(),
        src["commits"].as_array().unwrap().len(),
        "one version per commit"
    );
}

async fn to_langfuse(profile: ServerProfile) {
    let source = langsmith(12).await;
    let target = sandbox(profile, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = migrator_engine::run(
        plan(ls(&source), lf(&target)),
        data.path(),
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .unwrap();
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    target.settle();
    check_copy(&source.dump(), &target.dump(), profile);
    let counts = source.counts();
    assert_eq!(
        report.entities[&Entity::Observations].written as usize,
        counts["runs"]
    );
    assert_eq!(
        report.entities[&Entity::Scores].written as usize,
        counts["feedback"]
    );
    assert_eq!(
        report.entities[&Entity::DatasetItems].written as usize,
        counts["examples"]
    );
    assert_eq!(
        report.entities[&Entity::DatasetRunItems].written,
        6,
        "one run item per experiment root"
    );

    let again = migrator_engine::run(
        plan(ls(&source), lf(&target)),
        data.path(),
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .unwrap();
    let written: u64 = again.entities.values().map(|e| e.written).sum();
    assert_eq!(written, 0, "a second run writes nothing: {again:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn langsmith_to_v4_keeps_trees_usage_feedback_datasets_and_prompts() {
    to_langfuse(ServerProfile::V4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn langsmith_to_v3_keeps_trees_usage_feedback_datasets_and_prompts() {
    to_langfuse(ServerProfile::V3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_wrong_region_and_a_server_that_is_not_langsmith_are_plain_sentences() {
    let source = langsmith(1).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let attempt = |spec: EndpointSpec| {
        let p = plan(spec, lf(&target));
        let dir = data.path().to_path_buf();
        async move {
            migrator_engine::run(p, &dir, NoProgress, RunControl::new(), false)
                .await
                .expect_err("the run cannot start")
                .to_string()
        }
    };
    let wrong = attempt(EndpointSpec::Langsmith(LangsmithEndpoint::new(
        &source.url(),
        "not-a-key",
    )))
    .await;
    assert!(
        wrong.contains("rejected") && wrong.contains("401"),
        "{wrong}"
    );
    let region = attempt(EndpointSpec::Langsmith(LangsmithEndpoint::new(
        &source.url(),
        "lsv2_pt_eu_key",
    )))
    .await;
    assert!(
        region.contains("403") && region.contains("region"),
        "{region}"
    );
    let not_ls = attempt(EndpointSpec::Langsmith(LangsmithEndpoint::new(
        &target.url(),
        "lsv2_sk_sandbox",
    )))
    .await;
    assert!(not_ls.contains("not a LangSmith server"), "{not_ls}");
    assert!(
        !format!("{wrong}{region}{not_ls}").contains("lsv2_pt_eu_key"),
        "no key in messages"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn langsmith_cloud_limits_slow_the_run_and_never_fail_it() {
    let source = LsSandbox::start(LsConfig {
        // v1 pages of 100 runs: about 18 run queries, more than the 15 a 10 s window allows,
        // so the run meets at least one 429 whatever the machine's speed.
        sample: Some(SampleSpec {
            seed: 5,
            traces: 220,
        }),
        plan: true,
        v2_queries: false,
        ..LsConfig::default()
    })
    .await
    .unwrap();
    let target = sandbox(ServerProfile::V4, None).await;
    let mut endpoint = LangsmithEndpoint::new(&source.url(), source.api_key());
    // The migrator's own budget is off, so the server's 429s are what slows it down.
    endpoint.cloud_limits = Some(false);
    let data = tempfile::tempdir().unwrap();
    let report = migrator_engine::run(
        plan(EndpointSpec::Langsmith(endpoint), lf(&target)),
        data.path(),
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .unwrap();
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    assert!(
        report.rate_limit_waits > 0,
        "the server's 429s were met: {report:#?}"
    );
    assert_eq!(
        report.entities[&Entity::Observations].written as usize,
        source.counts()["runs"]
    );
}

fn secrets_for(source: &LsSandbox) -> migrator_engine::Secrets {
    migrator_engine::Secrets {
        source: Some(migrator_engine::Secret::new(source.api_key())),
        target: Some(migrator_engine::Secret::new("sk-lf-sandbox")),
        ..Default::default()
    }
}

fn reconciled(
    r: &migrator_engine::validate::ValidationReport,
    e: Entity,
) -> &migrator_engine::validate::EntityReconciliation {
    r.entities
        .iter()
        .find(|x| x.entity == e.as_str())
        .unwrap_or_else(|| panic!("{e} is in the validation report: {r:#?}"))
}

/// Per entity: missing and extra counts, and how many pairs differ in each field (with one example).
fn findings(r: &migrator_engine::validate::ValidationReport) -> String {
    let mut out = String::new();
    for e in r.entities.iter().filter(|e| !e.is_clean()) {
        let mut paths: std::collections::BTreeMap<&str, (usize, String)> = Default::default();
        for d in &e.differing {
            for f in &d.fields {
                let p = paths.entry(f.path.as_str()).or_insert((0, String::new()));
                p.0 += 1;
                if p.1.is_empty() {
                    p.1 = format!("{}: {:?} → {:?}", d.id, f.source, f.target);
                }
            }
        }
        out.push_str(&format!(
            "\n{}: missing {} {:?}, extra {} {:?}, differing {}: {paths:#?}",
            e.entity, e.missing_count, e.missing, e.extra_count, e.extra, e.differing_count
        ));
    }
    out
}

/// Issue 11 §4: validation compares the LangSmith side with the Langfuse side — runs vs
/// observations, root runs vs traces, feedback vs scores, examples vs items, commits vs versions —
/// and compares every pair's mapped fields (parent link, times, type, model, usage, I/O). A clean
/// copy validates clean; a deleted observation, a changed score and a broken parent link are
/// each named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_reconciles_langsmith_with_langfuse_and_names_tampering() {
    let source = langsmith(12).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = copy(plan(ls(&source), lf(&target)), data.path()).await;
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    target.settle();
    let options = migrator_engine::ValidateOptions {
        secrets: secrets_for(&source),
        ..validate_options()
    };
    let clean = migrator_engine::validate_run(&report.run_id, data.path(), &options, &|_| {})
        .await
        .expect("validation runs");
    assert!(
        clean.is_clean(),
        "a clean copy validates clean: {}",
        findings(&clean)
    );

    // The counts are the LangSmith side's own (oracle: the LangSmith sandbox's dump).
    let src = source.dump();
    let runs = src["runs"].as_array().unwrap();
    let roots = runs.iter().filter(|r| r["parent_run_id"].is_null()).count() as u64;
    let expect = [
        (Entity::Observations, runs.len() as u64),
        (Entity::Traces, roots),
        (
            Entity::Scores,
            src["feedback"].as_array().unwrap().len() as u64,
        ),
        (
            Entity::DatasetItems,
            src["examples"].as_array().unwrap().len() as u64,
        ),
        (
            Entity::Prompts,
            src["commits"].as_array().unwrap().len() as u64,
        ),
    ];
    for (e, n) in expect {
        let r = reconciled(&clean, e);
        assert_eq!(r.source_count, n, "{e}: source side counted");
        assert_eq!(r.target_count, n, "{e}: target side counted");
        assert_eq!(r.compared, n, "{e}: every pair compared");
    }

    // Tamper with the target: delete one observation, change one score's value, and move one
    // run's observation under another parent.
    let dump = target.dump();
    let child = runs
        .iter()
        .find(|r| r["run_type"] == "llm" && !r["parent_run_id"].is_null())
        .unwrap();
    let deleted = runs.iter().find(|r| r["run_type"] == "retriever").unwrap();
    let deleted_obs = obs_id(deleted["id"].as_str().unwrap());
    let moved_obs = obs_id(child["id"].as_str().unwrap());
    target.delete_raw("observations", &deleted_obs).unwrap();
    target
        .patch_raw(
            "observations",
            &moved_obs,
            json!({"parentObservationId": "0000000000000bad"}),
        )
        .unwrap();
    let score = dump["scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["dataType"] == "NUMERIC")
        .unwrap();
    let changed_score = score["id"].as_str().unwrap().to_string();
    let new_value = score["value"].as_f64().unwrap() + 0.5;
    target
        .patch_raw("scores", &changed_score, json!({"value": new_value}))
        .unwrap();
    target.settle();

    let bad = migrator_engine::validate_run(
        &report.run_id,
        data.path(),
        &migrator_engine::ValidateOptions {
            save: false,
            ..options
        },
        &|_| {},
    )
    .await
    .unwrap();
    assert!(!bad.is_clean());
    let o = reconciled(&bad, Entity::Observations);
    assert_eq!(o.missing, vec![deleted_obs], "{o:#?}");
    let moved = o
        .differing
        .iter()
        .find(|d| d.id == moved_obs)
        .unwrap_or_else(|| panic!("the broken parent link is named: {o:#?}"));
    assert!(
        moved.fields.iter().any(|f| f.path == "parentObservationId"),
        "{moved:?}"
    );
    assert_eq!(o.differing_count, 1, "{o:#?}");
    let s = reconciled(&bad, Entity::Scores);
    let d = s
        .differing
        .iter()
        .find(|d| d.id == changed_score)
        .unwrap_or_else(|| panic!("the changed score is named: {s:#?}"));
    assert!(d.fields.iter().any(|f| f.path == "value"), "{d:?}");
    assert_eq!(s.differing_count + s.missing_count + s.extra_count, 1);
    for e in [Entity::Traces, Entity::DatasetItems, Entity::Prompts] {
        assert!(reconciled(&bad, e).is_clean(), "{e} untouched");
    }
}

/// Issue 11 "Bad input" and §3: a run whose parent is missing (deleted at the source) hangs under
/// its trace's root and is named in the report, never dropped; runs still running at the source
/// are counted apart; what was mapped approximately (types folded to spans, fields kept only in
/// metadata) is listed. The oracle is the LangSmith dump after the deletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_names_orphans_runs_still_running_and_approximate_mappings() {
    use migrator_engine::NoteKind;
    let source = langsmith(12).await;
    let before = source.dump();
    let runs = before["runs"].as_array().unwrap();
    let children_of =
        |id: &Value| -> Vec<&Value> { runs.iter().filter(|r| r["parent_run_id"] == *id).collect() };
    // Two runs in the middle of their trees (neither a root), each with children.
    let deleted: Vec<&Value> = runs
        .iter()
        .filter(|r| !r["parent_run_id"].is_null() && !children_of(&r["id"]).is_empty())
        .step_by(3)
        .take(2)
        .collect();
    assert_eq!(deleted.len(), 2, "the sample has inner runs with children");
    let orphans: Vec<&Value> = deleted.iter().flat_map(|d| children_of(&d["id"])).collect();
    for d in &deleted {
        assert!(source.delete_run(d["id"].as_str().unwrap()));
    }
    let src = source.dump();
    let runs = src["runs"].as_array().unwrap();
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = copy(plan(ls(&source), lf(&target)), data.path()).await;
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    assert_eq!(
        report.entities[&Entity::Observations].written as usize,
        runs.len(),
        "no run is dropped"
    );
    target.settle();
    let tgt = target.dump();
    let obs: HashMap<&str, &Value> = tgt["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_str().unwrap(), o))
        .collect();
    let note = |kind: NoteKind| -> Vec<&migrator_engine::MappingNote> {
        report
            .mapping_notes
            .iter()
            .filter(|n| n.kind == kind)
            .collect()
    };
    let orphan_notes = note(NoteKind::Orphan);
    assert_eq!(
        orphan_notes.iter().map(|n| n.count).sum::<u64>() as usize,
        orphans.len(),
        "{:#?}",
        report.mapping_notes
    );
    let named: Vec<&String> = orphan_notes.iter().flat_map(|n| &n.examples).collect();
    for o in &orphans {
        let id = o["id"].as_str().unwrap();
        let parent = o["parent_run_id"].as_str().unwrap();
        let root = o["trace_id"].as_str().unwrap();
        let got = obs
            .get(obs_id(id).as_str())
            .unwrap_or_else(|| panic!("orphan {id} arrived"));
        assert_eq!(
            got["parentObservationId"].as_str(),
            Some(obs_id(root).as_str()),
            "orphan {id} hangs under its trace's root"
        );
        assert!(
            named.iter().any(|n| n.contains(id) && n.contains(parent)),
            "orphan {id} and its missing parent {parent} are named: {named:#?}"
        );
    }
    let pending = runs.iter().filter(|r| r["end_time"].is_null()).count();
    assert!(pending > 0, "the sample has runs still running");
    assert_eq!(
        note(NoteKind::StillRunning)
            .iter()
            .map(|n| n.count)
            .sum::<u64>() as usize,
        pending,
        "{:#?}",
        report.mapping_notes
    );
    let folded = runs
        .iter()
        .filter(|r| matches!(r["run_type"].as_str(), Some("prompt" | "parser")))
        .count();
    assert!(folded > 0);
    let spans = note(NoteKind::Approximate)
        .into_iter()
        .find(|n| n.what.contains("ls_run_type"))
        .unwrap_or_else(|| {
            panic!(
                "types folded to spans are listed: {:#?}",
                report.mapping_notes
            )
        });
    assert_eq!(spans.count as usize, folded);
    assert!(
        note(NoteKind::Approximate)
            .iter()
            .any(|n| n.what.contains("langsmith_events")),
        "events kept only in metadata are listed: {:#?}",
        report.mapping_notes
    );
}

/// Issue 11: a plan that names projects copies only the datasets those projects' experiments
/// reference (with their examples and run items), not every dataset of the workspace; a plan
/// that names none copies every dataset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_projects_bring_only_the_datasets_their_experiments_reference() {
    let source = langsmith(10).await;
    // A second dataset, with an example, that no experiment references.
    let http = reqwest::Client::new();
    let other: Value = http
        .post(format!("{}/api/v1/datasets", source.url()))
        .header("x-api-key", source.api_key())
        .json(&json!({"name": "unrelated-dataset", "description": "no experiment uses it"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other_id = other["id"].as_str().unwrap().to_string();
    let made = http
        .post(format!("{}/api/v1/examples", source.url()))
        .header("x-api-key", source.api_key())
        .json(&json!({"dataset_id": other_id, "inputs": {"q": "x"}, "outputs": {"a": "y"}}))
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "{}", made.text().await.unwrap());
    let src = source.dump();
    let experiment = langsmith_sandbox::EXPERIMENT;
    let copy_of = |projects: Vec<&'static str>| {
        let source = &source;
        async move {
            let target = sandbox(ServerProfile::V3, None).await;
            let data = tempfile::tempdir().unwrap();
            let mut e = LangsmithEndpoint::new(&source.url(), source.api_key());
            e.projects = projects.into_iter().map(String::from).collect();
            let report = copy(plan(EndpointSpec::Langsmith(e), lf(&target)), data.path()).await;
            assert_eq!(report.failed_total(), 0, "{report:#?}");
            target.settle();
            let names: Vec<String> = target.dump()["datasets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (names, target.dump())
        }
    };
    let (names, _) = copy_of(vec!["support-bot"]).await;
    assert!(
        names.is_empty(),
        "a tracing project alone brings no dataset: {names:?}"
    );
    let (names, tgt) = copy_of(vec!["support-bot", experiment]).await;
    assert_eq!(names, vec![langsmith_sandbox::DATASET.to_string()]);
    let examples = src["examples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["dataset_id"] != json!(other_id))
        .count();
    assert_eq!(tgt["dataset_items"].as_array().unwrap().len(), examples);
    let (mut names, _) = copy_of(vec![]).await;
    names.sort();
    assert_eq!(
        names,
        vec![
            langsmith_sandbox::DATASET.to_string(),
            "unrelated-dataset".to_string()
        ],
        "no projects named: every dataset"
    );
}

/// Issue 11: the pre-flight of a LangSmith source counts what the window holds — traces and runs
/// per project, feedback, datasets and examples, prompt commits — and states the least time
/// LangSmith Cloud's per-key limits allow for the copy. Oracle: the LangSmith dump.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_counts_a_langsmith_workspace_and_the_least_time_its_limits_allow() {
    let source = langsmith(12).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let src = source.dump();
    let runs = src["runs"].as_array().unwrap();
    let roots: Vec<&Value> = runs
        .iter()
        .filter(|r| r["parent_run_id"].is_null())
        .collect();
    let mut endpoint = LangsmithEndpoint::new(&source.url(), source.api_key());
    endpoint.cloud_limits = Some(true);
    let p = plan(EndpointSpec::Langsmith(endpoint), lf(&target));
    let report = migrator_engine::preflight(&p).await.unwrap();
    let count = |e: Entity| report.counts.get(&e).copied().flatten();
    let len = |k: &str| src[k].as_array().unwrap().len() as u64;
    assert_eq!(
        count(Entity::Traces),
        Some(roots.len() as u64),
        "{report:#?}"
    );
    assert_eq!(count(Entity::Observations), Some(runs.len() as u64));
    assert_eq!(count(Entity::Scores), Some(len("feedback")));
    assert_eq!(count(Entity::Datasets), Some(len("datasets")));
    assert_eq!(count(Entity::DatasetItems), Some(len("examples")));
    assert_eq!(count(Entity::Prompts), Some(len("commits")));
    // Per project: its traces and runs in the window.
    for p in src["projects"].as_array().unwrap() {
        let of = |rs: &[&Value]| rs.iter().filter(|r| r["session_id"] == p["id"]).count();
        let all: Vec<&Value> = runs.iter().collect();
        let line = format!(
            "{}: {} traces, {} runs",
            p["name"].as_str().unwrap(),
            of(&roots),
            of(&all)
        );
        assert!(
            report.source_notes.iter().any(|n| n.contains(&line)),
            "{line:?} in {:#?}",
            report.source_notes
        );
    }
    // v2 pages of 1000 runs: one query for the roots, one for the runs, one for the experiment's
    // roots, at 15 per 10 s; each prompt repo is listed and its tags read, at 100 per minute.
    let repos = src["repos"].as_array().unwrap().len() as f64;
    let least = 3.0 * 10.0 / 15.0 + repos * 2.0 * 60.0 / 100.0;
    let eta = report.eta_seconds.expect("a time under LangSmith's limits");
    assert!(eta >= least && eta < least + 1.0, "{eta} vs {least}");
    assert!(
        report
            .source_notes
            .iter()
            .any(|n| n.contains("15 run queries per 10 s")),
        "{:#?}",
        report.source_notes
    );
}

/// The trace id of the first root run of type chain.
fn first_chain_trace(runs: &[&Value]) -> Value {
    runs.iter()
        .find(|r| r["parent_run_id"].is_null() && r["run_type"] == "chain")
        .unwrap()["trace_id"]
        .clone()
}

/// An export of `runs` in two files per project (see `langsmith_export`), except the runs of
/// `lost_trace`: they go into a file `broken.parquet` that is then cut in half.
fn write_export_with_a_truncated_trace(
    dir: &std::path::Path,
    tenant: &str,
    runs: &[&Value],
    lost_trace: &Value,
) {
    let kept: Vec<&Value> = runs
        .iter()
        .filter(|r| r["trace_id"] != *lost_trace)
        .copied()
        .collect();
    langsmith_export::write_export_folder(dir, tenant, &kept);
    let lost: Vec<&Value> = runs
        .iter()
        .filter(|r| r["trace_id"] == *lost_trace)
        .copied()
        .collect();
    let broken = langsmith_export::day_file(
        dir,
        tenant,
        lost[0]["session_id"].as_str().unwrap(),
        "broken",
    );
    langsmith_export::write_export_file(&broken, &lost);
    let bytes = std::fs::read(&broken).unwrap();
    std::fs::write(&broken, &bytes[..bytes.len() / 2]).unwrap();
}

/// Issue 11: runs from a bulk-export folder (Parquet, LangSmith's layout), feedback, datasets and
/// prompts from the API. Trees cut across files stay whole; a truncated file fails with its name
/// and every other file's runs arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_export_folder_moves_its_runs_and_a_truncated_file_fails_alone() {
    let source = langsmith(12).await;
    let src = source.dump();
    let runs: Vec<&Value> = src["runs"].as_array().unwrap().iter().collect();
    let tenant = src["projects"][0]["tenant_id"]
        .as_str()
        .unwrap_or("t")
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    // One trace goes into a file that is then truncated; the rest are spread over two files per
    // project, every other run in each (so parents and children sit in different files).
    let lost_trace = first_chain_trace(&runs);
    write_export_with_a_truncated_trace(dir.path(), &tenant, &runs, &lost_trace);
    // The API keeps no runs: whatever arrives came from the folder.
    for r in &runs {
        source.delete_run(r["id"].as_str().unwrap());
    }

    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let mut e = LangsmithEndpoint::new(&source.url(), source.api_key());
    e.export_path = Some(dir.path().to_path_buf());
    let report = migrator_engine::run(
        plan(EndpointSpec::Langsmith(e), lf(&target)),
        data.path(),
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .unwrap();
    assert_eq!(report.failed_total(), 1, "{report:#?}");
    let failure = &report.failures[0];
    assert_eq!(failure.entity, Entity::Observations);
    assert!(failure.reason.contains("broken.parquet"), "{failure:?}");
    target.settle();
    let tgt = target.dump();
    let mut arrived: Vec<String> = tgt["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .filter(|i| !i.starts_with("t-"))
        .collect();
    arrived.sort();
    let mut expected: Vec<String> = runs
        .iter()
        .filter(|r| r["trace_id"] != lost_trace)
        .map(|r| obs_id(r["id"].as_str().unwrap()))
        .collect();
    expected.sort();
    assert_eq!(arrived, expected, "every other file's runs arrive, once");
    let obs: HashMap<&str, &Value> = tgt["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_str().unwrap(), o))
        .collect();
    for r in runs.iter().filter(|r| r["trace_id"] != lost_trace) {
        if let Some(p) = r["parent_run_id"].as_str() {
            assert_eq!(
                obs[obs_id(r["id"].as_str().unwrap()).as_str()]["parentObservationId"].as_str(),
                Some(obs_id(p).as_str()),
                "trees cut across files stay whole"
            );
        }
    }
    assert!(
        report
            .mapping_notes
            .iter()
            .all(|n| n.kind != migrator_engine::NoteKind::Orphan),
        "{:#?}",
        report.mapping_notes
    );
    assert_eq!(
        tgt["scores"].as_array().unwrap().len(),
        src["feedback"].as_array().unwrap().len(),
        "feedback from the API"
    );
}

/// POSTs `body` to the LangSmith sandbox with its key; the answer's JSON.
async fn ls_post(source: &LsSandbox, path: &str, body: Value) -> Value {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", source.url()))
        .header("x-api-key", source.api_key())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap()
}

/// Issue 11: feedback configs are the workspace's, but a plan that names projects gets only the
/// configs of the feedback keys its projects' feedback uses; a plan that names none gets every
/// config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_projects_bring_only_the_feedback_configs_their_feedback_uses() {
    let source = LsSandbox::start(LsConfig::default()).await.unwrap();
    let start = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    for (project, key) in [("proj-a", "alpha"), ("proj-b", "beta")] {
        let run = uuid::Uuid::new_v4().to_string();
        ls_post(
            &source,
            "/runs",
            json!({"id": run, "name": "root", "run_type": "chain", "session_name": project,
                "start_time": start, "end_time": start, "inputs": {"q": key}, "outputs": {}}),
        )
        .await;
        ls_post(
            &source,
            "/feedback",
            json!({"run_id": run, "key": key, "score": 0.5}),
        )
        .await;
    }
    for key in ["alpha", "beta", "unused"] {
        ls_post(
            &source,
            "/api/v1/feedback-configs",
            json!({"feedback_key": key,
                "feedback_config": {"type": "continuous", "min": 0.0, "max": 1.0}}),
        )
        .await;
    }
    let configs_of = |projects: Vec<&'static str>| {
        let source = &source;
        async move {
            let target = sandbox(ServerProfile::V4, None).await;
            let data = tempfile::tempdir().unwrap();
            let mut e = LangsmithEndpoint::new(&source.url(), source.api_key());
            e.projects = projects.into_iter().map(String::from).collect();
            let report = copy(plan(EndpointSpec::Langsmith(e), lf(&target)), data.path()).await;
            assert_eq!(report.failed_total(), 0, "{report:#?}");
            target.settle();
            let mut names: Vec<String> = target.dump()["score_configs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(
        configs_of(vec!["proj-a"]).await,
        vec!["alpha"],
        "only the configs of proj-a's feedback keys"
    );
    assert_eq!(
        configs_of(vec![]).await,
        vec!["alpha", "beta", "unused"],
        "no project named: every config"
    );
}

/// Issue 11: when the plan reads runs from a bulk-export folder, the pre-flight counts them
/// there — per project, from the Parquet footers when the window holds whole files, else from
/// the rows — names a file it cannot read, and the least time LangSmith Cloud's limits allow
/// has no run query in it. The API keeps every run, so counting through it would be wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_counts_runs_from_a_bulk_export_without_run_queries() {
    let source = langsmith(12).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let src = source.dump();
    let runs: Vec<&Value> = src["runs"].as_array().unwrap().iter().collect();
    let lost_trace = first_chain_trace(&runs);
    let dir = tempfile::tempdir().unwrap();
    write_export_with_a_truncated_trace(dir.path(), "t", &runs, &lost_trace);
    let exported: Vec<&Value> = runs
        .iter()
        .filter(|r| r["trace_id"] != lost_trace)
        .copied()
        .collect();
    let mut endpoint = LangsmithEndpoint::new(&source.url(), source.api_key());
    endpoint.cloud_limits = Some(true);
    endpoint.export_path = Some(dir.path().to_path_buf());
    let preflight = |from: Option<&str>| {
        let mut p = plan(EndpointSpec::Langsmith(endpoint.clone()), lf(&target));
        if let Some(f) = from {
            p.scope.from = f.parse().unwrap();
        }
        async move { migrator_engine::preflight(&p).await.unwrap() }
    };
    // The roots from `from` on and their runs, per project, as the copy would read them.
    let expect = |report: &migrator_engine::PreflightReport, from: &str, how: &str| {
        let from: chrono::DateTime<chrono::Utc> = from.parse().unwrap();
        let starts = |r: &Value| {
            r["start_time"]
                .as_str()
                .unwrap()
                .trim_end_matches('Z')
                .parse::<chrono::NaiveDateTime>()
                .unwrap()
                .and_utc()
        };
        let roots: Vec<&Value> = exported
            .iter()
            .filter(|r| r["parent_run_id"].is_null() && starts(r) >= from)
            .copied()
            .collect();
        let traces: HashSet<&Value> = roots.iter().map(|r| &r["trace_id"]).collect();
        let all: Vec<&Value> = exported
            .iter()
            .filter(|r| traces.contains(&r["trace_id"]))
            .copied()
            .collect();
        let count = |e: Entity| report.counts.get(&e).copied().flatten();
        assert_eq!(
            count(Entity::Traces),
            Some(roots.len() as u64),
            "{report:#?}"
        );
        assert_eq!(
            count(Entity::Observations),
            Some(all.len() as u64),
            "{report:#?}"
        );
        for p in src["projects"].as_array().unwrap() {
            let of = |rs: &[&Value]| rs.iter().filter(|r| r["session_id"] == p["id"]).count();
            let line = format!(
                "{}: {} traces, {} runs in the window (",
                p["name"].as_str().unwrap(),
                of(&roots),
                of(&all)
            );
            assert!(
                report
                    .source_notes
                    .iter()
                    .any(|n| n.contains(&line) && n.contains(how)),
                "{line:?} in {:#?}",
                report.source_notes
            );
        }
        assert!(
            report
                .source_notes
                .iter()
                .any(|n| n.contains("broken.parquet") && n.contains("cannot be read")),
            "{:#?}",
            report.source_notes
        );
    };
    let whole = preflight(None).await;
    expect(
        &whole,
        "2020-01-01T00:00:00Z",
        "from the bulk export's Parquet footers",
    );
    // Only each prompt repo's listing and tags, at 100 /repos requests per minute: no run query.
    let repos = src["repos"].as_array().unwrap().len() as f64;
    let least = repos * 2.0 * 60.0 / 100.0;
    let eta = whole.eta_seconds.expect("a time under LangSmith's limits");
    assert!(eta >= least && eta < least + 0.5, "{eta} vs {least}");

    // A window that starts among the roots cuts files: their rows decide.
    let mut starts: Vec<&str> = exported
        .iter()
        .filter(|r| r["parent_run_id"].is_null())
        .map(|r| r["start_time"].as_str().unwrap())
        .collect();
    starts.sort();
    // At a whole millisecond, the precision windows are compared at.
    let mid = format!("{}Z", &starts[starts.len() / 2][..23]);
    let cut = preflight(Some(&mid)).await;
    expect(&cut, &mid, "bulk export");
    assert!(
        cut.source_notes
            .iter()
            .any(|n| n.contains("read from the bulk export's files")),
        "{:#?}",
        cut.source_notes
    );
}

/// Issue 11, bad input: a file that is not Parquet at all and one whose footer is whole but whose
/// data is damaged each fail alone, named; every other file's runs arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_parquet_file_fails_alone_with_its_name() {
    let source = langsmith(6).await;
    let src = source.dump();
    let runs: Vec<&Value> = src["runs"].as_array().unwrap().iter().collect();
    let roots: Vec<&Value> = runs
        .iter()
        .filter(|r| r["parent_run_id"].is_null())
        .copied()
        .collect();
    let (damaged_trace, kept) = (&roots[0]["trace_id"], &roots[1..]);
    let dir = tempfile::tempdir().unwrap();
    for (k, root) in kept.iter().enumerate() {
        let tree: Vec<&Value> = runs
            .iter()
            .filter(|r| r["trace_id"] == root["trace_id"])
            .copied()
            .collect();
        let sid = root["session_id"].as_str().unwrap();
        langsmith_export::write_export_file(
            &langsmith_export::day_file(dir.path(), "t", sid, &format!("part-{k}")),
            &tree,
        );
    }
    let sid = roots[0]["session_id"].as_str().unwrap();
    let garbage = langsmith_export::day_file(dir.path(), "t", sid, "garbage");
    std::fs::write(&garbage, b"PAR1 this is a CSV file, not Parquet\n1,2,3\n").unwrap();
    // Whole footer, damaged pages: the file opens, its rows do not decode.
    let damaged = langsmith_export::day_file(dir.path(), "t", sid, "damaged");
    let tree: Vec<&Value> = runs
        .iter()
        .filter(|r| r["trace_id"] == *damaged_trace)
        .copied()
        .collect();
    langsmith_export::write_export_file(&damaged, &tree);
    let mut bytes = std::fs::read(&damaged).unwrap();
    let footer = u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
    let data_end = bytes.len() - 8 - footer as usize;
    for b in &mut bytes[4..data_end] {
        *b = 0xA5;
    }
    std::fs::write(&damaged, &bytes).unwrap();
    for r in &runs {
        source.delete_run(r["id"].as_str().unwrap());
    }

    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let mut e = LangsmithEndpoint::new(&source.url(), source.api_key());
    e.export_path = Some(dir.path().to_path_buf());
    let report = copy(plan(EndpointSpec::Langsmith(e), lf(&target)), data.path()).await;
    let mut named: Vec<String> = report
        .failures
        .iter()
        .map(|f| {
            assert_eq!(f.entity, Entity::Observations, "{f:?}");
            ["garbage.parquet", "damaged.parquet"]
                .into_iter()
                .find(|n| f.reason.contains(n))
                .unwrap_or_else(|| panic!("a failure names its file: {f:?}"))
                .to_string()
        })
        .collect();
    named.sort();
    assert_eq!(
        named,
        vec!["damaged.parquet", "garbage.parquet"],
        "{report:#?}"
    );
    target.settle();
    let mut arrived: Vec<String> = target.dump()["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .filter(|i| !i.starts_with("t-"))
        .collect();
    arrived.sort();
    let mut expected: Vec<String> = runs
        .iter()
        .filter(|r| r["trace_id"] != *damaged_trace)
        .map(|r| obs_id(r["id"].as_str().unwrap()))
        .collect();
    expected.sort();
    assert_eq!(arrived, expected, "every other file's runs arrive");
}

/// Issue 11, bad input: a run too large for any request to Langfuse fails alone, with its size;
/// its trace and every other run arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_too_large_for_any_batch_fails_alone_with_its_size() {
    let source = langsmith(4).await;
    let root = source.dump()["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["parent_run_id"].is_null())
        .unwrap()
        .clone();
    let big = uuid::Uuid::new_v4().to_string();
    // About 5 MB of input: more than the 4.5 MB a request to Langfuse may carry.
    ls_post(
        &source,
        "/runs",
        json!({"id": big, "name": "huge-llm", "run_type": "llm", "parent_run_id": root["id"],
            "trace_id": root["trace_id"], "session_id": root["session_id"],
            "start_time": root["start_time"], "end_time": root["end_time"],
            "inputs": {"text": "x".repeat(5_000_000)}, "outputs": {"text": "ok"}}),
    )
    .await;
    let src = source.dump();
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = copy(plan(ls(&source), lf(&target)), data.path()).await;
    assert_eq!(report.failed_total(), 1, "{report:#?}");
    let f = &report.failures[0];
    assert_eq!(f.entity, Entity::Observations);
    assert_eq!(f.id, obs_id(&big), "{f:?}");
    assert!(f.reason.contains("MB"), "{f:?}");
    target.settle();
    let tgt = target.dump();
    let mut arrived: Vec<String> = tgt["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .filter(|i| !i.starts_with("t-"))
        .collect();
    arrived.sort();
    let mut expected: Vec<String> = src["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .filter(|id| *id != big)
        .map(obs_id)
        .collect();
    expected.sort();
    assert_eq!(arrived, expected);
    assert_eq!(
        tgt["traces"].as_array().unwrap().len(),
        src["runs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["parent_run_id"].is_null())
            .count()
    );
}

/// A LangSmith sample read in v1 pages of 100 in which every inner run with children is deleted:
/// the sandbox, the deleted ids and the orphans (runs whose parent is deleted).
/// A sampled workspace whose server has only v1 run queries (100 runs a page).
async fn v1_sample(seed: u64, traces: usize) -> LsSandbox {
    LsSandbox::start(LsConfig {
        sample: Some(SampleSpec { seed, traces }),
        v2_queries: false,
        ..LsConfig::default()
    })
    .await
    .unwrap()
}

/// A connection of the LangSmith source of its own (nothing read ahead, no trees kept).
async fn ls_connect(e: &LangsmithEndpoint) -> migrator_engine::langsmith::LangSmith {
    migrator_engine::langsmith::LangSmith::connect(
        e,
        std::time::Duration::from_secs(5),
        2,
        std::sync::Arc::new(migrator_engine::progress::Counters::default()),
    )
    .await
    .unwrap()
}

async fn orphaned_sample() -> (LsSandbox, HashSet<Value>, Vec<Value>) {
    let source = v1_sample(9, 60).await;
    let before = source.dump();
    let runs = before["runs"].as_array().unwrap();
    let has_children = |id: &Value| runs.iter().any(|r| r["parent_run_id"] == *id);
    let deleted: HashSet<Value> = runs
        .iter()
        .filter(|r| !r["parent_run_id"].is_null() && has_children(&r["id"]))
        .map(|r| r["id"].clone())
        .collect();
    let orphans: Vec<Value> = runs
        .iter()
        .filter(|r| deleted.contains(&r["parent_run_id"]) && !deleted.contains(&r["id"]))
        .cloned()
        .collect();
    assert!(orphans.len() > 30, "{} orphans", orphans.len());
    for d in &deleted {
        assert!(source.delete_run(d.as_str().unwrap()));
    }
    (source, deleted, orphans)
}

/// The observation id a run's observation hangs under: its parent's, or its trace root's when
/// the parent was deleted; `None` for a root.
fn expected_parent(r: &Value, deleted: &HashSet<Value>) -> Option<String> {
    match r["parent_run_id"].as_str() {
        None => None,
        Some(_) if deleted.contains(&r["parent_run_id"]) => {
            Some(obs_id(r["trace_id"].as_str().unwrap()))
        }
        Some(p) => Some(obs_id(p)),
    }
}

/// Issue 11: many orphans (every inner run with children deleted), read in v1 pages of 100 with
/// no more than three allowed to wait in memory: each still arrives once, under its trace's
/// root, and the report counts and names them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_orphans_beyond_the_memory_cap_all_arrive_under_their_root_and_named() {
    use migrator_engine::NoteKind;
    let (source, deleted, orphans) = orphaned_sample().await;
    let src = source.dump();
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let mut e = LangsmithEndpoint::new(&source.url(), source.api_key());
    e.waiting_in_memory = Some(3);
    let report = copy(plan(EndpointSpec::Langsmith(e), lf(&target)), data.path()).await;
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    target.settle();
    let tgt = target.dump();
    let obs: HashMap<&str, &Value> = tgt["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_str().unwrap(), o))
        .collect();
    let left = src["runs"].as_array().unwrap();
    for r in left {
        let id = r["id"].as_str().unwrap();
        let got = obs
            .get(obs_id(id).as_str())
            .unwrap_or_else(|| panic!("run {id} arrived"));
        // A root hangs under its trace, however the target shows that.
        if let Some(parent) = expected_parent(r, &deleted) {
            assert_eq!(
                got["parentObservationId"].as_str(),
                Some(parent.as_str()),
                "run {id}"
            );
        }
    }
    assert_eq!(
        report.entities[&Entity::Observations].written as usize,
        left.len(),
        "each run once"
    );
    let notes: Vec<&migrator_engine::MappingNote> = report
        .mapping_notes
        .iter()
        .filter(|n| n.kind == NoteKind::Orphan)
        .collect();
    assert_eq!(
        notes.iter().map(|n| n.count).sum::<u64>() as usize,
        orphans.len(),
        "{:#?}",
        report.mapping_notes
    );
    let named: Vec<&String> = notes.iter().flat_map(|n| &n.examples).collect();
    assert!(!named.is_empty());
    for n in named {
        assert!(
            orphans.iter().any(|o| n.contains(o["id"].as_str().unwrap())
                && n.contains(o["parent_run_id"].as_str().unwrap())),
            "{n} names an orphan and its missing parent"
        );
    }
}

/// Issue 11: the observation stream picks up from any of its cursors on a new connection (as a
/// resumed run does: nothing kept in memory) — between the API's pages, and where the runs left
/// waiting (most of them on disk) come back: every run arrives once, orphans under their root
/// with a remark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_observation_stream_resumes_from_each_cursor_with_runs_waiting_on_disk() {
    use migrator_engine::connector::SourceConnector;
    let (source, deleted, orphans) = orphaned_sample().await;
    let src = source.dump();
    let mut e = LangsmithEndpoint::new(&source.url(), source.api_key());
    e.waiting_in_memory = Some(2);
    let scope = plan(ls(&source), ls(&source)).scope;
    let (mut cursor, mut pages) = (None, 0);
    let mut got: HashMap<String, (Option<String>, bool)> = HashMap::new();
    loop {
        let fresh = ls_connect(&e).await;
        let page = fresh
            .read_page(Entity::Observations, &scope, cursor)
            .await
            .unwrap();
        pages += 1;
        for r in page.records {
            let orphan = r
                .remarks
                .iter()
                .any(|m| m.kind == migrator_engine::NoteKind::Orphan);
            let parent = r.body.str("parentObservationId");
            assert!(
                got.insert(r.id.clone(), (parent, orphan)).is_none(),
                "{} twice",
                r.id
            );
        }
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    let runs = src["runs"].as_array().unwrap();
    assert!(
        pages > runs.len().div_ceil(100),
        "the waiting runs came after the API's pages"
    );
    assert_eq!(got.len(), runs.len(), "every run once");
    for r in runs {
        let id = obs_id(r["id"].as_str().unwrap());
        let (parent, orphan) = &got[&id];
        assert_eq!(*parent, expected_parent(r, &deleted), "run {}", r["id"]);
        assert_eq!(*orphan, orphans.contains(r), "run {}", r["id"]);
    }
}

/// One connection reads the observation stream's next API page while it maps the current one.
/// Every run still arrives once, in the stream's order of pages, and a page asked for again (a
/// phase restarted from its checkpoint) is read afresh, not taken from what was read ahead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_read_ahead_yields_every_run_once_and_rereads_a_page_asked_again() {
    use migrator_engine::connector::SourceConnector;
    // v1 queries: 100 runs a page, so 40 traces make several pages.
    let source = v1_sample(3, 40).await;
    let runs: HashSet<String> = source.dump()["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| obs_id(r["id"].as_str().unwrap()))
        .collect();
    let e = LangsmithEndpoint::new(&source.url(), source.api_key());
    let scope = plan(ls(&source), ls(&source)).scope;
    let conn = ls_connect(&e).await;
    let mut cursors = vec![None];
    let mut got: Vec<String> = vec![];
    loop {
        let page = conn
            .read_page(
                Entity::Observations,
                &scope,
                cursors.last().unwrap().clone(),
            )
            .await
            .unwrap();
        got.extend(page.records.iter().map(|r| r.id.clone()));
        match page.next {
            Some(c) => cursors.push(Some(c)),
            None => break,
        }
    }
    assert!(cursors.len() >= 3, "{} pages", cursors.len());
    assert_eq!(got.len(), runs.len(), "every run once");
    assert_eq!(got.iter().cloned().collect::<HashSet<_>>(), runs);
    // The first page again, after the second was read ahead of the third: the same runs.
    let fresh = ls_connect(&e).await;
    let ids = |p: migrator_engine::connector::Page| -> Vec<String> {
        p.records.into_iter().map(|r| r.id).collect()
    };
    let first = ids(fresh
        .read_page(Entity::Observations, &scope, None)
        .await
        .unwrap());
    let again = ids(fresh
        .read_page(Entity::Observations, &scope, None)
        .await
        .unwrap());
    assert_eq!(first, again, "a page asked for again is the same page");
    assert_eq!(first, got[..first.len()]);
}
