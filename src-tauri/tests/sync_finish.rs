//! A live sync started from the app, through the app's own functions with real sandboxes over
//! HTTP and the real journal: Finish works for a sync that is not running in this window (it is
//! resumed for its last pass, validation and cut-over), and the LLM connection keys typed for a
//! sync are kept in the real keychain for a resume, which creates the connection with them.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use langfuse_migrator::AppState;
use langfuse_migrator::migration::Migrations;
use langfuse_migrator::migration::llm_keys::entry_id;
use langfuse_migrator::migration::request::PlanRequest;
use langfuse_migrator::migration::sync::{
    SyncRequest, SyncTimingView, finish_stopped, start_live_sync, stored_sync_view,
};
use langfuse_migrator::migration::views::RunPhase;
use langfuse_migrator::secrets::{KeychainStatus, KeychainStore, Secrets, SessionStore};
use langfuse_sandbox::{SampleSpec, Sandbox, SandboxConfig, ServerProfile};
use migrator_engine::profile::{Connection, LangfuseSettings, ProfileDraft, ProfileId};
use secrecy::SecretString;
use tauri::ipc::Channel;

async fn sandbox(sample: Option<SampleSpec>) -> Sandbox {
    Sandbox::start(SandboxConfig {
        profile: ServerProfile::V3,
        visibility_delay: Some(Duration::from_millis(20)),
        sample,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
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

fn request(source: ProfileId, target: ProfileId, entities: &[&str]) -> PlanRequest {
    PlanRequest::between(source, target, entities)
}

fn quick() -> SyncRequest {
    SyncRequest {
        timing: SyncTimingView {
            poll_secs: 0.3,
            settle_secs: 0.3,
            lookback_secs: 30.0,
        },
        drain_secs: None,
        rate_share_percent: 100,
    }
}

fn quiet() -> langfuse_migrator::migration::hub::RunChannel {
    Channel::new(|_| Ok(()))
}

/// Waits until the run of this session has stopped; returns how it ended.
async fn stopped(migrations: &Migrations, run_id: &str) -> RunPhase {
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
            started.elapsed() < Duration::from_secs(90),
            "the run did not end"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ids(dump: &serde_json::Value, entity: &str) -> Vec<String> {
    let mut out: Vec<String> = dump[entity]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finish_on_a_sync_that_is_not_running_here_resumes_it_for_its_last_pass_and_cuts_it_over() {
    let source = sandbox(Some(SampleSpec {
        seed: 12,
        traces: 20,
        observations_per_trace: 2,
    }))
    .await;
    let target = sandbox(None).await;
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(Secrets::new(
        Arc::new(SessionStore::default()),
        Duration::from_secs(5),
    ));
    secrets.check(|_| {});
    secrets.use_session_only();
    let app = Arc::new(AppState::new(dir.path().to_path_buf(), secrets));
    let s = save(&app, None, "source", &source.url(), "sk-lf-sandbox");
    let t = save(&app, None, "target", &target.url(), "sk-lf-sandbox");
    let migrations = Migrations::new(dir.path().join("data"));
    let view = start_live_sync(
        &app,
        &migrations,
        request(s, t, &["traces", "observations", "scores"]),
        quick(),
        HashMap::new(),
        BTreeMap::new(),
        quiet(),
    )
    .await
    .unwrap();
    let run_id = view.run_id.clone();
    // The backfill done, the sync is stopped (as an app restart or Cancel leaves it).
    let started = Instant::now();
    while stored_sync_view(&migrations.data_dir, &run_id).is_none_or(|v| v.passes < 2) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no follow pass"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    migrations.hub.get(&run_id).unwrap().control.cancel();
    assert_eq!(stopped(&migrations, &run_id).await, RunPhase::Cancelled);
    let before = stored_sync_view(&migrations.data_dir, &run_id).unwrap();
    assert!(before.cut_over.is_none());

    finish_stopped(&app, &migrations, run_id.clone(), quiet())
        .await
        .expect("a stopped sync can be finished");
    assert_eq!(stopped(&migrations, &run_id).await, RunPhase::Completed);
    let after = stored_sync_view(&migrations.data_dir, &run_id).unwrap();
    let cut = after.cut_over.expect("cut over");
    assert!(cut.validation_clean, "{cut:?}");
    assert!(after.passes > before.passes, "a last pass ran");
    target.settle();
    for entity in ["traces", "observations", "scores"] {
        assert_eq!(
            ids(&target.dump(), entity),
            ids(&source.dump(), entity),
            "{entity}"
        );
    }
    // Cut over: nothing left to finish.
    let again = finish_stopped(&app, &migrations, run_id.clone(), quiet()).await;
    assert!(again.unwrap_err().to_string().contains("already cut over"),);
}

const TYPED: &str = "sk-typed-openai-0815";

fn test_service() -> String {
    format!("langfuse-migrator-syncfinish-test-{}", std::process::id())
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_typed_for_a_sync_wait_in_the_keychain_and_its_resume_creates_the_connection_with_them()
 {
    let secrets = Arc::new(Secrets::new(
        Arc::new(KeychainStore::with_service(&test_service())),
        Duration::from_secs(15),
    ));
    if secrets.check(|_| {}) != KeychainStatus::Available {
        assert!(
            std::env::var_os("LANGFUSE_MIGRATOR_REQUIRE_KEYCHAIN").is_none(),
            "scripts/test.sh provides a Secret Service"
        );
        eprintln!("SKIPPED: no Secret Service here; scripts/test.sh runs this test for real");
        return;
    }
    let source = sandbox(Some(SampleSpec {
        seed: 5,
        traces: 2,
        observations_per_trace: 1,
    }))
    .await;
    source.load_settings_sample();
    let target = sandbox(None).await;
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(AppState::new(dir.path().to_path_buf(), secrets));
    let s = save(&app, None, "source", &source.url(), "sk-lf-sandbox");
    // A wrong target key: the sync stops before it writes anything.
    let t = save(&app, None, "target", &target.url(), "sk-lf-wrong");
    let migrations = Migrations::new(dir.path().join("data"));
    let keys = BTreeMap::from([
        ("openai".to_string(), SecretString::from(TYPED)),
        ("bedrock-eu".to_string(), SecretString::from("")),
    ]);
    let view = start_live_sync(
        &app,
        &migrations,
        request(s, t.clone(), &["llm_connections"]),
        quick(),
        HashMap::new(),
        keys,
        quiet(),
    )
    .await
    .unwrap();
    let run_id = view.run_id.clone();
    assert_eq!(stopped(&migrations, &run_id).await, RunPhase::Failed);
    let kept: BTreeMap<String, String> =
        serde_json::from_str(&keychain_entry(&run_id).expect("kept for a resume")).unwrap();
    assert_eq!(kept, BTreeMap::from([("openai".into(), TYPED.into())]));

    // The key is fixed; the sync is resumed (to finish) and reads the LLM key back.
    save(&app, Some(t), "target", &target.url(), "sk-lf-sandbox");
    finish_stopped(&app, &migrations, run_id.clone(), quiet())
        .await
        .unwrap();
    let end = stopped(&migrations, &run_id).await;
    assert!(
        matches!(end, RunPhase::Completed | RunPhase::CompletedWithFailures),
        "{end:?}"
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
    // Cut over for good: the keys are gone.
    assert_eq!(keychain_entry(&run_id), None);
}
