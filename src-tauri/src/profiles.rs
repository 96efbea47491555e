//! Saving, listing and deleting connection profiles: the JSON file for the non-secret part, the
//! secret store for the secret. This is also where the engine will get [`Credentials`] from.

use std::sync::{Arc, Mutex};

use migrator_engine::profile::{
    Credentials, Profile, ProfileDraft, ProfileFile, ProfileId, ProfileStoreError,
    ValidationReport, validate,
};
use secrecy::SecretString;
use serde::Serialize;
use ts_rs::TS;

use crate::secrets::{SecretError, SecretStore, Secrets};

/// Where a profile's secret is, as far as the window needs to know. Never the secret itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum SecretStatus {
    /// Archive profiles have no secret.
    NotNeeded,
    InKeychain,
    /// Kept in memory; gone when the app quits.
    ForThisSession,
    /// Expected but not found (e.g. saved for a session that has ended).
    Missing,
    /// The keychain cannot be read right now.
    Unknown,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ProfileView {
    pub profile: Profile,
    pub secret: SecretStatus,
}

/// The outcome of a save: `saved` is `None` when validation found errors.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SaveResult {
    #[ts(optional = nullable)]
    pub saved: Option<ProfileView>,
    pub report: ValidationReport,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(transparent)]
    File(#[from] ProfileStoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("This connection no longer exists. It may have been deleted in another window.")]
    NotFound,
    #[error(transparent)]
    MissingSecret(#[from] migrator_engine::profile::MissingSecret),
}

pub struct ProfileService {
    file: ProfileFile,
    secrets: Arc<Secrets>,
    /// Serialises read-modify-write cycles of the profiles file.
    writing: Mutex<()>,
}

impl ProfileService {
    pub fn new(file: ProfileFile, secrets: Arc<Secrets>) -> Self {
        Self {
            file,
            secrets,
            writing: Mutex::new(()),
        }
    }

    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    pub fn list(&self) -> Result<Vec<ProfileView>, ProfileError> {
        let store = self.secrets.store().ok();
        Ok(self
            .file
            .load()?
            .into_iter()
            .map(|profile| {
                let secret = secret_status(&profile, store.as_deref());
                ProfileView { profile, secret }
            })
            .collect())
    }

    /// Checks a draft without saving it, for messages while the user types.
    pub fn validate(
        &self,
        draft: &ProfileDraft,
        new_secret: Option<&str>,
    ) -> Result<ValidationReport, ProfileError> {
        let profiles = self.file.load()?;
        let has_saved = self.has_saved_secret(draft, &profiles);
        Ok(validate(draft, new_secret, has_saved, &profiles))
    }

    /// Validates and saves. The secret goes to the secret store first, then the profile to the
    /// file; if the file cannot be written, a newly stored secret is removed again.
    pub fn save(
        &self,
        draft: ProfileDraft,
        secret: Option<SecretString>,
    ) -> Result<SaveResult, ProfileError> {
        use secrecy::ExposeSecret;
        let _writing = self.writing.lock().unwrap();
        let draft = draft.normalised();
        let mut profiles = self.file.load()?;
        let existing = match &draft.id {
            Some(id) => Some(
                profiles
                    .iter()
                    .find(|p| &p.id == id)
                    .cloned()
                    .ok_or(ProfileError::NotFound)?,
            ),
            None => None,
        };
        let has_saved = self.has_saved_secret(&draft, &profiles);
        let report = validate(
            &draft,
            secret.as_ref().map(|s| s.expose_secret()),
            has_saved,
            &profiles,
        );
        if report.has_errors() {
            return Ok(SaveResult {
                saved: None,
                report,
            });
        }

        let profile = Profile {
            id: draft.id.clone().unwrap_or_else(ProfileId::new_random),
            name: draft.name.clone(),
            connection: draft.connection.clone(),
        };
        let needs_secret = profile.connection.kind().needs_secret();
        let had_secret = existing
            .as_ref()
            .is_some_and(|p| p.connection.kind().needs_secret());

        let mut stored_new_secret = None;
        if let (true, Some(secret)) = (needs_secret, &secret) {
            let store = self.secrets.store()?;
            store.set(
                &profile.id,
                &SecretString::from(secret.expose_secret().trim().to_owned()),
            )?;
            stored_new_secret = Some(store);
        } else if !needs_secret && had_secret {
            // Switched to an archive: its old key must not linger in the keychain.
            self.secrets.store()?.delete(&profile.id)?;
        }

        match profiles.iter_mut().find(|p| p.id == profile.id) {
            Some(slot) => *slot = profile.clone(),
            None => profiles.push(profile.clone()),
        }
        if let Err(e) = self.file.save(&profiles) {
            if let (Some(store), None) = (stored_new_secret, &existing) {
                let _ = store.delete(&profile.id);
            }
            return Err(e.into());
        }
        tracing::info!(profile = %profile.id, kind = ?profile.connection.kind(), "connection saved");
        let secret = secret_status(&profile, self.secrets.store().ok().as_deref());
        Ok(SaveResult {
            saved: Some(ProfileView { profile, secret }),
            report,
        })
    }

    /// Deletes a profile and its secret. If the secret cannot be removed, the profile is kept,
    /// so no key is left behind without a way to find it.
    pub fn delete(&self, id: &ProfileId) -> Result<(), ProfileError> {
        let _writing = self.writing.lock().unwrap();
        let mut profiles = self.file.load()?;
        let index = profiles
            .iter()
            .position(|p| &p.id == id)
            .ok_or(ProfileError::NotFound)?;
        if profiles[index].connection.kind().needs_secret() {
            self.secrets.store()?.delete(id)?;
        }
        profiles.remove(index);
        self.file.save(&profiles)?;
        tracing::info!(profile = %id, "connection deleted");
        Ok(())
    }

    /// The profile joined with its secret, for the engine. Never for the window.
    pub fn credentials(&self, id: &ProfileId) -> Result<Credentials, ProfileError> {
        let profile = self
            .file
            .load()?
            .into_iter()
            .find(|p| &p.id == id)
            .ok_or(ProfileError::NotFound)?;
        let secret = if profile.connection.kind().needs_secret() {
            self.secrets.store()?.get(id)?
        } else {
            None
        };
        Ok(Credentials::for_profile(&profile, secret)?)
    }

    /// An edit may keep its saved secret only when it stays the same kind of connection.
    fn has_saved_secret(&self, draft: &ProfileDraft, profiles: &[Profile]) -> bool {
        let Some(existing) = draft
            .id
            .as_ref()
            .and_then(|id| profiles.iter().find(|p| &p.id == id))
        else {
            return false;
        };
        if existing.connection.kind() != draft.connection.kind() {
            return false;
        }
        match self.secrets.store() {
            Ok(store) => matches!(store.get(&existing.id), Ok(Some(_))),
            // Unknown while the keychain is unusable: do not demand a key the user gave before.
            Err(_) => true,
        }
    }
}

fn secret_status(profile: &Profile, store: Option<&dyn SecretStore>) -> SecretStatus {
    if !profile.connection.kind().needs_secret() {
        return SecretStatus::NotNeeded;
    }
    let Some(store) = store else {
        return SecretStatus::Unknown;
    };
    match store.get(&profile.id) {
        Ok(Some(_)) if store.persists() => SecretStatus::InKeychain,
        Ok(Some(_)) => SecretStatus::ForThisSession,
        Ok(None) => SecretStatus::Missing,
        Err(_) => SecretStatus::Unknown,
    }
}
