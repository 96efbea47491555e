//! "Copy what is missing" (issue 12) against sandboxes over HTTP: an object shows up at a sync's
//! source with a start time older than the lookback, after the sync's passes went by. Finish's
//! validation must name it missing, copy-missing must copy it (with its observation and score)
//! through the run's journal, the validation after it must be clean, and copying again writes
//! nothing twice.

mod common;

use chrono::{DateTime, Duration as Span, Utc};
use common::*;
use langfuse_sandbox::{Sandbox, SandboxConfig, ServerProfile};
use migrator_engine::plan::EntitySelection;
use migrator_engine::{
    Entity, Journal, NoProgress, ObjectState, Plan, RunControl, RunState, SyncSettings,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

const PK: &str = "pk-lf-sandbox";
const SK: &str = "sk-lf-sandbox";

async fn v3(delay: Duration) -> Sandbox {
    Sandbox::start(SandboxConfig {
        validate_requests: true,
        profile: ServerProfile::V3,
        visibility_delay: Some(delay),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `POST /api/public/ingestion` as the Python SDK v2 sends it.
async fn ingest(s: &Sandbox, events: Vec<(&str, Value)>) {
    let batch: Vec<Value> = events
        .into_iter()
        .map(|(kind, body)| {
            json!({"id": uuid::Uuid::new_v4().to_string(), "type": kind,
                   "timestamp": iso(Utc::now()), "body": body})
        })
        .collect();
    let r = reqwest::Client::new()
        .post(format!("{}/api/public/ingestion", s.url()))
        .basic_auth(PK, Some(SK))
        .json(&json!({ "batch": batch }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 207, "{}", r.text().await.unwrap());
}

/// A finished trace at `at`: the trace, one ended span and a score.
async fn trace_at(s: &Sandbox, n: u64, at: DateTime<Utc>) -> (String, String, String) {
    let (tid, span, score) = (
        format!("{:032x}", 0xc0de_0000u64 + n),
        format!("{:016x}", 0x5a0_0000u64 + n),
        format!("score-late-{n}"),
    );
    ingest(
        s,
        vec![
            (
                "trace-create",
                json!({"id": tid, "name": "chat", "timestamp": iso(at), "output": {"n": n}}),
            ),
            (
                "span-create",
                json!({"id": span, "traceId": tid, "name": "handle", "startTime": iso(at),
                       "endTime": iso(at + Span::milliseconds(200))}),
            ),
            (
                "score-create",
                json!({"id": score, "traceId": tid, "name": "quality", "value": 1.0,
                       "timestamp": iso(at)}),
            ),
        ],
    )
    .await;
    (tid, span, score)
}

fn sync_plan(src: &Sandbox, dst: &Sandbox) -> Plan {
    let mut p = plan(lf(src), lf(dst));
    p.scope.entities =
        EntitySelection::Only(vec![Entity::Traces, Entity::Observations, Entity::Scores]);
    p
}

/// Waits until the first run in `data` has finished a pass that started after `t`.
async fn pass_started_after(data: &Path, t: DateTime<Utc>) -> String {
    for _ in 0..600 {
        if let Some(run) = migrator_engine::list_runs(data).unwrap().first() {
            let passes = migrator_engine::live_sync::status::passes(
                &Journal::open(data, &run.run_id).unwrap(),
            )
            .unwrap();
            if passes.iter().any(|p| {
                p.ended_at.is_some()
                    && migrator_engine::filter::parse_time(&p.started_at).unwrap() > t
            }) {
                return run.run_id.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no pass started after {t}");
}

/// Copy what is missing, with the sandboxes' secrets and no progress display.
async fn copy_missing(
    run: &str,
    dir: &Path,
) -> Result<migrator_engine::CopyMissingReport, migrator_engine::CopyMissingError> {
    migrator_engine::copy_missing(
        run,
        dir,
        &validate_options(),
        NoProgress,
        RunControl::new(),
        &|_| {},
    )
    .await
}

fn missing(r: &migrator_engine::ValidationReport, entity: &str) -> Vec<String> {
    r.entities
        .iter()
        .find(|e| e.entity == entity)
        .map(|e| e.missing.clone())
        .unwrap_or_default()
}

fn ids(dump: &Value, entity: &str) -> Vec<String> {
    dump[entity]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_object_later_than_the_lookback_is_named_missing_by_finish_and_copy_missing_copies_it_once()
 {
    let src = v3(Duration::from_millis(200)).await;
    let dst = v3(Duration::from_millis(30)).await;
    trace_at(&src, 1, Utc::now() - Span::hours(1)).await;
    src.settle();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    let control = RunControl::new();
    let settings = SyncSettings {
        poll_secs: Some(0.3),
        settle_secs: Some(0.3),
        lookback_secs: Some(2.0),
        until_idle_secs: None,
        drain_secs: None,
    };
    let sync = tokio::spawn({
        let (plan, dir, control) = (sync_plan(&src, &dst), dir.clone(), control.clone());
        async move { migrator_engine::sync(plan, &dir, settings, NoProgress, control).await }
    });
    let run = pass_started_after(&dir, Utc::now()).await;

    // Written now, but dated a minute back: far behind the watermark less the 2 s lookback.
    let (tid, span, score) = trace_at(&src, 2, Utc::now() - Span::minutes(1)).await;
    src.settle();
    pass_started_after(&dir, Utc::now() + Span::milliseconds(300)).await;
    assert!(
        !ids(&dst.dump(), "traces").contains(&tid),
        "the sync's passes read only from the watermark less the lookback"
    );

    control.finish();
    let report = tokio::time::timeout(Duration::from_secs(120), sync)
        .await
        .expect("finish ends the sync")
        .unwrap()
        .unwrap();
    assert_eq!(report.state, RunState::Completed, "{report:?}");
    let cut = report.sync.unwrap().cut_over.expect("cut over");
    assert!(!cut.validation_clean, "{cut:?}");
    let found = migrator_engine::latest_report(&run, &dir).unwrap().unwrap();
    assert_eq!(missing(&found, "traces"), vec![tid.clone()]);
    assert_eq!(missing(&found, "observations"), vec![span.clone()]);
    assert_eq!(missing(&found, "scores"), vec![score.clone()]);
    let before_copy = std::fs::read(dir.join("runs").join(&run).join("validation/latest.json"))
        .expect("the finish's validation is saved");

    let copied = copy_missing(&run, &dir)
        .await
        .expect("copy what is missing");
    let one = |e: Entity| (e, 1u64);
    let want: BTreeMap<Entity, u64> = [
        one(Entity::Traces),
        one(Entity::Observations),
        one(Entity::Scores),
    ]
    .into();
    assert_eq!(copied.asked, want);
    assert_eq!(copied.copied, want, "the trace brings its span and score");
    assert!(copied.not_found.is_empty(), "{:?}", copied.not_found);
    assert!(
        copied.validation.is_clean(),
        "{}",
        serde_json::to_string_pretty(&copied.validation).unwrap()
    );
    assert!(
        migrator_engine::latest_report(&run, &dir)
            .unwrap()
            .unwrap()
            .is_clean()
    );
    // The sync's cut-over record says so too (the runs list and the cutover card show it).
    let cut = migrator_engine::live_sync::drain::cut_over(&Journal::open(&dir, &run).unwrap())
        .unwrap()
        .unwrap();
    assert!(cut.validation_clean, "{cut:?}");
    assert_eq!(
        cut.validation_summary,
        "validation of the whole window is clean (after copying what was missing)"
    );
    // The copies are the run's: its journal holds them, so its rollback removes them.
    let journal = Journal::open(&dir, &run).unwrap();
    for (entity, id) in [
        (Entity::Traces, &tid),
        (Entity::Observations, &span),
        (Entity::Scores, &score),
    ] {
        let states = journal.states(entity, &[id.as_str()]).unwrap();
        assert_eq!(
            states[id.as_str()].0,
            ObjectState::Confirmed,
            "{entity} {id}"
        );
    }
    assert_eq!(journal.state().unwrap(), RunState::Completed);
    let counts = dst.counts();
    assert_eq!(
        (counts["traces"], counts["observations"], counts["scores"]),
        (2, 2, 2)
    );

    // The same report again (a second click, a copy run twice): nothing is written twice.
    std::fs::write(
        dir.join("runs").join(&run).join("validation/latest.json"),
        before_copy,
    )
    .unwrap();
    let again = copy_missing(&run, &dir).await.unwrap();
    assert!(again.copied.is_empty(), "{:?}", again.copied);
    assert_eq!(dst.counts(), counts);
    assert!(again.validation.is_clean());
    // Nothing missing any more: nothing to do.
    let idle = copy_missing(&run, &dir).await.unwrap();
    assert!(idle.asked.is_empty() && idle.copied.is_empty());
    assert!(src.take_request_violations().is_empty());
    assert!(dst.take_request_violations().is_empty());
}

#[tokio::test]
async fn copy_missing_before_any_validation_says_to_validate_first() {
    let src = v3(Duration::from_millis(30)).await;
    let dst = v3(Duration::from_millis(30)).await;
    let data = tempfile::tempdir().unwrap();
    let report = migrator_engine::run(
        sync_plan(&src, &dst),
        data.path(),
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .unwrap();
    let e = copy_missing(&report.run_id, data.path()).await.unwrap_err();
    assert!(e.to_string().contains("validate it first"), "{e}");
}
