//! Two processes and one run, over real HTTP against sandboxes: a run in progress cannot be
//! resumed next to itself, and a resume may change how gently the run works but not what it
//! copies.

use langfuse_sandbox::{FaultConfig, FaultKind, SampleSpec, Sandbox, ServerProfile};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;
use common::*;

/// A plan of every entity (`scope`: the window lines).
fn plan_all(source: &Sandbox, target: &Sandbox, scope: &str, options: &str) -> String {
    plan_text(
        source,
        target,
        &format!("entities = \"all\"\n{scope}"),
        options,
    )
}

/// Sorted ids of the observations and scores in a dump: what "exact" means here.
fn ids(dump: &Value) -> Vec<String> {
    let mut v: Vec<String> = ["observations", "scores", "dataset_items"]
        .iter()
        .flat_map(|e| {
            dump[*e]
                .as_array()
                .unwrap()
                .iter()
                .map(move |r| format!("{e}:{}", r["id"]))
        })
        .collect();
    v.sort();
    v
}

/// The first run id in the data folder, once the journal exists.
async fn first_run_id(data: &Path) -> String {
    let started = Instant::now();
    loop {
        let runs = json_of(&output(cli(&["runs", "--json"], data)).await);
        if let Some(id) = runs.as_array().and_then(|a| a.first()) {
            return id["run_id"].as_str().unwrap().to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no run appeared"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_a_run_another_process_drives_is_refused_and_the_copy_ends_exact() {
    let sample = SampleSpec {
        seed: 21,
        traces: 120,
        observations_per_trace: 4,
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
    // Slow target requests keep the first run busy while the second process tries its luck.
    target.set_faults(FaultConfig {
        rate: 1.0,
        kinds: vec![FaultKind::Slow],
        slow_ms: 40,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        plan_all(
            &source,
            &target,
            "",
            "batch_items = 20\nconcurrency = 2\nvisibility_wait_ms = 100",
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut first = cli(&["run", "--plan", plan.to_str().unwrap(), "--json"], &data)
        .spawn()
        .unwrap();
    let run_id = first_run_id(&data).await;

    // The listing tells a live run from an interrupted one.
    let listing = output(cli(&["runs"], &data)).await;
    let text = String::from_utf8_lossy(&listing.stdout).to_string();
    let line = text
        .lines()
        .find(|l| l.starts_with(run_id.as_str()))
        .unwrap_or_else(|| panic!("{run_id} is listed:\n{text}"));
    assert!(line.contains("running in another process"), "{line}");
    let runs = json_of(&output(cli(&["runs", "--json"], &data)).await);
    assert_eq!(runs[0]["locked"], true, "{runs:#}");

    let second = output(cli(&["resume", &run_id, "--json"], &data)).await;
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "Run {run_id} is running in another window or process"
        )),
        "{err}"
    );
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run ended before the second process tried: the test proved nothing"
    );

    target.set_faults(FaultConfig::default());
    let out = tokio::task::spawn_blocking(move || first.wait_with_output().unwrap())
        .await
        .unwrap();
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["failures"], serde_json::json!([]), "{report:#}");
    target.settle();
    let (s, t) = (source.dump(), target.dump());
    assert_eq!(ids(&s), ids(&t), "lost or duplicated objects");

    // Once the process has ended, the lock is gone with it.
    let runs = json_of(&output(cli(&["runs", "--json"], &data)).await);
    assert_eq!(runs[0]["locked"], false, "{runs:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_resumes_with_gentler_settings_but_not_with_another_window() {
    let sample = SampleSpec {
        seed: 22,
        traces: 100,
        observations_per_trace: 4,
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
    target.set_faults(FaultConfig {
        rate: 1.0,
        kinds: vec![FaultKind::Slow],
        slow_ms: 20,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let window = "from = \"2020-01-01T00:00:00Z\"\nto = \"2030-01-01T00:00:00Z\"";
    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        plan_all(
            &source,
            &target,
            window,
            "batch_items = 20\nconcurrency = 4\nvisibility_wait_ms = 100",
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut first = cli(&["run", "--plan", plan.to_str().unwrap(), "--json"], &data)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while target.counts()["observations"] < 100 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let run_id = first_run_id(&data).await;
    target.set_faults(FaultConfig::default());

    // Another window is another copy: refused, with the reason.
    let other = dir.path().join("other.toml");
    std::fs::write(
        &other,
        plan_all(
            &source,
            &target,
            "from = \"2021-01-01T00:00:00Z\"\nto = \"2030-01-01T00:00:00Z\"",
            "batch_items = 20\nconcurrency = 4\nvisibility_wait_ms = 100",
        ),
    )
    .unwrap();
    let out = output(cli(
        &["resume", &run_id, "--plan", other.to_str().unwrap()],
        &data,
    ))
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has changed since the run started"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Gentler settings are how a run gets past a storm of 429s: accepted.
    let gentle = dir.path().join("gentle.toml");
    std::fs::write(
        &gentle,
        plan_all(
            &source,
            &target,
            window,
            "batch_items = 10\nconcurrency = 1\nrequest_timeout_secs = 90\nvisibility_wait_ms = 300",
        ),
    )
    .unwrap();
    let out = output(cli(
        &[
            "resume",
            &run_id,
            "--plan",
            gentle.to_str().unwrap(),
            "--json",
        ],
        &data,
    ))
    .await;
    let report = json_of(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{report:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.settle();
    assert_eq!(ids(&source.dump()), ids(&target.dump()));
}
