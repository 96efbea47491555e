//! Plan files and archive folders a user (or an attacker) may hand the CLI: each is refused with
//! a plain sentence, nothing is half-written, and no secret is repeated.

use langfuse_sandbox::{SampleSpec, Sandbox, SandboxConfig, ServerProfile};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_langfuse-migrator-cli");

async fn start(sample: Option<SampleSpec>) -> Sandbox {
    Sandbox::start(SandboxConfig {
        profile: ServerProfile::V3,
        public_key: "pk-lf-sandbox".into(),
        secret_key: "sk-lf-sandbox".into(),
        visibility_delay: Some(Duration::from_millis(30)),
        sample,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

async fn cli(args: &[&str], data: &Path) -> Output {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("LANGFUSE_MIGRATOR_DATA_DIR", data)
        .env("SECRET", "sk-lf-sandbox")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut out = vec![];
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A plan file from a Langfuse source at `url` (with `extra` lines in its table) to an archive.
fn write_plan(plan: &Path, url: &str, extra: &str, archive: &Path) {
    let text = format!(
        r#"[source]
kind = "langfuse"
url = "{url}"
public_key = "pk-lf-sandbox"
secret_key_env = "SECRET"
{extra}
[target]
kind = "archive"
path = "{}"
"#,
        archive.display()
    );
    std::fs::write(plan, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_a_password_in_a_url_is_refused_without_repeating_it() {
    let source = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let with_password = source.url().replace("http://", "http://admin:hunter2@");
    let plan = dir.path().join("plan.toml");
    write_plan(&plan, &with_password, "", &dir.path().join("archive"));
    let plan_s = plan.to_str().unwrap();
    for args in [
        vec!["run", "--plan", plan_s],
        vec!["run", "--plan", plan_s, "--json"],
        vec!["run", "--plan", plan_s, "--dry-run"],
        vec!["preflight", "--plan", plan_s],
    ] {
        let out = cli(&args, &data).await;
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {all}");
        assert!(all.contains("user name or password"), "{args:?}: {all}");
        assert!(!all.contains("hunter2"), "{args:?}: {all}");
    }
    // No run was started, so nothing can hold the password.
    for f in files_under(&data) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(7).any(|w| w == b"hunter2"),
            "{}",
            f.display()
        );
    }
    assert!(files_under(&dir.path().join("archive")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_sending_keys_over_plain_http_to_another_computer_needs_its_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let plan = dir.path().join("plan.toml");
    let archive = dir.path().join("archive");
    let write = |extra: &str| write_plan(&plan, "http://langfuse.invalid:3000", extra, &archive);
    write("");
    let out = cli(&["preflight", "--plan", plan.to_str().unwrap()], &data).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("unencrypted"), "{all}");
    assert!(all.contains("allow_plain_http"), "{all}");
    assert!(!all.contains("sk-lf-sandbox"), "{all}");

    // Confirmed, the plan is accepted and the CLI goes on to the server (which does not exist).
    write("allow_plain_http = true");
    let out = cli(&["preflight", "--plan", plan.to_str().unwrap()], &data).await;
    let all = text(&out);
    assert!(!all.contains("unencrypted"), "{all}");
    assert!(all.contains("could not be reached"), "{all}");
}

// ---------------------------------------------------------------- archives

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A complete archive whose manifest names `file` for the observations, with `bytes` in it
/// (written at `file`, relative to the folder, wherever that points).
fn archive_with(dir: &Path, file: &str, bytes: &[u8], count: u64) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(file), bytes).unwrap();
    let manifest = serde_json::json!({
        "schema_version": 1,
        "created_at": "2026-01-01T00:00:00Z",
        "source": { "description": "a test", "generation": "v3" },
        "window": { "from": "1970-01-01T00:00:00Z", "to": "9999-01-01T00:00:00Z" },
        "entities": { "observations": { "file": file, "count": count, "sha256": sha256(bytes) } },
        "complete": true
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
}

fn observation_line(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","traceId":"t1","type":"SPAN","name":"x","startTime":"2026-01-01T00:00:00.000Z"}}"#
    )
}

fn plan_from_archive(dir: &Path, archive: &Path, target: &Sandbox) -> std::path::PathBuf {
    let plan = dir.join("plan.toml");
    std::fs::write(
        &plan,
        format!(
            r#"[source]
kind = "archive"
path = "{}"

[target]
kind = "langfuse"
url = "{}"
public_key = "pk-lf-sandbox"
secret_key_env = "SECRET"
"#,
            archive.display(),
            target.url()
        ),
    )
    .unwrap();
    plan
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_fails_plainly_instead_of_exhausting_memory() {
    let target = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    // 2 GiB of one endless line, in about 4 MB: gzip members concatenate.
    let member = gzip(&vec![b'a'; 64 << 20]);
    let bomb: Vec<u8> = std::iter::repeat_n(member.as_slice(), 32)
        .flatten()
        .copied()
        .collect();
    archive_with(&archive, "observations.jsonl.gz", &bomb, 1);
    let plan = plan_from_archive(dir.path(), &archive, &target);
    let data = dir.path().join("data");
    // Under a 1.5 GB address-space limit a reader that holds the line in memory dies.
    let script = format!(
        "ulimit -v 1500000; exec '{BIN}' run --plan '{}'",
        plan.display()
    );
    let mut c = Command::new("sh");
    c.args(["-c", &script])
        .env("LANGFUSE_MIGRATOR_DATA_DIR", &data)
        .env("SECRET", "sk-lf-sandbox")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("line 1 of observations.jsonl.gz is longer than"),
        "{all}"
    );
    assert_eq!(target.counts()["observations"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_naming_a_file_outside_the_folder_is_refused() {
    let target = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    let outside = gzip(format!("{}\n", observation_line("o-outside")).as_bytes());
    archive_with(&archive, "../outside.jsonl.gz", &outside, 1);
    let plan = plan_from_archive(dir.path(), &archive, &target);
    let out = cli(
        &["run", "--plan", plan.to_str().unwrap()],
        &dir.path().join("data"),
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("names a file outside the archive folder"),
        "{all}"
    );
    assert_eq!(target.counts()["observations"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_without_an_id_is_an_error_naming_its_line() {
    let target = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let lines = [
        observation_line("o-1"),
        observation_line("o-2"),
        observation_line(""),
        observation_line("o-4"),
    ]
    .join("\n");
    archive_with(
        &archive,
        "observations.jsonl.gz",
        &gzip(format!("{lines}\n").as_bytes()),
        4,
    );
    let plan = plan_from_archive(dir.path(), &archive, &target);
    let out = cli(
        &["run", "--plan", plan.to_str().unwrap()],
        &dir.path().join("data"),
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("line 3 of observations.jsonl.gz has no id"),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_and_dry_runs_leave_the_archive_folder_untouched() {
    let source = start(Some(SampleSpec {
        seed: 71,
        traces: 10,
        observations_per_trace: 2,
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        format!(
            r#"[source]
kind = "langfuse"
url = "{}"
public_key = "pk-lf-sandbox"
secret_key_env = "SECRET"

[target]
kind = "archive"
path = "{}"
"#,
            source.url(),
            archive.display()
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let out = cli(&["preflight", "--plan", plan.to_str().unwrap()], &data).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !archive.exists(),
        "pre-flight created {}",
        archive.display()
    );
    let out = cli(
        &["run", "--plan", plan.to_str().unwrap(), "--dry-run"],
        &data,
    )
    .await;
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    assert!(
        !archive.exists(),
        "the dry run created {}",
        archive.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_export_of_another_run_is_not_merged_into_a_new_one() {
    let source = start(Some(SampleSpec {
        seed: 72,
        traces: 200,
        observations_per_trace: 5,
    }))
    .await;
    source.set_faults(langfuse_sandbox::FaultConfig {
        rate: 1.0,
        kinds: vec![langfuse_sandbox::FaultKind::Slow],
        slow_ms: 30,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        format!(
            r#"[source]
kind = "langfuse"
url = "{}"
public_key = "pk-lf-sandbox"
secret_key_env = "SECRET"

[target]
kind = "archive"
path = "{}"

[options]
batch_items = 50
"#,
            source.url(),
            archive.display()
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let plan_s = plan.to_str().unwrap().to_owned();
    // The first export dies half way, leaving its parts behind.
    let mut first = Command::new(BIN);
    first
        .args(["run", "--plan", &plan_s])
        .env("LANGFUSE_MIGRATOR_DATA_DIR", &data)
        .env("SECRET", "sk-lf-sandbox")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = first.spawn().unwrap();
    let started = std::time::Instant::now();
    while files_under(&archive.join("parts")).len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no parts were written"
        );
        assert!(child.try_wait().unwrap().is_none(), "the export finished");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let runs: serde_json::Value =
        serde_json::from_slice(&cli(&["runs", "--json"], &data).await.stdout).unwrap();
    let first_id = runs[0]["run_id"].as_str().unwrap().to_owned();
    source.set_faults(langfuse_sandbox::FaultConfig::default());

    // A new export into the same folder: refused, pointing at the run to resume.
    let out = cli(&["run", "--plan", &plan_s], &data).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains(&format!("an unfinished export of run {first_id}")),
        "{all}"
    );
    // Resuming that run finishes the archive, each object once.
    let out = cli(&["resume", &first_id, "--json"], &data).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(archive.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], true);
    assert_eq!(
        manifest["entities"]["observations"]["count"],
        source.counts()["observations"] as u64
    );
}
