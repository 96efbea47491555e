//! The secret type: `secrecy::SecretString` from the app's keychain to the HTTP client. Its
//! `Debug` output never shows the secret and its memory is zeroed on drop.

pub use secrecy::{ExposeSecret, SecretString};

/// Makes a [`SecretString`]. The engine once had a secret type of its own under this name;
/// `Secret::new(..)` is kept so code written against it still compiles. New code uses
/// `SecretString::from(..)`.
pub struct Secret;

impl Secret {
    // A constructor of the type that replaced it: that is the point of this shim.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(secret: &str) -> SecretString {
        SecretString::from(secret)
    }
}

/// A side's secret: the caller's, else the named environment variable's; `names` are how the
/// messages call it (short, long, the plan key naming the variable).
pub(crate) fn resolve(
    given: &Option<SecretString>,
    env: &Option<String>,
    keychain_profile: &Option<String>,
    url: &str,
    names: (&str, &str, &str),
) -> Result<SecretString, super::error::EngineError> {
    use super::error::EngineError;
    let (short, long, key) = names;
    if let Some(s) = given {
        return Ok(s.clone());
    }
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(SecretString::from(v)),
            _ => Err(EngineError::MissingSecret(format!(
                "the environment variable {var} (named in the plan for {url}) is not set"
            ))),
        };
    }
    if let Some(p) = keychain_profile {
        return Err(EngineError::MissingSecret(format!(
            "the {short} for {url} lives in the keychain profile \"{p}\", which only the app can read"
        )));
    }
    Err(EngineError::MissingSecret(format!(
        "no {long} source is configured for {url} (set {key} in the plan)"
    )))
}
