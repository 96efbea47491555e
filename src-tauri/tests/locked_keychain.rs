//! A locked keychain: the collection exists but is locked and no password prompt can be shown.
//! Runs in a keychain session of its own (locking is not undone without a prompt, so it must
//! not share the session of the other keychain tests): the outer test re-runs this binary's
//! inner test inside a fresh dbus-run-session with gnome-keyring, locked before the test starts.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use langfuse_migrator::secrets::{KeychainStatus, KeychainStore, Secrets};

const INNER: &str = "LANGFUSE_MIGRATOR_LOCKED_KEYCHAIN_INNER";

#[test]
fn a_locked_keychain_is_reported_as_unusable_in_time() {
    if std::env::var_os(INNER).is_some() {
        return inner();
    }
    if std::env::var_os("LANGFUSE_MIGRATOR_REQUIRE_KEYCHAIN").is_none()
        && Command::new("gnome-keyring-daemon")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!(
            "SKIPPED: gnome-keyring is not installed; scripts/test.sh runs this test for real"
        );
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let script = r#"
        set -e
        eval "$(printf %s lfm-test-keyring | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
        # The daemon may still be registering on the bus: retry the lock for a few seconds.
        for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
          if dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
            org.freedesktop.Secret.Service.Lock array:objpath:/org/freedesktop/secrets/collection/login \
            >/dev/null 2>&1; then break; fi
          sleep 0.25
        done
        if printf x | secret-tool store --label=check service lfm-lock-check username u 2>/dev/null; then
          echo "the login collection did not lock" >&2; exit 1
        fi
        exec "$0" --exact a_locked_keychain_is_reported_as_unusable_in_time --nocapture
    "#;
    // The tests' bus config: no activatable services, so nothing but this gnome-keyring answers.
    let bus_config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/lib/dbus-session.conf"
    );
    let status = Command::new("dbus-run-session")
        .arg(format!("--config-file={bus_config}"))
        .args(["--", "sh", "-c", script])
        .arg(std::env::current_exe().unwrap())
        .env("HOME", home.path())
        .env(INNER, "1")
        .status()
        .expect("dbus-run-session is installed");
    assert!(status.success(), "the inner test failed");
}

fn inner() {
    let timeout = Duration::from_secs(5);
    let secrets = Secrets::new(
        Arc::new(KeychainStore::with_service("langfuse-migrator-test-locked")),
        timeout,
    );
    let started = Instant::now();
    let status = secrets.check(|_| {});
    assert!(
        started.elapsed() < timeout + Duration::from_secs(2),
        "gave up in time"
    );
    let KeychainStatus::Unavailable { reason } = status else {
        panic!("a locked keychain must not count as usable: {status:?}");
    };
    eprintln!("reason shown to the user: {reason}");
    assert!(reason.contains("it is locked"), "{reason}");
    assert!(secrets.store().is_err(), "no secret may be stored");
}
