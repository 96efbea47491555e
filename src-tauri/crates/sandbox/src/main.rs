//! `langfuse-sandbox`: runs the sandbox server until interrupted.

use std::time::Duration;

use clap::Parser;
use langfuse_sandbox::{CloudPlan, FaultConfig, SampleSpec, Sandbox, SandboxConfig, ServerProfile};

#[derive(Parser)]
#[command(about = "A spec-faithful Langfuse API server for tests, benchmarks and the demo")]
struct Args {
    /// 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[arg(long, default_value = "v4", value_parser = parse_profile)]
    profile: ServerProfile,
    #[arg(long, default_value = "none", value_parser = parse_plan)]
    plan: CloudPlan,
    #[arg(long, default_value = "pk-lf-sandbox")]
    public_key: String,
    #[arg(long, default_value = "sk-lf-sandbox")]
    secret_key: String,
    /// Seed of the sample data and of fault injection.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Traces of sample data; without it the project starts empty.
    #[arg(long)]
    traces: Option<usize>,
    #[arg(long, default_value_t = 6)]
    observations_per_trace: usize,
    #[arg(long)]
    visibility_delay_ms: Option<u64>,
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
}

fn parse_profile(s: &str) -> Result<ServerProfile, String> {
    ServerProfile::parse(s)
        .ok_or_else(|| format!("unknown profile `{s}` (expected v2, v3, v4 or v4-4.16)"))
}

fn parse_plan(s: &str) -> Result<CloudPlan, String> {
    CloudPlan::parse(s)
        .ok_or_else(|| format!("unknown plan `{s}` (expected none, hobby, core or pro)"))
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let config = SandboxConfig {
        port: a.port,
        profile: a.profile,
        plan: a.plan,
        public_key: a.public_key,
        secret_key: a.secret_key,
        visibility_delay: a.visibility_delay_ms.map(Duration::from_millis),
        time_scale: a.time_scale,
        faults: FaultConfig {
            seed: a.seed,
            rate: a.fault_rate,
            slow_ms: 2_000,
            timeout_ms: 60_000,
            ..FaultConfig::default()
        },
        sample: a.traces.map(|traces| SampleSpec {
            seed: a.seed,
            traces,
            observations_per_trace: a.observations_per_trace,
        }),
        ..SandboxConfig::default()
    };
    let sandbox = match Sandbox::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("langfuse-sandbox: {e}");
            std::process::exit(1);
        }
    };
    println!("listening on {}", sandbox.url());
    let _ = tokio::signal::ctrl_c().await;
    sandbox.stop().await;
}
