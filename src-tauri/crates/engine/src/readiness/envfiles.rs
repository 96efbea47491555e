//! `.env`-style files: which Langfuse, LangSmith and OpenTelemetry settings the application
//! has, and which servers they point at. A secret's value is dropped as soon as its line is
//! read; only its name and place are kept.

use super::walk::{problem, relative};
use super::{AppFinding, EnvSetting};
use std::path::{Path, PathBuf};

const PREFIXES: [&str; 4] = [
    "LANGFUSE_",
    "LANGSMITH_",
    "LANGCHAIN_",
    "OTEL_EXPORTER_OTLP_",
];

/// Settings whose value says where the application sends data or whether it traces; anything
/// else (keys, headers, tokens) is treated as a secret.
const SHOWN: [&str; 14] = [
    "LANGFUSE_HOST",
    "LANGFUSE_BASE_URL",
    "LANGFUSE_BASEURL",
    "LANGFUSE_TRACING_ENABLED",
    "LANGFUSE_TRACING_ENVIRONMENT",
    "LANGSMITH_ENDPOINT",
    "LANGSMITH_TRACING",
    "LANGSMITH_PROJECT",
    "LANGSMITH_OTEL_ENABLED",
    "LANGSMITH_OTEL_ONLY",
    "LANGSMITH_TRACING_MODE",
    "LANGCHAIN_ENDPOINT",
    "LANGCHAIN_TRACING_V2",
    "LANGCHAIN_PROJECT",
];

/// Where-to settings, whose values form the report's `points_at`.
const ENDPOINTS: [&str; 7] = [
    "LANGFUSE_HOST",
    "LANGFUSE_BASE_URL",
    "LANGFUSE_BASEURL",
    "LANGSMITH_ENDPOINT",
    "LANGCHAIN_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

fn shown(key: &str) -> bool {
    SHOWN.contains(&key)
        || (key.starts_with("OTEL_EXPORTER_OTLP_")
            && (key.ends_with("ENDPOINT") || key.ends_with("PROTOCOL")))
}

/// A URL without its `user:password@` part; other values as they are.
fn without_credentials(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => value.to_string(),
    }
}

/// `KEY=value`, `export KEY="value"`, `KEY='value' # comment` → (key, value).
fn assignment(line: &str) -> Option<(&str, String)> {
    let line = line.trim();
    if line.starts_with('#') {
        return None;
    }
    let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
    let (key, value) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let value = value.trim();
    let value = match value.chars().next() {
        Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or("").to_string(),
        _ => value.split(" #").next().unwrap_or("").trim().to_string(),
    };
    Some((key, value))
}

pub fn read_all(root: &Path, files: &[PathBuf], problems: &mut Vec<AppFinding>) -> Vec<EnvSetting> {
    let mut settings = vec![];
    for path in files {
        let rel = relative(root, path);
        let text = match std::fs::read(path) {
            Ok(bytes) if bytes.len() <= 1024 * 1024 => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(_) => continue,
            Err(e) => {
                problems.push(problem(&rel, &format!("could not be read: {e}")));
                continue;
            }
        };
        for (i, line) in text.lines().enumerate() {
            let Some((key, value)) = assignment(line) else {
                continue;
            };
            if !PREFIXES.iter().any(|p| key.starts_with(p)) {
                continue;
            }
            let secret = !shown(key);
            settings.push(EnvSetting {
                file: rel.clone(),
                line: i as u32 + 1,
                key: key.to_string(),
                value: (!secret).then(|| without_credentials(&value)),
                secret,
            });
        }
    }
    settings
}

/// The servers the settings point at, e.g. `https://cloud.langfuse.com (LANGFUSE_HOST, .env)`.
pub fn points_at(settings: &[EnvSetting]) -> Vec<String> {
    let mut out: Vec<String> = settings
        .iter()
        .filter(|s| ENDPOINTS.contains(&s.key.as_str()))
        .filter_map(|s| {
            let v = s.value.as_deref().filter(|v| !v.is_empty())?;
            Some(format!("{v} ({} in {})", s.key, s.file))
        })
        .collect();
    out.dedup();
    out
}

/// The value of the first setting named `key` that is switched on (`true`, `1`, `otel`).
pub fn is_on(settings: &[EnvSetting], key: &str) -> bool {
    settings.iter().any(|s| {
        s.key == key
            && s.value.as_deref().is_some_and(|v| {
                matches!(
                    v.to_ascii_lowercase().as_str(),
                    "true" | "1" | "yes" | "otel"
                )
            })
    })
}

pub fn value<'a>(settings: &'a [EnvSetting], keys: &[&str]) -> Option<&'a EnvSetting> {
    settings.iter().find(|s| {
        keys.contains(&s.key.as_str()) && s.value.as_deref().is_some_and(|v| !v.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_with_export_quotes_and_comments() {
        assert_eq!(
            assignment("export LANGFUSE_HOST=\"https://x\" # eu"),
            Some(("LANGFUSE_HOST", "https://x".into()))
        );
        assert_eq!(
            assignment("LANGSMITH_TRACING=true # on"),
            Some(("LANGSMITH_TRACING", "true".into()))
        );
        assert_eq!(assignment("# LANGFUSE_HOST=x"), None);
        assert_eq!(
            without_credentials("https://u:p@h.example/otel"),
            "https://h.example/otel"
        );
    }
}
