use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use langfuse_sandbox::{SampleSpec, SandboxConfig, ServerProfile};
use serde_json::Value;

use crate::common::*;

async fn dump_of(profile: ServerProfile, seed: u64) -> Value {
    let api = start(SandboxConfig {
        profile,
        sample: Some(SampleSpec {
            seed,
            traces: 12,
            observations_per_trace: 10,
        }),
        ..SandboxConfig::default()
    })
    .await;
    let d = api.sb.dump();
    api.sb.stop().await;
    d
}

#[tokio::test]
async fn the_same_seed_gives_the_same_project() {
    let a = dump_of(ServerProfile::V3, 5).await;
    let b = dump_of(ServerProfile::V3, 5).await;
    assert_eq!(a, b);
    let c = dump_of(ServerProfile::V3, 6).await;
    assert_ne!(a["observations"], c["observations"]);
}

#[tokio::test]
async fn sample_data_covers_what_a_migration_moves() {
    let d = dump_of(ServerProfile::V4, 9).await;
    let obs = d["observations"].as_array().unwrap();
    let types: BTreeSet<&str> = obs.iter().map(|o| o["type"].as_str().unwrap()).collect();
    for t in [
        "SPAN",
        "GENERATION",
        "EVENT",
        "AGENT",
        "TOOL",
        "CHAIN",
        "RETRIEVER",
        "EMBEDDING",
        "EVALUATOR",
        "GUARDRAIL",
    ] {
        assert!(types.contains(t), "{t} missing");
    }
    let levels: BTreeSet<&str> = obs.iter().map(|o| o["level"].as_str().unwrap()).collect();
    assert!(levels.len() >= 3);
    assert!(obs.iter().any(|o| o["type"] == "GENERATION"
        && o["promptName"].is_string()
        && o["costDetails"]["total"].is_number()));
    let prompt_ids: BTreeSet<&str> = d["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    for g in obs.iter().filter(|o| o["promptName"].is_string()) {
        assert!(
            prompt_ids.contains(g["promptId"].as_str().unwrap()),
            "generation links an existing prompt version"
        );
    }
    assert!(
        obs.iter().any(|o| o["input"].to_string().len() > 1_000_000),
        "a very large input"
    );
    let trace_ids: Vec<&str> = d["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(
        trace_ids
            .iter()
            .any(|t| t.len() == 32 && t.chars().all(|c| c.is_ascii_hexdigit())),
        "hex OTel ids"
    );
    assert!(
        obs.iter().any(|o| o["id"].as_str().unwrap().len() == 36),
        "dashed UUIDs"
    );
    let scores = d["scores"].as_array().unwrap();
    let kinds: BTreeSet<&str> = scores
        .iter()
        .map(|s| s["dataType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["BOOLEAN", "CATEGORICAL", "NUMERIC", "TEXT"])
    );
    assert!(
        scores
            .iter()
            .any(|s| s["sessionId"].is_string() && s["traceId"].is_null())
    );
    assert!(scores.iter().any(|s| s["observationId"].is_string()));
    for key in [
        "sessions",
        "datasets",
        "dataset_items",
        "dataset_runs",
        "dataset_run_items",
        "score_configs",
        "comments",
    ] {
        assert!(!d[key].as_array().unwrap().is_empty(), "{key}");
    }
    let prompts = d["prompts"].as_array().unwrap();
    assert!(
        prompts.iter().any(|p| p["type"] == "chat") && prompts.iter().any(|p| p["type"] == "text")
    );
    assert!(
        d["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["isLangfuseManaged"] == false)
    );
    let stamps: BTreeSet<&str> = obs
        .iter()
        .map(|o| &o["startTime"].as_str().unwrap()[..10])
        .collect();
    assert!(
        stamps.len() >= 10,
        "spread over weeks: {} days",
        stamps.len()
    );
}

#[tokio::test]
async fn the_binary_prints_its_url_first_and_serves_sample_data() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_langfuse-sandbox"))
        .args([
            "--port",
            "0",
            "--profile",
            "v3",
            "--plan",
            "none",
            "--public-key",
            "pk-x",
            "--secret-key",
            "sk-x",
            "--seed",
            "3",
            "--traces",
            "5",
            "--observations-per-trace",
            "3",
            "--visibility-delay-ms",
            "0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("first line names the URL")
        .to_string();
    let http = reqwest::Client::new();
    let traces: Value = http
        .get(format!("{url}/api/public/traces"))
        .basic_auth("pk-x", Some("sk-x"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    spec().check("trace_list", 200, &traces);
    assert_eq!(traces["meta"]["totalItems"], 5);
}
