//! The server the application is about to talk to: its generation and, where known, its
//! version (some SDKs need a minimum server version, e.g. Python v5 needs v4 ≥ 4.59.0).

use super::ReadinessError;
use crate::error::EngineError;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Which server to check against, as the app's form gives it: a version typed or picked by the
/// user (`4.59.0`, `v3`, `cloud`), or a server whose health endpoint tells its version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[ts(export)]
pub enum AppTarget {
    Version { version: String },
    Url { url: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TargetServer {
    /// `v2`, `v3` or `v4`.
    pub generation: String,
    /// The server version (`4.59.0`), when given or read from the server.
    pub version: Option<String>,
    /// Langfuse Cloud: always the newest v4.
    pub cloud: bool,
    /// The server the generation was read from, when it was.
    pub url: Option<String>,
}

impl TargetServer {
    /// `v2`/`v3`/`v4` (or `2`…), a server version such as `4.59.0`, or `cloud`.
    pub fn parse(text: &str) -> Result<TargetServer, ReadinessError> {
        let t = text.trim().to_ascii_lowercase();
        if t == "cloud" || t == "langfuse-cloud" {
            return Ok(TargetServer {
                generation: "v4".into(),
                version: None,
                cloud: true,
                url: None,
            });
        }
        let bare = t.trim_start_matches('v');
        let bad = || ReadinessError::BadTarget(text.trim().to_string());
        let generation = match bare.split('.').next() {
            Some("1") | Some("2") => "v2",
            Some("3") => "v3",
            Some("4") => "v4",
            _ => return Err(bad()),
        };
        let version = if bare.contains('.') {
            Some(lenient_semver(bare).ok_or_else(bad)?.to_string())
        } else {
            None
        };
        Ok(TargetServer {
            generation: generation.into(),
            version,
            cloud: false,
            url: None,
        })
    }

    /// Whether the server is at least `min`: `Some(true/false)` when its version is known
    /// (Cloud runs the newest), `None` when only the generation is.
    pub fn at_least(&self, min: &str) -> Option<bool> {
        if self.cloud {
            return Some(true);
        }
        let have = lenient_semver(self.version.as_deref()?)?;
        Some(have >= lenient_semver(min)?)
    }

    pub fn describe(&self) -> String {
        if self.cloud {
            return "Langfuse Cloud (v4)".into();
        }
        match (&self.version, &self.url) {
            (Some(v), Some(u)) => format!("Langfuse {v} at {u}"),
            (Some(v), None) => format!("Langfuse {v}"),
            (None, Some(u)) => format!("Langfuse {} at {u}", self.generation),
            (None, None) => format!("Langfuse {}", self.generation),
        }
    }
}

/// `4.59` → 4.59.0, `v3.63.1` → 3.63.1; pre-release and build parts are kept.
pub(crate) fn lenient_semver(text: &str) -> Option<semver::Version> {
    let t = text.trim().trim_start_matches('v');
    if let Ok(v) = semver::Version::parse(t) {
        return Some(v);
    }
    let (core, rest) = match t.find(['-', '+']) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let mut parts: Vec<&str> = core.split('.').collect();
    while parts.len() < 3 {
        parts.push("0");
    }
    semver::Version::parse(&format!("{}{rest}", parts.join("."))).ok()
}

/// Reads the target's generation and version from its health endpoint. The health endpoint
/// needs no keys, so the check never asks for a secret.
pub async fn detect_target(url: &str) -> Result<TargetServer, EngineError> {
    let (version, generation) = crate::langfuse::server_generation(url).await?;
    let cloud = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.ends_with("cloud.langfuse.com")))
        .unwrap_or(false);
    Ok(TargetServer {
        generation: generation.to_string(),
        version: lenient_semver(&version).map(|v| v.to_string()),
        cloud,
        url: Some(url.trim_end_matches('/').to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_generations_versions_and_cloud() {
        let t = TargetServer::parse("4.58.2").unwrap();
        assert_eq!(
            (t.generation.as_str(), t.version.as_deref()),
            ("v4", Some("4.58.2"))
        );
        assert_eq!(t.at_least("4.59.0"), Some(false));
        assert_eq!(TargetServer::parse("v3").unwrap().at_least("3.63.0"), None);
        assert_eq!(
            TargetServer::parse("v3.63").unwrap().at_least("3.63.0"),
            Some(true)
        );
        assert_eq!(
            TargetServer::parse("cloud").unwrap().at_least("4.59.0"),
            Some(true)
        );
        assert!(TargetServer::parse("seven").is_err());
        assert!(TargetServer::parse("9.1.0").is_err());
    }
}
