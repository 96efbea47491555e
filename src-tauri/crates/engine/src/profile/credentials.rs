//! What the engine needs to connect: a profile joined with its secret. Built by the app from the
//! keychain and handed to the engine directly; it is never serialised, and its `Debug` output
//! redacts the secret (`SecretString`).

use secrecy::SecretString;

use super::model::{Connection, Profile};

#[derive(Debug)]
pub enum Credentials {
    Langfuse {
        host: String,
        public_key: String,
        secret_key: SecretString,
        cloud_plan: crate::vocab::CloudPlan,
        /// The private certificate authority to trust for this server, if one was chosen.
        ca_file: Option<std::path::PathBuf>,
        /// The user confirmed sending the keys over plain http to another computer.
        allow_plain_http: bool,
    },
    LangSmith {
        endpoint: String,
        api_key: SecretString,
    },
    Archive {
        folder: std::path::PathBuf,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "The connection “{0}” has no saved secret. Open it under Connections and enter the key again."
)]
pub struct MissingSecret(pub String);

impl Credentials {
    /// Joins a profile with its secret. `secret` may be `None` only for archives.
    pub fn for_profile(
        profile: &Profile,
        secret: Option<SecretString>,
    ) -> Result<Self, MissingSecret> {
        let missing = || MissingSecret(profile.name.clone());
        Ok(match &profile.connection {
            Connection::Langfuse(s) => Credentials::Langfuse {
                host: s.host.clone(),
                public_key: s.public_key.clone(),
                secret_key: secret.ok_or_else(missing)?,
                cloud_plan: s.cloud_plan,
                ca_file: s.ca_file.as_ref().map(Into::into),
                allow_plain_http: s.allow_plain_http,
            },
            Connection::LangSmith(s) => Credentials::LangSmith {
                endpoint: s.endpoint.clone(),
                api_key: secret.ok_or_else(missing)?,
            },
            Connection::Archive(s) => Credentials::Archive {
                folder: s.folder.clone().into(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::model::{LangfuseSettings, ProfileId};
    use secrecy::ExposeSecret;

    #[test]
    fn credentials_carry_the_secret_but_never_print_it() {
        let profile = Profile {
            id: ProfileId::from("p1"),
            name: "Prod".into(),
            connection: Connection::Langfuse(LangfuseSettings {
                host: "https://cloud.langfuse.com".into(),
                public_key: "pk-lf-1".into(),
                cloud_plan: Default::default(),
                ca_file: None,
                allow_plain_http: false,
            }),
        };
        let creds =
            Credentials::for_profile(&profile, Some(SecretString::from("sk-lf-very-secret")))
                .unwrap();
        assert!(!format!("{creds:?}").contains("very-secret"));
        let Credentials::Langfuse { secret_key, .. } = &creds else {
            panic!("wrong kind")
        };
        assert_eq!(secret_key.expose_secret(), "sk-lf-very-secret");
        assert_eq!(
            Credentials::for_profile(&profile, None).unwrap_err(),
            MissingSecret("Prod".into())
        );
    }
}
