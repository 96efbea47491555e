//! Throughput and memory benchmark: sandbox → sandbox, the sandboxes as separate processes so the
//! numbers are the migrator's own.
//!
//! `cargo build --release -p langfuse-sandbox && cargo bench -p migrator-engine --bench throughput`
//! Options (env): BENCH_TRACES (default 10000), BENCH_OBS_PER_TRACE (10), BENCH_SCALE (10, the
//! second run's multiple), BENCH_SKIP_SCALE=1, BENCH_RATE_TRACES (2000).
//!
//! Prints observations per second end to end, peak RSS (VmHWM) after each run, and for a run
//! against a sandbox with Langfuse Cloud's hobby limits, the time taken next to the least time
//! those limits allow for the requests the run needed.

use migrator_engine::http::{Budget, Bucket, CloudPlan};
use migrator_engine::{EndpointSpec, Entity, LangfuseEndpoint, NoProgress, Plan, RunControl};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

struct SandboxProcess {
    child: Child,
    url: String,
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sandbox_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("langfuse-sandbox");
    assert!(bin.exists(), "build the sandbox first: cargo build --release -p langfuse-sandbox (looked for {})", bin.display());
    bin
}

fn spawn_sandbox(args: &[&str]) -> SandboxProcess {
    let mut child = Command::new(sandbox_bin())
        .args(["--port", "0", "--visibility-delay-ms", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").expect("first line names the URL").to_string();
    SandboxProcess { child, url }
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn plan(source: &str, target: LangfuseEndpoint) -> Plan {
    let mut p = Plan::from_toml(
        r#"[source]
kind = "archive"
path = "/x"
[target]
kind = "archive"
path = "/y"
[scope]
entities = ["traces", "observations", "scores"]
[options]
run_tag = true
concurrency = 4
visibility_wait_ms = 200
"#,
    )
    .unwrap_or_else(|_| {
        // Two archives are refused; build the plan field by field instead.
        Plan::from_toml(
            "[source]\nkind = \"archive\"\npath = \"/x\"\n[target]\nkind = \"langfuse\"\nurl = \"http://x\"\npublic_key = \"pk\"\n[scope]\nentities = [\"traces\", \"observations\", \"scores\"]\n[options]\nconcurrency = 4\nvisibility_wait_ms = 200\n",
        )
        .unwrap()
    });
    p.source = EndpointSpec::Langfuse(LangfuseEndpoint::new(source, "pk-lf-sandbox", "sk-lf-sandbox"));
    p.target = EndpointSpec::Langfuse(target);
    p
}

fn copy(rt: &tokio::runtime::Runtime, traces: usize, per_trace: usize, label: &str) {
    let t0 = Instant::now();
    let source = spawn_sandbox(&["--traces", &traces.to_string(), "--observations-per-trace", &per_trace.to_string(), "--seed", "42"]);
    let target = spawn_sandbox(&[]);
    eprintln!("{label}: sandboxes up in {:.1}s", t0.elapsed().as_secs_f64());
    let data = tempfile::tempdir().unwrap();
    let p = plan(&source.url, LangfuseEndpoint::new(&target.url, "pk-lf-sandbox", "sk-lf-sandbox"));
    let started = Instant::now();
    let sink = migrator_engine::progress::FnSink(move |e| {
        if let migrator_engine::ProgressEvent::PhaseStarted { entity } = e {
            eprintln!("  {:>7.2}s {entity} starts", started.elapsed().as_secs_f64());
        }
    });
    let report = rt
        .block_on(migrator_engine::run(p, data.path(), sink, RunControl::new(), false))
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    let obs = report.entities[&Entity::Observations].written;
    assert_eq!(obs as usize, traces * per_trace, "{report:#?}");
    println!(
        "{label}: {traces} traces, {obs} observations, {} scores in {secs:.2}s = {:.0} observations/s end to end; peak RSS so far {:.1} MB",
        report.entities.get(&Entity::Scores).map(|c| c.written).unwrap_or(0),
        obs as f64 / secs,
        peak_rss_mb()
    );
}

fn rate_limited(rt: &tokio::runtime::Runtime, traces: usize) {
    let scale = 60.0;
    let source = spawn_sandbox(&["--traces", &traces.to_string(), "--observations-per-trace", "10", "--seed", "7"]);
    let target = spawn_sandbox(&["--plan", "hobby", "--time-scale", &scale.to_string()]);
    let mut t = LangfuseEndpoint::new(&target.url, "pk-lf-sandbox", "sk-lf-sandbox");
    t.cloud_plan = CloudPlan::Hobby;
    t.budget_time_scale = scale;
    let data = tempfile::tempdir().unwrap();
    let mut p = plan(&source.url, t);
    // Small batches so the ingestion budget, not the data volume, decides the time.
    p.options.batch_items = 20;
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let report = rt.block_on(migrator_engine::run(p, data.path(), tx, RunControl::new(), false)).unwrap();
    let secs = started.elapsed().as_secs_f64();
    let mut requests = [0u64; 5];
    // The target's request counts are not in the report; re-count from the last snapshot is not
    // possible either, so count target requests through a second, identical dry accounting:
    // every write request is one ingestion request of at most `batch_items` objects.
    while rx.try_recv().is_ok() {}
    let obs = report.entities[&Entity::Observations].written;
    let scores = report.entities.get(&Entity::Scores).map(|c| c.written).unwrap_or(0);
    requests[0] = obs.div_ceil(20) + scores.div_ceil(20);
    let budget = Budget { plan: CloudPlan::Hobby, time_scale: scale, requests_per_minute: None };
    let minute = 60.0 / scale;
    let min_secs = Bucket::ALL
        .iter()
        .zip(requests)
        .map(|(b, n)| n as f64 / budget.per_minute(*b).unwrap() as f64 * minute)
        .fold(0.0, f64::max);
    println!(
        "rate-limited (hobby, a minute lasts {minute:.1}s): {obs} observations + {scores} scores in {} ingestion requests took {secs:.2}s; the ingestion limit alone allows no less than {min_secs:.2}s ({:+.1}%); 429 waits {}",
        requests[0],
        (secs / min_secs - 1.0) * 100.0,
        report.rate_limit_waits
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (traces, per) = (env("BENCH_TRACES", 10_000), env("BENCH_OBS_PER_TRACE", 10));
    copy(&rt, traces, per, "base");
    if std::env::var("BENCH_SKIP_SCALE").is_err() {
        copy(&rt, traces * env("BENCH_SCALE", 10), per, "10x");
    }
    rate_limited(&rt, env("BENCH_RATE_TRACES", 2_000));
}
