//! LLM connection keys typed in the plan, through the real keychain (a Secret Service, as
//! scripts/test.sh starts it; entries under a per-test service name): kept under the run's id
//! while the run may still be resumed, read again by a resume, which creates the connection with
//! the key, and deleted once the run ends for good. Never in the run folder.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use langfuse_migrator::AppState;
use langfuse_migrator::migration::after::rollback;
use langfuse_migrator::migration::llm_keys::entry_id;
use langfuse_migrator::migration::request::{ExistingPolicy, PlanRequest};
use langfuse_migrator::migration::views::RunPhase;
use langfuse_migrator::migration::{Migrations, resume, start};
use langfuse_migrator::secrets::{KeychainStatus, KeychainStore, Secrets};
use langfuse_sandbox::{SampleSpec, Sandbox, SandboxConfig, ServerProfile};
use migrator_engine::profile::{Connection, LangfuseSettings, ProfileDraft, ProfileId};
use secrecy::SecretString;
use tauri::ipc::Channel;

const TYPED: &str = "sk-typed-openai-4711";

fn test_service() -> String {
    format!("langfuse-migrator-llmkeys-test-{}", std::process::id())
}

fn keychain_entry(run_id: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            &test_service(),
            "username",
            entry_id(run_id).as_str(),
        ])
        .output()
        .expect("secret-tool is installed (libsecret-tools)");
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap())
}

fn save(app: &AppState, id: Option<ProfileId>, name: &str, url: &str, secret: &str) -> ProfileId {
    let draft = ProfileDraft {
        id,
        name: name.into(),
        connection: Connection::Langfuse(LangfuseSettings {
            host: url.into(),
            public_key: "pk-lf-sandbox".into(),
            cloud_plan: Default::default(),
            ca_file: None,
            allow_plain_http: false,
        }),
    };
    let saved = app
        .profiles
        .save(draft, Some(SecretString::from(secret)))
        .unwrap();
    saved.saved.expect("profile saved").profile.id
}

async fn finished(migrations: &Migrations, run_id: &str) -> RunPhase {
    let started = Instant::now();
    loop {
        let view = migrations
            .hub
            .get(run_id)
            .expect("a run of this session")
            .view();
        if !view.live && view.phase.is_final() {
            return view.phase;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run did not end"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn files_holding(dir: &std::path::Path, needle: &str) -> Vec<std::path::PathBuf> {
    let mut hits = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            hits.extend(files_holding(&p, needle));
        } else if std::fs::read(&p)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            hits.push(p);
        }
    }
    hits
}

struct Stopped {
    app: Arc<AppState>,
    migrations: Migrations,
    target: Sandbox,
    target_id: ProfileId,
    run_id: String,
    dir: tempfile::TempDir,
    _source: Sandbox,
}

/// A run started with a typed OpenAI key (the other connections skipped) that failed on a wrong
/// target key before writing anything: a run a resume continues. `None` without a keychain.
async fn stopped_run() -> Option<Stopped> {
    let secrets = Arc::new(Secrets::new(
        Arc::new(KeychainStore::with_service(&test_service())),
        Duration::from_secs(15),
    ));
    let status = secrets.check(|_| {});
    if status != KeychainStatus::Available {
        assert!(
            std::env::var_os("LANGFUSE_MIGRATOR_REQUIRE_KEYCHAIN").is_none(),
            "scripts/test.sh provides a Secret Service"
        );
        eprintln!("SKIPPED: no Secret Service here; scripts/test.sh runs this test for real");
        return None;
    }
    let config = |sample| SandboxConfig {
        profile: ServerProfile::V3,
        visibility_delay: Some(Duration::from_millis(20)),
        sample,
        project_name: "Keys target".into(),
        ..SandboxConfig::default()
    };
    let source = Sandbox::start(config(Some(SampleSpec {
        seed: 3,
        traces: 4,
        observations_per_trace: 1,
    })))
    .await
    .unwrap();
    source.load_settings_sample();
    let target = Sandbox::start(config(None)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(AppState::new(dir.path().to_path_buf(), secrets));
    let s = save(&app, None, "source", &source.url(), "sk-lf-sandbox");
    // A wrong target key: the run stops before it writes anything, as a failed run that a
    // resume continues once the key is fixed.
    let t = save(&app, None, "target", &target.url(), "sk-lf-wrong");
    let migrations = Migrations::new(dir.path().join("data"));
    let request = PlanRequest {
        source_id: s,
        target_id: t.clone(),
        entities: vec!["llm_connections".into()],
        from_day: None,
        to_day: None,
        environments: vec![],
        trace_names: vec![],
        tags: vec![],
        on_existing: ExistingPolicy::Skip,
        run_tag: false,
        window_end: None,
        source_cloud_plan: None,
        target_cloud_plan: None,
        projects: None,
    };
    // The user typed a key for OpenAI and skipped the other two (an empty field).
    let keys = BTreeMap::from([
        ("openai".to_string(), SecretString::from(TYPED)),
        ("bedrock-eu".to_string(), SecretString::from("")),
    ]);
    let view = start(
        &app,
        &migrations,
        request,
        false,
        HashMap::new(),
        keys,
        Channel::new(|_| Ok(())),
    )
    .await
    .unwrap();
    let run_id = view.run_id.clone();
    assert_eq!(finished(&migrations, &run_id).await, RunPhase::Failed);
    Some(Stopped {
        app,
        migrations,
        target,
        target_id: t,
        run_id,
        dir,
        _source: source,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_keys_wait_in_the_keychain_for_a_resume_which_creates_the_connection_and_then_they_go()
 {
    let Some(Stopped {
        app,
        migrations,
        target,
        target_id: t,
        run_id,
        dir,
        _source,
    }) = stopped_run().await
    else {
        return;
    };
    // Kept for the resume, in the keychain under the run's id: only what was typed.
    let kept: BTreeMap<String, String> =
        serde_json::from_str(&keychain_entry(&run_id).expect("an entry for the run")).unwrap();
    assert_eq!(kept, BTreeMap::from([("openai".into(), TYPED.into())]));
    assert!(
        target.dump()["llm_connections"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The key is fixed; the resume reads the LLM key back from the keychain.
    save(&app, Some(t), "target", &target.url(), "sk-lf-sandbox");
    resume(
        &app,
        &migrations,
        run_id.clone(),
        None,
        Channel::new(|_| Ok(())),
    )
    .await
    .unwrap();
    // The two skipped connections are manual steps.
    assert_eq!(
        finished(&migrations, &run_id).await,
        RunPhase::CompletedWithFailures
    );
    let created: Vec<(String, String)> = target.dump()["llm_connections"]
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
    assert_eq!(created, [("openai".to_string(), TYPED.to_string())]);
    // The run cannot be resumed any more: its keys are gone from the keychain.
    assert_eq!(keychain_entry(&run_id), None);
    assert!(
        files_holding(dir.path(), TYPED).is_empty(),
        "{:?}",
        files_holding(dir.path(), TYPED)
    );
    let failures = migrations.hub.get(&run_id).unwrap().view().failures;
    assert!(
        failures
            .iter()
            .all(|f| !f.reason.contains(TYPED) && f.reason.contains("Settings → LLM Connections")),
        "{failures:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_run_has_its_keys_deleted() {
    let Some(s) = stopped_run().await else {
        return;
    };
    assert!(keychain_entry(&s.run_id).is_some(), "kept for a resume");
    save(
        &s.app,
        Some(s.target_id.clone()),
        "target",
        &s.target.url(),
        "sk-lf-sandbox",
    );
    rollback(
        &s.app,
        &s.migrations,
        s.run_id.clone(),
        "Keys target".into(),
        Channel::new(|_| Ok(())),
    )
    .await
    .unwrap();
    // Rolled back, the run is not resumed any more: its keys go.
    assert_eq!(keychain_entry(&s.run_id), None);
}
