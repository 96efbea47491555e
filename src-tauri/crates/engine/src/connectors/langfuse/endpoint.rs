//! Where a Langfuse project is and how to authenticate: one side of a plan.

use crate::vocab::{CloudPlan, EngineError, ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A Langfuse project reached over HTTP. The secret key is looked up at run time from the
/// environment variable `secret_key_env`, or supplied by the app (keychain) via `secret_key`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangfuseEndpoint {
    pub url: String,
    pub public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keychain_profile: Option<String>,
    /// Filled in by the caller (never from a file, never serialised, never journaled).
    #[serde(skip)]
    pub secret_key: Option<SecretString>,
    /// The Langfuse Cloud plan whose per-minute limits this side must stay within.
    #[serde(default, skip_serializing_if = "is_default")]
    pub cloud_plan: CloudPlan,
    /// Requests per minute for every kind of request (overrides `cloud_plan`); `None` = no budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    /// With a Cloud plan: the share (1–100 %) of each of its bucket limits this side may take,
    /// leaving the rest to the application (a live sync); `None` = all of each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_share_percent: Option<u8>,
    /// How many times faster than real time a rate-limit minute passes (tests against a sandbox
    /// with a compressed clock); 1.0 for real servers.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub budget_time_scale: f64,
    /// A PEM file with the certificate authority that signed the server's certificate (a
    /// self-hosted server behind a private CA). Added to the trusted roots; verification stays on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The user confirmed that the keys may travel over plain `http://` to a host other than
    /// this computer.
    #[serde(default, skip_serializing_if = "is_default")]
    pub allow_plain_http: bool,
    /// A target's LLM connections: per provider, the environment variable that holds its API key
    /// (the API never returns keys, so a copied connection needs one supplied).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub llm_key_env: BTreeMap<String, String>,
    /// The same keys supplied by the caller (never from a file, never serialised or journaled);
    /// they win over `llm_key_env`.
    #[serde(skip)]
    pub llm_keys: BTreeMap<String, SecretString>,
}

/// Two endpoints are equal when every field is, the secrets compared by value. (Listing the
/// fields makes a new field a compile error here until it is compared too.)
impl PartialEq for LangfuseEndpoint {
    fn eq(&self, other: &Self) -> bool {
        let LangfuseEndpoint {
            url,
            public_key,
            secret_key_env,
            keychain_profile,
            secret_key,
            cloud_plan,
            requests_per_minute,
            cloud_share_percent,
            budget_time_scale,
            ca_file,
            allow_plain_http,
            llm_key_env,
            llm_keys,
        } = self;
        let same_llm_keys = llm_keys.len() == other.llm_keys.len()
            && llm_keys.iter().all(|(p, k)| {
                other
                    .llm_keys
                    .get(p)
                    .is_some_and(|o| o.expose_secret() == k.expose_secret())
            });
        let same_secret = match (secret_key, &other.secret_key) {
            (Some(a), Some(b)) => a.expose_secret() == b.expose_secret(),
            (a, b) => a.is_none() && b.is_none(),
        };
        *url == other.url
            && *public_key == other.public_key
            && *secret_key_env == other.secret_key_env
            && *keychain_profile == other.keychain_profile
            && same_secret
            && *cloud_plan == other.cloud_plan
            && *requests_per_minute == other.requests_per_minute
            && *cloud_share_percent == other.cloud_share_percent
            && *budget_time_scale == other.budget_time_scale
            && *ca_file == other.ca_file
            && *allow_plain_http == other.allow_plain_http
            && *llm_key_env == other.llm_key_env
            && same_llm_keys
    }
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}
fn one() -> f64 {
    1.0
}
fn is_one(v: &f64) -> bool {
    *v == 1.0
}

impl LangfuseEndpoint {
    pub fn new(url: &str, public_key: &str, secret_key: &str) -> Self {
        Self::with_secret(url, public_key, SecretString::from(secret_key))
    }

    /// An endpoint with the secret the caller holds (the app: from the keychain).
    pub fn with_secret(url: &str, public_key: &str, secret_key: SecretString) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            public_key: public_key.to_string(),
            secret_key_env: None,
            keychain_profile: None,
            secret_key: Some(secret_key),
            cloud_plan: CloudPlan::None,
            requests_per_minute: None,
            cloud_share_percent: None,
            budget_time_scale: 1.0,
            ca_file: None,
            allow_plain_http: false,
            llm_key_env: BTreeMap::new(),
            llm_keys: BTreeMap::new(),
        }
    }

    /// The API key for the LLM connection of `provider`: the caller's, else the named
    /// environment variable's; `None` when neither is there (a manual step for the user).
    pub fn llm_key(&self, provider: &str) -> Option<SecretString> {
        if let Some(k) = self.llm_keys.get(provider) {
            return Some(k.clone());
        }
        let var = self.llm_key_env.get(provider)?;
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .map(SecretString::from)
    }

    /// The secret, from the caller or from the named environment variable.
    pub fn resolve_secret(&self) -> Result<SecretString, EngineError> {
        crate::vocab::secret::resolve(
            &self.secret_key,
            &self.secret_key_env,
            &self.keychain_profile,
            &self.url,
            ("secret", "secret key", "secret_key_env"),
        )
    }
}
