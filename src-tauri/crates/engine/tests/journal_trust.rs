//! The journal on disk is the truth about a run: a run killed right after it was created resumes
//! as what it was, and a journal this version cannot read fully (a newer version wrote it) is
//! refused with a sentence instead of being read with guesses.

mod common;
use common::*;
use langfuse_sandbox::ServerProfile;
use migrator_engine::journal::run_dir;
use migrator_engine::{EngineError, Journal, NoProgress, RollbackOptions, RunControl, RunState};
use std::path::Path;

fn edit_journal(data: &Path, run_id: &str, sql: &str) {
    let conn = rusqlite::Connection::open(run_dir(data, run_id).join("journal.sqlite")).unwrap();
    let changed = conn.execute(sql, []).unwrap();
    assert!(changed > 0, "{sql} changed nothing");
}

async fn resume(run_id: &str, data: &Path) -> Result<migrator_engine::RunReport, EngineError> {
    migrator_engine::resume(
        run_id,
        data,
        None,
        sandbox_secrets(),
        NoProgress,
        RunControl::new(),
    )
    .await
}

fn assert_newer(e: &dyn std::fmt::Display, value: &str) {
    let text = e.to_string();
    assert!(
        text.contains("written by a newer version of Langfuse Migrator") && text.contains(value),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_killed_right_after_it_was_created_resumes_as_a_dry_run() {
    let source = sandbox(ServerProfile::V4, Some((51, 10, 2))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let p = plan(lf(&source), lf(&target));
    // The process dies the instant the journal exists: nothing after `create` ran.
    drop(Journal::create(data.path(), "r-killed", &p, true).unwrap());
    let report = resume("r-killed", data.path()).await.unwrap();
    assert!(report.dry_run, "{report:#?}");
    assert_eq!(report.state, RunState::DryRun);
    target.settle();
    assert_eq!(target.counts()["observations"], 0);
    assert_eq!(target.counts()["traces"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_naming_an_unknown_kind_of_object_is_refused_not_read_as_traces() {
    let source = sandbox(ServerProfile::V4, Some((52, 10, 2))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = copy(plan(lf(&source), lf(&target)), data.path()).await;
    let run_id = report.run_id;
    target.settle();
    let before = target.dump();
    // A newer version journaled a kind of object this one does not know.
    edit_journal(
        data.path(),
        &run_id,
        "UPDATE objects SET entity = 'future_things' WHERE entity = 'scores'",
    );

    let options = RollbackOptions {
        secrets: sandbox_secrets(),
        ..RollbackOptions::default()
    };
    let e = migrator_engine::rollback_preview(&run_id, data.path(), &options)
        .await
        .unwrap_err();
    assert_newer(&e, "future_things");
    let e = migrator_engine::rollback(&run_id, data.path(), &options, &RunControl::new(), &|_| {})
        .await
        .unwrap_err();
    assert_newer(&e, "future_things");
    let e = migrator_engine::validate_run(&run_id, data.path(), &validate_options(), &|_| {})
        .await
        .unwrap_err();
    assert_newer(&e, "future_things");
    let e = migrator_engine::list_runs(data.path()).unwrap_err();
    assert_newer(&e, "future_things");
    target.settle();
    assert_eq!(target.dump(), before, "the target was touched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_with_an_unknown_state_or_format_is_refused_before_anything_is_sent() {
    let source = sandbox(ServerProfile::V4, Some((53, 10, 2))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let mut p = plan(lf(&source), lf(&target));
    p.scope.entities =
        migrator_engine::plan::EntitySelection::Only(vec![migrator_engine::Entity::Traces]);
    let report = copy(p, data.path()).await;
    let run_id = report.run_id;
    edit_journal(
        data.path(),
        &run_id,
        "UPDATE meta SET value = 'cancelled' WHERE key = 'state'",
    );
    // A row state this version never wrote (a newer one's "half sent", say).
    edit_journal(
        data.path(),
        &run_id,
        "UPDATE objects SET state = 'half_sent' WHERE entity = 'traces'",
    );
    target.settle();
    let before = target.dump();
    let e = resume(&run_id, data.path()).await.unwrap_err();
    assert_newer(&e, "half_sent");

    target.settle();
    assert_eq!(target.dump(), before, "the target was touched");

    // A journal layout newer than this version's.
    let data2 = tempfile::tempdir().unwrap();
    let report = copy(plan(lf(&source), lf(&target)), data2.path()).await;
    edit_journal(
        data2.path(),
        &report.run_id,
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('format', '7')",
    );
    let e = resume(&report.run_id, data2.path()).await.unwrap_err();
    assert_newer(&e, "\"7\"");
    let e = Journal::open(data2.path(), &report.run_id).err().unwrap();
    assert_newer(&e, "\"7\"");
}
