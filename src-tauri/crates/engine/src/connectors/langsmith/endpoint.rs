//! A LangSmith workspace as a plan names it. The API key is read at run time from the
//! environment variable `api_key_env`, or supplied by the app (keychain) via `api_key`.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::vocab::EngineError;
use secrecy::SecretString;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangsmithEndpoint {
    /// `https://api.smith.langchain.com`, the EU endpoint, or a self-hosted one (a trailing
    /// `/api/v1` is accepted).
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keychain_profile: Option<String>,
    /// Filled in by the caller (never from a file, never serialised, never journaled).
    #[serde(skip)]
    pub api_key: Option<SecretString>,
    /// Project names; every project (experiments included) when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
    /// A bulk-export folder to read runs from instead of the API (not read yet: see README).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_path: Option<PathBuf>,
    /// Stay within LangSmith Cloud's per-key limits; `None` = on for `*.smith.langchain.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_limits: Option<bool>,
    /// With LangSmith Cloud's limits on: the share (1–100 %) of each limit this side may take,
    /// leaving the rest to the application; `None` = all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_share_percent: Option<u8>,
    /// How many times faster than real time a rate-limit window passes (sandbox tests).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub budget_time_scale: f64,
    /// The Langfuse environment every migrated object gets; none = Langfuse's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Set by a live sync for its connection only (never from a file, never journaled): the
    /// plan's `from`; passes then read feedback by when it was created (see `follow`).
    #[serde(skip)]
    pub follow_from: Option<chrono::DateTime<chrono::Utc>>,
    /// How many runs waiting for their parent stay in memory before the others wait on disk;
    /// `None` = the default (tests set it low). Never from a plan file.
    #[serde(skip)]
    pub waiting_in_memory: Option<usize>,
}

/// Equal when every field is, the keys compared by value.
impl PartialEq for LangsmithEndpoint {
    fn eq(&self, other: &Self) -> bool {
        use secrecy::ExposeSecret;
        let same_key = match (&self.api_key, &other.api_key) {
            (Some(a), Some(b)) => a.expose_secret() == b.expose_secret(),
            (a, b) => a.is_none() && b.is_none(),
        };
        same_key
            && self.url == other.url
            && self.api_key_env == other.api_key_env
            && self.keychain_profile == other.keychain_profile
            && self.projects == other.projects
            && self.export_path == other.export_path
            && self.cloud_limits == other.cloud_limits
            && self.cloud_share_percent == other.cloud_share_percent
            && self.budget_time_scale == other.budget_time_scale
            && self.environment == other.environment
    }
}

fn one() -> f64 {
    1.0
}
fn is_one(v: &f64) -> bool {
    *v == 1.0
}

impl LangsmithEndpoint {
    pub fn new(url: &str, api_key: &str) -> Self {
        LangsmithEndpoint {
            url: url.trim_end_matches('/').to_string(),
            api_key_env: None,
            keychain_profile: None,
            api_key: Some(SecretString::from(api_key)),
            projects: vec![],
            export_path: None,
            cloud_limits: None,
            cloud_share_percent: None,
            budget_time_scale: 1.0,
            environment: None,
            follow_from: None,
            waiting_in_memory: None,
        }
    }

    /// The server's root: no trailing slash, no `/api/v1`.
    pub fn base_url(&self) -> String {
        let u = self.url.trim_end_matches('/');
        u.strip_suffix("/api/v1").unwrap_or(u).to_string()
    }

    pub fn cloud_limits(&self) -> bool {
        self.cloud_limits
            .unwrap_or_else(|| self.url.contains("smith.langchain.com"))
    }

    /// The key, from the caller or from the named environment variable.
    pub fn resolve_api_key(&self) -> Result<SecretString, EngineError> {
        crate::vocab::secret::resolve(
            &self.api_key,
            &self.api_key_env,
            &self.keychain_profile,
            &self.url,
            ("API key", "API key", "api_key_env"),
        )
    }
}
