//! Helpers the CLI's test files share: the binary with a data folder and the sandboxes'
//! secrets in its environment, its output, its JSON report.
#![allow(dead_code)]

use langfuse_sandbox::{SampleSpec, Sandbox, SandboxConfig, ServerProfile};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_langfuse-migrator-cli");

/// The CLI with `args`, `--data-dir data`, and the secrets the plans name in its environment.
pub fn cli(args: &[&str], data: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .arg("--data-dir")
        .arg(data)
        .env("SOURCE_SECRET_KEY", "sk-lf-source-secret")
        .env("TARGET_SECRET_KEY", "sk-lf-target-secret")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs `c` to its end off the async runtime's threads.
pub async fn output(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

/// The JSON on stdout, or a failure that shows both streams.
pub fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A plan from `source` to `target` (both Langfuse, the keys in `SOURCE_SECRET_KEY` and
/// `TARGET_SECRET_KEY`) with these `[scope]` and `[options]` lines.
pub fn plan_text(source: &Sandbox, target: &Sandbox, scope: &str, options: &str) -> String {
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
{scope}

[options]
{options}
"#,
        source.url(),
        target.url()
    )
}

/// A sandbox of `profile` with these keys and sample data, whose writes show after 30 ms and
/// which checks every request the CLI sends against the API description.
pub async fn sandbox(
    profile: ServerProfile,
    pk: &str,
    sk: &str,
    sample: Option<SampleSpec>,
) -> Sandbox {
    Sandbox::start(SandboxConfig {
        validate_requests: true,
        profile,
        public_key: pk.into(),
        secret_key: sk.into(),
        visibility_delay: Some(Duration::from_millis(30)),
        sample,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

/// Fails with the command's stderr unless it exited 0.
pub fn assert_succeeded(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
