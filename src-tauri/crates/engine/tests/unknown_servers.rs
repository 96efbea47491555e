//! Servers that do not say plainly what they are: a development build reports `dev` or a git
//! sha instead of a release, and a broken project lookup must not pass for a working
//! connection. Real sandboxes over HTTP.

mod common;
use langfuse_sandbox::{Sandbox, SandboxConfig, ServerProfile};
use migrator_engine::{Generation, LangfuseEndpoint, check_connection};

async fn start(profile: ServerProfile, config: SandboxConfig) -> Sandbox {
    Sandbox::start(SandboxConfig { profile, ..config })
        .await
        .expect("sandbox starts")
}

fn endpoint(s: &Sandbox) -> LangfuseEndpoint {
    LangfuseEndpoint::new(&s.url(), "pk-lf-sandbox", "sk-lf-sandbox")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_development_build_is_recognised_by_what_it_serves() {
    for version in ["dev", "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39", "main"] {
        for (profile, generation) in [
            (ServerProfile::V2, Generation::V2),
            (ServerProfile::V3, Generation::V3),
            (ServerProfile::V4, Generation::V4),
        ] {
            let s = start(
                profile,
                SandboxConfig {
                    health_version: Some(version.into()),
                    ..SandboxConfig::default()
                },
            )
            .await;
            let info = check_connection(&endpoint(&s)).await.unwrap();
            assert_eq!(
                info.generation, generation,
                "{profile:?} reporting {version}"
            );
            assert_eq!(info.server_version, version);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_project_lookup_fails_the_connection_check() {
    for status in [500, 404, 502] {
        let s = start(
            ServerProfile::V3,
            SandboxConfig {
                failing_paths: vec![("/api/public/projects".into(), status)],
                ..SandboxConfig::default()
            },
        )
        .await;
        let e = check_connection(&endpoint(&s)).await.unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(&s.url()) && text.contains(&format!("{status}")),
            "{text}"
        );
        assert!(text.contains("project"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_addresses_of_one_project_are_refused_as_source_and_target() {
    let s = start(
        ServerProfile::V3,
        SandboxConfig {
            sample: Some(langfuse_sandbox::SampleSpec {
                seed: 81,
                traces: 5,
                observations_per_trace: 2,
            }),
            ..SandboxConfig::default()
        },
    )
    .await;
    let before = s.counts();
    let other_spelling = s.url().replace("127.0.0.1", "localhost");
    let mut plan = common::plan(
        migrator_engine::EndpointSpec::Langfuse(endpoint(&s)),
        migrator_engine::EndpointSpec::Langfuse(LangfuseEndpoint::new(
            &other_spelling,
            "pk-lf-sandbox",
            "sk-lf-sandbox",
        )),
    );
    plan.options.request_timeout_secs = 5;
    let e = migrator_engine::preflight(&plan).await.unwrap_err();
    assert!(e.to_string().contains("are the same project"), "{e}");
    let data = tempfile::tempdir().unwrap();
    let e = migrator_engine::run(
        plan,
        data.path(),
        migrator_engine::NoProgress,
        migrator_engine::RunControl::new(),
        false,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("are the same project"), "{e}");
    s.settle();
    assert_eq!(s.counts(), before);
}
