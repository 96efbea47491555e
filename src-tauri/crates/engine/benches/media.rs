//! Media benchmark: traces of which every fifth carries a ~200 KB image, sandbox → sandbox (the
//! sandboxes as separate processes, so the numbers are the migrator's own).
//!
//! `cargo build --release -p langfuse-sandbox && cargo bench -p migrator-engine --bench media`
//! Options (env): BENCH_MEDIA_TRACES (default 10000; a run at a quarter of it goes first, so the
//! two peak RSS figures show whether memory follows the volume), BENCH_MEDIA_EVERY (5),
//! BENCH_MEDIA_SIDE (256 px: 196 KB of incompressible pixels).
//!
//! Prints media MB/s end to end (bytes downloaded from the source and uploaded to the target over
//! wall time), and the highest RSS sampled during each copy.

use migrator_engine::{EndpointSpec, LangfuseEndpoint, NoProgress, Plan, RunControl};
use serde_json::{Value, json};
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
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("langfuse-sandbox");
    assert!(
        bin.exists(),
        "build the sandbox first: cargo build --release -p langfuse-sandbox (looked for {})",
        bin.display()
    );
    bin
}

fn spawn_sandbox() -> SandboxProcess {
    let mut child = Command::new(sandbox_bin())
        .args(["--port", "0", "--visibility-delay-ms", "0"])
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

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn plan(source: &str, target: &str) -> Plan {
    let mut p = Plan::from_toml(
        "[source]\nkind = \"archive\"\npath = \"/x\"\n[target]\nkind = \"langfuse\"\nurl = \"http://127.0.0.1:1\"\npublic_key = \"pk\"\n[scope]\nentities = [\"traces\", \"observations\", \"media\"]\nfrom = \"2020-01-01T00:00:00Z\"\nto = \"2030-01-01T00:00:00Z\"\n[options]\nconcurrency = 4\nvisibility_wait_ms = 200\n",
    )
    .unwrap();
    p.source = EndpointSpec::Langfuse(LangfuseEndpoint::new(
        source,
        "pk-lf-sandbox",
        "sk-lf-sandbox",
    ));
    p.target = EndpointSpec::Langfuse(LangfuseEndpoint::new(
        target,
        "pk-lf-sandbox",
        "sk-lf-sandbox",
    ));
    p
}

fn copy(rt: &tokio::runtime::Runtime, traces: usize, every: usize, side: u32) {
    let source = spawn_sandbox();
    let target = spawn_sandbox();
    let http = reqwest::Client::new();
    let spec = json!({"seed": 42, "traces": traces, "mediaEvery": every, "imageSide": side, "allKinds": false});
    rt.block_on(async {
        http.post(format!("{}/_sandbox/media-sample", source.url))
            .json(&spec)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    });
    let media: Value = rt.block_on(async {
        http.get(format!("{}/_sandbox/media", source.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let files = media.as_array().unwrap().len();
    let bytes: u64 = media
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["contentLength"].as_u64().unwrap())
        .sum();
    let data = tempfile::tempdir().unwrap();
    let peak = std::sync::Arc::new(std::sync::Mutex::new(0f64));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = rss_mb();
                let mut p = peak.lock().unwrap();
                *p = p.max(r);
                drop(p);
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        })
    };
    let t0 = Instant::now();
    let report = rt
        .block_on(migrator_engine::run(
            plan(&source.url, &target.url),
            data.path(),
            NoProgress,
            RunControl::new(),
            false,
        ))
        .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap();
    let written = report
        .entities
        .get(&migrator_engine::Entity::Media)
        .map(|c| c.written)
        .unwrap_or(0);
    assert_eq!(
        written as usize, files,
        "every media file copied: {:#?}",
        report.failures
    );
    let mb = bytes as f64 / 1e6;
    println!(
        "media bench: {traces} traces, {files} media files ({mb:.1} MB), {secs:.1} s end to end: {:.1} MB/s, {:.0} files/s; peak RSS {:.0} MB",
        mb / secs,
        files as f64 / secs,
        *peak.lock().unwrap()
    );
}

fn main() {
    let traces = env_usize("BENCH_MEDIA_TRACES", 10_000);
    let every = env_usize("BENCH_MEDIA_EVERY", 5);
    let side = env_usize("BENCH_MEDIA_SIDE", 256) as u32;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    copy(&rt, (traces / 4).max(1), every, side);
    copy(&rt, traces, every, side);
}
