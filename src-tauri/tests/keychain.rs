//! Integration tests against a real Secret Service (gnome-keyring inside dbus-run-session, as
//! scripts/test.sh starts it). Entries use a per-test service name, never the app's own.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use langfuse_migrator::profiles::{ProfileService, SecretStatus};
use langfuse_migrator::secrets::{KeychainStatus, KeychainStore, SecretStore, Secrets, probe};
use migrator_engine::profile::{
    Connection, Credentials, LangfuseSettings, ProfileDraft, ProfileFile, ProfileId,
};
use secrecy::{ExposeSecret, SecretString};

/// scripts/test.sh sets LANGFUSE_MIGRATOR_REQUIRE_KEYCHAIN=1, so there these tests can never be
/// skipped. A plain `cargo test` on a machine without a Secret Service skips them loudly.
fn keychain_available() -> bool {
    if std::env::var_os("LANGFUSE_MIGRATOR_REQUIRE_KEYCHAIN").is_some() {
        return true;
    }
    let store = test_store();
    let id = ProfileId::from("availability-check");
    let ok = store.set(&id, &SecretString::from("x")).is_ok();
    let _ = store.delete(&id);
    if !ok {
        eprintln!("SKIPPED: no Secret Service here; scripts/test.sh runs these tests for real");
    }
    ok
}

fn test_store() -> KeychainStore {
    KeychainStore::with_service(&test_service())
}

fn test_service() -> String {
    format!("langfuse-migrator-test-{}", std::process::id())
}

fn secret_tool_lookup(service: &str, id: &ProfileId) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", service, "username", id.as_str()])
        .output()
        .expect("secret-tool is installed (libsecret-tools)");
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap())
}

#[test]
fn a_secret_is_stored_read_back_through_a_new_entry_replaced_and_deleted() {
    if !keychain_available() {
        return;
    }
    let id = ProfileId::new_random();
    test_store()
        .set(&id, &SecretString::from("sk-lf-first"))
        .unwrap();

    // A separate store object, so nothing can come from memory.
    let read = test_store().get(&id).unwrap().expect("stored");
    assert_eq!(read.expose_secret(), "sk-lf-first");
    // Other Secret Service clients see it under the documented attributes.
    assert_eq!(
        secret_tool_lookup(&test_service(), &id).as_deref(),
        Some("sk-lf-first")
    );

    test_store()
        .set(&id, &SecretString::from("sk-lf-second"))
        .unwrap();
    assert_eq!(
        test_store().get(&id).unwrap().unwrap().expose_secret(),
        "sk-lf-second"
    );

    test_store().delete(&id).unwrap();
    assert!(test_store().get(&id).unwrap().is_none());
    assert_eq!(secret_tool_lookup(&test_service(), &id), None);
}

#[test]
fn a_missing_entry_reads_as_none_and_deleting_it_is_not_an_error() {
    if !keychain_available() {
        return;
    }
    let id = ProfileId::new_random();
    assert!(test_store().get(&id).unwrap().is_none());
    test_store().delete(&id).unwrap();
}

#[test]
fn the_probe_passes_against_a_real_secret_service_and_leaves_nothing_behind() {
    if !keychain_available() {
        return;
    }
    let mut steps = vec![];
    probe(&test_store(), |e| steps.push(e)).unwrap();
    assert_eq!(
        steps.len(),
        8,
        "four steps, each started and passed: {steps:?}"
    );
    let secrets = Secrets::new(Arc::new(test_store()), Duration::from_secs(15));
    assert_eq!(secrets.check(|_| {}), KeychainStatus::Available);
    assert!(secrets.store().unwrap().persists());
}

#[test]
fn saving_a_profile_puts_the_secret_in_the_keychain_and_nowhere_in_the_config_dir() {
    if !keychain_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(Secrets::new(
        Arc::new(test_store()),
        Duration::from_secs(15),
    ));
    let service = ProfileService::new(ProfileFile::in_dir(dir.path()), secrets);
    let secret = format!("sk-lf-{}", uuid_like());

    let draft = ProfileDraft {
        id: None,
        name: "Prod EU".into(),
        connection: Connection::Langfuse(LangfuseSettings {
            host: "https://cloud.langfuse.com/".into(),
            public_key: "pk-lf-abc".into(),
            cloud_plan: Default::default(),
            ca_file: None,
            allow_plain_http: false,
        }),
    };
    let result = service
        .save(draft.clone(), Some(SecretString::from(secret.clone())))
        .unwrap();
    let saved = result.saved.expect("valid draft is saved");
    assert_eq!(saved.secret, SecretStatus::InKeychain);
    let id = saved.profile.id.clone();

    assert_eq!(
        secret_tool_lookup(&test_service(), &id).as_deref(),
        Some(secret.as_str())
    );
    let file = std::fs::read_to_string(dir.path().join("profiles.json")).unwrap();
    assert!(!file.contains(&secret));
    assert!(
        file.contains("https://cloud.langfuse.com\""),
        "normalised host: {file}"
    );

    // Editing without a new secret keeps the saved one.
    let mut edit = draft.clone();
    edit.id = Some(id.clone());
    edit.name = "Prod EU (renamed)".into();
    let result = service.save(edit, None).unwrap();
    assert!(result.saved.is_some(), "{:?}", result.report);
    let Credentials::Langfuse { secret_key, .. } = service.credentials(&id).unwrap() else {
        panic!("wrong kind");
    };
    assert_eq!(secret_key.expose_secret(), secret);

    // A duplicate name is refused and nothing is stored for it.
    let refused = service
        .save(
            ProfileDraft {
                name: "prod eu (RENAMED)".into(),
                ..draft
            },
            Some(SecretString::from("sk-lf-other")),
        )
        .unwrap();
    assert!(refused.saved.is_none());
    assert_eq!(service.list().unwrap().len(), 1);

    service.delete(&id).unwrap();
    assert_eq!(secret_tool_lookup(&test_service(), &id), None);
    assert!(service.list().unwrap().is_empty());
}

fn uuid_like() -> String {
    ProfileId::new_random().to_string()
}
