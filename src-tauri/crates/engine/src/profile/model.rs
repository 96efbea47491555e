//! The profile data model, shared with the UI through generated TypeScript types.

use std::fmt;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::vocab::CloudPlan;

/// Stable identifier of a profile. It also names the profile's keychain entry, so renaming a
/// profile never orphans its secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ProfileId(String);

impl ProfileId {
    pub fn new_random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for ProfileId {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which kind of system a profile points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum ConnectionKind {
    Langfuse,
    LangSmith,
    Archive,
}

impl ConnectionKind {
    /// Whether profiles of this kind need a secret in the keychain.
    pub fn needs_secret(self) -> bool {
        !matches!(self, ConnectionKind::Archive)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct LangfuseSettings {
    /// Base URL of the Langfuse server, e.g. `https://cloud.langfuse.com`.
    pub host: String,
    /// The public key (`pk-lf-…`). Not a secret: Langfuse shows it in plain text too.
    pub public_key: String,
    /// The Langfuse Cloud plan of this project, whose request limits a run stays within and
    /// whose daily delete budget a rollback plans with; `none` for self-hosted servers.
    #[serde(default, skip_serializing_if = "is_no_plan")]
    pub cloud_plan: CloudPlan,
    /// A PEM file with the private certificate authority a self-hosted server's certificate is
    /// signed by; trusted next to the system's authorities. Not a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub ca_file: Option<String>,
    /// The user confirmed that the keys may travel over plain `http://` to another computer.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_plain_http: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_no_plan(p: &CloudPlan) -> bool {
    *p == CloudPlan::None
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct LangSmithSettings {
    /// API endpoint, e.g. `https://api.smith.langchain.com`.
    pub endpoint: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ArchiveSettings {
    /// Absolute path of the archive folder.
    pub folder: String,
}

/// Where a profile connects to; the tag is the [`ConnectionKind`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[ts(export)]
pub enum Connection {
    Langfuse(LangfuseSettings),
    LangSmith(LangSmithSettings),
    Archive(ArchiveSettings),
}

impl Connection {
    pub fn kind(&self) -> ConnectionKind {
        match self {
            Connection::Langfuse(_) => ConnectionKind::Langfuse,
            Connection::LangSmith(_) => ConnectionKind::LangSmith,
            Connection::Archive(_) => ConnectionKind::Archive,
        }
    }
}

/// A saved profile: everything except the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Profile {
    pub id: ProfileId,
    pub name: String,
    pub connection: Connection,
}

/// What the form submits. `id` is `None` for a new profile. The secret is not part of a draft:
/// it travels separately, once, and goes straight to the keychain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ProfileDraft {
    #[ts(optional = nullable)]
    pub id: Option<ProfileId>,
    pub name: String,
    pub connection: Connection,
}

impl ProfileDraft {
    /// Normalises user input (trims the name and URLs, drops a trailing slash) before it is saved.
    pub fn normalised(&self) -> ProfileDraft {
        let connection = match &self.connection {
            Connection::Langfuse(s) => Connection::Langfuse(LangfuseSettings {
                host: trim_url(&s.host),
                public_key: s.public_key.trim().to_owned(),
                cloud_plan: s.cloud_plan,
                ca_file: s
                    .ca_file
                    .as_deref()
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned),
                // Kept only where it means something: an unencrypted address of another computer.
                allow_plain_http: s.allow_plain_http
                    && crate::vocab::plain_http::to_another_host(&trim_url(&s.host)),
            }),
            Connection::LangSmith(s) => Connection::LangSmith(LangSmithSettings {
                endpoint: trim_url(&s.endpoint),
            }),
            Connection::Archive(s) => Connection::Archive(ArchiveSettings {
                folder: s.folder.trim().to_owned(),
            }),
        };
        ProfileDraft {
            id: self.id.clone(),
            name: self.name.trim().to_owned(),
            connection,
        }
    }
}

fn trim_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_serialises_with_a_kind_tag_the_ui_can_switch_on() {
        let c = Connection::Langfuse(LangfuseSettings {
            host: "https://cloud.langfuse.com".into(),
            public_key: "pk-lf-1".into(),
            cloud_plan: CloudPlan::None,
            ca_file: None,
            allow_plain_http: false,
        });
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "langfuse", "host": "https://cloud.langfuse.com", "publicKey": "pk-lf-1"})
        );
        let back: Connection = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
        let ls = serde_json::to_value(Connection::LangSmith(LangSmithSettings {
            endpoint: "x".into(),
        }))
        .unwrap();
        assert_eq!(ls["kind"], "langSmith");
    }

    #[test]
    fn normalising_trims_names_and_trailing_slashes() {
        let d = ProfileDraft {
            id: None,
            name: "  Prod  ".into(),
            connection: Connection::Langfuse(LangfuseSettings {
                host: " https://cloud.langfuse.com/ ".into(),
                public_key: " pk-lf-a ".into(),
                cloud_plan: CloudPlan::Core,
                ca_file: Some("  ".into()),
                allow_plain_http: true,
            }),
        }
        .normalised();
        assert_eq!(d.name, "Prod");
        assert_eq!(
            d.connection,
            Connection::Langfuse(LangfuseSettings {
                host: "https://cloud.langfuse.com".into(),
                public_key: "pk-lf-a".into(),
                cloud_plan: CloudPlan::Core,
                // A blank CA file is none; https needs no plain-http confirmation.
                ca_file: None,
                allow_plain_http: false,
            })
        );
    }

    #[test]
    fn only_archives_need_no_secret() {
        assert!(ConnectionKind::Langfuse.needs_secret());
        assert!(ConnectionKind::LangSmith.needs_secret());
        assert!(!ConnectionKind::Archive.needs_secret());
    }
}
