//! The start-up keychain probe: write a throw-away entry, read it back through a new entry
//! object, delete it, and confirm it is gone. A store that accepts writes but does not keep them
//! (such as keyring's mock) fails the read-back step.

use migrator_engine::profile::ProfileId;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use ts_rs::TS;

use super::SecretStore;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum ProbeStep {
    Write,
    ReadBack,
    Delete,
    ConfirmDeleted,
}

/// Progress of a keychain check, streamed to the window as it happens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "status", rename_all = "camelCase")]
#[ts(export)]
pub enum ProbeEvent {
    Started { step: ProbeStep },
    Passed { step: ProbeStep },
    Failed { step: ProbeStep, message: String },
}

/// Runs the probe against `store`, reporting each step. `Err` carries a plain-language reason.
pub fn probe(store: &dyn SecretStore, mut on_event: impl FnMut(ProbeEvent)) -> Result<(), String> {
    let id = ProfileId::from(format!("probe-{}", uuid::Uuid::new_v4()).as_str());
    let value = uuid::Uuid::new_v4().to_string();

    let mut step = |step: ProbeStep, result: Result<(), String>| {
        on_event(ProbeEvent::Started { step });
        match result {
            Ok(()) => {
                on_event(ProbeEvent::Passed { step });
                Ok(())
            }
            Err(message) => {
                on_event(ProbeEvent::Failed {
                    step,
                    message: message.clone(),
                });
                Err(message)
            }
        }
    };

    step(
        ProbeStep::Write,
        store
            .set(&id, &SecretString::from(value.clone()))
            .map_err(|e| e.to_string()),
    )?;
    let read_back = match store.get(&id) {
        Ok(Some(s)) if s.expose_secret() == value => Ok(()),
        Ok(Some(_)) => Err("The keychain returned a different value than was stored.".to_owned()),
        Ok(None) => Err(
            "The keychain accepted a test entry but could not find it again, so it does not really store secrets.".to_owned(),
        ),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = step(ProbeStep::ReadBack, read_back) {
        let _ = store.delete(&id);
        return Err(e);
    }
    step(
        ProbeStep::Delete,
        store.delete(&id).map_err(|e| e.to_string()),
    )?;
    let gone = match store.get(&id) {
        Ok(None) => Ok(()),
        Ok(Some(_)) => Err("The keychain did not remove the test entry.".to_owned()),
        Err(e) => Err(e.to_string()),
    };
    step(ProbeStep::ConfirmDeleted, gone)?;
    if !store.persists() {
        return Err("This store keeps secrets in memory only.".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::{SecretError, SessionStore};

    /// A store like keyring's mock: every write "succeeds", nothing can be read back.
    struct Forgetful;
    impl SecretStore for Forgetful {
        fn set(&self, _: &ProfileId, _: &SecretString) -> Result<(), SecretError> {
            Ok(())
        }
        fn get(&self, _: &ProfileId) -> Result<Option<SecretString>, SecretError> {
            Ok(None)
        }
        fn delete(&self, _: &ProfileId) -> Result<(), SecretError> {
            Ok(())
        }
        fn persists(&self) -> bool {
            true
        }
    }

    #[test]
    fn a_store_that_forgets_what_it_was_given_fails_at_read_back() {
        let mut events = vec![];
        let err = probe(&Forgetful, |e| events.push(e)).unwrap_err();
        assert!(err.contains("could not find it again"), "{err}");
        assert_eq!(
            events.last(),
            Some(&ProbeEvent::Failed {
                step: ProbeStep::ReadBack,
                message: err
            })
        );
    }

    #[test]
    fn an_in_memory_store_passes_every_step_but_is_not_accepted_as_a_keychain() {
        let mut events = vec![];
        let err = probe(&SessionStore::default(), |e| events.push(e)).unwrap_err();
        assert!(err.contains("memory only"));
        let passed: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                ProbeEvent::Passed { step } => Some(*step),
                _ => None,
            })
            .collect();
        assert_eq!(
            passed,
            vec![
                ProbeStep::Write,
                ProbeStep::ReadBack,
                ProbeStep::Delete,
                ProbeStep::ConfirmDeleted
            ]
        );
    }
}
