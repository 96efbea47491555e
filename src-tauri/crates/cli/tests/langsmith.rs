//! LangSmith → Langfuse v4 through the CLI: SIGKILL midway, `resume`, and every run arrives
//! exactly once (the target's raw rows, duplicates included), the report's counts of runs still
//! running at the source are exact after the resumes, and `validate` is clean. `sync
//! --until-idle` follows a workspace the SDK keeps writing to and stops once it is quiet.

mod common;
use common::*;
use langfuse_sandbox::{FaultConfig, ServerProfile};
use langsmith_sandbox::{SampleSpec, Sandbox as LsSandbox, SandboxConfig as LsConfig};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The documented observation id of a run: sha256("langsmith-run:" + UUID as 32 hex)[..8].
fn obs_id(run: &str) -> String {
    let hex = run.replace('-', "").to_lowercase();
    let mut h = Sha256::new();
    h.update(format!("langsmith-run:{hex}").as_bytes());
    hex::encode(&h.finalize()[..8])
}

/// A plan from the LangSmith `source` (key in `LANGSMITH_API_KEY`) to the Langfuse `target`.
fn ls_plan(source: &LsSandbox, target: &langfuse_sandbox::Sandbox, entities: &str) -> String {
    format!(
        r#"[source]
kind = "langsmith"
url = "{}"
api_key_env = "LANGSMITH_API_KEY"

[target]
kind = "langfuse"
url = "{}"
public_key = "pk-lf-target"
secret_key_env = "TARGET_SECRET_KEY"

[scope]
entities = {entities}
from = "2020-01-01T00:00:00Z"
to = "2030-01-01T00:00:00Z"

[options]
batch_items = 40
concurrency = 2
visibility_wait_ms = 100
"#,
        source.url(),
        target.url()
    )
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_a_langsmith_run_midway_then_resume_ends_exact_and_validates_clean() {
    let source = LsSandbox::start(LsConfig {
        sample: Some(SampleSpec {
            seed: 7,
            traces: 300,
        }),
        // v1 pages of 100 runs: many pages, so kills land between checkpoints.
        v2_queries: false,
        ..LsConfig::default()
    })
    .await
    .unwrap();
    let target = sandbox(
        ServerProfile::V4,
        "pk-lf-target",
        "sk-lf-target-secret",
        None,
    )
    .await;
    slow_down(&target);
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(&plan, ls_plan(&source, &target, "\"all\"")).unwrap();
    let data = dir.path().join("data");
    let key = source.api_key().to_string();
    let run_cli = move |args: &[&str], data: &std::path::Path| {
        let mut c = cli(args, data);
        c.env("LANGSMITH_API_KEY", &key);
        c
    };
    let plan_s = plan.to_str().unwrap().to_string();
    let runs = source.dump()["runs"].as_array().unwrap().clone();
    assert!(runs.len() > 1500, "{} runs", runs.len());

    // Kill points: early, then at several depths of the observations, then during the scores.
    let kills: [(u64, usize, usize); 5] = [
        (80, 0, 0),
        (0, 300, 0),
        (0, 800, 0),
        (0, 1400, 0),
        (0, 0, 20),
    ];
    let mut run_id: Option<String> = None;
    let mut killed = 0;
    let mut last_output = String::new();
    for (ms, observations, scores) in kills {
        let child = match &run_id {
            None => run_cli(&["run", "--plan", &plan_s, "--json"], &data)
                .spawn()
                .unwrap(),
            Some(id) => run_cli(&["resume", id, "--json"], &data).spawn().unwrap(),
        };
        let (finished, out) = sigkill_when(child, |elapsed| {
            let counts = target.counts();
            (ms > 0 && elapsed >= Duration::from_millis(ms))
                || (observations > 0 && counts["observations"] >= observations)
                || (scores > 0 && counts["scores"] >= scores)
        })
        .await;
        killed += usize::from(!finished);
        last_output = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if run_id.is_none() {
            let out = run_cli(&["runs", "--json"], &data).output().unwrap();
            run_id = json_of(&out)
                .as_array()
                .unwrap()
                .first()
                .map(|r| r["run_id"].as_str().unwrap().to_string());
        }
        if finished {
            break;
        }
    }
    assert!(
        killed >= 3,
        "only {killed} kills landed before the run finished; its last output:\n{last_output}"
    );
    let id = run_id.expect("a run exists");
    target.set_faults(FaultConfig::default());
    let resume = run_cli(&["resume", &id, "--json"], &data);
    let out = output(resume).await;
    let report = json_of(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{report:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report["failures"], json!([]), "{report:#}");
    target.settle();

    // Every run exactly once: the target's rows, duplicates included, are one per run.
    let (s, t) = (source.dump(), target.dump());
    let ids_of = |v: &Value, field: &str| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|o| o[field].as_str().unwrap().to_string())
            .collect()
    };
    // (On v4 each trace also has the span `t-<trace id>` that carries the trace's attributes.)
    let arrived: Vec<String> = ids_of(&t["observations"], "id")
        .into_iter()
        .filter(|i| !i.starts_with("t-"))
        .collect();
    let expected: Vec<String> = runs
        .iter()
        .map(|r| obs_id(r["id"].as_str().unwrap()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let twice: Vec<&String> = arrived.iter().filter(|i| !seen.insert(*i)).collect();
    let missing: Vec<&String> = expected.iter().filter(|i| !seen.contains(i)).collect();
    assert!(
        twice.is_empty() && missing.is_empty() && arrived.len() == expected.len(),
        "every run arrives once: {} twice {twice:?}, {} missing {missing:?}, {} arrived of {}",
        twice.len(),
        missing.len(),
        arrived.len(),
        expected.len()
    );
    assert_eq!(
        sorted(ids_of(&t["scores"], "id")),
        sorted(ids_of(&s["feedback"], "id")),
        "every feedback arrives once"
    );
    assert_eq!(
        sorted(ids_of(&t["dataset_items"], "id")),
        sorted(ids_of(&s["examples"], "id")),
        "every example arrives once"
    );
    // The report's count of runs still running at the source survives the resumes exactly.
    let pending = runs.iter().filter(|r| r["end_time"].is_null()).count() as u64;
    let still_running: u64 = report["mapping_notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "still_running")
        .map(|n| n["count"].as_u64().unwrap())
        .sum();
    assert_eq!(still_running, pending, "{:#}", report["mapping_notes"]);

    let validate = run_cli(&["validate", &id, "--json"], &data);
    let out = output(validate).await;
    let v = json_of(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "validation is clean: {v:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Posts runs as the LangSmith SDK does (`POST /runs/batch`).
async fn ingest(http: &reqwest::Client, source: &LsSandbox, post: Vec<Value>, patch: Vec<Value>) {
    let r = http
        .post(format!("{}/runs/batch", source.url()))
        .header("x-api-key", source.api_key())
        .json(&json!({"post": post, "patch": patch}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// An application tracing to LangSmith: a tree (agent and llm) every 300 ms, every third with
/// its llm run pending for 2 s; feedback on the first tree once it has surely been copied.
async fn trace_to_langsmith(source: &LsSandbox, trees: usize) {
    let http = reqwest::Client::new();
    let at =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut pending = vec![];
    let mut first = None;
    for n in 0..trees {
        let now = chrono::Utc::now();
        let (root, child) = (
            uuid::Uuid::new_v4().to_string(),
            uuid::Uuid::new_v4().to_string(),
        );
        first.get_or_insert(root.clone());
        let ended = n % 3 != 2;
        let mut llm = json!({"id": child, "trace_id": root, "parent_run_id": root, "name": "llm",
            "run_type": "llm", "start_time": at(now), "inputs": {"n": n}, "session_name": "app"});
        if ended {
            llm["end_time"] = json!(at(now));
            llm["outputs"] = json!({"a": n});
        } else {
            pending.push(child.clone());
        }
        let agent = json!({"id": root, "trace_id": root, "name": "agent", "run_type": "chain",
            "start_time": at(now), "end_time": at(now), "inputs": {"n": n}, "outputs": {"a": n},
            "session_name": "app"});
        ingest(&http, source, vec![agent, llm], vec![]).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let now = at(chrono::Utc::now());
    let ends = pending
        .iter()
        .map(|id| json!({"id": id, "end_time": now, "outputs": {"done": true}}))
        .collect();
    ingest(&http, source, vec![], ends).await;
    let r = http
        .post(format!("{}/feedback", source.url()))
        .header("x-api-key", source.api_key())
        .json(&json!({"run_id": first.unwrap(), "key": "helpful", "score": 1}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_until_idle_follows_a_langsmith_workspace_and_validates_clean() {
    let source = LsSandbox::start(LsConfig {
        sample: Some(SampleSpec { seed: 3, traces: 6 }),
        ..LsConfig::default()
    })
    .await
    .unwrap();
    let target = sandbox(
        ServerProfile::V4,
        "pk-lf-target",
        "sk-lf-target-secret",
        None,
    )
    .await;
    // The application's project exists before the sync starts (a sync follows the projects it
    // found when it connected).
    ingest(
        &reqwest::Client::new(),
        &source,
        vec![
            json!({"id": uuid::Uuid::new_v4().to_string(), "name": "hello", "run_type": "chain",
            "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T00:00:01Z",
            "session_name": "app"}),
        ],
        vec![],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        ls_plan(&source, &target, r#"["traces", "observations", "scores"]"#),
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut sync = cli(
        &[
            "sync",
            "--plan",
            plan.to_str().unwrap(),
            "--poll",
            "0.3",
            "--settle",
            "1",
            "--lookback",
            "60",
            "--until-idle",
            "3",
            "--json",
        ],
        &data,
    );
    sync.env("LANGSMITH_API_KEY", source.api_key());
    let running = tokio::spawn(output(sync));
    trace_to_langsmith(&source, 9).await;
    let out = running.await.unwrap();
    let report = json_of(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{report:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report["state"], "completed", "{report:#}");
    assert_eq!(report["sync"]["waiting"], 0, "{report:#}");
    assert!(
        report["sync"]["passes"].as_u64().unwrap() >= 2,
        "{report:#}"
    );
    target.settle();

    let (s, t) = (source.dump(), target.dump());
    let ids_of = |v: &Value, field: &str| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|o| o[field].as_str().unwrap().to_string())
            .collect()
    };
    let runs = s["runs"].as_array().unwrap();
    let arrived: Vec<String> = ids_of(&t["observations"], "id")
        .into_iter()
        .filter(|i| !i.starts_with("t-"))
        .collect();
    let expected: Vec<String> = runs
        .iter()
        .map(|r| obs_id(r["id"].as_str().unwrap()))
        .collect();
    assert_eq!(sorted(arrived), sorted(expected), "every run arrives once");
    // The sample's runs pending since March are abandoned (older than the lookback): they
    // arrive as LangSmith shows them; the writer's pending runs arrive once they ended.
    let done: Vec<&Value> = runs
        .iter()
        .filter(|r| r["outputs"]["done"] == true)
        .collect();
    assert_eq!(done.len(), 3);
    for r in done {
        let o = t["observations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == obs_id(r["id"].as_str().unwrap()).as_str())
            .unwrap();
        assert!(
            !o["endTime"].is_null(),
            "a run that was pending arrives ended: {o}"
        );
        assert!(o["output"].to_string().contains("done"), "{o}");
    }
    assert_eq!(
        sorted(ids_of(&t["scores"], "id")),
        sorted(ids_of(&s["feedback"], "id")),
        "every feedback arrives once, the one that came after its run was copied included"
    );

    let id = report["run_id"].as_str().unwrap();
    let mut validate = cli(&["validate", id, "--json"], &data);
    validate.env("LANGSMITH_API_KEY", source.api_key());
    let out = output(validate).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "validation is clean: {:#}\n{}",
        json_of(&out),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// API-key requests a LangSmith sandbox received per rate-limit bucket, and those it answered 429.
async fn ls_requests(source: &LsSandbox) -> Value {
    reqwest::get(format!("{}/_sandbox/requests", source.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `sync --cloud-share` leaves the rest of LangSmith Cloud's per-key limits to the application:
/// polling as fast as it may, the sync sends at most its share of the 15 run queries per 10 s,
/// and LangSmith never answers 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_with_a_cloud_share_takes_at_most_that_share_of_langsmith_run_queries() {
    // A LangSmith Cloud with its limits, whose 10 s window lasts 1 s.
    let scale = 10.0;
    let source = LsSandbox::start(LsConfig {
        sample: Some(SampleSpec { seed: 5, traces: 4 }),
        plan: true,
        time_scale: scale,
        ..LsConfig::default()
    })
    .await
    .unwrap();
    let target = sandbox(
        ServerProfile::V4,
        "pk-lf-target",
        "sk-lf-target-secret",
        None,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    let toml = ls_plan(&source, &target, r#"["traces", "observations", "scores"]"#).replace(
        "api_key_env = \"LANGSMITH_API_KEY\"\n",
        &format!("api_key_env = \"LANGSMITH_API_KEY\"\ncloud_limits = true\nbudget_time_scale = {scale}\n"),
    );
    std::fs::write(&plan, toml).unwrap();
    let data = dir.path().join("data");
    let before = ls_requests(&source).await;
    let started = std::time::Instant::now();
    let mut sync = cli(
        &[
            "sync",
            "--plan",
            plan.to_str().unwrap(),
            "--poll",
            "0.05",
            "--settle",
            "0.5",
            "--lookback",
            "60",
            "--until-idle",
            "3",
            "--cloud-share",
            "40",
            "--json",
        ],
        &data,
    );
    sync.env("LANGSMITH_API_KEY", source.api_key());
    let out = output(sync).await;
    let windows = started.elapsed().as_secs_f64() * scale / 10.0;
    let report = json_of(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{report:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = ls_requests(&source).await;
    let count = |v: &Value, k: &str, b: &str| v[k][b].as_u64().unwrap_or(0);
    let queries =
        count(&after, "requests", "runs_query") - count(&before, "requests", "runs_query");
    // 40 % of 15 is 6 a window: six may go at once, then six a window.
    let allowed = 6.0 * (windows + 1.0);
    assert!(
        queries as f64 <= allowed,
        "{queries} run queries in {windows:.1} windows of 10 s; 40 % allows {allowed}"
    );
    assert!(
        queries as f64 > allowed / 3.0,
        "the sync polled as fast as its share let it ({queries} run queries)"
    );
    assert_eq!(after["throttled"], json!({}), "no request was answered 429");
    assert_eq!(report["state"], "completed", "{report:#}");
}
