//! The CLI binary against sandboxes over real HTTP: the issue's minimal plan, the JSON report and
//! exit codes, `runs`, dry runs, and SIGKILL at random points followed by `resume`.

use langfuse_sandbox::{FaultConfig, FaultKind, SampleSpec, Sandbox, ServerProfile};
use serde_json::{Value, json};
use std::time::Duration;

mod common;
use common::*;

/// The issue's minimal plan, verbatim but for the two ports.
fn minimal_plan(source: &Sandbox, target: &Sandbox, extra: &str) -> String {
    format!(
        r#"[source]
kind = "langfuse"
url = "{}"
public_key = "pk-lf-source"
secret_key_env = "SOURCE_SECRET_KEY"

[target]
kind = "langfuse"            # or kind = "archive" with path = "/some/folder"
url = "{}"
public_key = "pk-lf-target"
secret_key_env = "TARGET_SECRET_KEY"

[scope]
entities = "all"
from = "2020-01-01T00:00:00Z"
to = "2030-01-01T00:00:00Z"
{extra}"#,
        source.url(),
        target.url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimal_plan_runs_reports_json_and_a_rerun_skips_everything() {
    let sample = SampleSpec {
        seed: 3,
        traces: 30,
        observations_per_trace: 3,
    };
    let source = sandbox(
        ServerProfile::V3,
        "pk-lf-source",
        "sk-lf-source-secret",
        Some(sample),
    )
    .await;
    let target = sandbox(
        ServerProfile::V3,
        "pk-lf-target",
        "sk-lf-target-secret",
        None,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(&plan, minimal_plan(&source, &target, "")).unwrap();
    let data = dir.path().join("data");
    let plan_s = plan.to_str().unwrap();

    let out = tokio::task::spawn_blocking({
        let data = data.clone();
        let plan_s = plan_s.to_string();
        move || {
            cli(&["run", "--plan", &plan_s, "--json"], &data)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let report = json_of(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{report:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run_id = report["run_id"].as_str().unwrap().to_string();
    assert_eq!(report["entities"]["observations"]["read"], 90);
    assert_eq!(report["entities"]["observations"]["written"], 90);
    assert_eq!(report["entities"]["traces"]["written"], 30);
    assert_eq!(target.counts()["observations"], 90);
    // No secret anywhere in what the CLI printed or journaled.
    let journal = std::fs::read(data.join("runs").join(&run_id).join("journal.sqlite")).unwrap();
    for secret in ["sk-lf-source-secret", "sk-lf-target-secret"] {
        assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
        assert!(!String::from_utf8_lossy(&out.stderr).contains(secret));
        assert!(
            !journal
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()),
            "secret in journal"
        );
    }

    let out = tokio::task::spawn_blocking({
        let data = data.clone();
        let plan_s = plan_s.to_string();
        move || {
            cli(&["run", "--plan", &plan_s, "--json"], &data)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let again = json_of(&out);
    assert_eq!(out.status.code(), Some(0));
    for (e, c) in again["entities"].as_object().unwrap() {
        assert_eq!(c["written"], 0, "{e}");
        assert_eq!(c["skipped"], c["read"], "{e}: reported as skipped");
    }

    let out = cli(&["runs", "--json"], &data).output().unwrap();
    let runs = json_of(&out);
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .any(|r| r["run_id"] == run_id.as_str() && r["state"] == "completed")
    );
    // The plain listing is for people: a sentence, not a Rust variant name.
    let out = cli(&["runs"], &data).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(run_id.as_str()))
        .unwrap_or_else(|| panic!("{run_id} is listed:\n{text}"));
    assert!(line.contains(" completed "), "{line}");
    assert!(
        line.contains("written ") && line.contains("failed 0"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_nothing_and_says_what_it_would_write() {
    let sample = SampleSpec {
        seed: 4,
        traces: 10,
        observations_per_trace: 2,
    };
    let source = sandbox(
        ServerProfile::V4,
        "pk-lf-source",
        "sk-lf-source-secret",
        Some(sample),
    )
    .await;
    let target = sandbox(
        ServerProfile::V4,
        "pk-lf-target",
        "sk-lf-target-secret",
        None,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(&plan, minimal_plan(&source, &target, "")).unwrap();
    let before = target.counts();
    let plan_s = plan.to_str().unwrap().to_string();
    let data = dir.path().join("data");
    let out = tokio::task::spawn_blocking(move || {
        cli(&["run", "--plan", &plan_s, "--dry-run", "--json"], &data)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = json_of(&out);
    assert_eq!(report["state"], "dry_run");
    assert_eq!(report["would_write"]["observations"], 20);
    // Every run item would arrive, also those of traces several dataset runs share (each extra
    // one on a span of its own in that trace), and nothing would fail.
    let items = source.dump()["dataset_run_items"].as_array().unwrap().len();
    let traces: std::collections::HashSet<String> = source.dump()["dataset_run_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["traceId"].as_str().unwrap().to_string())
        .collect();
    assert!(
        items > traces.len(),
        "the sample has traces that runs share"
    );
    assert_eq!(
        report["would_write"]["dataset_run_items"], items,
        "{report:#}"
    );
    assert_eq!(report["failures"], json!([]), "{report:#}");
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(target.counts(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_and_missing_secret_get_plain_errors_and_exit_2() {
    let source = sandbox(
        ServerProfile::V4,
        "pk-lf-source",
        "sk-lf-source-secret",
        None,
    )
    .await;
    let target = sandbox(ServerProfile::V4, "pk-lf-target", "sk-lf-other", None).await;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(&plan, minimal_plan(&source, &target, "")).unwrap();
    let data = dir.path().join("data");
    let plan_s = plan.to_str().unwrap().to_string();
    let (p2, d2) = (plan_s.clone(), data.clone());
    let out =
        tokio::task::spawn_blocking(move || cli(&["run", "--plan", &p2], &d2).output().unwrap())
            .await
            .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("keys were rejected") && err.contains(&target.url()),
        "{err}"
    );
    assert!(!err.contains("sk-lf-target-secret"));

    let out = tokio::task::spawn_blocking(move || {
        cli(&["run", "--plan", &plan_s], &data)
            .env_remove("SOURCE_SECRET_KEY")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("environment variable SOURCE_SECRET_KEY")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_then_resume_ends_exact() {
    let sample = SampleSpec {
        seed: 9,
        traces: 300,
        observations_per_trace: 5,
    };
    let source = sandbox(
        ServerProfile::V4,
        "pk-lf-source",
        "sk-lf-source-secret",
        Some(sample),
    )
    .await;
    let target = sandbox(
        ServerProfile::V4,
        "pk-lf-target",
        "sk-lf-target-secret",
        None,
    )
    .await;
    // Each target request takes a few ms more, so a fast machine cannot finish the run between
    // two looks at the target's counts and leave the kill points unvisited.
    target.set_faults(FaultConfig {
        rate: 1.0,
        kinds: vec![FaultKind::Slow],
        slow_ms: 8,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    // Small batches make many crash points. Run items ride on their traces' root spans (v4), so
    // a kill between a span's send and its confirmation must not duplicate an experiment item.
    let extra = "\n[options]\nbatch_items = 40\nconcurrency = 2\nvisibility_wait_ms = 100\n";
    std::fs::write(&plan, minimal_plan(&source, &target, extra)).unwrap();
    let data = dir.path().join("data");
    let plan_s = plan.to_str().unwrap().to_string();

    // Kill points spread over the run, by progress: early (connecting, listing, first phases),
    // during the observations at several depths, and during the scores.
    enum At {
        Millis(u64),
        Observations(usize),
        Scores(usize),
    }
    let kills = [
        At::Millis(60),
        At::Observations(200),
        At::Observations(700),
        At::Observations(1200),
        At::Scores(100),
    ];
    let mut run_id: Option<String> = None;
    let mut killed = 0;
    let mut last_output = String::new();
    for at in kills.iter() {
        let (p, d, id) = (plan_s.clone(), data.clone(), run_id.clone());
        let mut child = match &id {
            None => cli(&["run", "--plan", &p, "--json"], &d).spawn().unwrap(),
            Some(id) => cli(&["resume", id, "--json"], &d).spawn().unwrap(),
        };
        let started = std::time::Instant::now();
        let finished = loop {
            if child.try_wait().unwrap().is_some() {
                break true;
            }
            let counts = target.counts();
            let due = match at {
                At::Millis(ms) => started.elapsed() >= Duration::from_millis(*ms),
                At::Observations(n) => counts["observations"] >= *n,
                At::Scores(n) => counts["scores"] >= *n,
            };
            if due || started.elapsed() > Duration::from_secs(60) {
                child.kill().unwrap(); // SIGKILL
                killed += 1;
                break false;
            }
            tokio::time::sleep(Duration::from_millis(3)).await;
        };
        let out = child.wait_with_output().unwrap();
        last_output = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if run_id.is_none() {
            let out = cli(&["runs", "--json"], &data).output().unwrap();
            let runs = json_of(&out);
            run_id = runs
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
    let data2 = data.clone();
    let out = tokio::task::spawn_blocking(move || {
        cli(&["resume", &id, "--json"], &data2).output().unwrap()
    })
    .await
    .unwrap();
    let report = json_of(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{report:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report["failures"], json!([]), "{report:#}");
    target.settle();
    let (s, t) = (source.dump(), target.dump());
    // Experiment items: one per trace that carries one, none twice, each one from the source.
    let key = |r: &Value| {
        format!(
            "{}|{}|{}",
            r["datasetRunName"], r["datasetItemId"], r["traceId"]
        )
    };
    let source_items: std::collections::HashSet<String> = s["dataset_run_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    let source_traces: std::collections::HashSet<&str> = s["dataset_run_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["traceId"].as_str().unwrap())
        .collect();
    let target_items: Vec<String> = t["dataset_run_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    let unique: std::collections::HashSet<&String> = target_items.iter().collect();
    assert_eq!(unique.len(), target_items.len(), "an experiment item twice");
    assert_eq!(
        unique
            .into_iter()
            .cloned()
            .collect::<std::collections::HashSet<_>>(),
        source_items
    );
    assert_eq!(
        target_items.len(),
        source_traces.len(),
        "one experiment item per trace"
    );
    for e in [
        "observations",
        "scores",
        "dataset_items",
        "prompts",
        "comments",
        "datasets",
        "score_configs",
    ] {
        let ids = |d: &Value| {
            // Ids where the client sets them; natural keys where the target assigns them.
            let key = |r: &Value| match e {
                "comments" => format!("{}|{}", r["objectType"], r["content"]),
                "datasets" | "score_configs" => r["name"].to_string(),
                "prompts" => format!("{}:{}", r["name"], r["version"]),
                _ => r["id"].to_string(),
            };
            let mut v: Vec<String> = d[e].as_array().unwrap().iter().map(key).collect();
            v.sort();
            v
        };
        let (si, ti) = (ids(&s), ids(&t));
        assert_eq!(
            si.len(),
            ti.len(),
            "{e}: source {} target {} (lost or duplicated)",
            si.len(),
            ti.len()
        );
        assert_eq!(si, ti, "{e}");
    }
    assert_eq!(report["entities"]["observations"]["read"], 1500);
}
