//! `check_connection` and `preflight` against real sockets: each failure gets its own plain
//! message, and pre-flight counts what would move and what the target already holds.

mod common;
use common::*;
use langfuse_sandbox::ServerProfile;
use migrator_engine::vocab::CloudPlan;
use migrator_engine::{
    ConnectionError, EndpointSpec, EngineError, Entity, Generation, LangfuseEndpoint,
    check_connection, preflight,
};
use std::io::{Read, Write};

fn connection_error(e: EngineError) -> ConnectionError {
    match e {
        EngineError::Connection(c) => c,
        other => panic!("not a connection error: {other}"),
    }
}

/// A plain HTTP server that is not Langfuse: answers every request with an HTML 404.
fn not_langfuse() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = "<html>Not Found</html>";
            let _ = write!(
                s,
                "HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_check_reports_project_version_and_capabilities() {
    let s = sandbox(ServerProfile::V4, None).await;
    let info = check_connection(&endpoint(&s)).await.unwrap();
    assert_eq!(info.generation, Generation::V4);
    assert!(info.server_version.starts_with('4'), "{info:?}");
    assert_eq!(info.project_name.as_deref(), Some("Sandbox project"));
    assert!(info.capabilities.cursor_observations && info.capabilities.scores_v3);
    assert!(!info.capabilities.legacy_reads && !info.capabilities.legacy_ingestion);
    let s3 = sandbox(ServerProfile::V3, None).await;
    let info = check_connection(&endpoint(&s3)).await.unwrap();
    assert_eq!(info.generation, Generation::V3);
    assert!(info.capabilities.legacy_reads && info.capabilities.legacy_ingestion);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connection_problem_has_its_own_plain_message() {
    let s = sandbox(ServerProfile::V4, None).await;
    let wrong = LangfuseEndpoint::new(&s.url(), "pk-lf-sandbox", "sk-lf-wrong-secret");
    let e = connection_error(check_connection(&wrong).await.unwrap_err());
    assert!(matches!(e, ConnectionError::WrongKeys(_)), "{e}");
    assert!(
        e.to_string().contains("keys were rejected")
            && !e.to_string().contains("sk-lf-wrong-secret")
    );

    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = connection_error(
        check_connection(&LangfuseEndpoint::new(
            &format!("http://127.0.0.1:{closed}"),
            "pk",
            "sk",
        ))
        .await
        .unwrap_err(),
    );
    assert!(matches!(e, ConnectionError::Unreachable(..)), "{e}");
    assert!(e.to_string().contains("could not be reached"), "{e}");

    // https against a plain-HTTP server: the TLS handshake fails.
    let tls = s.url().replace("http://", "https://");
    let e = connection_error(
        check_connection(&LangfuseEndpoint::new(&tls, "pk", "sk"))
            .await
            .unwrap_err(),
    );
    assert!(matches!(e, ConnectionError::Tls(..)), "{e}");

    let e = connection_error(
        check_connection(&LangfuseEndpoint::new(&not_langfuse(), "pk", "sk"))
            .await
            .unwrap_err(),
    );
    assert!(matches!(e, ConnectionError::NotLangfuse(..)), "{e}");
    assert!(e.to_string().contains("not a Langfuse server"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_counts_and_lists_what_the_target_already_holds() {
    let source = sandbox(ServerProfile::V3, Some((41, 20, 3))).await;
    let target = sandbox(ServerProfile::V3, Some((41, 20, 3))).await;
    let report = preflight(&plan(lf(&source), lf(&target))).await.unwrap();
    assert_eq!(report.counts[&Entity::Traces], Some(20));
    assert_eq!(report.counts[&Entity::Observations], Some(60));
    assert_eq!(report.existing_in_target[&Entity::Observations], 60);
    assert!(!report.existing_examples[&Entity::Traces].is_empty());
    assert_eq!(
        report.source.connection.as_ref().unwrap().generation,
        Generation::V3
    );
    // Neither side has a request budget: the time depends on the servers alone, so the
    // pre-flight gives no figure (the run measures one as it goes).
    assert_eq!(report.eta_seconds, None);
    // What a Langfuse project holds that this run leaves behind is said before the run: a v3
    // server has no evaluator API, and no version copies dashboards.
    assert!(
        report.warnings.iter().any(|w| w.contains("evaluators")
            && w.contains("evaluation rules")
            && w.contains("does not offer")
            && w.contains("not copied")),
        "{:?}",
        report.warnings
    );
    assert!(
        report.warnings.iter().any(|w| w.contains("dashboards")
            && w.contains("does not offer")
            && w.contains("not copied")),
        "{:?}",
        report.warnings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_counts_a_v4_source_through_its_metrics_api() {
    // v4 reads have no totals; Cloud's sources are v4, so without this there were no counts.
    let source = sandbox(ServerProfile::V4, Some((43, 20, 3))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let mut p = plan(lf(&source), lf(&target));
    // A Hobby target takes 1,000 ingestion requests a minute: the budget gives an estimate.
    if let EndpointSpec::Langfuse(t) = &mut p.target {
        t.cloud_plan = CloudPlan::Hobby;
    }
    let report = preflight(&p).await.unwrap();
    assert_eq!(report.counts[&Entity::Traces], Some(20));
    assert_eq!(report.counts[&Entity::Observations], Some(60));
    assert!(
        report.eta_seconds.is_some_and(|s| s > 0.0),
        "{:?}",
        report.eta_seconds
    );
    // The window narrows the count, as it narrows the copy.
    p.scope.from = middle_start_time(&source);
    let report = preflight(&p).await.unwrap();
    let in_window = source.dump()["observations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| {
            o["startTime"]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
                >= p.scope.from
        })
        .count() as u64;
    assert_eq!(report.counts[&Entity::Observations], Some(in_window));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_events_tell_the_ui_what_happens() {
    use migrator_engine::{ProgressEvent, RunControl};
    let source = sandbox(ServerProfile::V3, Some((42, 200, 5))).await;
    let target = sandbox(ServerProfile::V3, None).await;
    let data = tempfile::tempdir().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut p = plan(lf(&source), lf(&target));
    p.options.batch_items = 50;
    let report = migrator_engine::run(p, data.path(), tx, RunControl::new(), false)
        .await
        .unwrap();
    let mut events = vec![];
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert!(
        matches!(&events[0], ProgressEvent::RunStarted { run_id, resumed: false } if *run_id == report.run_id)
    );
    assert!(matches!(
        events.last().unwrap(),
        ProgressEvent::RunFinished { .. }
    ));
    assert!(events.iter().any(|e| matches!(
        e,
        ProgressEvent::PhaseStarted {
            entity: Entity::Observations
        }
    )));
    let snapshot = events
        .iter()
        .rev()
        .find_map(|e| match e {
            ProgressEvent::Progress { entities, .. } => entities
                .iter()
                .find(|p| p.entity == Entity::Observations)
                .cloned(),
            _ => None,
        })
        .expect("a progress snapshot with observations");
    assert_eq!(
        snapshot.expected,
        Some(1000),
        "the source's count is the total"
    );
    // The UI receives these as JSON with a `type` tag.
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["type"], "run_started");
}
