//! Where profile secrets live. The app reads them only to hand [`Credentials`] to the engine;
//! no command ever returns one to the window.
//!
//! [`Credentials`]: migrator_engine::profile::Credentials

mod keychain;
mod probe;
mod secrets_state;
mod session;

pub use keychain::{KeychainStore, SERVICE};
pub use probe::{ProbeEvent, ProbeStep, probe};
pub use secrets_state::{KeychainStatus, Secrets};
pub use session::SessionStore;

use migrator_engine::profile::ProfileId;
use secrecy::SecretString;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The store could not be reached or refused access. The text comes from the platform and
    /// never contains the secret.
    #[error("The system keychain could not be used: {0}")]
    Unavailable(String),
    #[error(
        "No system keychain is available, so the key cannot be saved. Choose “Keep secrets for this session only” under Connections, or start a keychain (for example GNOME Keyring) and check again."
    )]
    NotChosen,
    #[error("The keychain returned a secret that is not valid text.")]
    NotText,
}

/// One secret per profile, keyed by the profile id.
pub trait SecretStore: Send + Sync {
    /// Stores (or replaces) the secret of a profile.
    fn set(&self, id: &ProfileId, secret: &SecretString) -> Result<(), SecretError>;
    /// Reads a secret back; `None` when the profile has none.
    fn get(&self, id: &ProfileId) -> Result<Option<SecretString>, SecretError>;
    /// Removes a secret; removing a missing one is not an error.
    fn delete(&self, id: &ProfileId) -> Result<(), SecretError>;
    /// Whether secrets survive a restart of the app.
    fn persists(&self) -> bool;
}
