//! LangSmith → Langfuse v4 throughput and memory: `langsmith-sandbox` → `langfuse-sandbox`, both
//! as separate processes so the numbers are the migrator's own.
//!
//! `cargo build --release -p langsmith-sandbox -p langfuse-sandbox && cargo bench -p migrator-engine --bench langsmith`
//! (the binaries are looked up next to the bench's own folder, so a debug run uses debug builds).
//! Options (env): BENCH_TRACES (default 10000; about 7 runs each), BENCH_SCALE (10, the second
//! run's multiple), BENCH_SKIP_SCALE=1, BENCH_LIMITED_TRACES (500), BENCH_TIME_SCALE (20, how many
//! times faster than real time LangSmith's rate-limit windows pass in the limited run).
//!
//! Prints runs per second end to end and the highest resident memory sampled during each copy,
//! and for a run against LangSmith Cloud's limits, the time taken next to the least time those
//! limits allow (the pre-flight's estimate).

use migrator_engine::{
    EndpointSpec, Entity, LangfuseEndpoint, LangsmithEndpoint, NoProgress, Plan, RunControl,
};
use std::time::Instant;

mod common;
use common::{rss_mb, spawn};

fn env(k: &str, default: f64) -> f64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn plan(source: LangsmithEndpoint, target: &str) -> Plan {
    let mut p = Plan::from_toml(
        "[source]\nkind = \"archive\"\npath = \"/x\"\n[target]\nkind = \"langfuse\"\nurl = \"http://127.0.0.1:1\"\npublic_key = \"pk\"\n[scope]\nentities = [\"traces\", \"observations\", \"scores\"]\nfrom = \"2020-01-01T00:00:00Z\"\nto = \"2030-01-01T00:00:00Z\"\n[options]\nconcurrency = 4\nvisibility_wait_ms = 200\n",
    )
    .unwrap();
    p.source = EndpointSpec::Langsmith(source);
    p.target = EndpointSpec::Langfuse(LangfuseEndpoint::new(
        target,
        "pk-lf-sandbox",
        "sk-lf-sandbox",
    ));
    p
}

/// One copy; returns (runs, seconds, highest RSS sampled in MB).
fn copy(
    rt: &tokio::runtime::Runtime,
    traces: usize,
    limited: Option<f64>,
    label: &str,
) -> (u64, f64, f64) {
    let mut args = vec![
        "--seed".to_string(),
        "42".into(),
        "--traces".into(),
        traces.to_string(),
    ];
    if let Some(scale) = limited {
        args.extend(["--plan".into(), "--time-scale".into(), scale.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let t0 = Instant::now();
    let source = spawn("langsmith-sandbox", &args);
    let target = spawn("langfuse-sandbox", &["--visibility-delay-ms", "0"]);
    eprintln!(
        "{label}: sandboxes up in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    let mut endpoint = LangsmithEndpoint::new(&source.url, "lsv2_sk_sandbox");
    if let Some(scale) = limited {
        endpoint.cloud_limits = Some(true);
        endpoint.budget_time_scale = scale;
    }
    let p = plan(endpoint, &target.url);
    let least = limited.map(|scale| {
        let pre = rt.block_on(migrator_engine::preflight(&p)).unwrap();
        pre.eta_seconds.unwrap_or(0.0) / scale
    });
    let data = tempfile::tempdir().unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak: f64 = 0.0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_mb());
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            peak
        })
    };
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
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    let runs = report.entities[&Entity::Observations].written;
    println!(
        "{label}: {traces} traces, {runs} runs, {} feedback in {secs:.2}s = {:.0} runs/s end to end; highest RSS sampled during the copy {peak:.1} MB",
        report.entities[&Entity::Scores].written,
        runs as f64 / secs
    );
    if let (Some(least), Some(scale)) = (least, limited) {
        println!(
            "{label}: with LangSmith Cloud's limits (windows {scale}× faster than real time) it took {secs:.2}s; the least those limits allow is {least:.2}s ({:.0}% of it); in real time: {:.0}s vs {:.0}s",
            secs / least.max(1e-9) * 100.0,
            secs * scale,
            least * scale
        );
    }
    (runs, secs, peak)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let traces = env("BENCH_TRACES", 10_000.0) as usize;
    let (runs, secs, peak) = copy(&rt, traces, None, "base");
    if std::env::var("BENCH_SKIP_SCALE").is_err() {
        let scale = env("BENCH_SCALE", 10.0) as usize;
        let (runs2, secs2, peak2) = copy(&rt, traces * scale, None, "scaled");
        println!(
            "scaled {scale}×: {:.0} → {:.0} runs/s; highest RSS {peak:.1} → {peak2:.1} MB",
            runs as f64 / secs,
            runs2 as f64 / secs2
        );
    }
    let limited = env("BENCH_LIMITED_TRACES", 500.0) as usize;
    copy(&rt, limited, Some(env("BENCH_TIME_SCALE", 20.0)), "limited");
}
