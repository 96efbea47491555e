//! The sample application of "Try with sample data" against real servers with the request check
//! on: it sends what an SDK sends over OTLP to the server its `.env` names, each server takes it,
//! and once the `.env` names another server it sends there and nothing more to the first.

use std::time::{Duration, Instant};

use langfuse_sandbox::sample_app::{self, SampleApp};
use langfuse_sandbox::{Sandbox, SandboxConfig, ServerProfile};
use serde_json::Value;

async fn server(public_key: &str, secret_key: &str) -> Sandbox {
    Sandbox::start(SandboxConfig {
        profile: ServerProfile::V3,
        public_key: public_key.into(),
        secret_key: secret_key.into(),
        visibility_delay: Some(Duration::ZERO),
        validate_requests: true,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
}

fn traces(sb: &Sandbox) -> usize {
    sb.counts().get("traces").copied().unwrap_or(0)
}

async fn until(what: &str, ok: impl Fn() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < Duration::from_secs(30), "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_application_sends_sdk_shaped_traces_where_its_env_points_and_follows_a_switch()
{
    let source = server("pk-lf-source", "sk-lf-source-secret").await;
    let target = server("pk-lf-target", "sk-lf-target-secret").await;
    let dir = tempfile::tempdir().unwrap();
    let env = sample_app::write_env(
        &dir.path().join("sample-app"),
        &source.url(),
        "pk-lf-source",
        "sk-lf-source-secret",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&env).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the .env holds a secret key: owner-only"
        );
    }
    let app = SampleApp::start(env.clone(), Duration::from_millis(100));
    until("the application wrote no trace to the source", || {
        traces(&source) >= 2
    })
    .await;

    // What an SDK writes: a named trace, a span and a generation under it, both ended, naming
    // their SDK, service, release and environment.
    let dump = source.dump();
    let trace = &dump["traces"][0];
    assert_eq!(trace["name"], sample_app::TRACE_NAME);
    let observations = dump["observations"].as_array().unwrap();
    let of_trace: Vec<&Value> = observations
        .iter()
        .filter(|o| o["traceId"] == trace["id"])
        .collect();
    let mut types: Vec<&str> = of_trace
        .iter()
        .map(|o| o["type"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(types, ["GENERATION", "SPAN"]);
    for o in &of_trace {
        assert!(o["endTime"].is_string(), "ended: {o}");
        assert_eq!(o["release"], sample_app::RELEASE);
        assert_eq!(o["environment"], sample_app::ENVIRONMENT);
        let meta = &o["metadata"];
        assert_eq!(meta["scope"]["name"], sample_app::SDK_NAME, "{o}");
        assert_eq!(meta["scope"]["version"], sample_app::SDK_VERSION);
        assert_eq!(
            meta["resourceAttributes"]["service.name"],
            sample_app::SERVICE_NAME
        );
    }
    let generation = of_trace.iter().find(|o| o["type"] == "GENERATION").unwrap();
    assert_eq!(generation["model"], "sample-model");

    // The switch: the .env names the target now (other lines as they were).
    let text = std::fs::read_to_string(&env).unwrap();
    let switched = text
        .replace(&source.url(), &target.url())
        .replace("pk-lf-source", "pk-lf-target")
        .replace("sk-lf-source-secret", "sk-lf-target-secret");
    let to_source = app.sent().len();
    std::fs::write(&env, &switched).unwrap();
    app.follow_now().await;
    let at_switch = traces(&source);
    // The export `follow_now` made is the last one so far; it and all later ones read the new
    // .env.
    let sent_before = app.sent().len() - 1;
    until(
        "the application wrote nothing to the target after the switch",
        || traces(&target) >= 3,
    )
    .await;
    assert_eq!(traces(&source), at_switch, "the source still receives");
    let after: Vec<_> = app.sent().into_iter().skip(sent_before).collect();
    assert!(!after.is_empty());
    assert!(
        after
            .iter()
            .all(|s| s.host == target.url() && s.status == Some(200)),
        "{after:?}"
    );
    assert!(
        app.sent()[..to_source]
            .iter()
            .all(|s| s.host == source.url() && s.status == Some(200))
    );

    // A key the server refuses: the export is answered 401 and nothing is stored.
    std::fs::write(&env, switched.replace("sk-lf-target-secret", "sk-lf-wrong")).unwrap();
    app.follow_now().await;
    let held = traces(&target);
    app.follow_now().await;
    assert_eq!(app.sent().last().unwrap().status, Some(401));
    assert_eq!(traces(&target), held);
    app.stop().await;

    assert_eq!(source.take_request_violations(), Vec::<String>::new());
    assert_eq!(target.take_request_violations(), Vec::<String>::new());
}
