//! Secrets kept in memory for this session only, used when no keychain is usable and the user
//! chose this explicitly. Nothing is written anywhere; everything is gone when the app quits.

use std::collections::HashMap;
use std::sync::Mutex;

use migrator_engine::profile::ProfileId;
use secrecy::{ExposeSecret, SecretString};

use super::{SecretError, SecretStore};

#[derive(Default)]
pub struct SessionStore {
    secrets: Mutex<HashMap<ProfileId, SecretString>>,
}

impl SecretStore for SessionStore {
    fn set(&self, id: &ProfileId, secret: &SecretString) -> Result<(), SecretError> {
        let copy = SecretString::from(secret.expose_secret().to_owned());
        self.secrets.lock().unwrap().insert(id.clone(), copy);
        Ok(())
    }

    fn get(&self, id: &ProfileId) -> Result<Option<SecretString>, SecretError> {
        let secrets = self.secrets.lock().unwrap();
        Ok(secrets
            .get(id)
            .map(|s| SecretString::from(s.expose_secret().to_owned())))
    }

    fn delete(&self, id: &ProfileId) -> Result<(), SecretError> {
        self.secrets.lock().unwrap().remove(id);
        Ok(())
    }

    fn persists(&self) -> bool {
        false
    }
}
