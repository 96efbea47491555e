//! The CLI after a run, against sandboxes over real HTTP: `validate` (exit code, JSON, HTML and
//! Markdown), `cutover` / `cutover-restore` round-tripping an `.env` file byte for byte, and
//! `rollback` (preview, refusal without confirmation, deletion, restoring the cutover).

use langfuse_sandbox::{SampleSpec, Sandbox, ServerProfile};
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::*;

const TARGET_SECRET: &str = "sk-lf-target-secret";

fn plan(source: &Sandbox, target: &Sandbox) -> String {
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
"#,
        source.url(),
        target.url()
    )
}

/// Runs the CLI to its end (the plan's secrets in its environment, stdin closed: not a terminal).
async fn cli(args: &[&str], data: &Path) -> Output {
    output(common::cli(args, data)).await
}

fn no_secret(out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains(TARGET_SECRET));
    }
}

fn journal_bytes(data: &Path, run_id: &str) -> Vec<u8> {
    let dir = data.join("runs").join(run_id);
    let mut bytes = std::fs::read(dir.join("journal.sqlite")).unwrap();
    if let Ok(wal) = std::fs::read(dir.join("journal.sqlite-wal")) {
        bytes.extend(wal);
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_cutover_and_rollback_through_the_cli() {
    let sample = SampleSpec {
        seed: 4,
        traces: 8,
        observations_per_trace: 2,
    };
    let source = sandbox(
        ServerProfile::V3,
        "pk-lf-source",
        "sk-lf-source-secret",
        Some(sample),
    )
    .await;
    let target = sandbox(ServerProfile::V3, "pk-lf-target", TARGET_SECRET, None).await;
    let before = target.dump();
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.toml");
    std::fs::write(&plan_path, plan(&source, &target)).unwrap();
    let data: PathBuf = dir.path().join("data");

    let out = cli(
        &["run", "--plan", plan_path.to_str().unwrap(), "--json"],
        &data,
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run_id = json_of(&out)["run_id"].as_str().unwrap().to_string();

    // validate: clean → exit 0, report as JSON, HTML and Markdown.
    let html = dir.path().join("report.html");
    let md = dir.path().join("report.md");
    let out = cli(
        &[
            "validate",
            &run_id,
            "--json",
            "--html",
            html.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
        ],
        &data,
    )
    .await;
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["run_id"], run_id.as_str());
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
    assert!(
        std::fs::read_to_string(&md)
            .unwrap()
            .contains("| traces | 8 | 8 |")
    );
    no_secret(&out);

    // A trace lost in the target: exit 1, and the JSON names it.
    let lost = target.dump()["traces"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    target.delete_raw("traces", &lost).unwrap();
    let out = cli(&["validate", &run_id, "--json", "--sample", "2"], &data).await;
    assert_eq!(out.status.code(), Some(1));
    let report = json_of(&out);
    let traces = report["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entity"] == "traces")
        .unwrap()
        .clone();
    assert_eq!(traces["missing"], serde_json::json!([lost]));
    assert_eq!(traces["compared"], 2);

    // cutover: refused without --yes; written with it; restored byte for byte.
    let env = dir.path().join("app.env");
    let original = b"# app config\r\nexport LANGFUSE_HOST=https://cloud.langfuse.com\r\nLANGFUSE_PUBLIC_KEY=pk-lf-old\r\nLANGFUSE_SECRET_KEY=\"sk-lf-old\"\r\nOTHER=keep me".to_vec();
    std::fs::write(&env, &original).unwrap();
    let env_s = env.to_str().unwrap();
    let out = cli(&["cutover", &run_id, "--env", env_s], &data).await;
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        std::fs::read(&env).unwrap(),
        original,
        "nothing written unconfirmed"
    );
    let out = cli(
        &["cutover", &run_id, "--env", env_s, "--yes", "--json"],
        &data,
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    no_secret(&out);
    let written = std::fs::read_to_string(&env).unwrap();
    assert!(
        written.contains(&format!("export LANGFUSE_HOST={}\r\n", target.url())),
        "{written}"
    );
    assert!(written.contains("LANGFUSE_PUBLIC_KEY=pk-lf-target\r\n"));
    assert!(written.contains(TARGET_SECRET));
    assert!(written.ends_with("OTHER=keep me"));
    let journal = journal_bytes(&data, &run_id);
    assert!(
        !journal
            .windows(TARGET_SECRET.len())
            .any(|w| w == TARGET_SECRET.as_bytes()),
        "the secret must not reach the journal"
    );
    let out = cli(&["cutover-restore", &run_id], &data).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&env).unwrap(),
        original,
        "restored byte for byte"
    );

    // rollback: preview, refusal without confirmation, then delete and restore a new cutover.
    let out = cli(&["rollback", &run_id, "--preview", "--json"], &data).await;
    assert_eq!(out.status.code(), Some(0));
    let preview = json_of(&out);
    assert!(preview["delete_requests"].as_u64().unwrap() > 0);
    assert_eq!(
        preview["delete"]["traces"], 8,
        "planned from the journal: {preview:#}"
    );
    let counts = target.counts();
    let out = cli(&["rollback", &run_id, "--json"], &data).await;
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(target.counts(), counts, "nothing deleted unconfirmed");

    let out = cli(&["cutover", &run_id, "--env", env_s, "--yes"], &data).await;
    assert_eq!(out.status.code(), Some(0));
    let out = cli(&["rollback", &run_id, "--yes", "--json"], &data).await;
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["state"], "completed");
    assert_eq!(report["cutover_restored"], true);
    assert_eq!(std::fs::read(&env).unwrap(), original);
    target.settle();
    let after = target.dump();
    for e in [
        "traces",
        "observations",
        "scores",
        "dataset_items",
        "prompts",
        "models",
    ] {
        assert_eq!(before[e], after[e], "{e} as before the run");
    }
}
