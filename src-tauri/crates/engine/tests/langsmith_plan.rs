//! The plan of a LangSmith source over HTTP against `langsmith-sandbox`: the mapping preview (one
//! sample trace before and after the mapping) and the kinds of object the source yields. The
//! oracle is what the sandbox holds (its admin dump: runs, their types and parents), the
//! documented ids written out here, and what a real copy of the same workspace writes into
//! `langfuse-sandbox`.

mod common;
use common::*;
use langfuse_sandbox::ServerProfile;
use langsmith_sandbox::{SampleSpec, Sandbox as LsSandbox, SandboxConfig as LsConfig};
use migrator_engine::langsmith::preview::{MappingPreview, SHOWN_AT_MOST, mapping_preview};
use migrator_engine::{EndpointSpec, Entity, LangsmithEndpoint, Scope};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

async fn langsmith(v2_queries: bool, traces: Option<usize>) -> LsSandbox {
    LsSandbox::start(LsConfig {
        sample: traces.map(|traces| SampleSpec { seed: 5, traces }),
        v2_queries,
        ..LsConfig::default()
    })
    .await
    .expect("langsmith sandbox starts")
}

fn endpoint(s: &LsSandbox) -> LangsmithEndpoint {
    LangsmithEndpoint::new(&s.url(), s.api_key())
}

fn window(from: &str, to: &str) -> Scope {
    Scope {
        from: from.parse().unwrap(),
        to: to.parse().unwrap(),
        ..Scope::default()
    }
}

fn everything() -> Scope {
    window("2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
}

/// The engine README's mapping table (agents are chains whose metadata names an agent type).
fn langfuse_type(run: &Value) -> &'static str {
    let meta = &run["extra"]["metadata"];
    match run["run_type"].as_str().unwrap_or("chain") {
        "llm" => "GENERATION",
        "embedding" => "EMBEDDING",
        "tool" => "TOOL",
        "retriever" => "RETRIEVER",
        "chain" if !meta["agent_type"].is_null() || !meta["ls_agent_type"].is_null() => "AGENT",
        "chain" => "CHAIN",
        _ => "SPAN",
    }
}

fn json_field(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or(v.clone()),
        other => other.clone(),
    }
}

/// What a real copy of the whole workspace writes into a Langfuse v3 sandbox (its dump).
async fn copied(source: &LsSandbox) -> Value {
    let target = sandbox(ServerProfile::V3, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = copy(
        plan(EndpointSpec::Langsmith(endpoint(source)), lf(&target)),
        data.path(),
    )
    .await;
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    target.settle();
    target.dump()
}

/// Checks a preview of a whole (uncut) trace against the runs the sandbox holds.
fn check_against_dump(p: &MappingPreview, dump: &Value) {
    let all = dump["runs"].as_array().unwrap();
    let by_id: HashMap<&str, &Value> = all.iter().map(|r| (r["id"].as_str().unwrap(), r)).collect();
    let root = by_id[p.runs[0].id.as_str()];
    assert!(root["parent_run_id"].is_null(), "the tree starts at a root");
    let root_id = root["id"].as_str().unwrap();
    let held: HashSet<&str> = all
        .iter()
        .filter(|r| r["trace_id"] == root_id)
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let shown: HashSet<&str> = p.runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(shown, held, "every run of the trace, and only those");
    assert_eq!(p.more, 0);
    assert!(!p.more_unread);
    let depth = |id: &str| {
        let mut d = 0;
        let mut at = by_id[id];
        while let Some(parent) = at["parent_run_id"].as_str() {
            at = by_id[parent];
            d += 1;
        }
        d
    };
    for n in &p.runs {
        let r = by_id[n.id.as_str()];
        assert_eq!(n.name, r["name"].as_str().unwrap());
        assert_eq!(n.run_type, r["run_type"].as_str().unwrap());
        assert_eq!(n.parent_run_id.as_deref(), r["parent_run_id"].as_str());
        assert_eq!(n.depth, depth(&n.id), "depth of {}", n.id);
    }

    assert_eq!(p.trace.id, hex(root_id));
    assert_eq!(p.trace.name.as_deref(), root["name"].as_str());
    assert_eq!(p.observations.len(), held.len(), "one observation per run");
    let obs: HashMap<&str, _> = p
        .observations
        .iter()
        .map(|o| (o.run_id.as_str(), o))
        .collect();
    for id in &held {
        let r = by_id[id];
        let o = obs[id];
        assert_eq!(o.id, obs_id(id));
        assert_eq!(o.observation_type, langfuse_type(r), "type of {id}");
        assert_eq!(o.name.as_deref(), r["name"].as_str());
        assert_eq!(
            o.parent_observation_id,
            r["parent_run_id"].as_str().map(obs_id),
            "parent of {id} kept"
        );
        assert_eq!(o.depth, depth(id), "the tree keeps its shape");
        // Usage and model are mapped on model calls only (LangSmith rolls tokens up into chains).
        let model_call = matches!(r["run_type"].as_str(), Some("llm" | "embedding"));
        if !model_call {
            assert!(o.usage.is_empty(), "no usage on a {}", r["run_type"]);
            assert!(o.model.is_none(), "no model on a {}", r["run_type"]);
        } else if !r["end_time"].is_null() {
            assert_eq!(
                o.model.as_deref(),
                r["extra"]["metadata"]["ls_model_name"]
                    .as_str()
                    .or(r["extra"]["invocation_params"]["model"].as_str())
            );
            assert_eq!(
                o.usage.get("input").copied(),
                r["prompt_tokens"].as_f64().filter(|n| *n > 0.0)
            );
            assert_eq!(
                o.usage.get("output").copied(),
                r["completion_tokens"].as_f64().filter(|n| *n > 0.0)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_shows_a_nested_trace_before_and_after_as_the_copy_writes_it() {
    let source = langsmith(true, Some(6)).await;
    let p = mapping_preview(&endpoint(&source), &everything())
        .await
        .unwrap();
    let dump = source.dump();
    check_against_dump(&p, &dump);
    assert!(
        p.runs.iter().any(|r| r.depth >= 1),
        "a trace with nested runs is preferred: {:#?}",
        p.runs
    );
    assert!(
        p.observations
            .iter()
            .any(|o| o.observation_type == "GENERATION" && o.depth >= 1),
        "…with a model call below its root"
    );
    let project = dump["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|pr| {
            let root = dump["runs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == p.runs[0].id.as_str())
                .unwrap();
            pr["id"] == root["session_id"]
        })
        .unwrap();
    assert_eq!(p.project.as_deref(), project["name"].as_str());
    assert!(
        project["reference_dataset_id"].is_null(),
        "a tracing project's trace is preferred to an experiment's: {project}"
    );
    assert!(p.trace.tags.contains(&format!(
        "langsmith-project:{}",
        project["name"].as_str().unwrap()
    )));

    // What a run writes for this trace is what the preview showed.
    let tgt = copied(&source).await;
    let written: HashMap<&str, &Value> = tgt["observations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["traceId"] == p.trace.id.as_str())
        .map(|o| (o["id"].as_str().unwrap(), o))
        .collect();
    assert_eq!(written.len(), p.observations.len());
    for o in &p.observations {
        let w = written[o.id.as_str()];
        assert_eq!(w["type"], json!(o.observation_type));
        assert_eq!(w["name"].as_str(), o.name.as_deref());
        assert_eq!(
            w["parentObservationId"].as_str(),
            o.parent_observation_id.as_deref()
        );
        assert_eq!(w["model"].as_str(), o.model.as_deref());
        let meta = json_field(&w["metadata"]);
        assert_eq!(json_field(&meta["langsmith_run_id"]), json!(o.run_id));
    }
    let trace = tgt["traces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == p.trace.id.as_str())
        .expect("the trace was written");
    assert_eq!(trace["name"].as_str(), p.trace.name.as_deref());
    assert_eq!(trace["sessionId"].as_str(), p.trace.session_id.as_deref());
    assert_eq!(trace["userId"].as_str(), p.trace.user_id.as_deref());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_only_v1_queries_previews_the_same_trace() {
    let v2 = langsmith(true, Some(6)).await;
    let v1 = langsmith(false, Some(6)).await;
    let a = mapping_preview(&endpoint(&v2), &everything())
        .await
        .unwrap();
    let b = mapping_preview(&endpoint(&v1), &everything())
        .await
        .unwrap();
    check_against_dump(&b, &v1.dump());
    assert_eq!(a, b, "the same sample workspace gives the same preview");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_an_empty_window_and_an_unknown_project_are_plain_sentences() {
    let source = langsmith(true, Some(2)).await;
    let wrong = mapping_preview(
        &LangsmithEndpoint::new(&source.url(), "not-the-key"),
        &everything(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(wrong.contains("rejected"), "{wrong}");
    assert!(!wrong.contains("not-the-key"), "no key in messages");

    let mut one = endpoint(&source);
    one.projects = vec!["support-bot".into()];
    let empty = mapping_preview(
        &one,
        &window("2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"),
    )
    .await
    .unwrap_err()
    .to_string();
    assert_eq!(
        empty,
        "The window from 2025-01-01 00:00 UTC to 2025-02-01 00:00 UTC holds no LangSmith trace in the project “support-bot”, so there is no sample trace to preview. Widen the window or pick other projects."
    );

    one.projects = vec!["no-such-project".into()];
    let unknown = mapping_preview(&one, &everything())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("no project named \"no-such-project\""),
        "{unknown}"
    );
}

/// A root with `chains` chains of `per_chain` llm runs each, posted as the SDK does.
async fn post_wide_trace(s: &LsSandbox, chains: usize, per_chain: usize) -> String {
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-06-01T10:00:00Z").unwrap();
    let at = |ms: i64| (t0 + chrono::Duration::milliseconds(ms)).to_rfc3339();
    let id =
        |n: u128| uuid::Uuid::from_u128(0x0197_0000_0000_7000_8000_0000_0000_0000 + n).to_string();
    let root = id(0);
    let mut runs = vec![json!({"id": root, "name": "wide", "run_type": "chain",
        "start_time": at(0), "end_time": at(900_000), "session_name": "wide-project",
        "inputs": {}, "outputs": {}})];
    for c in 0..chains {
        let chain = id(1 + c as u128 * 1000);
        let base = 1000 * c as i64 + 1;
        runs.push(json!({"id": chain, "name": format!("step-{c}"), "run_type": "chain",
            "parent_run_id": root, "trace_id": root, "start_time": at(base), "end_time": at(base + 900),
            "session_name": "wide-project", "inputs": {}, "outputs": {}}));
        for k in 0..per_chain {
            runs.push(
                json!({"id": id(2 + c as u128 * 1000 + k as u128), "name": format!("call-{c}-{k}"),
                "run_type": "llm", "parent_run_id": chain, "trace_id": root,
                "start_time": at(base + 1 + k as i64), "end_time": at(base + 800),
                "session_name": "wide-project", "inputs": {}, "outputs": {}}),
            );
        }
    }
    let resp = reqwest::Client::new()
        .post(format!("{}/runs/batch", s.url()))
        .header("x-api-key", s.api_key())
        .json(&json!({"post": runs}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_trace_shows_its_first_nodes_and_counts_the_rest() {
    // 1 + 50 + 200 runs: all read, 200 shown.
    let source = langsmith(true, None).await;
    let root = post_wide_trace(&source, 50, 4).await;
    let p = mapping_preview(&endpoint(&source), &everything())
        .await
        .unwrap();
    assert_eq!(p.runs.len(), SHOWN_AT_MOST);
    assert_eq!(p.observations.len(), SHOWN_AT_MOST);
    assert_eq!(p.more, 251 - SHOWN_AT_MOST as u32);
    assert!(!p.more_unread);
    assert_eq!(p.runs[0].id, root);
    assert_eq!(p.runs[0].depth, 0);
    assert_eq!(p.trace.id, hex(&root));
    // Depth first: the first chain with its calls, then the next chain.
    let names: Vec<&str> = p.runs[..7].iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "wide", "step-0", "call-0-0", "call-0-1", "call-0-2", "call-0-3", "step-1"
        ]
    );
    let depths: Vec<u32> = p.observations[..7].iter().map(|o| o.depth).collect();
    assert_eq!(depths, [0, 1, 2, 2, 2, 2, 1]);

    // 1 + 50 + 1000 runs: more than are read; the root (read last, newest first) still leads.
    let big = langsmith(true, None).await;
    let root = post_wide_trace(&big, 50, 20).await;
    let p = mapping_preview(&endpoint(&big), &everything())
        .await
        .unwrap();
    assert!(p.more_unread, "the trace was not read whole");
    assert_eq!(p.runs.len(), SHOWN_AT_MOST);
    assert_eq!(p.runs[0].id, root);
    assert!(p.more as usize + SHOWN_AT_MOST <= 1051);
    assert!(p.runs[1..].iter().all(|r| r.depth >= 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_of_everything_from_langsmith_counts_only_the_kinds_langsmith_yields() {
    let source = langsmith(true, Some(2)).await;
    let target = sandbox(ServerProfile::V4, None).await;
    // `plan` selects every kind of object.
    let p = plan(EndpointSpec::Langsmith(endpoint(&source)), lf(&target));
    let report = migrator_engine::preflight(&p).await.unwrap();
    let counted: Vec<Entity> = report.counts.keys().copied().collect();
    // Runs, feedback, feedback configs, datasets with examples, experiments, prompts.
    let mut yields = vec![
        Entity::ScoreConfigs,
        Entity::Datasets,
        Entity::Prompts,
        Entity::Traces,
        Entity::Observations,
        Entity::DatasetItems,
        Entity::Scores,
        Entity::DatasetRunItems,
    ];
    yields.sort();
    assert_eq!(counted, yields, "{report:#?}");
    assert!(
        report.llm_connections.is_empty(),
        "no LLM connection is asked for"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_export_folder_previews_a_trace_from_its_files() {
    let source = langsmith(true, Some(6)).await;
    let dump = source.dump();
    let runs: Vec<&Value> = dump["runs"].as_array().unwrap().iter().collect();
    let dir = tempfile::tempdir().unwrap();
    langsmith_export::write_export_folder(dir.path(), "t", &runs);
    // The API keeps no runs: the preview's came from the folder.
    for r in &runs {
        source.delete_run(r["id"].as_str().unwrap());
    }
    let mut e = endpoint(&source);
    e.export_path = Some(dir.path().to_path_buf());
    let p = mapping_preview(&e, &everything()).await.unwrap();
    check_against_dump(&p, &dump);
    assert!(
        p.observations
            .iter()
            .any(|o| o.observation_type == "GENERATION" && o.depth >= 1),
        "a trace with a model call below its root: {:#?}",
        p.runs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_parent_is_gone_hangs_under_the_root_in_the_preview_as_in_the_copy() {
    let source = langsmith(true, None).await;
    let root = post_wide_trace(&source, 2, 2).await;
    let dump = source.dump();
    let id_of = |name: &str| {
        dump["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let gone = id_of("step-0");
    assert!(source.delete_run(&gone));
    let p = mapping_preview(&endpoint(&source), &everything())
        .await
        .unwrap();
    assert!(
        !p.runs.iter().any(|r| r.id == gone),
        "the deleted run is not shown"
    );
    assert_eq!(
        p.runs.len(),
        6,
        "root, step-1 and its calls, the two orphans"
    );
    for orphan in ["call-0-0", "call-0-1"] {
        let id = id_of(orphan);
        let run = p.runs.iter().find(|r| r.id == id).unwrap();
        assert_eq!(
            run.parent_run_id.as_deref(),
            Some(gone.as_str()),
            "the parent it had"
        );
        assert_eq!(run.depth, 1);
        let o = p.observations.iter().find(|o| o.run_id == id).unwrap();
        assert_eq!(
            o.parent_observation_id.as_deref(),
            Some(obs_id(&root).as_str()),
            "it hangs under the root"
        );
        assert_eq!(o.depth, 1);
    }
    assert!(
        p.notes.iter().any(|n| n.contains("parent is missing")),
        "{:?}",
        p.notes
    );

    // The copy links them the same way.
    let tgt = copied(&source).await;
    for o in &p.observations {
        let written = tgt["observations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"] == o.id.as_str())
            .unwrap();
        assert_eq!(
            written["parentObservationId"].as_str(),
            o.parent_observation_id.as_deref()
        );
    }
}
