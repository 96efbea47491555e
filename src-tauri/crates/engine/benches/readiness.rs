//! Application readiness on a large repository: a generated folder of 50,000 files, most of
//! them in `node_modules` (as a real JS project has), plus Python and TypeScript sources, some
//! of which use Langfuse APIs that changed. Prints the time to a verdict and the check's own
//! peak resident memory. Run: `cargo bench -p migrator-engine --bench readiness`.

use migrator_engine::readiness::{Limits, TargetServer, check_app};
use std::path::Path;
use std::time::Instant;

const TOTAL: usize = 50_000;
const IN_NODE_MODULES: usize = 40_000;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn generate(root: &Path) {
    write(
        root,
        "package.json",
        "{\n  \"dependencies\": {\n    \"langfuse\": \"^3.29.0\"\n  }\n}\n",
    );
    write(root, "requirements.txt", "langfuse==2.60.3\n");
    write(
        root,
        ".env",
        "LANGFUSE_HOST=https://cloud.langfuse.com\nLANGFUSE_SECRET_KEY=sk-lf-bench\n",
    );
    for i in 0..IN_NODE_MODULES {
        write(
            root,
            &format!("node_modules/pkg{}/lib/f{i}.js", i / 100),
            "module.exports = function () { return langfuse.trace({ name: 'x' }); };\n",
        );
    }
    let sources = TOTAL - IN_NODE_MODULES - 3;
    for i in 0..sources {
        let (rel, text) = if i % 2 == 0 {
            (
                format!("services/s{}/mod{i}.py", i % 50),
                if i % 10 == 0 {
                    "from langfuse.decorators import observe, langfuse_context\n\n@observe()\ndef f():\n    langfuse_context.update_current_trace(user_id='u')\n".to_string()
                } else {
                    "import os\n\n\ndef f(x):\n    return os.path.join(x, 'a')\n".repeat(20)
                },
            )
        } else {
            (
                format!("web/src/c{}/m{i}.ts", i % 50),
                if i % 10 == 1 {
                    "import { Langfuse } from \"langfuse\";\nconst langfuse = new Langfuse();\nlangfuse.trace({ name: \"t\" });\n".to_string()
                } else {
                    "export function f(a: number): number {\n  return a * 2;\n}\n".repeat(20)
                },
            )
        };
        write(root, &rel, &text);
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    generate(dir.path());
    println!(
        "generated {TOTAL} files ({IN_NODE_MODULES} in node_modules) in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let target = TargetServer::parse("4.59.0").unwrap();
    for round in ["first check", "second check"] {
        // Writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0), so this is the check's own peak.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let t = Instant::now();
        let r = check_app(dir.path(), &target, &Limits::default()).unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{round}: verdict {} in {secs:.2}s ({} files read, {} findings, complete: {}, skipped: {}); peak RSS {:.1} MB",
            r.verdict.describe(),
            r.files_scanned,
            r.findings.len(),
            r.complete,
            r.skipped
                .iter()
                .map(|s| format!("{} ×{}", s.reason, s.count))
                .collect::<Vec<_>>()
                .join(", "),
            peak_rss_mb()
        );
    }
}
