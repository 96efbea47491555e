//! What the connection form refuses, through the app's profile service and its real
//! `profiles.json`: an address with a user name and password in it is not saved, and the
//! sentence that says why does not repeat the password; plain http to another computer is
//! saved only once the user confirmed it, and the chosen CA file travels on to the engine.

use std::sync::Arc;
use std::time::Duration;

use langfuse_migrator::profiles::ProfileService;
use langfuse_migrator::secrets::{Secrets, SessionStore};
use migrator_engine::profile::{
    Connection, Credentials, Field, LangfuseSettings, ProfileDraft, ProfileFile,
};
use secrecy::SecretString;

fn service(dir: &std::path::Path) -> ProfileService {
    let secrets = Arc::new(Secrets::new(
        Arc::new(SessionStore::default()),
        Duration::from_secs(5),
    ));
    // An in-memory "keychain" that persists nothing counts as unavailable once checked; then the
    // user's choice of session-only secrets applies.
    secrets.check(|_| {});
    secrets.use_session_only();
    ProfileService::new(ProfileFile::in_dir(dir), secrets)
}

#[test]
fn an_address_with_a_password_is_refused_without_repeating_it_and_never_saved() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = service(dir.path());
    for host in [
        "https://admin:hunter2@langfuse.example.com",
        "https://admin:hunter2@",
        "admin:hunter2@langfuse.example.com",
    ] {
        let draft = ProfileDraft {
            id: None,
            name: "with a password".into(),
            connection: Connection::Langfuse(LangfuseSettings {
                host: host.into(),
                public_key: "pk-lf-1".into(),
                cloud_plan: Default::default(),
                ca_file: None,
                allow_plain_http: false,
            }),
        };
        let result = profiles
            .save(draft, Some(SecretString::from("sk-lf-1")))
            .unwrap();
        assert!(result.saved.is_none(), "{host} was saved");
        let host_issues: Vec<_> = result.report.for_field(Field::Host).collect();
        assert_eq!(host_issues.len(), 1, "{host}: {host_issues:?}");
        let message = &host_issues[0].message;
        assert!(message.contains("user name and password"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
    // Nothing reached the profile file.
    for entry in walk(dir.path()) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(!text.contains("hunter2"), "{}", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn plain_http_to_another_computer_is_saved_only_once_confirmed_and_the_ca_file_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("corp-ca.pem");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let secrets = Arc::new(Secrets::new(
        Arc::new(SessionStore::default()),
        Duration::from_secs(5),
    ));
    secrets.check(|_| {});
    secrets.use_session_only();
    let profiles = ProfileService::new(ProfileFile::in_dir(dir.path()), secrets);
    let draft = |host: &str, allow_plain_http: bool| ProfileDraft {
        id: None,
        name: "self-hosted".into(),
        connection: Connection::Langfuse(LangfuseSettings {
            host: host.into(),
            public_key: "pk-lf-1".into(),
            cloud_plan: Default::default(),
            ca_file: Some(ca.display().to_string()),
            allow_plain_http,
        }),
    };
    let secret = || Some(SecretString::from("sk-lf-1"));

    let refused = profiles
        .save(draft("http://langfuse.internal:3000", false), secret())
        .unwrap();
    assert!(refused.saved.is_none(), "saved without a confirmation");
    let host: Vec<_> = refused.report.for_field(Field::Host).collect();
    assert!(host[0].message.contains("unencrypted"), "{host:?}");
    assert!(profiles.list().unwrap().is_empty());

    let saved = profiles
        .save(draft("http://langfuse.internal:3000", true), secret())
        .unwrap()
        .saved
        .expect("saved once confirmed");
    // What the engine gets from profiles.json carries both settings.
    let reloaded = ProfileFile::in_dir(dir.path()).load().unwrap();
    let profile = reloaded.iter().find(|p| p.id == saved.profile.id).unwrap();
    let Credentials::Langfuse {
        ca_file,
        allow_plain_http,
        ..
    } = Credentials::for_profile(profile, secret()).unwrap()
    else {
        panic!("a Langfuse connection")
    };
    assert_eq!(ca_file.as_deref(), Some(ca.as_path()));
    assert!(allow_plain_http);

    // This computer needs no confirmation.
    let local = ProfileDraft {
        name: "local".into(),
        ..draft("http://localhost:3000", false)
    };
    assert!(profiles.save(local, secret()).unwrap().saved.is_some());
}
