//! `langsmith-sandbox`: runs the sandbox server until interrupted.

use clap::Parser;
use langfuse_sandbox::FaultConfig;
use langsmith_sandbox::{SampleSpec, Sandbox, SandboxConfig};

#[derive(Parser)]
#[command(about = "A spec-faithful LangSmith API server for tests, benchmarks and the demo")]
struct Args {
    /// 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[arg(long, default_value = "lsv2_sk_sandbox")]
    api_key: String,
    /// Seed of the sample data and of fault injection.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Root runs of sample data; without it the workspace starts empty.
    #[arg(long)]
    traces: Option<usize>,
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Enforce LangSmith Cloud's per-key rate limits.
    #[arg(long)]
    plan: bool,
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Answer `POST /v2/runs/query` with 404, like a self-hosted LangSmith before 0.16.
    #[arg(long)]
    no_v2: bool,
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let config = SandboxConfig {
        port: a.port,
        api_key: a.api_key,
        plan: a.plan,
        time_scale: a.time_scale,
        faults: FaultConfig {
            seed: a.seed,
            rate: a.fault_rate,
            slow_ms: 2_000,
            timeout_ms: 60_000,
            ..FaultConfig::default()
        },
        v2_queries: !a.no_v2,
        sample: a.traces.map(|traces| SampleSpec {
            seed: a.seed,
            traces,
        }),
    };
    let sandbox = match Sandbox::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("langsmith-sandbox: {e}");
            std::process::exit(1);
        }
    };
    println!("listening on {}", sandbox.url());
    let _ = tokio::signal::ctrl_c().await;
    sandbox.stop().await;
}
