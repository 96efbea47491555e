//! The structured `filter` query parameter (a JSON array of conditions) of the observation reads.
//! When given it takes precedence over the individual query-parameter filters, as the spec says.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::timefmt;

#[derive(Deserialize)]
struct Condition {
    #[serde(rename = "type")]
    kind: String,
    column: String,
    operator: String,
    #[serde(default)]
    value: Value,
    #[serde(default)]
    key: Option<String>,
}

/// A column's value on one row.
pub enum Field {
    Str(Option<String>),
    Time(Option<i64>),
    Num(Option<f64>),
    List(Vec<String>),
    Bool(bool),
    /// A JSON object (metadata) read by `key`.
    Object(Option<Value>),
}

pub struct JsonFilter(Vec<Condition>);

const TYPES: [&str; 10] = [
    "datetime",
    "string",
    "number",
    "stringOptions",
    "categoryOptions",
    "arrayOptions",
    "stringObject",
    "numberObject",
    "boolean",
    "null",
];

impl JsonFilter {
    pub fn parse(s: &str, columns: &[&str]) -> ApiResult<Self> {
        let conds: Vec<Condition> = serde_json::from_str(s)
            .map_err(|e| ApiError::bad(format!("filter: invalid JSON filter: {e}")))?;
        for c in &conds {
            if !TYPES.contains(&c.kind.as_str()) {
                return Err(ApiError::bad(format!("filter: invalid type `{}`", c.kind)));
            }
            if !columns.contains(&c.column.as_str()) {
                return Err(ApiError::bad(format!(
                    "filter: invalid column `{}`",
                    c.column
                )));
            }
            if c.kind.ends_with("Object") && c.key.is_none() {
                return Err(ApiError::bad(format!("filter: `{}` needs a key", c.column)));
            }
            if !valid_operator(&c.kind, &c.operator) {
                return Err(ApiError::bad(format!(
                    "filter: operator `{}` is not valid for type {}",
                    c.operator, c.kind
                )));
            }
        }
        Ok(JsonFilter(conds))
    }

    pub fn matches(&self, get: impl Fn(&str) -> Field) -> bool {
        self.0.iter().all(|c| c.matches(get(&c.column)))
    }
}

fn valid_operator(kind: &str, op: &str) -> bool {
    let ops: &[&str] = match kind {
        "datetime" | "number" | "numberObject" => &["=", ">", "<", ">=", "<="],
        "string" | "stringObject" => &[
            "=",
            "contains",
            "does not contain",
            "starts with",
            "ends with",
        ],
        "stringOptions" | "categoryOptions" => &["any of", "none of"],
        "arrayOptions" => &["any of", "none of", "all of"],
        "boolean" => &["=", "<>"],
        "null" => &["is null", "is not null"],
        _ => &[],
    };
    ops.contains(&op)
}

fn cmp_num(op: &str, have: f64, want: f64) -> bool {
    match op {
        ">" => have > want,
        "<" => have < want,
        ">=" => have >= want,
        "<=" => have <= want,
        _ => have == want,
    }
}

fn cmp_str(op: &str, have: &str, want: &str) -> bool {
    match op {
        "contains" => have.contains(want),
        "does not contain" => !have.contains(want),
        "starts with" => have.starts_with(want),
        "ends with" => have.ends_with(want),
        _ => have == want,
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

impl Condition {
    fn matches(&self, field: Field) -> bool {
        let op = self.operator.as_str();
        if self.kind == "null" {
            let is_null = match &field {
                Field::Str(s) => s.is_none(),
                Field::Time(t) => t.is_none(),
                Field::Num(n) => n.is_none(),
                Field::List(l) => l.is_empty(),
                Field::Bool(_) => false,
                Field::Object(o) => o.is_none(),
            };
            return is_null == (op == "is null");
        }
        match field {
            Field::Time(t) => {
                let want = self.value.as_str().and_then(timefmt::parse);
                matches!((t, want), (Some(h), Some(w)) if cmp_num(op, h as f64, w as f64))
            }
            Field::Num(n) => {
                matches!((n, self.value.as_f64()), (Some(h), Some(w)) if cmp_num(op, h, w))
            }
            Field::Bool(b) => {
                let want = self.value.as_bool().unwrap_or(false);
                (b == want) == (op == "=")
            }
            Field::List(have) => {
                let want = strings(&self.value);
                match op {
                    "any of" => want.iter().any(|w| have.contains(w)),
                    "none of" => !want.iter().any(|w| have.contains(w)),
                    _ => want.iter().all(|w| have.contains(w)),
                }
            }
            Field::Str(s) => match self.kind.as_str() {
                "stringOptions" | "categoryOptions" => {
                    let want = strings(&self.value);
                    let hit = s.as_ref().is_some_and(|s| want.contains(s));
                    hit == (op == "any of")
                }
                _ => {
                    let want = self.value.as_str().unwrap_or_default();
                    match s {
                        Some(s) => cmp_str(op, &s, want),
                        None => op == "does not contain",
                    }
                }
            },
            Field::Object(o) => {
                let key = self.key.as_deref().unwrap_or_default();
                let v = o.as_ref().and_then(|o| o.get(key));
                match self.kind.as_str() {
                    "numberObject" => {
                        let have = v.and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()));
                        matches!((have, self.value.as_f64()), (Some(h), Some(w)) if cmp_num(op, h, w))
                    }
                    "categoryOptions" => {
                        let have = v.and_then(Value::as_str).map(String::from);
                        let hit = have.is_some_and(|h| strings(&self.value).contains(&h));
                        hit == (op == "any of")
                    }
                    _ => {
                        let have = v.map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        });
                        let want = self.value.as_str().unwrap_or_default();
                        match have {
                            Some(h) => cmp_str(op, &h, want),
                            None => op == "does not contain",
                        }
                    }
                }
            }
        }
    }
}
