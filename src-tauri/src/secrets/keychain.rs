//! The OS keychain through `keyring` 3: Secret Service on Linux, Keychain Services on macOS,
//! Credential Manager on Windows.
//!
//! The platform store is chosen explicitly here rather than through keyring's process-wide
//! default: with no store feature keyring falls back to a mock that stores nothing. Naming the
//! platform module makes a build without the right feature fail to compile.

use keyring::Entry;
use keyring::credential::CredentialBuilder;
use migrator_engine::profile::ProfileId;
use secrecy::{ExposeSecret, SecretString};

use super::{SecretError, SecretStore};

/// Keychain service name under which every profile's secret is stored.
pub const SERVICE: &str = "langfuse-migrator";

#[cfg(target_os = "linux")]
fn platform_store() -> Box<CredentialBuilder> {
    keyring::secret_service::default_credential_builder()
}

#[cfg(target_os = "macos")]
fn platform_store() -> Box<CredentialBuilder> {
    keyring::macos::default_credential_builder()
}

#[cfg(target_os = "windows")]
fn platform_store() -> Box<CredentialBuilder> {
    keyring::windows::default_credential_builder()
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
compile_error!(
    "Langfuse Migrator needs an OS keychain: only Linux, macOS and Windows are supported."
);

pub struct KeychainStore {
    service: String,
    builder: Box<CredentialBuilder>,
}

impl KeychainStore {
    /// The store the app uses.
    pub fn new() -> Self {
        Self::with_service(SERVICE)
    }

    /// A store under another service name, so tests never touch a user's real entries.
    pub fn with_service(service: &str) -> Self {
        Self {
            service: service.to_owned(),
            builder: platform_store(),
        }
    }

    /// A fresh entry object each time: reading back through a new object is what proves the
    /// secret reached the store rather than sitting in memory.
    fn entry(&self, id: &ProfileId) -> Result<Entry, SecretError> {
        let credential = self
            .builder
            .build(None, &self.service, id.as_str())
            .map_err(describe)?;
        Ok(Entry::new_with_credential(credential))
    }
}

impl Default for KeychainStore {
    fn default() -> Self {
        Self::new()
    }
}

impl SecretStore for KeychainStore {
    fn set(&self, id: &ProfileId, secret: &SecretString) -> Result<(), SecretError> {
        self.entry(id)?
            .set_password(secret.expose_secret())
            .map_err(describe)
    }

    fn get(&self, id: &ProfileId) -> Result<Option<SecretString>, SecretError> {
        match self.entry(id)?.get_password() {
            Ok(secret) => Ok(Some(SecretString::from(secret))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(describe(e)),
        }
    }

    fn delete(&self, id: &ProfileId) -> Result<(), SecretError> {
        match self.entry(id)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(describe(e)),
        }
    }

    fn persists(&self) -> bool {
        true
    }
}

/// Turns a keyring error into a sentence, without ever echoing stored bytes.
fn describe(error: keyring::Error) -> SecretError {
    match error {
        keyring::Error::BadEncoding(_) => SecretError::NotText,
        keyring::Error::NoStorageAccess(e) => SecretError::Unavailable(format!(
            "it is locked, has no default keyring, or refused access ({e})"
        )),
        keyring::Error::PlatformFailure(e) if e.to_string().contains("locked") => {
            SecretError::Unavailable(format!(
                "it is locked. Unlock it (for example by logging in to your desktop session) and check again ({e})"
            ))
        }
        keyring::Error::PlatformFailure(e) => SecretError::Unavailable(e.to_string()),
        other => SecretError::Unavailable(other.to_string()),
    }
}
