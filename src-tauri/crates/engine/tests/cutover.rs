//! The `.env` cutover across runs, through the engine's API with real journals and files: two
//! runs cut over the same file, and restoring them in either order gives back the bytes that were
//! there before each apply, or refuses with a sentence; a damaged status is an error.

use migrator_engine::plan::Plan;
use migrator_engine::{CutoverRunError, Journal, Secret, Secrets};
use std::fs;
use std::path::Path;

const ORIGINAL: &[u8] = b"# app\r\nLANGFUSE_HOST=https://cloud.langfuse.com\r\nLANGFUSE_PUBLIC_KEY=pk-lf-old\r\nLANGFUSE_SECRET_KEY=sk-lf-old\r\nOTHER=1";

/// A journaled run whose target is `url` (no server is needed: the cutover only reads the plan).
fn run(data: &Path, run_id: &str, url: &str, public_key: &str) {
    let plan = Plan::from_toml(&format!(
        r#"
[source]
kind = "archive"
path = "/nonexistent"
[target]
kind = "langfuse"
url = "{url}"
public_key = "{public_key}"
secret_key_env = "UNUSED_CUTOVER_SECRET"
"#
    ))
    .unwrap();
    Journal::create(data, run_id, &plan, false).unwrap();
}

fn secrets(run_id: &str) -> Secrets {
    Secrets {
        source: None,
        target: Some(Secret::new(&format!("sk-lf-{run_id}"))),
        ..Default::default()
    }
}

fn setup() -> (tempfile::TempDir, tempfile::TempDir, std::path::PathBuf) {
    let data = tempfile::tempdir().unwrap();
    let app = tempfile::tempdir().unwrap();
    let env = app.path().join(".env");
    fs::write(&env, ORIGINAL).unwrap();
    run(data.path(), "run-a", "https://a.example", "pk-lf-a");
    run(data.path(), "run-b", "https://b.example", "pk-lf-b");
    (data, app, env)
}

#[test]
fn two_runs_cut_over_one_file_and_restoring_b_then_a_gives_back_the_original_bytes() {
    let (data, _app, env) = setup();
    let a = migrator_engine::cutover_apply("run-a", data.path(), &env, &secrets("run-a")).unwrap();
    let after_a = fs::read(&env).unwrap();
    let b = migrator_engine::cutover_apply("run-b", data.path(), &env, &secrets("run-b")).unwrap();
    assert_ne!(
        a.record.backup_path, b.record.backup_path,
        "each run keeps its own backup"
    );
    assert_eq!(fs::read(&a.record.backup_path).unwrap(), ORIGINAL);
    assert_eq!(fs::read(&b.record.backup_path).unwrap(), after_a);

    migrator_engine::cutover_restore("run-b", data.path(), false).unwrap();
    assert_eq!(
        fs::read(&env).unwrap(),
        after_a,
        "B gives back what A wrote"
    );
    migrator_engine::cutover_restore("run-a", data.path(), false).unwrap();
    assert_eq!(
        fs::read(&env).unwrap(),
        ORIGINAL,
        "A gives back the original"
    );
}

#[test]
fn restoring_a_before_b_is_refused_with_a_sentence_and_then_works_in_order() {
    let (data, _app, env) = setup();
    migrator_engine::cutover_apply("run-a", data.path(), &env, &secrets("run-a")).unwrap();
    migrator_engine::cutover_apply("run-b", data.path(), &env, &secrets("run-b")).unwrap();
    let after_b = fs::read(&env).unwrap();

    let err = migrator_engine::cutover_restore("run-a", data.path(), false).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("run-b"), "names the later run: {text}");
    assert!(text.contains("first"), "says what to do: {text}");
    assert_eq!(fs::read(&env).unwrap(), after_b, "nothing written");

    migrator_engine::cutover_restore("run-b", data.path(), false).unwrap();
    migrator_engine::cutover_restore("run-a", data.path(), false).unwrap();
    assert_eq!(fs::read(&env).unwrap(), ORIGINAL);
}

#[test]
fn two_runs_with_the_same_target_still_restore_to_the_original() {
    let data = tempfile::tempdir().unwrap();
    let app = tempfile::tempdir().unwrap();
    let env = app.path().join(".env");
    fs::write(&env, ORIGINAL).unwrap();
    run(data.path(), "run-a", "https://same.example", "pk-lf-same");
    run(data.path(), "run-b", "https://same.example", "pk-lf-same");
    let same = Secrets {
        source: None,
        target: Some(Secret::new("sk-lf-same")),
        ..Default::default()
    };
    let a = migrator_engine::cutover_apply("run-a", data.path(), &env, &same).unwrap();
    let b = migrator_engine::cutover_apply("run-b", data.path(), &env, &same).unwrap();
    assert_eq!(a.record.written_sha256, b.record.written_sha256);
    // The file looks exactly as run A left it, yet run B's cutover sits on top of it.
    let err = migrator_engine::cutover_restore("run-a", data.path(), false).unwrap_err();
    assert!(err.to_string().contains("run-b"), "{err}");
    migrator_engine::cutover_restore("run-b", data.path(), false).unwrap();
    migrator_engine::cutover_restore("run-a", data.path(), false).unwrap();
    assert_eq!(fs::read(&env).unwrap(), ORIGINAL);
}

#[test]
fn a_backup_is_never_overwritten() {
    let (data, app, env) = setup();
    // A file already sits where run A's backup would go (say, left by another tool).
    let a = migrator_engine::cutover_apply("run-a", data.path(), &env, &secrets("run-a")).unwrap();
    migrator_engine::cutover_restore("run-a", data.path(), false).unwrap();
    fs::write(&a.record.backup_path, b"someone else's file").unwrap();
    let err =
        migrator_engine::cutover_apply("run-a", data.path(), &env, &secrets("run-a")).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(
        fs::read(&a.record.backup_path).unwrap(),
        b"someone else's file"
    );
    assert_eq!(fs::read(&env).unwrap(), ORIGINAL);
    drop(app);
}

#[test]
fn a_damaged_cutover_status_is_an_error_not_nothing_to_restore() {
    let (data, _app, env) = setup();
    migrator_engine::cutover_apply("run-a", data.path(), &env, &secrets("run-a")).unwrap();
    let journal = Journal::open(data.path(), "run-a").unwrap();
    journal.set_meta("cutover", "{not json").unwrap();
    drop(journal);

    let status = migrator_engine::cutover_status("run-a", data.path());
    assert!(status.is_err(), "a damaged status is not 'no cutover'");
    let restore = migrator_engine::cutover_restore("run-a", data.path(), false).unwrap_err();
    assert!(
        !matches!(restore, CutoverRunError::NothingToRestore(_)),
        "{restore}"
    );
    assert!(restore.to_string().contains("damaged"), "{restore}");
    let again =
        migrator_engine::cutover_apply("run-a", data.path(), &env, &secrets("run-a")).unwrap_err();
    assert!(again.to_string().contains("damaged"), "{again}");
}
