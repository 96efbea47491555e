//! Well-known endpoints the form offers as presets; anything else is a custom URL.

use serde::Serialize;
use ts_rs::TS;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct EndpointPreset {
    pub id: String,
    pub label: String,
    pub url: String,
}

/// All presets, as the UI receives them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Presets {
    pub langfuse: Vec<EndpointPreset>,
    pub lang_smith: Vec<EndpointPreset>,
}

impl Presets {
    pub fn all() -> Self {
        Self {
            langfuse: langfuse_presets(),
            lang_smith: langsmith_presets(),
        }
    }
}

fn preset(id: &str, label: &str, url: &str) -> EndpointPreset {
    EndpointPreset {
        id: id.into(),
        label: label.into(),
        url: url.into(),
    }
}

/// Langfuse Cloud regions.
pub fn langfuse_presets() -> Vec<EndpointPreset> {
    vec![
        preset("eu", "EU Cloud", "https://cloud.langfuse.com"),
        preset("us", "US Cloud", "https://us.cloud.langfuse.com"),
        preset("hipaa", "HIPAA Cloud", "https://hipaa.cloud.langfuse.com"),
    ]
}

/// LangSmith SaaS API endpoints (US is the host named in LangSmith's OpenAPI description).
pub fn langsmith_presets() -> Vec<EndpointPreset> {
    vec![
        preset("us", "US", "https://api.smith.langchain.com"),
        preset("eu", "EU", "https://eu.api.smith.langchain.com"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_https_urls_without_trailing_slash() {
        let all = Presets::all();
        for p in all.langfuse.iter().chain(all.lang_smith.iter()) {
            let url = url::Url::parse(&p.url).unwrap();
            assert_eq!(url.scheme(), "https", "{}", p.url);
            assert!(!p.url.ends_with('/'));
        }
        assert_eq!(all.langfuse.len(), 3);
        assert_eq!(all.lang_smith.len(), 2);
    }
}
