//! The zero-downtime cutover in sample mode, through the app's own functions with the real
//! sample servers, the sample application and the real journal: the sample application starts
//! writing with the sync (the source holds just the sample data before); the `.env` switch of a sample
//! run is refused for any file but the sample application's own `.env`; that one switches, the
//! sample application then writes to the target and the source goes quiet; Finish validates
//! clean; rolling the switch back puts the `.env` back byte for byte and copies what the
//! application wrote to the target back to the source, and that copy-back validates clean.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use langfuse_migrator::AppState;
use langfuse_migrator::migration::after::{apply_cutover, restore_cutover, validate};
use langfuse_migrator::migration::request::PlanRequest;
use langfuse_migrator::migration::sync::{
    SyncRequest, SyncTimingView, copy_back, start_live_sync, stored_sync_view,
};
use langfuse_migrator::migration::views::RunPhase;
use langfuse_migrator::migration::{MigrationError, Migrations, remember_sample};
use langfuse_migrator::sample::{self, SampleSet};
use langfuse_migrator::secrets::{Secrets, SessionStore};
use langfuse_sandbox::sample_app;
use migrator_engine::profile::ProfileId;
use serde_json::Value;
use tauri::ipc::Channel;

fn quiet<T: tauri::ipc::IpcResponse>() -> Channel<T> {
    Channel::new(|_| Ok(()))
}

fn request() -> PlanRequest {
    PlanRequest::between(
        ProfileId::from(sample::SOURCE_ID),
        ProfileId::from(sample::TARGET_ID),
        &["traces", "observations", "scores"],
    )
}

fn quick() -> SyncRequest {
    SyncRequest {
        timing: SyncTimingView {
            poll_secs: 0.5,
            settle_secs: 1.0,
            lookback_secs: 120.0,
        },
        drain_secs: None,
        rate_share_percent: 100,
    }
}

async fn dump(url: &str) -> Value {
    reqwest::get(format!("{url}/_sandbox/dump"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Traces the sample application wrote to the server at `url`, by id.
async fn app_traces(url: &str) -> Vec<String> {
    let mut ids: Vec<String> = dump(url).await["traces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == sample_app::TRACE_NAME)
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn wait_for(what: &str, secs: u64, mut ok: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !ok().await {
        assert!(started.elapsed() < Duration::from_secs(secs), "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn stopped(migrations: &Migrations, run_id: &str) -> RunPhase {
    let mut phase = RunPhase::Starting;
    wait_for("the run did not end", 180, async || {
        let view = migrations
            .hub
            .get(run_id)
            .expect("a run of this session")
            .view();
        phase = view.phase;
        !view.live && view.phase.is_final()
    })
    .await;
    phase
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_sync_switches_only_the_sample_applications_env_and_the_whole_cutover_works() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(Secrets::new(
        Arc::new(SessionStore::default()),
        Duration::from_secs(5),
    ));
    secrets.check(|_| {});
    secrets.use_session_only();
    let app = Arc::new(AppState::new(dir.path().to_path_buf(), secrets));
    let migrations = Migrations::new(dir.path().join("data"));
    let set = SampleSet::start(&migrations.data_dir).await.unwrap();
    let info = remember_sample(&migrations, set).await;
    let app_env = std::path::Path::new(&info.app_folder).join(".env");
    assert_eq!(
        app_env,
        migrations.data_dir.join("sample-app").join(".env"),
        "the sample application lives in the data dir"
    );
    let env_before = std::fs::read(&app_env).unwrap();
    let (source_url, target_url) = (
        sample::sample_url(&info.source).to_owned(),
        sample::sample_url(&info.target).to_owned(),
    );
    // Until a sync follows the source, it holds just the sample data (plain sample migrations
    // count on that).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(app_traces(&source_url).await, Vec::<String>::new());

    let view = start_live_sync(
        &app,
        &migrations,
        request(),
        quick(),
        HashMap::new(),
        BTreeMap::new(),
        quiet(),
    )
    .await
    .unwrap();
    let run_id = view.run_id.clone();
    // The sync started the sample application: it writes to the sample source.
    wait_for(
        "the sample application wrote nothing to the source",
        30,
        async || !app_traces(&source_url).await.is_empty(),
    )
    .await;
    wait_for("no follow pass", 120, async || {
        stored_sync_view(&migrations.data_dir, &run_id).is_some_and(|v| v.passes >= 2)
    })
    .await;

    // Another application's .env: refused with a sentence that names the one that works.
    let other = dir.path().join("my-app");
    std::fs::create_dir_all(&other).unwrap();
    let other_env = other.join(".env");
    let other_text =
        format!("LANGFUSE_HOST={source_url}\nLANGFUSE_PUBLIC_KEY=pk\nLANGFUSE_SECRET_KEY=sk\n");
    std::fs::write(&other_env, &other_text).unwrap();
    let refused = apply_cutover(&app, &migrations, run_id.clone(), other_env.clone())
        .await
        .expect_err("another .env is not switched to a sample server");
    assert!(
        matches!(refused, MigrationError::SampleCutover { .. }),
        "{refused}"
    );
    let sentence = refused.to_string();
    assert!(
        sentence.contains(&app_env.display().to_string()),
        "{sentence}"
    );
    assert_eq!(std::fs::read_to_string(&other_env).unwrap(), other_text);

    // The sample application's own .env switches, and the application follows it.
    let switched = apply_cutover(&app, &migrations, run_id.clone(), app_env.clone())
        .await
        .expect("the sample application's .env is switched");
    assert!(switched.restored_at.is_none());
    let env_now = std::fs::read_to_string(&app_env).unwrap();
    assert!(
        env_now.contains(&format!("LANGFUSE_HOST={target_url}")),
        "{env_now}"
    );
    let at_switch = app_traces(&source_url).await;
    wait_for(
        "the sample application wrote nothing to the target",
        30,
        async || app_traces(&target_url).await.len() >= 2,
    )
    .await;
    assert_eq!(
        app_traces(&source_url).await,
        at_switch,
        "the source is quiet once the application writes to the target"
    );

    // Finish: last pass, validation of the whole window, cut over.
    migrations.hub.get(&run_id).unwrap().control.finish();
    assert_eq!(stopped(&migrations, &run_id).await, RunPhase::Completed);
    let cut = stored_sync_view(&migrations.data_dir, &run_id)
        .unwrap()
        .cut_over
        .expect("cut over");
    assert!(cut.validation_clean, "{cut:?}");

    // Roll back the switch: the .env byte for byte, then the copy-back of what the
    // application wrote to the target since the switch.
    let restored = restore_cutover(&migrations, run_id.clone()).await.unwrap();
    assert!(restored.restored_at.is_some());
    assert_eq!(std::fs::read(&app_env).unwrap(), env_before);
    let written_to_target = app_traces(&target_url).await;
    let back = copy_back(&app, &migrations, run_id.clone(), quiet())
        .await
        .expect("the copy-back starts");
    assert_eq!(
        stopped(&migrations, &back.run_id).await,
        RunPhase::Completed
    );
    let in_source = app_traces(&source_url).await;
    for id in &written_to_target {
        assert!(in_source.contains(id), "{id} was not copied back");
    }
    let validation = validate(&app, &migrations, back.run_id.clone(), quiet())
        .await
        .unwrap();
    assert!(validation.clean, "{validation:?}");
    // Restored, the application writes to the source again.
    let count = in_source.len();
    wait_for(
        "the sample application does not write to the source again",
        30,
        async || app_traces(&source_url).await.len() > count,
    )
    .await;
}
