//! Media attachments: every reference in the copied objects resolves in the target to bytes
//! with the source's sha256; a media object that cannot be copied fails alone and is named.

mod common;
use common::*;
use langfuse_sandbox::{MediaLink, MediaSampleSpec, MediaSettings, Sandbox, ServerProfile};
use migrator_engine::{Entity, RunReport};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

fn sha(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// Every media id referenced in a dump's traces, observations and dataset items, with the
/// ids of the objects holding them.
fn references(dump: &Value) -> BTreeMap<String, BTreeSet<String>> {
    fn walk(v: &Value, holder: &str, out: &mut BTreeMap<String, BTreeSet<String>>) {
        match v {
            Value::String(s) => {
                for part in s.split("@@@langfuseMedia:").skip(1) {
                    let body = part.split("@@@").next().unwrap();
                    let id = body
                        .split('|')
                        .find_map(|kv| kv.strip_prefix("id="))
                        .unwrap();
                    out.entry(id.to_string())
                        .or_default()
                        .insert(holder.to_string());
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, holder, out)),
            Value::Object(m) => m.values().for_each(|x| walk(x, holder, out)),
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    for entity in ["traces", "observations", "dataset_items"] {
        for o in dump[entity].as_array().unwrap() {
            let holder = o["id"].as_str().unwrap().to_string();
            for f in ["input", "output", "metadata", "expectedOutput"] {
                walk(&o[f], &holder, &mut out);
            }
        }
    }
    out
}

/// What the target serves for a media id through its public API: the bytes' sha256.
async fn served_sha(target: &Sandbox, id: &str) -> Option<String> {
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/api/public/media/{id}", target.url()))
        .basic_auth("pk-lf-sandbox", Some("sk-lf-sandbox"))
        .send()
        .await
        .unwrap();
    if !r.status().is_success() {
        return None;
    }
    let rec: Value = r.json().await.unwrap();
    let bytes = http
        .get(rec["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    Some(sha(&bytes))
}

/// Every reference in the target resolves to the bytes the source has under that id.
async fn assert_every_reference_resolves(source: &Sandbox, target: &Sandbox) -> usize {
    target.settle();
    let refs = references(&target.dump());
    assert!(!refs.is_empty(), "the target holds media references");
    for id in refs.keys() {
        let expected = sha(&source
            .media_bytes(id)
            .unwrap_or_else(|| panic!("the source has {id}")));
        assert_eq!(served_sha(target, id).await, Some(expected), "media {id}");
    }
    for m in target.media() {
        assert_eq!(m.puts_after_upload, 0, "media {} uploaded twice", m.id);
    }
    refs.len()
}

async fn copy_multimodal(profile: ServerProfile) -> (Sandbox, Sandbox, RunReport) {
    let source = sandbox(profile, None).await;
    source.load_media_sample(&MediaSampleSpec::default());
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = copy(plan(lf(&source), lf(&target)), data.path()).await;
    (source, target, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_to_v4_media_resolve_to_the_same_bytes() {
    let (source, target, report) = copy_multimodal(ServerProfile::V4).await;
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    let n = assert_every_reference_resolves(&source, &target).await;
    assert_eq!(
        n,
        source.media().len(),
        "every source media is referenced and copied"
    );
    assert_eq!(report.entities[&Entity::Media].written, n as u64);
    // Each place that shows the media is linked to it in the target, as the SDK links it.
    let links: BTreeSet<(Option<String>, Option<String>, String)> = target
        .media()
        .into_iter()
        .flat_map(|m| m.links)
        .map(|l: MediaLink| (l.trace_id.or(l.dataset_item_id), l.observation_id, l.field))
        .collect();
    let expected: BTreeSet<_> = source
        .media()
        .into_iter()
        .flat_map(|m| m.links)
        .map(|l| (l.trace_id.or(l.dataset_item_id), l.observation_id, l.field))
        .collect();
    // The root span shows the trace's input too, so the target may link both; every place
    // the source links must be linked in the target.
    let unlinked: Vec<_> = expected.difference(&links).collect();
    assert!(
        unlinked.is_empty(),
        "not linked in the target: {unlinked:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_to_v4_media_resolve_to_the_same_bytes() {
    let (source, target, report) = copy_multimodal(ServerProfile::V3).await;
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    let n = assert_every_reference_resolves(&source, &target).await;
    assert_eq!(n, source.media().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_uploads_nothing_again() {
    let source = sandbox(ServerProfile::V4, None).await;
    source.load_media_sample(&MediaSampleSpec::default());
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    copy(plan(lf(&source), lf(&target)), data.path()).await;
    let puts: Vec<u32> = target.media().iter().map(|m| m.puts).collect();
    assert!(puts.iter().all(|p| *p == 1), "{puts:?}");
    copy(plan(lf(&source), lf(&target)), data.path()).await;
    let again: Vec<u32> = target.media().iter().map(|m| m.puts).collect();
    assert_eq!(puts, again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_missing_at_the_source_fails_alone_and_is_named() {
    let source = sandbox(ServerProfile::V4, None).await;
    let sample = source.load_media_sample(&MediaSampleSpec::default());
    let lost = sample.media_ids[0].clone();
    assert!(source.delete_media(&lost));
    let holder = references(&source.dump())[&lost].clone();
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = copy(plan(lf(&source), lf(&target)), data.path()).await;
    let failed: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.entity == Entity::Media)
        .collect();
    assert_eq!(failed.len(), 1, "{:#?}", report.failures);
    assert_eq!(failed[0].id, lost);
    let holder_id = holder.iter().next().unwrap();
    assert!(
        failed[0].reason.contains(holder_id.as_str()),
        "the reason names the object holding the reference: {}",
        failed[0].reason
    );
    assert!(
        report.failures.iter().all(|f| f.entity == Entity::Media),
        "only the media failed: {:#?}",
        report.failures
    );
    target.settle();
    // The object holding the reference still moved.
    let dump = target.dump();
    assert!(
        ["traces", "observations"].iter().any(|e| dump[e]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| holder.contains(o["id"].as_str().unwrap()))),
        "{holder:?} is in the target"
    );
    assert_eq!(served_sha(&target, &lost).await, None);
    // Everything else arrived.
    for m in source.media() {
        assert_eq!(served_sha(&target, &m.id).await, Some(m.sha256.clone()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_download_url_is_fetched_again() {
    let source = sandbox(ServerProfile::V4, None).await;
    source.load_media_sample(&MediaSampleSpec::default());
    source.set_media_settings(MediaSettings {
        expire_next_download_urls: 3,
        ..MediaSettings::default()
    });
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = copy(plan(lf(&source), lf(&target)), data.path()).await;
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert_eq!(
        source.media_settings().expire_next_download_urls,
        0,
        "the expired URLs were handed out"
    );
    assert_every_reference_resolves(&source, &target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_media_fails_alone_with_the_targets_limit() {
    let source = sandbox(ServerProfile::V4, None).await;
    source.load_media_sample(&MediaSampleSpec::default());
    let target = sandbox(ServerProfile::V4, None).await;
    // The target takes 2 KB per file: the sample's small images pass, audio and PDFs do not.
    let limit = 2_000;
    target.set_media_settings(MediaSettings {
        max_content_length: limit,
        ..MediaSettings::default()
    });
    let data = tempfile::tempdir().unwrap();
    let report = copy(plan(lf(&source), lf(&target)), data.path()).await;
    let too_big: BTreeSet<String> = source
        .media()
        .into_iter()
        .filter(|m| m.content_length > limit)
        .map(|m| m.id)
        .collect();
    assert!(!too_big.is_empty());
    let failed: BTreeSet<String> = report.failures.iter().map(|f| f.id.clone()).collect();
    assert_eq!(failed, too_big, "{:#?}", report.failures);
    for f in &report.failures {
        assert_eq!(f.entity, Entity::Media);
        assert!(f.reason.contains("less than 2000 bytes"), "{}", f.reason);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_is_rewritten_when_the_target_assigns_another_id() {
    let source = sandbox(ServerProfile::V4, None).await;
    source.load_media_sample(&MediaSampleSpec {
        traces: 1,
        all_kinds: false,
        ..MediaSampleSpec::default()
    });
    // An attachment stored by an older server under a UUID, referenced by one observation.
    let legacy_id = "3f2b8c1e-5d4a-4f7b-9c2e-1a2b3c4d5e6f";
    let bytes = bytes::Bytes::from_static(b"%PDF-1.4 legacy attachment");
    let obs = source.dump()["observations"][0].clone();
    let obs_id = obs["id"].as_str().unwrap().to_string();
    source.insert_media_as(
        legacy_id,
        "application/pdf",
        bytes.clone(),
        MediaLink {
            trace_id: obs["traceId"].as_str().map(str::to_string),
            observation_id: Some(obs_id.clone()),
            dataset_id: None,
            dataset_item_id: None,
            field: "output".into(),
        },
    );
    let reference = format!("@@@langfuseMedia:type=application/pdf|id={legacy_id}|source=bytes@@@");
    source
        .patch_raw(
            "observations",
            &obs_id,
            serde_json::json!({"output": {"file": reference}}),
        )
        .unwrap();
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let report = copy(plan(lf(&source), lf(&target)), data.path()).await;
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    target.settle();
    let copied = target.dump()["observations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == obs_id.as_str())
        .cloned()
        .unwrap();
    let output_only = serde_json::json!({"id": obs_id, "output": copied["output"]});
    let ids: Vec<String> = references(
        &serde_json::json!({"observations": [output_only], "traces": [], "dataset_items": []}),
    )
    .into_keys()
    .collect();
    assert_eq!(ids.len(), 1);
    assert_ne!(ids[0], legacy_id, "the target's id replaced the old one");
    assert_eq!(served_sha(&target, &ids[0]).await, Some(sha(&bytes)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_survive_an_archive_round_trip_with_hashes_in_the_manifest() {
    let source = sandbox(ServerProfile::V4, None).await;
    source.load_media_sample(&MediaSampleSpec::default());
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let archive = migrator_engine::EndpointSpec::Archive {
        path: folder.path().join("export"),
    };
    let export = copy(plan(lf(&source), archive.clone()), data.path()).await;
    assert!(export.failures.is_empty(), "{:#?}", export.failures);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(folder.path().join("export/manifest.json")).unwrap())
            .unwrap();
    let listed = manifest["media"]
        .as_object()
        .expect("the manifest lists media");
    assert_eq!(listed.len(), source.media().len());
    for m in source.media() {
        let entry = &listed[&m.id];
        assert_eq!(entry["sha256"], m.sha256.as_str());
        let file = folder
            .path()
            .join("export")
            .join(entry["file"].as_str().unwrap());
        assert!(entry["file"].as_str().unwrap().starts_with("media/"));
        assert_eq!(sha(&std::fs::read(file).unwrap()), m.sha256);
    }
    let import = copy(plan(archive, lf(&target)), data.path()).await;
    assert!(import.failures.is_empty(), "{:#?}", import.failures);
    assert_every_reference_resolves(&source, &target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_media_file_in_an_archive_fails_alone() {
    let source = sandbox(ServerProfile::V4, None).await;
    let sample = source.load_media_sample(&MediaSampleSpec::default());
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let archive = migrator_engine::EndpointSpec::Archive {
        path: folder.path().join("export"),
    };
    copy(plan(lf(&source), archive.clone()), data.path()).await;
    let damaged = &sample.media_ids[0];
    let path = folder
        .path()
        .join("export/media")
        .join(format!("{damaged}.bin"));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let import = copy(plan(archive, lf(&target)), data.path()).await;
    let failed: Vec<_> = import
        .failures
        .iter()
        .map(|f| (f.entity, f.id.clone()))
        .collect();
    assert_eq!(
        failed,
        vec![(Entity::Media, damaged.clone())],
        "{:#?}",
        import.failures
    );
    assert!(
        import.failures[0].reason.contains("checksum"),
        "{}",
        import.failures[0].reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_compares_media_by_hash_and_names_what_does_not_resolve() {
    let source = sandbox(ServerProfile::V4, None).await;
    source.load_media_sample(&MediaSampleSpec::default());
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let run = copy(plan(lf(&source), lf(&target)), data.path()).await;
    let media_row = |r: &migrator_engine::ValidationReport| {
        r.entities
            .iter()
            .find(|e| e.entity == "media")
            .cloned()
            .expect("a media row")
    };
    let clean =
        migrator_engine::validate_run(&run.run_id, data.path(), &validate_options(), &|_| {})
            .await
            .unwrap();
    let row = media_row(&clean);
    assert_eq!(row.source_count, source.media().len() as u64);
    assert_eq!(row.compared, row.source_count);
    assert!(row.is_clean(), "{row:#?}");
    // The whole copy is clean: a dataset item's `mediaReferences` carry each server's own
    // signed download URLs, which are no difference in the copy.
    let unclean: Vec<_> = clean.entities.iter().filter(|e| !e.is_clean()).collect();
    assert!(unclean.is_empty(), "{unclean:#?}");
    // One file disappears from the target: its reference no longer resolves.
    let gone = target.media()[0].id.clone();
    assert!(target.delete_media(&gone));
    let broken =
        migrator_engine::validate_run(&run.run_id, data.path(), &validate_options(), &|_| {})
            .await
            .unwrap();
    let row = media_row(&broken);
    assert_eq!(row.missing_count, 1, "{row:#?}");
    assert!(row.missing[0].starts_with(&gone), "{:?}", row.missing);
    assert!(!broken.is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_deletes_the_traces_and_lists_the_media_as_manual_steps() {
    let source = sandbox(ServerProfile::V4, None).await;
    source.load_media_sample(&MediaSampleSpec::default());
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let run = copy(plan(lf(&source), lf(&target)), data.path()).await;
    let options = migrator_engine::RollbackOptions {
        secrets: sandbox_secrets(),
        max_wait: std::time::Duration::from_secs(2),
        verify_limit: std::time::Duration::from_secs(20),
        ..migrator_engine::RollbackOptions::default()
    };
    let report = migrator_engine::rollback(
        &run.run_id,
        data.path(),
        &options,
        &migrator_engine::RunControl::new(),
        &|_| {},
    )
    .await
    .unwrap();
    target.settle();
    assert_eq!(target.counts()["traces"], 0, "{report:#?}");
    let manual: BTreeSet<String> = report
        .manual
        .iter()
        .filter(|m| m.entity == Entity::Media)
        .map(|m| m.id.clone())
        .collect();
    let expected: BTreeSet<String> = target.media().into_iter().map(|m| m.id).collect();
    assert_eq!(manual, expected);
    assert!(
        report
            .manual
            .iter()
            .filter(|m| m.entity == Entity::Media)
            .all(|m| m.instruction.contains("cannot delete media")),
    );
}
