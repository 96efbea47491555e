//! The secret type: a key whose Debug output never shows it.

use std::fmt;

use super::error::EngineError;

/// A secret string whose Debug/Display never reveal it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: &str) -> Self {
        Secret(s.to_string())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A side's secret: the caller's, else the named environment variable's; `names` are how the
/// messages call it (short, long, the plan key naming the variable).
pub(crate) fn resolve(
    given: &Option<Secret>,
    env: &Option<String>,
    keychain_profile: &Option<String>,
    url: &str,
    names: (&str, &str, &str),
) -> Result<Secret, EngineError> {
    let (short, long, key) = names;
    if let Some(s) = given {
        return Ok(s.clone());
    }
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Secret::new(&v)),
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
