//! Form validation with messages a person can act on. Errors block saving; warnings (for keys
//! that do not look like the usual shape) are shown but never block, because self-hosted
//! deployments and older keys can differ.

use serde::Serialize;
use ts_rs::TS;
use url::Url;

use super::model::{Connection, Profile, ProfileDraft};

/// The form field an issue belongs to, so the UI can show it next to that field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Field {
    Name,
    Host,
    PublicKey,
    Secret,
    Endpoint,
    Folder,
    CaFile,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Issue {
    pub field: Field,
    pub severity: Severity,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ValidationReport {
    pub issues: Vec<Issue>,
}

impl ValidationReport {
    pub fn has_errors(&self) -> bool {
        self.issues.iter().any(|i| i.severity == Severity::Error)
    }

    pub fn for_field(&self, field: Field) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(move |i| i.field == field)
    }

    fn error(&mut self, field: Field, message: impl Into<String>) {
        self.issues.push(Issue {
            field,
            severity: Severity::Error,
            message: message.into(),
        });
    }

    fn warning(&mut self, field: Field, message: impl Into<String>) {
        self.issues.push(Issue {
            field,
            severity: Severity::Warning,
            message: message.into(),
        });
    }
}

/// Validates a draft against the other saved profiles.
///
/// `new_secret` is what the user typed into the secret field (`None` when they kept the saved
/// one); `has_saved_secret` says whether the profile already has a secret stored.
pub fn validate(
    draft: &ProfileDraft,
    new_secret: Option<&str>,
    has_saved_secret: bool,
    others: &[Profile],
) -> ValidationReport {
    let draft = draft.normalised();
    let mut report = ValidationReport::default();

    check_name(&draft, others, &mut report);
    match &draft.connection {
        Connection::Langfuse(s) => {
            if check_url(&s.host, Field::Host, "Langfuse host", &mut report) {
                check_plain_http(&s.host, s.allow_plain_http, &mut report);
            }
            check_ca_file(s.ca_file.as_deref(), &mut report);
            check_public_key(&s.public_key, &mut report);
            check_secret(
                new_secret,
                has_saved_secret,
                "secret key",
                "sk-lf-",
                "Langfuse secret keys start with sk-lf-. Check that you copied the secret key, not the public key.",
                &mut report,
            );
        }
        Connection::LangSmith(s) => {
            let valid = check_url(
                &s.endpoint,
                Field::Endpoint,
                "LangSmith endpoint",
                &mut report,
            );
            if valid && crate::vocab::plain_http::to_another_host(&s.endpoint) {
                report.warning(Field::Endpoint, UNENCRYPTED);
            }
            check_secret(
                new_secret,
                has_saved_secret,
                "API key",
                "lsv2_",
                "LangSmith API keys usually start with lsv2_. Check that you copied the whole key.",
                &mut report,
            );
        }
        Connection::Archive(s) => check_folder(&s.folder, &mut report),
    }
    report
}

fn check_name(draft: &ProfileDraft, others: &[Profile], report: &mut ValidationReport) {
    if draft.name.is_empty() {
        report.error(Field::Name, "Give the connection a name.");
        return;
    }
    let taken = others.iter().any(|p| {
        Some(&p.id) != draft.id.as_ref()
            && p.name.trim().to_lowercase() == draft.name.to_lowercase()
    });
    if taken {
        report.error(
            Field::Name,
            format!(
                "Another connection is already called “{}”. Pick a different name.",
                draft.name
            ),
        );
    }
}

/// Whether the address is a usable http(s) URL; if not, the reason is reported.
fn check_url(raw: &str, field: Field, what: &str, report: &mut ValidationReport) -> bool {
    if raw.is_empty() {
        report.error(field, format!("Enter the {what} URL."));
        return false;
    }
    let example = "for example https://langfuse.example.com";
    // Checked first: every later message shows the address, and it must not show a password.
    if crate::url_credentials::has_credentials(raw) {
        report.error(
            field,
            format!(
                "Remove the user name and password from the address (“{}”): the {what} is just the server address, and the keys go in their own fields, where they are kept safe.",
                crate::url_credentials::redacted(raw)
            ),
        );
        return false;
    }
    let url = match Url::parse(raw) {
        Ok(url) => url,
        Err(_) => {
            report.error(
                field,
                format!("“{raw}” is not a valid URL. Enter the full address, {example}."),
            );
            return false;
        }
    };
    if !matches!(url.scheme(), "http" | "https") {
        report.error(
            field,
            format!("The {what} must start with https:// (or http:// for a local server)."),
        );
        return false;
    }
    if url.host_str().is_none_or(str::is_empty) {
        report.error(
            field,
            format!("“{raw}” has no host name. Enter the full address, {example}."),
        );
        return false;
    }
    if url.query().is_some() || url.fragment().is_some() {
        report.error(
            field,
            format!("Remove the ?… or #… part: the {what} is just the server address."),
        );
        return false;
    }
    true
}

const UNENCRYPTED: &str = "This address uses http://, so your keys would travel unencrypted to another computer. Use https:// unless the server is on your own network.";

/// Langfuse keys go in a Basic auth header: over plain http to another computer that needs
/// the user's explicit confirmation. This computer (localhost) needs none.
fn check_plain_http(host: &str, confirmed: bool, report: &mut ValidationReport) {
    if !crate::vocab::plain_http::to_another_host(host) {
        return;
    }
    if confirmed {
        report.warning(Field::Host, UNENCRYPTED);
    } else {
        report.error(
            Field::Host,
            "This address uses http://, so your keys would travel unencrypted to another computer. Use https://, or confirm below that plain http is intended.",
        );
    }
}

/// The CA file, when one is chosen, is a file given by its full path. (Whether it holds
/// certificates is told by “Test connection”, with the engine's sentence.)
fn check_ca_file(ca_file: Option<&str>, report: &mut ValidationReport) {
    let Some(file) = ca_file else { return };
    let path = std::path::Path::new(file);
    if !path.is_absolute() {
        report.error(
            Field::CaFile,
            "Use the full path of the CA file (choose it with “Browse…”).",
        );
    } else if !path.is_file() {
        report.error(
            Field::CaFile,
            format!("There is no file at {file}. Choose the CA file (a .pem or .crt file) again."),
        );
    }
}

fn check_public_key(key: &str, report: &mut ValidationReport) {
    if key.is_empty() {
        report.error(
            Field::PublicKey,
            "Enter the public key (it starts with pk-lf-).",
        );
    } else if key.starts_with("sk-lf-") {
        report.warning(
            Field::PublicKey,
            "This looks like a secret key. The public key starts with pk-lf-; the secret key belongs in the field below, which is kept in your system keychain.",
        );
    } else if !key.starts_with("pk-lf-") {
        report.warning(
            Field::PublicKey,
            "Langfuse public keys start with pk-lf-. Check that you copied the public key.",
        );
    }
}

fn check_secret(
    new_secret: Option<&str>,
    has_saved_secret: bool,
    what: &str,
    prefix: &str,
    shape_warning: &str,
    report: &mut ValidationReport,
) {
    match new_secret.map(str::trim) {
        None if has_saved_secret => {}
        None | Some("") => report.error(Field::Secret, format!("Enter the {what}.")),
        Some(secret) if !secret.starts_with(prefix) => report.warning(Field::Secret, shape_warning),
        Some(_) => {}
    }
}

fn check_folder(folder: &str, report: &mut ValidationReport) {
    if folder.is_empty() {
        report.error(Field::Folder, "Choose the archive folder.");
    } else if !std::path::Path::new(folder).is_absolute() {
        report.error(
            Field::Folder,
            "Use the full path of the folder (choose it with “Browse…”).",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::model::{ArchiveSettings, LangSmithSettings, LangfuseSettings, ProfileId};

    fn langfuse(name: &str, host: &str, pk: &str) -> ProfileDraft {
        ProfileDraft {
            id: None,
            name: name.into(),
            connection: Connection::Langfuse(LangfuseSettings {
                host: host.into(),
                public_key: pk.into(),
                cloud_plan: Default::default(),
                ca_file: None,
                allow_plain_http: false,
            }),
        }
    }

    fn saved(id: &str, name: &str) -> Profile {
        Profile {
            id: ProfileId::from(id),
            name: name.into(),
            connection: Connection::Archive(ArchiveSettings {
                folder: "/tmp/a".into(),
            }),
        }
    }

    fn messages(r: &ValidationReport, field: Field) -> Vec<(Severity, String)> {
        r.for_field(field)
            .map(|i| (i.severity, i.message.clone()))
            .collect()
    }

    #[test]
    fn a_well_formed_langfuse_profile_has_no_issues() {
        let r = validate(
            &langfuse("Prod", "https://cloud.langfuse.com", "pk-lf-123"),
            Some("sk-lf-456"),
            false,
            &[],
        );
        assert_eq!(r.issues, vec![]);
    }

    #[test]
    fn an_empty_or_blank_name_is_an_error() {
        let r = validate(
            &langfuse("   ", "https://cloud.langfuse.com", "pk-lf-1"),
            Some("sk-lf-1"),
            false,
            &[],
        );
        assert!(r.has_errors());
        assert_eq!(
            messages(&r, Field::Name),
            vec![(Severity::Error, "Give the connection a name.".to_owned())]
        );
    }

    #[test]
    fn a_duplicate_name_is_an_error_regardless_of_case_but_not_against_itself() {
        let others = [saved("a", "Production")];
        let r = validate(
            &langfuse(" production ", "https://cloud.langfuse.com", "pk-lf-1"),
            Some("sk-lf-1"),
            false,
            &others,
        );
        let name = messages(&r, Field::Name);
        assert_eq!(name.len(), 1);
        assert!(
            name[0].1.contains("already called “production”"),
            "{name:?}"
        );

        let mut editing_itself = langfuse("Production", "https://cloud.langfuse.com", "pk-lf-1");
        editing_itself.id = Some(ProfileId::from("a"));
        let r = validate(&editing_itself, None, true, &others);
        assert!(!r.has_errors(), "{r:?}");
    }

    #[test]
    fn malformed_urls_are_errors_with_the_reason() {
        for (host, needle) in [
            ("", "Enter the Langfuse host URL."),
            ("cloud.langfuse.com", "is not a valid URL"),
            ("ftp://cloud.langfuse.com", "must start with https://"),
            ("https://", "not a valid URL"),
            ("https://cloud.langfuse.com/?project=1", "Remove the ?"),
        ] {
            let r = validate(&langfuse("x", host, "pk-lf-1"), Some("sk-lf-1"), false, &[]);
            let host_issues = messages(&r, Field::Host);
            assert_eq!(host_issues.len(), 1, "{host}: {host_issues:?}");
            assert_eq!(host_issues[0].0, Severity::Error, "{host}");
            assert!(host_issues[0].1.contains(needle), "{host}: {host_issues:?}");
        }
    }

    #[test]
    fn plain_http_to_another_computer_needs_a_confirmation_but_localhost_does_not() {
        let mut draft = langfuse("x", "http://langfuse.internal:3000", "pk-lf-1");
        let r = validate(&draft, Some("sk-lf-1"), false, &[]);
        assert!(r.has_errors(), "{r:?}");
        let host = messages(&r, Field::Host);
        assert_eq!(host[0].0, Severity::Error);
        assert!(host[0].1.contains("unencrypted"), "{host:?}");

        let Connection::Langfuse(s) = &mut draft.connection else {
            unreachable!()
        };
        s.allow_plain_http = true;
        let r = validate(&draft, Some("sk-lf-1"), false, &[]);
        assert!(!r.has_errors(), "{r:?}");
        assert_eq!(messages(&r, Field::Host)[0].0, Severity::Warning);

        for local in [
            "http://localhost:3000",
            "http://127.0.0.1:3000",
            "http://[::1]:3000",
        ] {
            let r = validate(
                &langfuse("x", local, "pk-lf-1"),
                Some("sk-lf-1"),
                false,
                &[],
            );
            assert_eq!(r.issues, vec![], "{local}");
        }
    }

    #[test]
    fn a_ca_file_must_be_a_file_given_by_its_full_path() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("company-ca.pem");
        std::fs::write(&pem, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let with_ca = |file: &str| {
            let mut d = langfuse("x", "https://langfuse.internal", "pk-lf-1");
            if let Connection::Langfuse(s) = &mut d.connection {
                s.ca_file = Some(file.into());
            }
            validate(&d, Some("sk-lf-1"), false, &[])
        };
        assert_eq!(with_ca(pem.to_str().unwrap()).issues, vec![]);
        assert_eq!(with_ca("  ").issues, vec![], "blank means none");
        let r = with_ca("company-ca.pem");
        assert!(
            messages(&r, Field::CaFile)[0].1.contains("full path"),
            "{r:?}"
        );
        let missing = dir.path().join("gone.pem");
        let r = with_ca(missing.to_str().unwrap());
        let ca = messages(&r, Field::CaFile);
        assert_eq!(ca[0].0, Severity::Error);
        assert!(ca[0].1.contains(missing.to_str().unwrap()), "{ca:?}");
        let r = with_ca(dir.path().to_str().unwrap());
        assert!(r.has_errors(), "a folder is not a CA file");
    }

    #[test]
    fn keys_of_an_unusual_shape_warn_but_do_not_block() {
        let r = validate(
            &langfuse("x", "https://cloud.langfuse.com", "public-123"),
            Some("secret-456"),
            false,
            &[],
        );
        assert!(!r.has_errors(), "{r:?}");
        assert_eq!(messages(&r, Field::PublicKey)[0].0, Severity::Warning);
        assert_eq!(messages(&r, Field::Secret)[0].0, Severity::Warning);
    }

    #[test]
    fn a_secret_key_pasted_into_the_public_key_field_is_called_out() {
        let r = validate(
            &langfuse("x", "https://cloud.langfuse.com", "sk-lf-oops"),
            Some("sk-lf-1"),
            false,
            &[],
        );
        assert!(
            messages(&r, Field::PublicKey)[0]
                .1
                .contains("looks like a secret key")
        );
    }

    #[test]
    fn a_new_profile_needs_a_secret_but_an_edit_may_keep_the_saved_one() {
        let draft = langfuse("x", "https://cloud.langfuse.com", "pk-lf-1");
        let r = validate(&draft, None, false, &[]);
        assert_eq!(
            messages(&r, Field::Secret),
            vec![(Severity::Error, "Enter the secret key.".to_owned())]
        );
        let r = validate(&draft, Some("  "), false, &[]);
        assert!(r.has_errors());
        let r = validate(&draft, None, true, &[]);
        assert!(!r.has_errors());
    }

    #[test]
    fn langsmith_profiles_check_endpoint_and_api_key() {
        let draft = ProfileDraft {
            id: None,
            name: "ls".into(),
            connection: Connection::LangSmith(LangSmithSettings {
                endpoint: "not a url".into(),
            }),
        };
        let r = validate(&draft, Some("abc"), false, &[]);
        assert_eq!(messages(&r, Field::Endpoint)[0].0, Severity::Error);
        assert_eq!(messages(&r, Field::Secret)[0].0, Severity::Warning);
        let r = validate(&draft, None, false, &[]);
        assert!(
            messages(&r, Field::Secret)[0]
                .1
                .contains("Enter the API key")
        );
    }

    #[test]
    fn archive_profiles_need_an_absolute_folder_and_no_secret() {
        let mut draft = ProfileDraft {
            id: None,
            name: "backup".into(),
            connection: Connection::Archive(ArchiveSettings { folder: "".into() }),
        };
        assert!(validate(&draft, None, false, &[]).has_errors());
        draft.connection = Connection::Archive(ArchiveSettings {
            folder: "relative/dir".into(),
        });
        assert!(validate(&draft, None, false, &[]).has_errors());
        draft.connection = Connection::Archive(ArchiveSettings {
            folder: "/home/me/langfuse-export".into(),
        });
        assert_eq!(validate(&draft, None, false, &[]).issues, vec![]);
    }
}
