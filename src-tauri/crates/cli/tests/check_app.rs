//! `check-app` as a user runs it: the binary on the fixture applications, its JSON, its exit
//! codes, and `--target-url` against a sandbox server over real HTTP. Expectations are written
//! by hand from the fixtures.

use langfuse_sandbox::{Sandbox, SandboxConfig, ServerProfile};
use serde_json::Value;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_langfuse-migrator-cli");

fn fixture(name: &str) -> String {
    format!(
        "{}/../../../tests/fixtures/apps/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("check-app")
        .args(args)
        .output()
        .unwrap()
}

fn no_secret(out: &Output) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("FIXTURE-SECRET"), "{all}");
}

#[test]
fn json_findings_carry_file_line_subject_severity_action_and_guide() {
    let out = run(&[
        &fixture("js-v3-trace"),
        "--target-version",
        "4.59.0",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    no_secret(&out);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["verdict"], "blocked");
    let trace = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "index.ts" && f["line"] == 6)
        .expect("the langfuse.trace() call on index.ts:6");
    assert_eq!(trace["severity"], "blocker");
    assert_eq!(
        trace["subject"],
        "langfuse.trace() / .span() / .generation()"
    );
    assert!(
        trace["action"]
            .as_str()
            .unwrap()
            .contains("startActiveObservation")
    );
    assert_eq!(
        trace["guide"],
        "https://langfuse.com/docs/observability/sdk/upgrade-path/js-v3-to-v4"
    );
}

#[test]
fn every_fixture_keeps_its_secrets_out_of_text_and_json_output() {
    for app in [
        "py-v2-decorators",
        "py-v3-update-trace",
        "js-v3-trace",
        "js-v4-update-active-trace",
        "up-to-date",
        "monorepo",
        "langsmith-app",
    ] {
        no_secret(&run(&[&fixture(app), "--target-version", "v4"]));
        no_secret(&run(&[&fixture(app), "--json"]));
    }
}

#[test]
fn exit_codes_ready_changes_needed_and_could_not_check() {
    let ready = run(&[&fixture("up-to-date"), "--target-version", "4.59.0"]);
    assert_eq!(ready.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ready.stdout).contains("ready for Langfuse 4.59.0"));

    let warnings = run(&[
        &fixture("js-v4-update-active-trace"),
        "--target-version",
        "4.59.0",
    ]);
    assert_eq!(warnings.status.code(), Some(1));
    let text = String::from_utf8_lossy(&warnings.stdout);
    assert!(
        text.contains("warning src/handler.ts:5 updateActiveTrace()"),
        "{text}"
    );

    let missing = run(&["/no/such/app", "--target-version", "v4"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr).trim(),
        "error: the folder /no/such/app does not exist"
    );
    let bad = run(&[&fixture("up-to-date"), "--target-version", "seven"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not understood"));
}

#[tokio::test(flavor = "multi_thread")]
async fn target_url_reads_the_servers_version_from_its_health_endpoint() {
    let v4 = Sandbox::start(SandboxConfig {
        profile: ServerProfile::V4_16,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    // This profile reports 4.16.0: Python SDK v5 needs 4.59.0 or later.
    let url = v4.url();
    let out = tokio::task::spawn_blocking(move || {
        run(&[&fixture("up-to-date"), "--target-url", &url, "--json"])
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["target"]["version"], "4.16.0");
    assert_eq!(r["target"]["generation"], "v4");
    assert_eq!(r["verdict"], "blocked");
    assert_eq!(r["findings"][0]["file"], "pyproject.toml");
    assert_eq!(r["findings"][0]["line"], 8);

    let unreachable = tokio::task::spawn_blocking(|| {
        run(&[&fixture("up-to-date"), "--target-url", "http://127.0.0.1:9"])
    })
    .await
    .unwrap();
    assert_eq!(unreachable.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("could not be read"));
}
