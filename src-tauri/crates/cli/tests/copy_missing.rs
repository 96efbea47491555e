//! `copy-missing` through the binary against sandboxes over HTTP: an object arrives at the
//! source, inside a finished run's window, after the run read it. `validate` names it missing,
//! `copy-missing --json` copies it (its trace's span and score with it) and validates clean, and
//! running it again copies nothing.

use chrono::{DateTime, Duration as Span, Utc};
use langfuse_sandbox::{Sandbox, ServerProfile};
use serde_json::{Value, json};

mod common;
use common::*;

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A finished trace at `at` (with a span and a score), as the Python SDK v2 sends it.
async fn trace_at(s: &Sandbox, n: u64, at: DateTime<Utc>) -> String {
    let tid = format!("{:032x}", 0xfeed_0000u64 + n);
    let ev = |kind: &str, body: Value| {
        json!({"id": format!("{kind}-{tid}"), "type": kind,
               "timestamp": iso(Utc::now()), "body": body})
    };
    let batch = vec![
        ev(
            "trace-create",
            json!({"id": tid, "name": "chat", "timestamp": iso(at)}),
        ),
        ev(
            "span-create",
            json!({"id": format!("span-{n}"), "traceId": tid, "name": "work",
                   "startTime": iso(at), "endTime": iso(at + Span::milliseconds(100))}),
        ),
        ev(
            "score-create",
            json!({"id": format!("score-{n}"), "traceId": tid, "name": "ok", "value": 1.0,
                   "timestamp": iso(at)}),
        ),
    ];
    let r = reqwest::Client::new()
        .post(format!("{}/api/public/ingestion", s.url()))
        .basic_auth("pk-lf-source", Some("sk-lf-source-secret"))
        .json(&json!({ "batch": batch }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 207);
    s.settle();
    tid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_missing_copies_what_validation_found_missing_once_and_validates_clean() {
    let src = sandbox(
        ServerProfile::V3,
        "pk-lf-source",
        "sk-lf-source-secret",
        None,
    )
    .await;
    let dst = sandbox(
        ServerProfile::V3,
        "pk-lf-target",
        "sk-lf-target-secret",
        None,
    )
    .await;
    for n in 0..3 {
        trace_at(&src, n, Utc::now() - Span::hours(2)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        plan_text(
            &src,
            &dst,
            "entities = [\"traces\", \"observations\", \"scores\"]\nfrom = \"2020-01-01T00:00:00Z\"",
            "visibility_wait_ms = 100",
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let out = output(cli(
        &["run", "--plan", plan.to_str().unwrap(), "--json"],
        &data,
    ))
    .await;
    assert_succeeded(&out);
    let run = json_of(&out)["run_id"].as_str().unwrap().to_string();

    // Arrives after the run read its window, dated inside it.
    let late = trace_at(&src, 9, Utc::now() - Span::hours(1)).await;
    let out = output(cli(&["validate", &run, "--json"], &data)).await;
    assert_eq!(out.status.code(), Some(1), "validation finds it missing");
    let report = json_of(&out);
    let traces = report["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entity"] == "traces")
        .unwrap()
        .clone();
    assert_eq!(traces["missing"], json!([late]));

    let out = output(cli(&["copy-missing", &run, "--json"], &data)).await;
    assert_succeeded(&out);
    let copied = json_of(&out);
    let one = json!({"traces": 1, "observations": 1, "scores": 1});
    assert_eq!(copied["asked"], one);
    assert_eq!(copied["copied"], one, "{copied}");
    assert_eq!(copied["validation"]["entities"][0]["missing_count"], 0);
    let counts = dst.counts();
    assert_eq!(
        (counts["traces"], counts["observations"], counts["scores"]),
        (4, 4, 4)
    );

    // Again: the last validation is clean, nothing is asked or written.
    let out = output(cli(&["copy-missing", "--run", &run], &data)).await;
    assert_succeeded(&out);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("found nothing missing"), "{said}");
    assert_eq!(dst.counts(), counts);

    let out = output(cli(&["copy-missing", "no-such-run", "--json"], &data)).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        json_of(&out)["error"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
