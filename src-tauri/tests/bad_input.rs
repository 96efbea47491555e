//! What the connection form refuses, through the app's profile service and its real
//! `profiles.json`: an address with a user name and password in it is not saved, and the
//! sentence that says why does not repeat the password.

use std::sync::Arc;
use std::time::Duration;

use langfuse_migrator::profiles::ProfileService;
use langfuse_migrator::secrets::{Secrets, SessionStore};
use migrator_engine::profile::{Connection, Field, LangfuseSettings, ProfileDraft, ProfileFile};
use secrecy::SecretString;

fn service(dir: &std::path::Path) -> ProfileService {
    let secrets = Arc::new(Secrets::new(
        Arc::new(SessionStore::default()),
        Duration::from_secs(5),
    ));
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
