//! Field-by-field comparison of a source object and its copy in the target.
//!
//! Two servers never return byte-identical JSON for the same object: one writes `1.0` where the
//! other writes `1`, one omits a null field the other spells out, v4 keeps timestamps to the
//! millisecond. The comparison normalises exactly those differences and nothing else, so that a
//! changed timestamp, a lost usage detail or a truncated input still shows up.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long a value may be in a report before it is shortened (the full objects stay in the servers).
const SHOWN_VALUE_CHARS: usize = 240;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    /// The field is in the source object, not in the target's.
    Missing,
    /// The field is in the target object, not in the source's.
    Added,
    /// Both have the field with different values.
    Changed,
    /// The target's text is a shortened copy of the source's.
    Truncated,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// Dotted path, with `[i]` for array positions: `usageDetails.input`, `input.messages[2].content`.
    pub path: String,
    pub kind: DiffKind,
    pub source: Option<String>,
    pub target: Option<String>,
}

/// Which fields a comparison skips: server-assigned bookkeeping and our own run tag.
#[derive(Clone, Debug, Default)]
pub struct DiffOptions {
    /// Paths (dotted, as in [`FieldDiff::path`]) that are not compared, e.g. `createdAt`.
    pub ignored_paths: Vec<String>,
}

impl DiffOptions {
    /// Fields every Langfuse server sets itself, so they differ between any two servers.
    pub fn server_assigned() -> Self {
        Self {
            ignored_paths: ["createdAt", "updatedAt", "projectId"]
                .into_iter()
                .map(String::from)
                .collect(),
        }
    }

    pub fn ignoring(mut self, path: impl Into<String>) -> Self {
        self.ignored_paths.push(path.into());
        self
    }

    fn ignores(&self, path: &str) -> bool {
        self.ignored_paths.iter().any(|p| p == path)
    }
}

/// Compares two objects and lists every field that differs after normalisation.
pub fn diff_objects(source: &Value, target: &Value, options: &DiffOptions) -> Vec<FieldDiff> {
    let mut diffs = Vec::new();
    diff_at("", source, target, options, &mut diffs);
    diffs
}

fn diff_at(
    path: &str,
    source: &Value,
    target: &Value,
    options: &DiffOptions,
    out: &mut Vec<FieldDiff>,
) {
    if options.ignores(path) {
        return;
    }
    match (source, target) {
        (Value::Object(s), Value::Object(t)) => {
            let keys: std::collections::BTreeSet<&String> = s.keys().chain(t.keys()).collect();
            for key in keys {
                let child = join(path, key);
                let s_value = s.get(key).unwrap_or(&Value::Null);
                let t_value = t.get(key).unwrap_or(&Value::Null);
                diff_at(&child, s_value, t_value, options, out);
            }
        }
        (Value::Array(s), Value::Array(t)) if s.len() == t.len() => {
            for (i, (s_item, t_item)) in s.iter().zip(t).enumerate() {
                diff_at(&format!("{path}[{i}]"), s_item, t_item, options, out);
            }
        }
        // OTLP carries structured input as a JSON string; a server may hand it back parsed.
        (Value::String(text), other @ (Value::Object(_) | Value::Array(_)))
        | (other @ (Value::Object(_) | Value::Array(_)), Value::String(text)) => {
            match serde_json::from_str::<Value>(text) {
                Ok(parsed) if source.is_string() => diff_at(path, &parsed, other, options, out),
                Ok(parsed) => diff_at(path, other, &parsed, options, out),
                Err(_) => out.push(changed(path, source, target)),
            }
        }
        (s, t) if equivalent(s, t) => {}
        (s, Value::Null) => out.push(FieldDiff {
            path: path.into(),
            kind: DiffKind::Missing,
            source: Some(shown(s)),
            target: None,
        }),
        (Value::Null, t) => out.push(FieldDiff {
            path: path.into(),
            kind: DiffKind::Added,
            source: None,
            target: Some(shown(t)),
        }),
        (Value::String(s), Value::String(t)) if t.len() < s.len() && s.starts_with(t.as_str()) => {
            out.push(FieldDiff {
                path: path.into(),
                kind: DiffKind::Truncated,
                source: Some(format!("{} characters", s.chars().count())),
                target: Some(format!("{} characters", t.chars().count())),
            })
        }
        (s, t) => out.push(changed(path, s, t)),
    }
}

fn changed(path: &str, source: &Value, target: &Value) -> FieldDiff {
    FieldDiff {
        path: path.into(),
        kind: DiffKind::Changed,
        source: Some(shown(source)),
        target: Some(shown(target)),
    }
}

/// Scalars that mean the same: numbers by value, timestamps by instant (to the millisecond, which
/// is what Langfuse keeps).
fn equivalent(source: &Value, target: &Value) -> bool {
    match (source, target) {
        (Value::Number(s), Value::Number(t)) => s.as_f64() == t.as_f64(),
        (Value::String(s), Value::String(t)) => s == t || same_instant(s, t),
        (s, t) => s == t,
    }
}

fn same_instant(a: &str, b: &str) -> bool {
    match (parse_instant(a), parse_instant(b)) {
        (Some(a), Some(b)) => a.timestamp_millis() == b.timestamp_millis(),
        _ => false,
    }
}

fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    // Cheap guard: only strings shaped like an ISO date are tried.
    if text.len() < 20 || text.as_bytes().get(4) != Some(&b'-') {
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn shown(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > SHOWN_VALUE_CHARS {
        let cut: String = text.chars().take(SHOWN_VALUE_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn diff(s: Value, t: Value) -> Vec<FieldDiff> {
        diff_objects(&s, &t, &DiffOptions::server_assigned())
    }

    #[test]
    fn equal_objects_from_different_servers_have_no_diff() {
        let source = json!({"id": "a", "value": 1.0, "startTime": "2026-01-02T03:04:05.678Z",
            "createdAt": "2026-01-01T00:00:00Z", "output": null, "tags": ["x"]});
        let target = json!({"id": "a", "value": 1, "startTime": "2026-01-02T03:04:05.678000+00:00",
            "createdAt": "2026-11-25T00:00:00Z", "tags": ["x"]});
        assert_eq!(diff(source, target), vec![]);
    }

    #[test]
    fn changed_timestamp_is_found() {
        let d = diff(
            json!({"endTime": "2026-01-02T03:04:05.678Z"}),
            json!({"endTime": "2026-01-02T03:04:05.679Z"}),
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "endTime");
        assert_eq!(d[0].kind, DiffKind::Changed);
    }

    #[test]
    fn lost_usage_detail_is_found_with_its_path() {
        let d = diff(
            json!({"usageDetails": {"input": 10, "output": 20, "cache_read": 3}}),
            json!({"usageDetails": {"input": 10, "output": 20}}),
        );
        assert_eq!(
            d,
            vec![FieldDiff {
                path: "usageDetails.cache_read".into(),
                kind: DiffKind::Missing,
                source: Some("3".into()),
                target: None
            }]
        );
    }

    #[test]
    fn truncated_input_is_named_as_such() {
        let long = "x".repeat(5000);
        let d = diff(
            json!({"input": {"messages": [{"content": long}]}}),
            json!({"input": {"messages": [{"content": "x".repeat(200)}]}}),
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "input.messages[0].content");
        assert_eq!(d[0].kind, DiffKind::Truncated);
    }

    #[test]
    fn json_string_and_parsed_json_compare_by_content() {
        assert_eq!(
            diff(json!({"input": "{\"q\": 1}"}), json!({"input": {"q": 1}})),
            vec![]
        );
        let d = diff(json!({"input": "{\"q\": 1}"}), json!({"input": {"q": 2}}));
        assert_eq!(d[0].path, "input.q");
    }

    #[test]
    fn ignored_paths_are_skipped_and_long_values_shortened() {
        let options = DiffOptions::server_assigned().ignoring("metadata.migrator_run");
        let d = diff_objects(
            &json!({"metadata": {"migrator_run": "a"}, "name": "n".repeat(1000)}),
            &json!({"metadata": {"migrator_run": "b"}, "name": "m"}),
            &options,
        );
        assert_eq!(d.len(), 1);
        assert!(d[0].source.as_ref().unwrap().chars().count() <= SHOWN_VALUE_CHARS + 1);
    }

    #[test]
    fn arrays_of_different_length_are_one_change() {
        let d = diff(json!({"tags": ["a", "b"]}), json!({"tags": ["a"]}));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "tags");
    }
}
