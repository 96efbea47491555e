//! Live sync from a LangSmith workspace (issue 12) over HTTP: a writer adds run trees to
//! `langsmith-sandbox` the way the SDK does (`POST /runs/batch`, runs posted when they start and
//! patched when they end) while the sync follows into a v4 target, which cannot change what it
//! received. Some trees arrive late, some stay pending for a while (a pending child under an
//! ended root, a pending root over an ended child), and feedback arrives after its run was
//! copied. The oracle is the LangSmith sandbox's own dump, with the documented ids written out
//! here independently of the connector.

mod common;

use chrono::{DateTime, Duration as Span, Utc};
use common::*;
use langfuse_sandbox::ServerProfile;
use langsmith_sandbox::{Sandbox as LsSandbox, SandboxConfig as LsConfig};
use migrator_engine::plan::EntitySelection;
use migrator_engine::{
    EndpointSpec, Entity, LangsmithEndpoint, NoProgress, Plan, RunControl, RunState, SyncSettings,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

const PROJECT: &str = "chat";

/// The documented ids: trace = the root's UUID without dashes; observation =
/// sha256("langsmith-run:" + hex)[..8].
fn hex(uuid: &str) -> String {
    uuid.replace('-', "").to_lowercase()
}
fn obs_id(run: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("langsmith-run:{}", hex(run)).as_bytes());
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn us(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn ms(t: &str) -> String {
    t.parse::<DateTime<Utc>>()
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Writes like the LangSmith SDK: runs in batches, feedback one by one.
struct Writer {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Writer {
    fn new(s: &LsSandbox) -> Self {
        Writer {
            http: reqwest::Client::new(),
            url: s.url(),
            key: s.api_key().to_string(),
        }
    }

    async fn batch(&self, post: Vec<Value>, patch: Vec<Value>) {
        let r = self
            .http
            .post(format!("{}/runs/batch", self.url))
            .header("x-api-key", &self.key)
            .json(&json!({"post": post, "patch": patch}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    async fn feedback(&self, run: &str, score: f64) {
        let r = self
            .http
            .post(format!("{}/feedback", self.url))
            .header("x-api-key", &self.key)
            .json(
                &json!({"id": uuid::Uuid::new_v4().to_string(), "run_id": run,
                          "key": "helpful", "score": score}),
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
}

/// A run as the SDK posts it; `end` and outputs only when it has ended.
fn run(
    id: &str,
    parent: Option<&str>,
    trace: &str,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
) -> Value {
    let mut r = json!({"id": id, "trace_id": trace, "name": if parent.is_some() {"llm"} else {"agent"},
        "run_type": if parent.is_some() {"llm"} else {"chain"}, "start_time": us(start),
        "inputs": {"q": id}, "session_name": PROJECT});
    if let Some(p) = parent {
        r["parent_run_id"] = json!(p);
    }
    if let Some(e) = end {
        r["end_time"] = json!(us(e));
        r["outputs"] = json!({"a": id});
    }
    r
}

fn end(id: &str) -> Value {
    json!({"id": id, "end_time": us(Utc::now()), "outputs": {"a": id}})
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A whole ended tree two hours old (older than any lookback): the backfill copies it.
async fn history(w: &Writer) -> String {
    let (root, child) = (uuid(), uuid());
    let at = Utc::now() - Span::hours(2);
    w.batch(
        vec![
            run(&root, None, &root, at, Some(at + Span::seconds(2))),
            run(&child, Some(&root), &root, at, Some(at + Span::seconds(1))),
        ],
        vec![],
    )
    .await;
    root
}

/// What the writer did that the target must show.
#[derive(Default)]
struct Written {
    /// Trees whose root ended while a child was still pending: (root, when the child ended).
    root_before_child: Vec<(String, DateTime<Utc>)>,
}

/// Trees while the sync follows: on time, late (started 20 s ago, sent now), a root ended over
/// a pending child and a pending root over an ended child (the pending run ends 3 s later), and
/// feedback on runs already copied: the history's root and trees written 4 s earlier.
async fn write(w: Writer, rounds: usize, old_root: String) -> Written {
    let mut written = Written::default();
    let mut to_end: Vec<(String, String, DateTime<Utc>, bool)> = vec![];
    let mut to_score: Vec<(String, DateTime<Utc>)> = vec![(old_root, Utc::now())];
    for n in 0..rounds {
        let now = Utc::now();
        let (root, child) = (uuid(), uuid());
        let post = match n % 4 {
            0 => {
                to_score.push((root.clone(), now));
                vec![
                    run(&root, None, &root, now, Some(now + Span::milliseconds(300))),
                    run(
                        &child,
                        Some(&root),
                        &root,
                        now,
                        Some(now + Span::milliseconds(200)),
                    ),
                ]
            }
            1 => {
                let at = now - Span::seconds(20);
                vec![
                    run(&root, None, &root, at, Some(at + Span::seconds(1))),
                    run(
                        &child,
                        Some(&root),
                        &root,
                        at,
                        Some(at + Span::milliseconds(500)),
                    ),
                ]
            }
            2 => {
                to_end.push((root.clone(), child.clone(), now, true));
                vec![
                    run(&root, None, &root, now, Some(now + Span::milliseconds(100))),
                    run(&child, Some(&root), &root, now, None),
                ]
            }
            _ => {
                to_end.push((root.clone(), root.clone(), now, false));
                vec![
                    run(&root, None, &root, now, None),
                    run(
                        &child,
                        Some(&root),
                        &root,
                        now,
                        Some(now + Span::milliseconds(100)),
                    ),
                ]
            }
        };
        w.batch(post, vec![]).await;
        let (due, later): (Vec<_>, Vec<_>) = to_end
            .into_iter()
            .partition(|(.., t, _)| Utc::now() - *t >= Span::seconds(3));
        to_end = later;
        for (root, pending, _, child) in due {
            end_run(&w, &root, &pending, child, &mut written).await;
        }
        let (due, later): (Vec<_>, Vec<_>) = to_score
            .into_iter()
            .partition(|(_, t)| Utc::now() - *t >= Span::seconds(4));
        to_score = later;
        for (r, _) in due {
            w.feedback(&r, 1.0).await;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (root, pending, _, child) in std::mem::take(&mut to_end) {
        end_run(&w, &root, &pending, child, &mut written).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (r, _) in to_score {
        w.feedback(&r, 0.0).await;
    }
    written
}

async fn end_run(w: &Writer, root: &str, pending: &str, child: bool, written: &mut Written) {
    w.batch(vec![], vec![end(pending)]).await;
    if child {
        written
            .root_before_child
            .push((root.to_string(), Utc::now()));
    }
}

fn ls(s: &LsSandbox) -> EndpointSpec {
    let mut e = LangsmithEndpoint::new(&s.url(), s.api_key());
    e.projects = vec![PROJECT.into()];
    EndpointSpec::Langsmith(e)
}

fn sync_plan(source: &LsSandbox, target: &langfuse_sandbox::Sandbox) -> Plan {
    let mut p = plan(ls(source), lf(target));
    p.scope.entities =
        EntitySelection::Only(vec![Entity::Traces, Entity::Observations, Entity::Scores]);
    p
}

fn quick(until_idle: f64) -> SyncSettings {
    SyncSettings {
        poll_secs: Some(0.5),
        settle_secs: Some(1.0),
        lookback_secs: Some(60.0),
        until_idle_secs: Some(until_idle),
        drain_secs: None,
    }
}

fn counted<'a>(ids: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for id in ids {
        *out.entry(id.to_string()).or_default() += 1;
    }
    out
}

fn json_field(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or(v.clone()),
        other => other.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sync_follows_langsmith_run_trees_whole_and_late_feedback_arrives() {
    let source = LsSandbox::start(LsConfig::default()).await.unwrap();
    let old_root = history(&Writer::new(&source)).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data = tempfile::tempdir().unwrap();
    let writer = tokio::spawn(write(Writer::new(&source), 16, old_root));
    let report = migrator_engine::sync(
        sync_plan(&source, &target),
        data.path(),
        quick(4.0),
        NoProgress,
        RunControl::new(),
    )
    .await
    .expect("the sync ends by itself once the workspace is idle");
    let written = writer.await.unwrap();
    target.settle();

    assert_eq!(report.state, RunState::Completed, "{report:?}");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let sync = report.sync.as_ref().expect("a sync reports its passes");
    assert_eq!(sync.waiting, 0, "nothing left waiting: {sync:?}");
    let timing = sync.timing.as_ref().unwrap();
    assert_eq!(timing.settle_secs, 1.0, "the plan's timing wins");

    let (src, tgt) = (source.dump(), target.dump());
    let runs = src["runs"].as_array().unwrap();
    assert_eq!(
        runs.len(),
        2 + 16 * 2,
        "the writer's runs are all at the source"
    );
    assert!(
        runs.iter().all(|r| r["status"] != "pending"),
        "every run has ended at the source"
    );
    // Every run once, complete: its end time and outputs as the source has them now.
    let observations = tgt["observations"].as_array().unwrap();
    let seen = counted(observations.iter().map(|o| o["id"].as_str().unwrap()));
    let by_id: HashMap<&str, &Value> = observations
        .iter()
        .map(|o| (o["id"].as_str().unwrap(), o))
        .collect();
    for r in runs {
        let id = obs_id(r["id"].as_str().unwrap());
        assert_eq!(
            seen.get(&id),
            Some(&1),
            "run {} arrives once: {seen:?}",
            r["id"]
        );
        let o = by_id[id.as_str()];
        assert_eq!(
            o["endTime"].as_str().map(ms),
            Some(ms(r["end_time"].as_str().unwrap())),
            "run {} arrives with its end: {o}",
            r["id"]
        );
        assert_eq!(json_field(&o["output"]), r["outputs"], "{o}");
        assert_eq!(
            json_field(&json_field(&o["metadata"])["langsmith_status"]),
            json!("success")
        );
    }
    // Besides the runs, only the traces' own spans (one per root run), each once.
    let roots = runs.iter().filter(|r| r["parent_run_id"].is_null()).count();
    let others: Vec<_> = seen
        .iter()
        .filter(|(id, _)| {
            !runs
                .iter()
                .any(|r| obs_id(r["id"].as_str().unwrap()) == **id)
        })
        .collect();
    assert_eq!(others.len(), roots, "{others:?}");
    assert!(
        others
            .iter()
            .all(|(id, n)| id.starts_with("t-") && **n == 1)
    );
    // Every feedback once as a score with its id, those that came after their run was copied
    // included.
    let feedback = src["feedback"].as_array().unwrap();
    assert_eq!(
        feedback.len(),
        1 + 4,
        "the writer's feedback is all at the source"
    );
    let scores = counted(
        tgt["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap()),
    );
    let want = counted(feedback.iter().map(|f| f["id"].as_str().unwrap()));
    assert_eq!(scores, want, "each feedback once");

    // A tree whose root ended while its child ran was not copied before the child ended.
    assert_eq!(written.root_before_child.len(), 4);
    for (root, child_ended) in &written.root_before_child {
        let o = by_id[obs_id(root).as_str()];
        let created: DateTime<Utc> = o["createdAt"].as_str().unwrap().parse().unwrap();
        assert!(
            created >= *child_ended,
            "root {root} was copied at {created}, before its child ended at {child_ended}"
        );
    }
    let options = migrator_engine::ValidateOptions {
        secrets: migrator_engine::Secrets {
            source: Some(migrator_engine::Secret::new(source.api_key())),
            target: Some(migrator_engine::Secret::new("sk-lf-sandbox")),
            ..Default::default()
        },
        ..validate_options()
    };
    let v = migrator_engine::validate_run(&report.run_id, data.path(), &options, &|_| {})
        .await
        .unwrap();
    assert!(
        v.is_clean(),
        "validation: {}",
        serde_json::to_string_pretty(&v).unwrap()
    );
}

#[tokio::test]
async fn a_langsmith_bulk_export_cannot_be_followed() {
    let target = sandbox(ServerProfile::V4, None).await;
    let mut e = LangsmithEndpoint::new("http://127.0.0.1:1", "lsv2_sk_x");
    e.export_path = Some(std::env::temp_dir());
    let data = tempfile::tempdir().unwrap();
    let err = migrator_engine::sync(
        plan(EndpointSpec::Langsmith(e), lf(&target)),
        data.path(),
        quick(1.0),
        NoProgress,
        RunControl::new(),
    )
    .await
    .expect_err("a bulk export is read once");
    let text = err.to_string();
    assert!(text.contains("bulk export"), "{text}");
    assert!(text.contains("copy it with a run"), "{text}");
}

/// What the LangSmith Python SDK adds to every run it sends (`extra.runtime`).
fn sdk_extra(version: &str, revision: &str) -> Value {
    json!({"runtime": {"sdk": "langsmith-py", "sdk_version": version, "library": "langsmith",
                       "runtime": "python", "runtime_version": "3.12.3"},
           "metadata": {"revision_id": revision}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_the_switch_the_drain_names_the_langsmith_sdk_that_still_writes() {
    let source = LsSandbox::start(LsConfig::default()).await.unwrap();
    let w = Writer::new(&source);
    history(&w).await;
    let target = sandbox(ServerProfile::V4, None).await;
    let data: &'static tempfile::TempDir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    let settings = SyncSettings {
        drain_secs: Some(3.0),
        until_idle_secs: None,
        ..quick(0.0)
    };
    let sync = tokio::spawn(migrator_engine::sync(
        sync_plan(&source, &target),
        data.path(),
        settings,
        NoProgress,
        RunControl::new(),
    ));
    // The run id once the sync has finished a pass.
    let run = loop {
        let runs = migrator_engine::list_runs(data.path()).unwrap();
        if let Some(r) = runs.first() {
            let j = migrator_engine::Journal::open(data.path(), &r.run_id).unwrap();
            if migrator_engine::live_sync::status::passes(&j)
                .unwrap()
                .iter()
                .any(|p| p.ended_at.is_some())
            {
                break r.run_id.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    migrator_engine::mark_switched(data.path(), &run, Utc::now()).unwrap();
    // After the switch, two trees of an instance still on the old configuration.
    for _ in 0..2 {
        let (root, child) = (uuid(), uuid());
        let at = Utc::now();
        let mut r = run_with(&root, None, &root, at);
        let mut c = run_with(&child, Some(&root), &root, at);
        r["extra"] = sdk_extra("0.4.37", "v2.0.0");
        c["extra"] = sdk_extra("0.4.37", "v2.0.0");
        w.batch(vec![r, c], vec![]).await;
    }

    let report = tokio::time::timeout(Duration::from_secs(120), sync)
        .await
        .expect("the drain ends the sync by itself")
        .unwrap()
        .unwrap();
    assert_eq!(report.state, RunState::Completed, "{report:?}");
    let senders: Vec<_> = report
        .sync
        .unwrap()
        .senders
        .iter()
        .map(|s| {
            (
                s.sdk.clone(),
                s.sdk_version.clone(),
                s.release.clone(),
                s.objects,
            )
        })
        .collect();
    // Two traces and four observations, all from the Python SDK 0.4.37 at release v2.0.0.
    assert_eq!(
        senders,
        vec![(
            Some("langsmith-py".to_string()),
            Some("0.4.37".to_string()),
            Some("v2.0.0".to_string()),
            6
        )]
    );
}

/// An ended run of one second that started at `at`.
fn run_with(id: &str, parent: Option<&str>, trace: &str, at: DateTime<Utc>) -> Value {
    run(id, parent, trace, at, Some(at + Span::seconds(1)))
}
