//! The CLI copies LLM connections with the keys a plan names by environment variable
//! (`[target.llm_key_env]`); a connection without one fails with the manual step, exit code 1;
//! no key reaches the output or the journal.

use langfuse_sandbox::{Sandbox, SandboxConfig, ServerProfile};
use serde_json::Value;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_langfuse-migrator-cli");

async fn start(profile: ServerProfile) -> Sandbox {
    Sandbox::start(SandboxConfig {
        validate_requests: true,
        profile,
        public_key: "pk-lf-x".into(),
        secret_key: "sk-lf-x".into(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_names_llm_keys_by_variable_and_a_connection_without_one_is_a_manual_step() {
    let source = start(ServerProfile::V3).await;
    source.load_settings_sample();
    let target = start(ServerProfile::V4).await;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        format!(
            r#"[source]
kind = "langfuse"
url = "{}"
public_key = "pk-lf-x"
secret_key_env = "LF_SK"

[target]
kind = "langfuse"
url = "{}"
public_key = "pk-lf-x"
secret_key_env = "LF_SK"
llm_key_env = {{ openai = "MY_OPENAI_KEY", my-gateway = "MY_GATEWAY_KEY", bedrock-eu = "UNSET_BEDROCK_KEY" }}

[scope]
entities = ["llm_connections"]
from = "2020-01-01T00:00:00Z"
to = "2030-01-01T00:00:00Z"
"#,
            source.url(),
            target.url()
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let (plan_s, data_c) = (plan.to_str().unwrap().to_string(), data.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["run", "--plan", &plan_s, "--json", "--data-dir"])
            .arg(&data_c)
            .env("LF_SK", "sk-lf-x")
            .env("MY_OPENAI_KEY", "sk-openai-from-env-4242")
            .env("MY_GATEWAY_KEY", "gw-from-env-5353")
            .env_remove("UNSET_BEDROCK_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "one connection failed: {report:#}\n{stderr}"
    );
    assert_eq!(
        report["entities"]["llm_connections"]["written"], 2,
        "{report:#}"
    );
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{report:#}");
    let reason = failures[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("bedrock-eu") && reason.contains("Settings → LLM Connections"),
        "{reason}"
    );

    let secrets: std::collections::BTreeMap<String, String> = target.dump()["llm_connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["provider"].as_str().unwrap().to_string(),
                c["secretKey"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        secrets,
        [
            ("my-gateway".to_string(), "gw-from-env-5353".to_string()),
            ("openai".to_string(), "sk-openai-from-env-4242".to_string()),
        ]
        .into()
    );
    let run_dir = data.join("runs").join(report["run_id"].as_str().unwrap());
    for key in ["sk-openai-from-env-4242", "gw-from-env-5353"] {
        assert!(!String::from_utf8_lossy(&out.stdout).contains(key));
        assert!(!stderr.contains(key));
        for f in std::fs::read_dir(&run_dir).unwrap() {
            let path = f.unwrap().path();
            if !path.is_file() {
                continue;
            }
            let bytes = std::fs::read(path).unwrap();
            assert!(
                !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                "{key} journaled"
            );
        }
    }
}
