//! LLM connections against sandboxes over real HTTP. The API never returns a connection's secret
//! key, so a connection is created in the target only with a key the user supplies; without one
//! it is a manual step named in the pre-flight and in the run report. Keys never reach the
//! journal. A rollback deletes the connections the run created and leaves the target's own.

mod common;
use common::*;
use langfuse_sandbox::{LLM_PROVIDERS, Sandbox, ServerProfile};
use migrator_engine::plan::EntitySelection;
use migrator_engine::{EndpointSpec, Entity, Plan, RunControl, Secret};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// The key a test supplies for each provider (unlike the source's own keys).
fn key_for(provider: &str) -> String {
    format!("sk-target-{provider}-7788")
}

/// A plan copying LLM connections only, with keys for `with_keys` (by provider).
fn connections_plan(source: &Sandbox, target: &Sandbox, with_keys: &[&str]) -> Plan {
    let mut t = endpoint(target);
    for p in with_keys {
        t.llm_keys.insert(p.to_string(), Secret::new(&key_for(p)));
    }
    let mut plan = plan(lf(source), EndpointSpec::Langfuse(t));
    plan.scope.entities = EntitySelection::Only(vec![Entity::LlmConnections]);
    plan
}

/// A dump's connections by provider, as the copy must preserve them: what the API lets a
/// client set (the secret and extra headers are checked apart).
fn connections(dump: &Value) -> BTreeMap<String, Value> {
    dump["llm_connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["provider"].as_str().unwrap().to_string(),
                json!({
                    "adapter": c["adapter"],
                    "baseURL": c["baseURL"],
                    "customModels": c["customModels"],
                    "withDefaultModels": c["withDefaultModels"],
                    "config": c["config"],
                }),
            )
        })
        .collect()
}

fn secrets_of(dump: &Value) -> BTreeMap<String, String> {
    dump["llm_connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["provider"].as_str().unwrap().to_string(),
                c["secretKey"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every file under `dir`, as bytes, contains none of `needles`.
fn assert_nowhere_in(dir: &Path, needles: &[String]) {
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap();
        for n in needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "{} holds the secret {n}",
                entry.display()
            );
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

async fn copies_connections_with_the_supplied_keys(source_profile: ServerProfile) {
    let source = sandbox(source_profile, None).await;
    source.load_settings_sample();
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let plan = connections_plan(&source, &target, &LLM_PROVIDERS);

    let report = copy(plan.clone(), data.path()).await;
    let c = &report.entities[&Entity::LlmConnections];
    assert_eq!((c.read, c.written, c.failed), (3, 3, 0), "{report:#?}");
    assert_eq!(connections(&target.dump()), connections(&source.dump()));
    let supplied: BTreeMap<String, String> = LLM_PROVIDERS
        .iter()
        .map(|p| (p.to_string(), key_for(p)))
        .collect();
    assert_eq!(
        secrets_of(&target.dump()),
        supplied,
        "each with the key supplied for it"
    );
    // The gateway's extra header value is not readable through the API: the report says so.
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("my-gateway") && w.contains("X-Team")),
        "{:?}",
        report.warnings
    );
    assert_nowhere_in(data.path(), &supplied.values().cloned().collect::<Vec<_>>());

    // Validation compares what the API shows; the missing header is the one difference.
    let v =
        migrator_engine::validate_run(&report.run_id, data.path(), &validate_options(), &|_| {})
            .await
            .unwrap();
    let rec = v
        .entities
        .iter()
        .find(|e| e.entity == "llm_connections")
        .expect("a row for LLM connections");
    assert_eq!(
        (
            rec.source_count,
            rec.target_count,
            rec.missing_count,
            rec.extra_count
        ),
        (3, 3, 0, 0)
    );
    assert_eq!(rec.differing_count, 1, "{rec:#?}");
    assert!(
        format!("{:?}", rec.differing).contains("extraHeaderKeys"),
        "{rec:#?}"
    );

    // A second run writes nothing (the target's connections are found by provider).
    let before = target.dump();
    let again = copy(plan, data.path()).await;
    let c = &again.entities[&Entity::LlmConnections];
    assert_eq!((c.written, c.skipped, c.failed), (0, 3, 0), "{again:#?}");
    assert_eq!(target.dump()["llm_connections"], before["llm_connections"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_to_v4_copies_llm_connections_with_the_supplied_keys_and_a_rerun_writes_nothing() {
    copies_connections_with_the_supplied_keys(ServerProfile::V4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_to_v4_copies_llm_connections_with_the_supplied_keys_and_a_rerun_writes_nothing() {
    copies_connections_with_the_supplied_keys(ServerProfile::V3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_without_a_key_is_a_manual_step_in_preflight_and_report() {
    let source = sandbox(ServerProfile::V4, None).await;
    source.load_settings_sample();
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let plan = connections_plan(&source, &target, &["openai"]);

    let pre = migrator_engine::preflight(&plan).await.unwrap();
    for p in ["bedrock-eu", "my-gateway"] {
        assert!(
            pre.warnings
                .iter()
                .any(|w| w.contains(p) && w.contains("key")),
            "pre-flight names {p}: {:?}",
            pre.warnings
        );
    }
    assert!(
        !pre.warnings.iter().any(|w| w.contains("\"openai\"")),
        "{:?}",
        pre.warnings
    );

    let report = copy(plan, data.path()).await;
    let c = &report.entities[&Entity::LlmConnections];
    assert_eq!((c.written, c.failed), (1, 2), "{report:#?}");
    let mut failed: Vec<(&str, &str)> = report
        .failures
        .iter()
        .filter(|f| f.entity == Entity::LlmConnections)
        .map(|f| (f.id.as_str(), f.reason.as_str()))
        .collect();
    failed.sort();
    // Named by the source's id, the reason naming the provider and the manual step.
    assert_eq!(
        failed.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        ["llm-bedrock", "llm-gateway"]
    );
    for ((_, reason), provider) in failed.iter().zip(["bedrock-eu", "my-gateway"]) {
        assert!(
            reason.contains(provider)
                && reason.contains("secret key")
                && reason.contains("Settings → LLM Connections"),
            "{reason}"
        );
    }
    assert_eq!(
        secrets_of(&target.dump()).into_keys().collect::<Vec<_>>(),
        ["openai"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_without_the_llm_connection_api_is_named_in_preflight() {
    let source = sandbox(ServerProfile::V2, None).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let plan = connections_plan(&source, &target, &[]);
    let pre = migrator_engine::preflight(&plan).await.unwrap();
    assert!(
        pre.warnings
            .iter()
            .any(|w| w.contains("LLM connections") && w.contains("source")),
        "{:?}",
        pre.warnings
    );
    let report = copy(plan, data.path()).await;
    let c = report
        .entities
        .get(&Entity::LlmConnections)
        .cloned()
        .unwrap_or_default();
    assert_eq!((c.read, c.written, c.failed), (0, 0, 0), "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_deletes_the_connections_the_run_created_and_keeps_the_targets_own() {
    let source = sandbox(ServerProfile::V4, None).await;
    source.load_settings_sample();
    let target = sandbox(ServerProfile::V4, None).await;
    // The target already has its own OpenAI connection: the run skips it, the rollback keeps it.
    target
        .insert_raw(
            "llm_connections",
            json!({"id": "mine", "provider": "openai", "adapter": "openai", "secretKey": "sk-mine-1", "config": {"useResponsesApi": true}}),
        )
        .unwrap();
    let before = target.dump()["llm_connections"].clone();
    let data = tempfile::tempdir().unwrap();
    let report = copy(
        connections_plan(&source, &target, &LLM_PROVIDERS),
        data.path(),
    )
    .await;
    let c = &report.entities[&Entity::LlmConnections];
    assert_eq!((c.written, c.skipped), (2, 1), "{report:#?}");

    let options = rollback_options();
    let rb = migrator_engine::rollback(
        &report.run_id,
        data.path(),
        &options,
        &RunControl::new(),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(rb.deleted.get(&Entity::LlmConnections), Some(&2), "{rb:#?}");
    assert_eq!(target.dump()["llm_connections"], before);
    let v = rb
        .verification
        .as_ref()
        .expect("the rollback checks its deletes");
    assert!(v.checked >= 2 && v.still_present.is_empty(), "{v:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_creates_the_connections_with_the_keys_the_caller_gives_it() {
    let source = sandbox(ServerProfile::V4, None).await;
    source.load_settings_sample();
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    // The app's start: no key in the plan file; the run stops before writing anything.
    let control = RunControl::new();
    control.cancel();
    let stopped = migrator_engine::run(
        connections_plan(&source, &target, &[]),
        data.path(),
        migrator_engine::NoProgress,
        control,
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        stopped.state,
        migrator_engine::RunState::Cancelled,
        "{stopped:#?}"
    );
    assert!(
        target.dump()["llm_connections"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The resume is handed the keys (the app reads them from the keychain), as a start is.
    let mut secrets = sandbox_secrets();
    for p in LLM_PROVIDERS {
        secrets
            .llm_keys
            .insert(p.to_string(), Secret::new(&key_for(p)));
    }
    let done = migrator_engine::resume(
        &stopped.run_id,
        data.path(),
        None,
        secrets,
        migrator_engine::NoProgress,
        RunControl::new(),
    )
    .await
    .unwrap();
    let c = &done.entities[&Entity::LlmConnections];
    assert_eq!((c.written, c.failed), (3, 0), "{done:#?}");
    let supplied: BTreeMap<String, String> = LLM_PROVIDERS
        .iter()
        .map(|p| (p.to_string(), key_for(p)))
        .collect();
    assert_eq!(secrets_of(&target.dump()), supplied);
    assert_nowhere_in(data.path(), &supplied.values().cloned().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preflight_lists_the_source_connections_a_key_can_be_given_for() {
    let source = sandbox(ServerProfile::V4, None).await;
    source.load_settings_sample();
    let target = sandbox(ServerProfile::V4, None).await;
    let pre = migrator_engine::preflight(&connections_plan(&source, &target, &["openai"]))
        .await
        .unwrap();
    let listed: Vec<(String, Option<String>, bool)> = pre
        .llm_connections
        .iter()
        .map(|c| (c.provider.clone(), c.base_url.clone(), c.has_key))
        .collect();
    let mut listed = listed;
    listed.sort();
    assert_eq!(
        listed,
        vec![
            ("bedrock-eu".to_string(), None, false),
            (
                "my-gateway".to_string(),
                Some("https://llm-gateway.example.com/v1".to_string()),
                false
            ),
            ("openai".to_string(), None, true),
        ]
    );
}
