//! Throughput and memory benchmark: sandbox → sandbox, the sandboxes as separate processes so the
//! numbers are the migrator's own.
//!
//! `cargo build --release -p langfuse-sandbox && cargo bench -p migrator-engine --bench throughput`
//! Options (env): BENCH_TRACES (default 10000), BENCH_OBS_PER_TRACE (10), BENCH_SCALE (10, the
//! second run's multiple), BENCH_SKIP_SCALE=1, BENCH_RATE_TRACES (1000), BENCH_SKIP_VALIDATE=1.
//!
//! Prints observations per second end to end, the highest RSS sampled during each copy, the time and
//! peak memory of validating it (in slices, and for the base run also in one window), and for a run
//! against a sandbox with Langfuse Cloud's hobby limits, the time taken next to the least time
//! those limits allow for the requests the run needed.

use migrator_engine::http::{Bucket, Budget, CloudPlan};
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
    assert!(
        bin.exists(),
        "build the sandbox first: cargo build --release -p langfuse-sandbox (looked for {})",
        bin.display()
    );
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
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("first line names the URL")
        .to_string();
    SandboxProcess { child, url }
}

fn rss_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
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

/// CPU seconds (user + system) this process used so far: a measure that holds on a busy machine.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
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
            "[source]\nkind = \"archive\"\npath = \"/x\"\n[target]\nkind = \"langfuse\"\nurl = \"http://127.0.0.1:1\"\npublic_key = \"pk\"\n[scope]\nentities = [\"traces\", \"observations\", \"scores\"]\n[options]\nconcurrency = 4\nvisibility_wait_ms = 200\n",
        )
        .unwrap()
    });
    p.source = EndpointSpec::Langfuse(LangfuseEndpoint::new(
        source,
        "pk-lf-sandbox",
        "sk-lf-sandbox",
    ));
    p.target = EndpointSpec::Langfuse(target);
    p
}

fn copy(rt: &tokio::runtime::Runtime, traces: usize, per_trace: usize, label: &str) {
    let t0 = Instant::now();
    let source = spawn_sandbox(&[
        "--traces",
        &traces.to_string(),
        "--observations-per-trace",
        &per_trace.to_string(),
        "--seed",
        "42",
    ]);
    let target = spawn_sandbox(&[]);
    eprintln!(
        "{label}: sandboxes up in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    let data = tempfile::tempdir().unwrap();
    let p = plan(
        &source.url,
        LangfuseEndpoint::new(&target.url, "pk-lf-sandbox", "sk-lf-sandbox"),
    );
    let started = Instant::now();
    let cpu0 = cpu_secs();
    // Resident memory over the run, to see whether it is flat or grows with what was moved.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut samples = vec![];
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                samples.push(rss_mb("VmRSS:"));
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
            samples
        })
    };
    let sink = migrator_engine::progress::FnSink(move |e| {
        if let migrator_engine::ProgressEvent::PhaseStarted { entity } = e {
            eprintln!(
                "  {:>7.2}s {entity} starts",
                started.elapsed().as_secs_f64()
            );
        }
    });
    let report = rt
        .block_on(migrator_engine::run(
            p,
            data.path(),
            sink,
            RunControl::new(),
            false,
        ))
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    let at = |q: f64| {
        samples
            .get(((samples.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    eprintln!(
        "  resident memory at 10/25/50/75/100% of the run: {:.0} / {:.0} / {:.0} / {:.0} / {:.0} MB",
        at(0.1),
        at(0.25),
        at(0.5),
        at(0.75),
        at(1.0)
    );
    let obs = report.entities[&Entity::Observations].written;
    assert_eq!(obs as usize, traces * per_trace, "{report:#?}");
    let cpu = cpu_secs() - cpu0;
    println!(
        "{label}: {traces} traces, {obs} observations, {} scores in {secs:.2}s = {:.0} observations/s end to end; migrator CPU {cpu:.2}s = {:.0} observations per CPU-second; highest RSS sampled during the copy {:.1} MB",
        report
            .entities
            .get(&Entity::Scores)
            .map(|c| c.written)
            .unwrap_or(0),
        obs as f64 / secs,
        obs as f64 / cpu,
        // Sampled, not VmHWM: memory a validation before this copy freed may still be resident
        // when the copy starts.
        samples.iter().copied().fold(0.0, f64::max)
    );
    if std::env::var("BENCH_SKIP_VALIDATE").is_err() {
        validate(rt, &report.run_id, data.path(), label, 10_000);
        // One window for the whole run: what validation held before it compared in slices
        // (about 18 KB per observation for both sides: only for the base volume).
        if label == "base" && traces * per_trace <= 200_000 {
            validate(rt, &report.run_id, data.path(), label, u64::MAX);
        }
    }
}

/// Validates a finished run and prints its time and the peak resident memory of validation
/// alone (the peak is reset first).
fn validate(
    rt: &tokio::runtime::Runtime,
    run_id: &str,
    data: &std::path::Path,
    label: &str,
    slice_objects: u64,
) {
    // Writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0), so this is validation's own peak.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let options = migrator_engine::ValidateOptions {
        secrets: migrator_engine::Secrets {
            source: Some(migrator_engine::Secret::new("sk-lf-sandbox")),
            target: Some(migrator_engine::Secret::new("sk-lf-sandbox")),
            ..Default::default()
        },
        save: false,
        slice_objects,
        ..Default::default()
    };
    let started = Instant::now();
    let report = rt
        .block_on(migrator_engine::validate_run(
            run_id,
            data,
            &options,
            &|_| {},
        ))
        .unwrap();
    let compared: u64 = report.entities.iter().map(|e| e.compared).sum();
    println!(
        "{label}: validation ({}) compared {compared} pairs in {:.1}s, clean: {}; peak RSS during validation {:.1} MB",
        if slice_objects == u64::MAX {
            "one window".to_string()
        } else {
            format!("slices of at most {slice_objects} objects")
        },
        started.elapsed().as_secs_f64(),
        report.is_clean(),
        peak_rss_mb()
    );
    for e in report.entities.iter().filter(|e| !e.is_clean()) {
        println!(
            "  {}: {} missing {:?}, {} extra {:?}, {} differing {:?}",
            e.entity,
            e.missing_count,
            e.missing.iter().take(3).collect::<Vec<_>>(),
            e.extra_count,
            e.extra.iter().take(3).collect::<Vec<_>>(),
            e.differing_count,
            e.differing.iter().take(2).collect::<Vec<_>>()
        );
    }
    if let Some(note) = &report.settle.note {
        println!("  settle: {note}");
    }
}

fn rate_limited(rt: &tokio::runtime::Runtime, traces: usize) {
    // Hobby: 1000 ingestion requests a minute; the sandbox's minute lasts 15 s here.
    let scale = 4.0;
    let batch = 5u64;
    let source = spawn_sandbox(&[
        "--traces",
        &traces.to_string(),
        "--observations-per-trace",
        "10",
        "--seed",
        "7",
    ]);
    let target = spawn_sandbox(&["--plan", "hobby", "--time-scale", &scale.to_string()]);
    let mut t = LangfuseEndpoint::new(&target.url, "pk-lf-sandbox", "sk-lf-sandbox");
    t.cloud_plan = CloudPlan::Hobby;
    t.budget_time_scale = scale;
    let data = tempfile::tempdir().unwrap();
    let mut p = plan(&source.url, t);
    // Small batches so the ingestion budget, not the data volume, decides the time.
    p.options.batch_items = batch as usize;
    let started = Instant::now();
    let report = rt
        .block_on(migrator_engine::run(
            p,
            data.path(),
            NoProgress,
            RunControl::new(),
            false,
        ))
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    let obs = report.entities[&Entity::Observations].written;
    let scores = report
        .entities
        .get(&Entity::Scores)
        .map(|c| c.written)
        .unwrap_or(0);
    // Ingestion requests actually sent (retries included): all of them go to the target.
    let requests = report.requests["ingestion"];
    let needed = obs.div_ceil(batch) + scores.div_ceil(batch);
    let budget = Budget {
        plan: CloudPlan::Hobby,
        time_scale: scale,
        requests_per_minute: None,
        share_percent: None,
    };
    let limit = budget.per_minute(Bucket::Ingestion).unwrap();
    let minute = 60.0 / scale;
    // A fixed window: `limit` requests at the start of each window; the last window's requests
    // go at its start.
    let windows = needed.div_ceil(limit as u64).saturating_sub(1) as f64;
    let min_secs = windows * minute;
    println!(
        "rate-limited (hobby, a minute lasts {minute:.0}s): {obs} observations + {scores} scores need {needed} ingestion requests ({requests} sent) and took {secs:.2}s; the limit allows no less than {min_secs:.1}s ({:+.1}%); waits for the budget or a 429: {}",
        (secs / min_secs - 1.0) * 100.0,
        report.rate_limit_waits
    );
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: do nothing there.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("throughput: run with `cargo bench -p migrator-engine --bench throughput`");
        return;
    }
    migrator_engine::tune_allocator();
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (traces, per) = (env("BENCH_TRACES", 10_000), env("BENCH_OBS_PER_TRACE", 10));
    copy(&rt, traces, per, "base");
    if std::env::var("BENCH_SKIP_SCALE").is_err() {
        copy(&rt, traces * env("BENCH_SCALE", 10), per, "10x");
    }
    rate_limited(&rt, env("BENCH_RATE_TRACES", 1_000));
}
