//! SIGKILL while media is being uploaded, then `resume`: every media object arrives, none is
//! uploaded twice, and every reference in the target resolves.

use langfuse_sandbox::{FaultConfig, FaultKind, MediaSampleSpec, Sandbox, ServerProfile};
use serde_json::Value;
use std::time::Duration;

mod common;
use common::*;

/// Media the target holds as uploaded (status 200).
fn uploaded(target: &Sandbox) -> usize {
    target
        .media()
        .iter()
        .filter(|m| m.upload_http_status == Some(200))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_media_uploads_then_resume_uploads_each_once() {
    let source = sandbox(
        ServerProfile::V4,
        "pk-lf-source",
        "sk-lf-source-secret",
        None,
    )
    .await;
    let sample = source.load_media_sample(&MediaSampleSpec {
        seed: 3,
        traces: 60,
        image_side: 40,
        ..MediaSampleSpec::default()
    });
    let total = source.media().len();
    assert!(total > 100, "{total} media");
    let target = sandbox(
        ServerProfile::V4,
        "pk-lf-target",
        "sk-lf-target-secret",
        None,
    )
    .await;
    // Each API request takes a few ms more, so the kills land between uploads.
    target.set_faults(FaultConfig {
        rate: 1.0,
        kinds: vec![FaultKind::Slow],
        slow_ms: 6,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        format!(
            r#"[source]
kind = "langfuse"
url = "{}"
public_key = "pk-lf-source"
secret_key_env = "SOURCE_SECRET_KEY"

[target]
kind = "langfuse"
url = "{}"
public_key = "pk-lf-target"
secret_key_env = "TARGET_SECRET_KEY"

[scope]
entities = "all"
from = "2020-01-01T00:00:00Z"
to = "2030-01-01T00:00:00Z"

[options]
batch_items = 10
concurrency = 2
visibility_wait_ms = 100
"#,
            source.url(),
            target.url()
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let plan_s = plan.to_str().unwrap().to_string();
    let mut run_id: Option<String> = None;
    let mut killed = 0;
    for at in [total / 6, total / 3, total / 2, 2 * total / 3] {
        let mut child = match &run_id {
            None => cli(&["run", "--plan", &plan_s, "--json"], &data)
                .spawn()
                .unwrap(),
            Some(id) => cli(&["resume", id, "--json"], &data).spawn().unwrap(),
        };
        let started = std::time::Instant::now();
        let finished = loop {
            if child.try_wait().unwrap().is_some() {
                break true;
            }
            if uploaded(&target) >= at || started.elapsed() > Duration::from_secs(60) {
                child.kill().unwrap(); // SIGKILL
                killed += 1;
                break false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        child.wait().unwrap();
        if run_id.is_none() {
            let out = cli(&["runs", "--json"], &data).output().unwrap();
            let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
            run_id = runs[0]["run_id"].as_str().map(str::to_string);
        }
        if finished {
            break;
        }
    }
    assert!(killed >= 3, "only {killed} kills landed during the uploads");
    target.set_faults(FaultConfig::default());
    let id = run_id.expect("a run exists");
    let d = data.clone();
    let out =
        tokio::task::spawn_blocking(move || cli(&["resume", &id, "--json"], &d).output().unwrap())
            .await
            .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["failures"], serde_json::json!([]), "{report:#}");
    // None missing, none twice, the same bytes.
    let media = target.media();
    assert_eq!(media.len(), total);
    for m in &media {
        assert_eq!(m.upload_http_status, Some(200), "{} uploaded", m.id);
        assert_eq!(
            m.puts_after_upload, 0,
            "{} uploaded again after it was complete",
            m.id
        );
        let src = source.media_bytes(&m.id).expect("a source media");
        assert_eq!(target.media_bytes(&m.id).unwrap(), src, "{}", m.id);
    }
    let mut expected = sample.media_ids.clone();
    expected.sort();
    expected.dedup();
    let got: Vec<String> = media.iter().map(|m| m.id.clone()).collect();
    assert_eq!(got, expected);
}
