//! What the app writes where the user asked (native save dialog paths): the validation report
//! with the run's checklist, and the failed objects as CSV. Against a real copy between two
//! sandboxes over HTTP, validated by the engine.

use std::time::Duration;

use langfuse_migrator::migration::after::{ReportFormat, write_report};
use langfuse_migrator::migration::checklist::set_manual;
use langfuse_migrator::migration::views::RunView;
use langfuse_migrator::migration::{Migrations, write_failures_csv};
use langfuse_sandbox::{SampleSpec, Sandbox, SandboxConfig, ServerProfile};
use migrator_engine::journal::run_dir;
use migrator_engine::{
    EndpointSpec, LangfuseEndpoint, NoProgress, Options, Plan, RunControl, Scope, Secret, Secrets,
    ValidateOptions,
};

async fn sandbox(sample: Option<SampleSpec>) -> Sandbox {
    Sandbox::start(SandboxConfig {
        profile: ServerProfile::V3,
        visibility_delay: Some(Duration::ZERO),
        sample,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saved_report_carries_the_checklist_and_a_clean_run_exports_no_failures() {
    let source = sandbox(Some(SampleSpec {
        seed: 3,
        traces: 20,
        observations_per_trace: 2,
    }))
    .await;
    let target = sandbox(None).await;
    let secret = "sk-lf-sandbox";
    let plan = Plan {
        source: EndpointSpec::Langfuse(LangfuseEndpoint::new(
            &source.url(),
            "pk-lf-sandbox",
            secret,
        )),
        target: EndpointSpec::Langfuse(LangfuseEndpoint::new(
            &target.url(),
            "pk-lf-sandbox",
            secret,
        )),
        scope: Scope::default(),
        options: Options::default(),
    };
    let data = tempfile::tempdir().unwrap();
    let run = migrator_engine::run(plan, data.path(), NoProgress, RunControl::new(), false)
        .await
        .expect("the copy runs");
    let migrations = Migrations::new(data.path().to_path_buf());

    // Not validated yet: saving says so instead of writing an empty report.
    let md = data.path().join("report.md");
    let err = write_report(&migrations, &run.run_id, &md, ReportFormat::Markdown).unwrap_err();
    assert!(err.to_string().contains("not been validated"), "{err}");

    let options = ValidateOptions {
        secrets: Secrets {
            source: Some(Secret::new(secret)),
            target: Some(Secret::new(secret)),
            ..Default::default()
        },
        settle_quiet: Duration::from_secs(1),
        ..ValidateOptions::default()
    };
    let report = migrator_engine::validate_run(&run.run_id, data.path(), &options, &|_| {})
        .await
        .expect("validation runs");
    assert!(report.is_clean());

    let view = RunView::new(run.run_id.clone(), String::new(), String::new(), false);
    set_manual(&run_dir(data.path(), &run.run_id), &view, "notify", true).unwrap();
    write_report(&migrations, &run.run_id, &md, ReportFormat::Markdown).unwrap();
    let markdown = std::fs::read_to_string(&md).unwrap();
    assert!(
        markdown.contains("- [x] Planning: Notify stakeholders"),
        "{markdown}"
    );
    assert!(
        markdown.contains("- [x] Validation: Verify trace counts"),
        "{markdown}"
    );
    assert!(
        markdown.contains("- [ ] Planning: Plan downtime window"),
        "{markdown}"
    );

    let html_path = data.path().join("report.html");
    write_report(&migrations, &run.run_id, &html_path, ReportFormat::Html).unwrap();
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("Notify stakeholders"));
    for text in [&markdown, &html] {
        assert!(
            !text.contains(secret),
            "a report must never contain a secret"
        );
    }

    let csv = data.path().join("failures.csv");
    assert_eq!(
        write_failures_csv(data.path(), &run.run_id, &csv).unwrap(),
        0
    );
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), "entity,id,reason\n");

    source.stop().await;
    target.stop().await;
}
