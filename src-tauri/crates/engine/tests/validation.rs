//! Validation of finished runs against sandboxes over real HTTP: a clean copy has no discrepancy,
//! every deliberate corruption of the target is reported precisely, and a visibility delay is
//! waited out (or plainly reported when the wait is too short).

mod common;
use common::*;
use langfuse_sandbox::{SampleSpec, Sandbox, SandboxConfig, ServerProfile};
use migrator_engine::validate::{DiffKind, ValidateOptions, ValidationReport};
use migrator_engine::{Entity, NoProgress, RunControl};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

async fn with_delay(
    profile: ServerProfile,
    sample: Option<(u64, usize, usize)>,
    delay_ms: u64,
) -> Sandbox {
    Sandbox::start(SandboxConfig {
        // Every request the migrator sends is checked against the API description.
        validate_requests: true,
        profile,
        visibility_delay: Some(Duration::from_millis(delay_ms)),
        sample: sample.map(|(seed, traces, observations_per_trace)| SampleSpec {
            seed,
            traces,
            observations_per_trace,
        }),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
}

/// Runs a copy; returns its id and, per entity, how many objects the copy itself failed to write.
async fn copy(source: &Sandbox, target: &Sandbox, data: &Path) -> (String, BTreeMap<String, u64>) {
    let report = migrator_engine::run(
        plan(lf(source), lf(target)),
        data,
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .expect("copy runs");
    let failed = report
        .entities
        .iter()
        .filter(|(_, c)| c.failed > 0)
        .map(|(e, c)| (e.as_str().to_string(), c.failed))
        .collect();
    (report.run_id, failed)
}

/// Entities that differ beyond what the copy itself reported as failed: those objects must show
/// as missing, nothing else may differ.
fn unexplained(r: &ValidationReport, failed: &BTreeMap<String, u64>) -> Vec<String> {
    r.entities
        .iter()
        .filter(|e| {
            let f = failed.get(&e.entity).copied().unwrap_or(0);
            !(e.missing_count == f && e.extra_count == 0 && e.differing_count == 0)
        })
        .map(|e| e.entity.clone())
        .collect()
}

async fn validate(run_id: &str, data: &Path, o: &ValidateOptions) -> ValidationReport {
    migrator_engine::validate_run(run_id, data, o, &|_| {})
        .await
        .expect("validation runs")
}

fn entity(r: &ValidationReport, e: Entity) -> &migrator_engine::validate::EntityReconciliation {
    r.entities
        .iter()
        .find(|x| x.entity == e.as_str())
        .unwrap_or_else(|| panic!("{e} is in the report"))
}

fn describe(r: &ValidationReport) -> String {
    let mut s = String::new();
    for e in &r.entities {
        if !e.is_clean() {
            s.push_str(&format!(
                "{}: missing {:?} extra {:?} differing {:?}\n",
                e.entity,
                e.missing.iter().take(5).collect::<Vec<_>>(),
                e.extra.iter().take(5).collect::<Vec<_>>(),
                e.differing.iter().take(3).collect::<Vec<_>>()
            ));
        }
    }
    s.push_str(&format!("notes {:?} settle {:?}", r.notes, r.settle));
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_copy_has_no_discrepancy_and_each_corruption_is_reported_precisely() {
    let source = sandbox(ServerProfile::V4, Some((11, 12, 4))).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let (run_id, failed) = copy(&source, &target, data.path()).await;

    let clean = validate(&run_id, data.path(), &validate_options()).await;
    // What the copy could not write (v4 takes no dataset run items; see copy_v4.rs) is missing,
    // and nothing else differs.
    assert!(
        unexplained(&clean, &failed).is_empty(),
        "{:?} {failed:?}\n{}",
        unexplained(&clean, &failed),
        describe(&clean)
    );
    assert!(clean.settle.settled);
    for (e, n) in &failed {
        assert!(
            clean
                .notes
                .iter()
                .any(|note| note.contains(&format!("could not write {n} {e}"))),
            "{:?}",
            clean.notes
        );
    }
    let traces = entity(&clean, Entity::Traces);
    assert_eq!(traces.source_count, 12);
    assert_eq!(traces.compared, 12, "every pair compared by default");
    assert!(!clean.per_day.is_empty(), "per-day counts for the chart");
    let saved = migrator_engine::latest_report(&run_id, data.path())
        .unwrap()
        .expect("the report is saved with the run");
    assert_eq!(saved, clean);
    let run_dir = data.path().join("runs").join(&run_id).join("validation");
    assert!(
        std::fs::read_to_string(run_dir.join("latest.html"))
            .unwrap()
            .contains("<svg")
    );
    assert!(
        std::fs::read_to_string(run_dir.join("latest.md"))
            .unwrap()
            .contains("| traces |")
    );

    // Corrupt the target through the sandbox's admin surface.
    let dump = target.dump();
    let obs: Vec<Value> = dump["observations"].as_array().unwrap().clone();
    let changed = obs[0]["id"].as_str().unwrap().to_string();
    // An observation whose input holds a text field: the target keeps only its first characters.
    let (truncated_id, field, cut_input) = obs
        .iter()
        .filter(|o| o["id"] != changed)
        .find_map(|o| {
            let input = o["input"].as_object()?;
            let (k, v) = input
                .iter()
                .find(|(_, v)| v.as_str().is_some_and(|s| s.len() > 10))?;
            let mut cut = input.clone();
            cut.insert(
                k.clone(),
                json!(v.as_str().unwrap().chars().take(5).collect::<String>()),
            );
            Some((o["id"].as_str()?.to_string(), k.clone(), Value::Object(cut)))
        })
        .expect("an observation with a text input field");
    let deleted_score = dump["scores"][0]["id"].as_str().unwrap().to_string();
    target
        .patch_raw(
            "observations",
            &changed,
            json!({"startTime": "2020-06-01T00:00:00.000Z"}),
        )
        .unwrap();
    target
        .patch_raw("observations", &truncated_id, json!({"input": cut_input}))
        .unwrap();
    target.delete_raw("scores", &deleted_score).unwrap();
    let mut extra = obs[1].clone();
    extra["id"] = json!("added-by-hand");
    target.insert_raw("observations", extra).unwrap();
    target.settle();

    let bad = validate(&run_id, data.path(), &validate_options()).await;
    assert!(!bad.is_clean());
    let o = entity(&bad, Entity::Observations);
    assert_eq!(
        o.extra,
        vec!["added-by-hand".to_string()],
        "{}",
        describe(&bad)
    );
    assert_eq!(o.missing_count, 0, "{}", describe(&bad));
    let d = o
        .differing
        .iter()
        .find(|d| d.id == changed)
        .unwrap_or_else(|| panic!("changed observation reported: {}", describe(&bad)));
    assert!(
        d.fields
            .iter()
            .any(|f| f.path == "startTime" && f.kind == DiffKind::Changed),
        "{d:?}"
    );
    let d = o
        .differing
        .iter()
        .find(|d| d.id == truncated_id)
        .unwrap_or_else(|| panic!("truncated observation reported: {}", describe(&bad)));
    assert_eq!(d.fields.len(), 1, "{d:?}");
    assert_eq!(d.fields[0].path, format!("input.{field}"));
    assert_eq!(d.fields[0].kind, DiffKind::Truncated);
    assert_eq!(o.differing_count, 2, "{}", describe(&bad));
    let s = entity(&bad, Entity::Scores);
    assert_eq!(s.missing, vec![deleted_score], "{}", describe(&bad));
    assert_eq!(s.extra_count + s.differing_count, 0, "{}", describe(&bad));

    // A sample compares fewer pairs but still counts every id.
    let sampled = validate(
        &run_id,
        data.path(),
        &ValidateOptions {
            sample: Some(3),
            save: false,
            ..validate_options()
        },
    )
    .await;
    let o = entity(&sampled, Entity::Observations);
    assert_eq!(o.compared, 3);
    assert_eq!(o.extra_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visibility_delay_is_waited_out_on_v3_and_v4() {
    for profile in [ServerProfile::V3, ServerProfile::V4] {
        let source = sandbox(profile, Some((5, 6, 3))).await;
        let target = with_delay(profile, None, 1_500).await;
        let data = tempfile::tempdir().unwrap();
        let (run_id, failed) = copy(&source, &target, data.path()).await;

        // Too short a wait: the report says plainly that it gave up.
        let impatient = validate(
            &run_id,
            data.path(),
            &ValidateOptions {
                settle_limit: Duration::ZERO,
                save: false,
                ..validate_options()
            },
        )
        .await;
        assert!(!impatient.settle.settled, "{profile:?}");
        assert!(!impatient.is_clean());
        let note = impatient.settle.note.clone().unwrap();
        assert!(note.starts_with("Gave up waiting"), "{note}");

        // Patient: waits until the counts stop moving, then passes.
        let patient = validate(&run_id, data.path(), &validate_options()).await;
        assert!(
            patient.settle.settled,
            "{profile:?}: {}",
            describe(&patient)
        );
        assert!(patient.settle.waited_ms > 0);
        assert!(
            unexplained(&patient, &failed).is_empty(),
            "{profile:?}: {failed:?}\n{}",
            describe(&patient)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_to_an_archive_folder_validates_and_cannot_be_rolled_back() {
    let source = sandbox(ServerProfile::V4, Some((13, 6, 2))).await;
    let data = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let archive = migrator_engine::EndpointSpec::Archive {
        path: folder.path().to_path_buf(),
    };
    let report = migrator_engine::run(
        plan(lf(&source), archive),
        data.path(),
        NoProgress,
        RunControl::new(),
        false,
    )
    .await
    .unwrap();
    let r = validate(&report.run_id, data.path(), &validate_options()).await;
    assert!(r.is_clean(), "{}", describe(&r));
    assert_eq!(entity(&r, Entity::Observations).source_count, 12);

    let e = migrator_engine::rollback_preview(
        &report.run_id,
        data.path(),
        &migrator_engine::RollbackOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("delete that folder instead"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_between_v3_and_v4_validate_clean_despite_different_read_shapes() {
    for (s, t) in [
        (ServerProfile::V3, ServerProfile::V4),
        (ServerProfile::V4, ServerProfile::V3),
    ] {
        let source = sandbox(s, Some((5, 6, 3))).await;
        let target = sandbox(t, None).await;
        let data = tempfile::tempdir().unwrap();
        let (run_id, failed) = copy(&source, &target, data.path()).await;
        let r = validate(&run_id, data.path(), &validate_options()).await;
        assert!(
            unexplained(&r, &failed).is_empty(),
            "{s:?} -> {t:?}: {failed:?}\n{}",
            describe(&r)
        );
        assert!(entity(&r, Entity::Observations).compared > 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_the_target_held_before_the_run_are_not_counted_as_extra() {
    let source = sandbox(ServerProfile::V4, Some((11, 6, 2))).await;
    let target = sandbox(ServerProfile::V4, Some((12, 4, 2))).await;
    let data = tempfile::tempdir().unwrap();
    let (run_id, _) = copy(&source, &target, data.path()).await;
    let r = validate(&run_id, data.path(), &validate_options()).await;
    let traces = entity(&r, Entity::Traces);
    assert_eq!(traces.source_count, 6);
    assert_eq!(traces.target_count, 10);
    assert_eq!(traces.preexisting_count, 4, "{}", describe(&r));
    assert_eq!((traces.extra_count, traces.missing_count), (0, 0));
    assert!(
        r.to_markdown()
            .contains("The target also holds 4 traces, 8 observations"),
        "{}",
        r.to_markdown()
    );
    // An object added after the run is still extra.
    let mut late = target.dump()["observations"][0].clone();
    late["id"] = json!("added-after-the-run");
    late["traceId"] = json!("a-new-trace");
    target.insert_raw("observations", late).unwrap();
    target.settle();
    let r = validate(&run_id, data.path(), &validate_options()).await;
    assert_eq!(
        entity(&r, Entity::Traces).extra,
        vec!["a-new-trace".to_string()]
    );
}

/// A report's findings in an order-free form, to compare two validations of the same run.
fn findings(r: &ValidationReport) -> Vec<String> {
    let mut out: Vec<String> = r
        .entities
        .iter()
        .map(|e| {
            let sorted = |v: &[String]| {
                let mut v = v.to_vec();
                v.sort();
                v
            };
            let mut differing: Vec<String> =
                e.differing.iter().map(|d| format!("{d:?}")).collect();
            differing.sort();
            format!(
                "{} source {} target {} compared {} missing {} {:?} extra {} {:?} differing {} {:?} before {}",
                e.entity,
                e.source_count,
                e.target_count,
                e.compared,
                e.missing_count,
                sorted(&e.missing),
                e.extra_count,
                sorted(&e.extra),
                e.differing_count,
                differing,
                e.preexisting_count
            )
        })
        .collect();
    out.extend(r.per_day.iter().map(|d| format!("{d:?}")));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_compared_in_time_slices_reports_exactly_what_one_window_reports() {
    for profile in [ServerProfile::V3, ServerProfile::V4] {
        let source = sandbox(profile, Some((13, 40, 4))).await;
        let target = sandbox(profile, None).await;
        let data = tempfile::tempdir().unwrap();
        let (run_id, _) = copy(&source, &target, data.path()).await;
        target.settle();
        // Damage the target: a start time moved years back (into another slice), a lost
        // observation, a lost score, an observation nobody copied.
        let dump = target.dump();
        let obs = dump["observations"].as_array().unwrap();
        let moved = obs[3]["id"].as_str().unwrap().to_string();
        target
            .patch_raw(
                "observations",
                &moved,
                json!({"startTime": "2020-06-01T00:00:00.000Z"}),
            )
            .unwrap();
        let lost = obs[7]["id"].as_str().unwrap();
        target.delete_raw("observations", lost).unwrap();
        target
            .delete_raw("scores", dump["scores"][0]["id"].as_str().unwrap())
            .unwrap();
        let mut extra = obs[1].clone();
        extra["id"] = json!("added-by-hand");
        target.insert_raw("observations", extra).unwrap();
        target.settle();

        let whole = validate(
            &run_id,
            data.path(),
            &ValidateOptions {
                slice_objects: u64::MAX,
                save: false,
                ..validate_options()
            },
        )
        .await;
        let reads = std::sync::Mutex::new(vec![]);
        let sliced = migrator_engine::validate_run(
            &run_id,
            data.path(),
            &ValidateOptions {
                slice_objects: 15,
                save: false,
                ..validate_options()
            },
            &|p| {
                if let migrator_engine::ValidationProgress::Reading {
                    entity: Entity::Observations,
                    side,
                    objects,
                } = p
                    && side == "source"
                {
                    reads.lock().unwrap().push(objects);
                }
            },
        )
        .await
        .unwrap();
        // The observations were read in many slices (the count restarts with each).
        let reads = reads.into_inner().unwrap();
        let restarts = reads.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(restarts >= 5, "{profile:?}: {reads:?}");
        assert_eq!(findings(&sliced), findings(&whole), "{profile:?}");
        // And what one window finds is what was done to the target.
        let o = entity(&whole, Entity::Observations);
        assert_eq!(
            o.extra,
            vec!["added-by-hand".to_string()],
            "{}",
            describe(&whole)
        );
        assert_eq!(o.missing, vec![lost.to_string()], "{}", describe(&whole));
        assert!(
            o.differing
                .iter()
                .any(|d| d.id == moved && d.fields.iter().any(|f| f.path == "startTime")),
            "{}",
            describe(&sliced)
        );
    }
}
