//! An export into an archive folder that is cancelled and resumed ends with every object once:
//! what the cancelled part already consolidated is kept, not replaced by what came after.

mod common;
use common::*;
use langfuse_sandbox::{FaultConfig, FaultKind, ServerProfile};
use migrator_engine::archive::ArchiveReader;
use migrator_engine::connector::SourceConnector;
use migrator_engine::{EndpointSpec, Entity, ProgressEvent, RunControl, RunState, Scope};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_export_resumed_keeps_what_it_wrote_before() {
    let source = sandbox(ServerProfile::V3, Some((91, 120, 5))).await;
    source.set_faults(FaultConfig {
        rate: 1.0,
        kinds: vec![FaultKind::Slow],
        slow_ms: 20,
        ..Default::default()
    });
    let data = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("export");
    let mut p = plan(lf(&source), EndpointSpec::Archive { path: path.clone() });
    p.options.batch_items = 50;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let control = RunControl::new();
    let run = tokio::spawn({
        let (p, d, c) = (p.clone(), data.path().to_path_buf(), control.clone());
        async move { migrator_engine::run(p, &d, tx, c, false).await }
    });
    // Cancel once part of the observations are in the folder.
    while let Some(ev) = rx.recv().await {
        if let ProgressEvent::Progress { entities, .. } = ev
            && entities
                .iter()
                .any(|e| e.entity == Entity::Observations && e.counts.written >= 200)
        {
            control.cancel();
            break;
        }
    }
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.state, RunState::Cancelled);
    source.set_faults(FaultConfig::default());

    let done = migrator_engine::resume(
        &report.run_id,
        data.path(),
        None,
        sandbox_secrets(),
        migrator_engine::NoProgress,
        RunControl::new(),
    )
    .await
    .unwrap();
    assert_eq!(done.state, RunState::Completed, "{done:#?}");
    let reader = ArchiveReader::open(&path).unwrap();
    let mut ids = std::collections::BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = reader
            .read_page(Entity::Observations, &Scope::default(), cursor)
            .await
            .unwrap();
        ids.extend(page.records.into_iter().map(|r| r.id));
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    let expected: std::collections::BTreeSet<String> = source.dump()["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(
        reader.manifest.entities["observations"].count,
        expected.len() as u64
    );
}
