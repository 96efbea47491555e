//! The "no keychain" path: this test binary points D-Bus at an address where nothing listens,
//! as on a machine without a Secret Service. Its own process, so other tests keep their bus.

use std::sync::Arc;
use std::time::Duration;

use langfuse_migrator::profiles::{ProfileError, ProfileService, SecretStatus};
use langfuse_migrator::secrets::{
    KeychainStatus, KeychainStore, ProbeEvent, ProbeStep, SecretError, SecretStore, Secrets,
};
use migrator_engine::profile::{
    ArchiveSettings, Connection, LangfuseSettings, ProfileDraft, ProfileFile, ProfileId,
};
use secrecy::SecretString;

fn without_secret_service() {
    // SAFETY: set before any thread of this test binary reads the environment; the only test
    // in this binary calls it first.
    unsafe {
        std::env::set_var(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/lfm-no-bus",
        )
    };
}

#[test]
fn with_no_secret_service_nothing_is_stored_and_the_user_is_told_why() {
    without_secret_service();
    let store = KeychainStore::with_service("langfuse-migrator-test-nobus");
    let id = ProfileId::new_random();
    assert!(matches!(
        store.set(&id, &SecretString::from("sk-lf-x")),
        Err(SecretError::Unavailable(_))
    ));

    let secrets = Arc::new(Secrets::new(Arc::new(store), Duration::from_secs(15)));
    let events = Arc::new(std::sync::Mutex::new(vec![]));
    let sink = Arc::clone(&events);
    let status = secrets.check(move |e| sink.lock().unwrap().push(e));
    let KeychainStatus::Unavailable { reason } = &status else {
        panic!("expected unavailable, got {status:?}");
    };
    assert!(!reason.is_empty());
    assert!(matches!(
        events.lock().unwrap().last(),
        Some(ProbeEvent::Failed {
            step: ProbeStep::Write,
            ..
        })
    ));

    let dir = tempfile::tempdir().unwrap();
    let service = ProfileService::new(ProfileFile::in_dir(dir.path()), Arc::clone(&secrets));
    let langfuse = ProfileDraft {
        id: None,
        name: "Cloud".into(),
        connection: Connection::Langfuse(LangfuseSettings {
            host: "https://cloud.langfuse.com".into(),
            public_key: "pk-lf-1".into(),
            cloud_plan: Default::default(),
            ca_file: None,
            allow_plain_http: false,
        }),
    };
    // Refused, not silently kept somewhere else, and no profile without its key is left.
    let err = service
        .save(langfuse.clone(), Some(SecretString::from("sk-lf-1")))
        .unwrap_err();
    assert!(matches!(err, ProfileError::Secret(SecretError::NotChosen)));
    assert!(err.to_string().contains("No system keychain is available"));
    assert!(!dir.path().join("profiles.json").exists());

    // Archive profiles need no secret and still work.
    let archive = ProfileDraft {
        id: None,
        name: "Backup".into(),
        connection: Connection::Archive(ArchiveSettings {
            folder: "/tmp/backup".into(),
        }),
    };
    assert!(service.save(archive, None).unwrap().saved.is_some());

    // After the explicit opt-in, secrets are kept in memory for this session.
    assert!(matches!(
        secrets.use_session_only(),
        KeychainStatus::SessionOnly { .. }
    ));
    let saved = service
        .save(langfuse, Some(SecretString::from("sk-lf-1")))
        .unwrap()
        .saved
        .unwrap();
    assert_eq!(saved.secret, SecretStatus::ForThisSession);
    let file = std::fs::read_to_string(dir.path().join("profiles.json")).unwrap();
    assert!(!file.contains("sk-lf-1"));
}
