//! One driver per run, as the app sees it: a run another window or process drives shows as such
//! and is not resumed here, and two Resume clicks at once start the run once. Real sandboxes
//! over HTTP, the real journal and lock files, profiles with secrets in the session store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use langfuse_migrator::AppState;
use langfuse_migrator::migration::request::{ExistingPolicy, OperatingSettings, PlanRequest};
use langfuse_migrator::migration::views::RunPhase;
use langfuse_migrator::migration::{Migrations, resume, run_views};
use langfuse_migrator::secrets::{Secrets, SessionStore};
use langfuse_sandbox::{FaultConfig, FaultKind, SampleSpec, Sandbox, SandboxConfig, ServerProfile};
use migrator_engine::profile::{Connection, LangfuseSettings, ProfileDraft, ProfileId};
use migrator_engine::{NoProgress, Plan, RunControl, RunState};
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

fn save(app: &AppState, name: &str, url: &str) -> ProfileId {
    let draft = ProfileDraft {
        id: None,
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
        .save(draft, Some(SecretString::from("sk-lf-sandbox")))
        .unwrap();
    saved.saved.expect("profile saved").profile.id
}

struct Setup {
    app: Arc<AppState>,
    migrations: Migrations,
    plan: Plan,
    source: Sandbox,
    target: Sandbox,
    _dir: tempfile::TempDir,
}

async fn setup(seed: u64) -> Setup {
    let source = sandbox(Some(SampleSpec {
        seed,
        traces: 60,
        observations_per_trace: 4,
    }))
    .await;
    let target = sandbox(None).await;
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(Secrets::new(
        Arc::new(SessionStore::default()),
        Duration::from_secs(5),
    ));
    // An in-memory "keychain" that persists nothing counts as unavailable once checked; then the
    // user's choice of session-only secrets applies.
    secrets.check(|_| {});
    secrets.use_session_only();
    let app = Arc::new(AppState::new(dir.path().to_path_buf(), secrets));
    let (s, t) = (
        save(&app, "source", &source.url()),
        save(&app, "target", &target.url()),
    );
    let request = PlanRequest {
        source_id: s.clone(),
        target_id: t.clone(),
        entities: vec!["traces".into(), "observations".into(), "scores".into()],
        from_day: None,
        to_day: None,
        environments: vec![],
        trace_names: vec![],
        tags: vec![],
        on_existing: ExistingPolicy::Skip,
        run_tag: true,
        window_end: None,
        source_cloud_plan: None,
        target_cloud_plan: None,
        projects: None,
    };
    let plan = request
        .to_plan(
            &app.profiles.credentials(&s).unwrap(),
            &app.profiles.credentials(&t).unwrap(),
        )
        .unwrap();
    let migrations = Migrations::new(dir.path().join("data"));
    Setup {
        app,
        migrations,
        plan,
        source,
        target,
        _dir: dir,
    }
}

fn slow(target: &Sandbox, ms: u64) {
    target.set_faults(FaultConfig {
        rate: 1.0,
        kinds: vec![FaultKind::Slow],
        slow_ms: ms,
        ..Default::default()
    });
}

fn quiet_channel() -> langfuse_migrator::migration::hub::RunChannel {
    Channel::new(|_| Ok(()))
}

async fn wait_for_run(migrations: &Migrations) -> String {
    let started = Instant::now();
    loop {
        if let Some(v) = run_views(migrations).await.unwrap().first() {
            return v.run_id.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no run");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_another_window_drives_shows_as_such_and_is_not_resumed_here() {
    let s = setup(61).await;
    slow(&s.target, 40);
    // Another window (or process) drives the run: its own engine call, its own lock handle.
    let elsewhere = tokio::spawn({
        let (plan, dir) = (s.plan.clone(), s.migrations.data_dir.clone());
        async move { migrator_engine::run(plan, &dir, NoProgress, RunControl::new(), false).await }
    });
    let run_id = wait_for_run(&s.migrations).await;
    let view = run_views(&s.migrations).await.unwrap().remove(0);
    assert_eq!(view.phase, RunPhase::RunningElsewhere, "{view:?}");
    assert!(!view.phase.can_resume());

    let e = resume(&s.app, &s.migrations, run_id.clone(), None, quiet_channel())
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("is running in another window or process"),
        "{e}"
    );
    assert!(
        !elsewhere.is_finished(),
        "the run ended too early to prove anything"
    );
    s.target.set_faults(FaultConfig::default());
    let report = elsewhere.await.unwrap().unwrap();
    assert_eq!(report.state, RunState::Completed, "{report:#?}");
    s.target.settle();
    assert_eq!(
        s.target.counts()["observations"],
        s.source.counts()["observations"]
    );
    let view = run_views(&s.migrations).await.unwrap().remove(0);
    assert_eq!(view.phase, RunPhase::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_resume_clicks_at_once_start_the_run_once() {
    let s = setup(62).await;
    // A run that stopped half way (cancelled), so there is something to resume.
    slow(&s.target, 10);
    let control = RunControl::new();
    let first = tokio::spawn({
        let (plan, dir, c) = (
            s.plan.clone(),
            s.migrations.data_dir.clone(),
            control.clone(),
        );
        async move { migrator_engine::run(plan, &dir, NoProgress, c, false).await }
    });
    while s.target.counts()["observations"] < 40 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    control.cancel();
    let report = first.await.unwrap().unwrap();
    assert_eq!(report.state, RunState::Cancelled);
    slow(&s.target, 40);

    // Both clicks ask for gentler settings, which a resume may change.
    let gentle = OperatingSettings {
        concurrency: Some(1),
        request_timeout_secs: Some(60),
        requests_per_minute: None,
    };
    let (a, b) = tokio::join!(
        resume(
            &s.app,
            &s.migrations,
            report.run_id.clone(),
            Some(gentle.clone()),
            quiet_channel()
        ),
        resume(
            &s.app,
            &s.migrations,
            report.run_id.clone(),
            Some(gentle.clone()),
            quiet_channel()
        ),
    );
    let oks = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
    assert_eq!(oks, 1, "{a:?} / {b:?}");
    let refused = a.err().or(b.err()).unwrap().to_string();
    assert!(
        refused.contains("already running") || refused.contains("another window or process"),
        "{refused}"
    );
    // The window keeps following the run that did start.
    assert!(s.migrations.hub.is_live(&report.run_id));
    s.target.set_faults(FaultConfig::default());
    let started = Instant::now();
    while s.migrations.hub.is_live(&report.run_id) {
        assert!(started.elapsed() < Duration::from_secs(60), "resume hangs");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let view = s.migrations.hub.get(&report.run_id).unwrap().view();
    assert_eq!(view.phase, RunPhase::Completed, "{view:?}");
    s.target.settle();
    assert_eq!(
        s.target.counts()["observations"],
        s.source.counts()["observations"]
    );
}
