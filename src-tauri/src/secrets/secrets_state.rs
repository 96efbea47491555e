//! Which secret store the app uses right now: the keychain once the probe passed, memory only
//! after the user explicitly chose it, or none (saving a secret is refused, never silently
//! redirected).

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde::Serialize;
use ts_rs::TS;

use super::{ProbeEvent, SecretError, SecretStore, SessionStore, probe};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "state", rename_all = "camelCase")]
#[ts(export)]
pub enum KeychainStatus {
    /// Not checked yet (the check runs at start-up).
    Unchecked,
    /// Secrets go to the OS keychain.
    Available,
    /// No usable keychain; `reason` says why in plain words.
    Unavailable { reason: String },
    /// No usable keychain, and the user chose to keep secrets in memory until the app quits.
    SessionOnly { reason: String },
}

pub struct Secrets {
    keychain: Arc<dyn SecretStore>,
    session: Arc<SessionStore>,
    status: Mutex<KeychainStatus>,
    probe_timeout: Duration,
}

impl Secrets {
    pub fn new(keychain: Arc<dyn SecretStore>, probe_timeout: Duration) -> Self {
        Self {
            keychain,
            session: Arc::default(),
            status: Mutex::new(KeychainStatus::Unchecked),
            probe_timeout,
        }
    }

    pub fn status(&self) -> KeychainStatus {
        self.status.lock().unwrap().clone()
    }

    /// Probes the keychain and records the outcome. Once the user chose session-only storage
    /// that choice stands until the app quits, so secrets kept in memory are not stranded.
    pub fn check(&self, on_event: impl FnMut(ProbeEvent) + Send + 'static) -> KeychainStatus {
        let mut status = self.status.lock().unwrap();
        if matches!(*status, KeychainStatus::SessionOnly { .. }) {
            return status.clone();
        }
        *status = match self.probe_with_timeout(on_event) {
            Ok(()) => KeychainStatus::Available,
            Err(reason) => {
                tracing::warn!(%reason, "system keychain is not usable");
                KeychainStatus::Unavailable { reason }
            }
        };
        tracing::info!(status = ?*status, "keychain checked");
        status.clone()
    }

    /// A locked keychain can wait forever for a password prompt nobody sees; give up in time.
    fn probe_with_timeout(
        &self,
        on_event: impl FnMut(ProbeEvent) + Send + 'static,
    ) -> Result<(), String> {
        let (done, result) = mpsc::channel();
        let store = Arc::clone(&self.keychain);
        std::thread::spawn(move || {
            let _ = done.send(probe(store.as_ref(), on_event));
        });
        result.recv_timeout(self.probe_timeout).unwrap_or_else(|_| {
            Err(format!(
                "The keychain did not answer within {} seconds. It may be locked and waiting for a password.",
                self.probe_timeout.as_secs()
            ))
        })
    }

    /// Switches to in-memory secrets, but only when the keychain is unusable: with a working
    /// keychain there is nothing to opt out of.
    pub fn use_session_only(&self) -> KeychainStatus {
        let mut status = self.status.lock().unwrap();
        if let KeychainStatus::Unavailable { reason } = &*status {
            tracing::info!("secrets are kept for this session only, at the user's request");
            *status = KeychainStatus::SessionOnly {
                reason: reason.clone(),
            };
        }
        status.clone()
    }

    /// The store to use now; checks the keychain first if that has not happened yet.
    pub fn store(&self) -> Result<Arc<dyn SecretStore>, SecretError> {
        if self.status() == KeychainStatus::Unchecked {
            self.check(|_| {});
        }
        match self.status() {
            KeychainStatus::Available => Ok(Arc::clone(&self.keychain)),
            KeychainStatus::SessionOnly { .. } => Ok(self.session.clone()),
            KeychainStatus::Unavailable { .. } | KeychainStatus::Unchecked => {
                Err(SecretError::NotChosen)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_no_usable_keychain_nothing_is_stored_until_the_user_opts_in() {
        // The session store stands in for a keychain that does not persist.
        let secrets = Secrets::new(Arc::new(SessionStore::default()), Duration::from_secs(5));
        assert!(matches!(secrets.store(), Err(SecretError::NotChosen)));
        assert!(matches!(
            secrets.status(),
            KeychainStatus::Unavailable { .. }
        ));

        let status = secrets.use_session_only();
        assert!(matches!(status, KeychainStatus::SessionOnly { .. }));
        assert!(!secrets.store().unwrap().persists());
        // A later check does not pull the rug from under secrets kept in memory.
        assert!(matches!(
            secrets.check(|_| {}),
            KeychainStatus::SessionOnly { .. }
        ));
    }
}
