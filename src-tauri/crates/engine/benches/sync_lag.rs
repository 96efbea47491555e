//! Live-sync steady state: an application writes ~1,000 observations/s (OTLP, 100 traces of 10
//! spans a second) into a v4 source while a sync follows it into a v4 target. The sandboxes run
//! as separate processes, so the CPU measured is the sync's (and the writer's, which only posts).
//!
//! `cargo build -p langfuse-sandbox && cargo test -p migrator-engine --bench sync_lag` (debug), or
//! `cargo build --release -p langfuse-sandbox && cargo bench -p migrator-engine --bench sync_lag`.
//! Options (env): BENCH_SECS (60, how long the application writes), BENCH_OBS_PER_SEC (1000),
//! BENCH_POLL (5), BENCH_SETTLE (5), BENCH_LOOKBACK (60), BENCH_DELAY_MS (1000, the source's
//! ingestion delay).
//!
//! Prints per pass the lag (how far the watermark is behind the pass's end) against the aim of
//! settle + 2 × poll, the objects copied per second, the CPU seconds used per wall second, and the
//! read requests per minute next to Langfuse Cloud's hobby limits (30 a minute for the legacy
//! reads and the public API).

use migrator_engine::{
    EndpointSpec, LangfuseEndpoint, Plan, ProgressEvent, RunControl, SyncPass, SyncSettings,
};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

fn spawn_sandbox(delay_ms: u64) -> SandboxProcess {
    let exe = std::env::current_exe().unwrap();
    let bin: PathBuf = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("langfuse-sandbox");
    assert!(
        bin.exists(),
        "build the sandbox first: cargo build -p langfuse-sandbox (looked for {})",
        bin.display()
    );
    let mut child = Command::new(bin)
        .args(["--port", "0", "--profile", "v4"])
        .args(["--visibility-delay-ms", &delay_ms.to_string()])
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

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user + system) this process used so far.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

fn plan(source: &str, target: &str) -> Plan {
    let mut p = Plan::from_toml(
        "[source]\nkind = \"archive\"\npath = \"/x\"\n[target]\nkind = \"langfuse\"\nurl = \"http://127.0.0.1:1\"\npublic_key = \"pk\"\n[scope]\nentities = [\"traces\", \"observations\", \"scores\"]\nfrom = \"2020-01-01T00:00:00Z\"\n[options]\nconcurrency = 4\nvisibility_wait_ms = 200\n",
    )
    .unwrap();
    let lf = |url: &str| {
        EndpointSpec::Langfuse(LangfuseEndpoint::new(url, "pk-lf-sandbox", "sk-lf-sandbox"))
    };
    p.source = lf(source);
    p.target = lf(target);
    p
}

/// Writes `per_sec` observations a second for `secs` seconds: every 100 ms a tenth of them, as
/// ended spans of ten per trace.
async fn application(url: String, per_sec: f64, secs: f64) -> u64 {
    let http = reqwest::Client::new();
    let per_tick = ((per_sec / 10.0).round() as u64).max(10);
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut n: u64 = 0;
    let mut spans_sent = 0;
    while started.elapsed().as_secs_f64() < secs {
        tick.tick().await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let spans: Vec<serde_json::Value> = (0..per_tick)
            .map(|k| {
                let trace = n * 1_000 + k / 10;
                let mut s = serde_json::json!({
                    "traceId": format!("{trace:032x}"), "spanId": format!("{:016x}", n * 1_000 + k + 1),
                    "name": "work", "startTimeUnixNano": (now - 50_000_000).to_string(),
                    "endTimeUnixNano": now.to_string(),
                    "attributes": [{"key": "langfuse.observation.input", "value": {"stringValue": "{\"q\":1}"}}]});
                if k % 10 != 0 {
                    s["parentSpanId"] = serde_json::json!(format!("{:016x}", n * 1_000 + k - k % 10 + 1));
                }
                s
            })
            .collect();
        let body = serde_json::json!({"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": spans}]}]});
        let r = http
            .post(format!("{url}/api/public/otel/v1/traces"))
            .basic_auth("pk-lf-sandbox", Some("sk-lf-sandbox"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        spans_sent += per_tick;
        n += 1;
    }
    spans_sent
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let secs = env_f64("BENCH_SECS", 60.0);
    let per_sec = env_f64("BENCH_OBS_PER_SEC", 1000.0);
    let poll = env_f64("BENCH_POLL", 5.0);
    let settle = env_f64("BENCH_SETTLE", 5.0);
    let lookback = env_f64("BENCH_LOOKBACK", 60.0);
    let source = spawn_sandbox(env_f64("BENCH_DELAY_MS", 1000.0) as u64);
    let target = spawn_sandbox(0);
    let data = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let passes: Arc<Mutex<Vec<(Instant, SyncPass)>>> = Arc::default();
    let seen = passes.clone();
    let sink = migrator_engine::progress::FnSink(move |e| {
        if let ProgressEvent::SyncPassEnded { pass, .. } = e {
            seen.lock().unwrap().push((Instant::now(), pass));
        }
    });
    let control = RunControl::new();
    let settings = SyncSettings {
        poll_secs: Some(poll),
        settle_secs: Some(settle),
        lookback_secs: Some(lookback),
        ..SyncSettings::default()
    };
    let (cpu0, t0) = (cpu_secs(), Instant::now());
    let (written, report) = rt.block_on(async {
        let sync = tokio::spawn(migrator_engine::sync(
            plan(&source.url, &target.url),
            Box::leak(data.path().to_path_buf().into_boxed_path()),
            settings,
            sink,
            control.clone(),
        ));
        let written = application(source.url.clone(), per_sec, secs).await;
        // Until a pass has seen the last writes settle, then the run ends after its pass.
        tokio::time::sleep(Duration::from_secs_f64(settle + 2.0 * poll)).await;
        control.cancel();
        (written, sync.await.unwrap().unwrap())
    });
    let (cpu, wall) = (cpu_secs() - cpu0, t0.elapsed().as_secs_f64());

    let passes = passes.lock().unwrap();
    // The passes while the application wrote (after the backfill), in steady state.
    let mut lags: Vec<f64> = passes
        .iter()
        .filter(|(at, p)| p.pass > 1 && at.duration_since(t0).as_secs_f64() <= secs)
        .filter_map(|(_, p)| p.lag_seconds)
        .collect();
    lags.sort_by(f64::total_cmp);
    let copied = report
        .entities
        .get(&migrator_engine::Entity::Observations)
        .map_or(0, |c| c.written);
    let reads: u64 = report
        .requests
        .iter()
        .filter(|(bucket, _)| bucket.as_str() != "ingestion")
        .map(|(_, n)| n)
        .sum();
    println!(
        "sync lag at {per_sec:.0} observations/s for {secs:.0} s (poll {poll} s, settle {settle} s, lookback {lookback} s)"
    );
    println!(
        "  passes while writing: {}, lag median {:.1} s, p95 {:.1} s, max {:.1} s (aim < settle + 2 × poll = {:.1} s)",
        lags.len(),
        percentile(&lags, 0.5),
        percentile(&lags, 0.95),
        lags.last().copied().unwrap_or(f64::NAN),
        settle + 2.0 * poll
    );
    println!(
        "  observations written by the application {written}, copied {copied} ({:.0}/s over {wall:.0} s)",
        copied as f64 / wall
    );
    println!(
        "  CPU {:.1} s over {wall:.0} s: {:.0}% of one core (sync and writer; sandboxes are separate processes)",
        cpu,
        100.0 * cpu / wall
    );
    println!(
        "  requests by bucket {:?}; reads {:.0}/min (Langfuse Cloud hobby: 30/min legacy reads, 30/min public API)",
        report.requests,
        reads as f64 * 60.0 / wall
    );
}
