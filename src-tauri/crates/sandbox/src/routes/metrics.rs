//! `GET /api/public/v2/metrics` (v4): the `count` measure of the `observations`,
//! `scores-numeric`, `scores-boolean` and `scores-categorical` views over a time range, with
//! `=`, `any of` and `none of` filters on the columns a migration narrows by. Other measures,
//! grouping dimensions and time dimensions answer 400 saying the sandbox does not compute them,
//! rather than a made-up number.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::json_body;
use super::observations::ctx;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::store::{ObsRow, ScoreRow, Store};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Query {
    view: String,
    #[serde(default)]
    dimensions: Vec<Value>,
    metrics: Vec<Metric>,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(default)]
    time_dimension: Option<Value>,
    from_timestamp: String,
    to_timestamp: String,
}

#[derive(Deserialize)]
struct Metric {
    measure: String,
    aggregation: String,
}

#[derive(Deserialize)]
struct Filter {
    column: String,
    operator: String,
    value: Value,
}

impl Filter {
    /// Whether `actual` (the row's values in this column) passes the filter.
    fn admits(&self, actual: &[&str]) -> ApiResult<bool> {
        let wanted: Vec<String> = match &self.value {
            Value::Array(a) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect(),
            Value::String(s) => vec![s.clone()],
            v => vec![v.to_string()],
        };
        let hit = actual.iter().any(|a| wanted.iter().any(|w| w == a));
        match self.operator.as_str() {
            "=" | "any of" => Ok(hit),
            "none of" => Ok(!hit),
            op => Err(ApiError::bad(format!(
                "filters: operator `{op}` is not computed by the sandbox (=, any of, none of are)"
            ))),
        }
    }
}

fn observation_column<'a>(store: &'a Store, o: &'a ObsRow, column: &str) -> Option<Vec<&'a str>> {
    let c = ctx(store, o);
    Some(match column {
        "environment" => vec![o.environment.as_str()],
        "type" => vec![o.kind.as_str()],
        "name" => o.name.as_deref().into_iter().collect(),
        "traceName" => c.trace_name.into_iter().collect(),
        "tags" => c.tags.iter().map(String::as_str).collect(),
        "isRootObservation" => vec![if o.is_root() { "true" } else { "false" }],
        _ => return None,
    })
}

fn score_column<'a>(s: &'a ScoreRow, column: &str) -> Option<Vec<&'a str>> {
    Some(match column {
        "environment" => vec![s.environment.as_str()],
        "name" => vec![s.name.as_str()],
        "source" => vec![s.source.as_str()],
        "dataType" => vec![s.data_type.as_str()],
        _ => return None,
    })
}

fn unknown_column(view: &str, column: &str) -> ApiError {
    ApiError::bad(format!(
        "filters: column `{column}` of view `{view}` is not computed by the sandbox"
    ))
}

pub async fn query(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let text = p
        .get("query")
        .ok_or_else(|| ApiError::bad("query: Required"))?;
    let query: Query =
        serde_json::from_str(text).map_err(|e| ApiError::bad(format!("query: {e}")))?;
    let from = crate::timefmt::parse(&query.from_timestamp)
        .ok_or_else(|| ApiError::bad("fromTimestamp: Invalid datetime"))?;
    let to = crate::timefmt::parse(&query.to_timestamp)
        .ok_or_else(|| ApiError::bad("toTimestamp: Invalid datetime"))?;
    if from >= to {
        return Err(ApiError::bad("toTimestamp must be after fromTimestamp"));
    }
    if query.metrics.is_empty() {
        return Err(ApiError::bad(
            "metrics: At least one metric must be provided",
        ));
    }
    if let Some(m) = query
        .metrics
        .iter()
        .find(|m| (m.measure.as_str(), m.aggregation.as_str()) != ("count", "count"))
    {
        return Err(ApiError::bad(format!(
            "metrics: {}/{} is not computed by the sandbox (count/count is)",
            m.measure, m.aggregation
        )));
    }
    if !query.dimensions.is_empty() || query.time_dimension.as_ref().is_some_and(|t| !t.is_null()) {
        return Err(ApiError::bad(
            "dimensions and timeDimension are not computed by the sandbox",
        ));
    }
    let now = st.clock.now();
    let store = st.store.read();
    let mut count = 0u64;
    match query.view.as_str() {
        "observations" => {
            for (_, o) in store.observations.iter() {
                if o.visible_at > now || o.start_time < from || o.start_time >= to {
                    continue;
                }
                let mut keep = true;
                for f in &query.filters {
                    let actual = observation_column(&store, o, &f.column)
                        .ok_or_else(|| unknown_column(&query.view, &f.column))?;
                    keep &= f.admits(&actual)?;
                }
                count += u64::from(keep);
            }
        }
        view @ ("scores-numeric" | "scores-boolean" | "scores-categorical") => {
            let types: &[&str] = match view {
                "scores-numeric" => &["NUMERIC", "BOOLEAN"],
                "scores-boolean" => &["BOOLEAN"],
                _ => &["CATEGORICAL"],
            };
            for (_, s) in store.scores.iter() {
                if s.visible_at > now
                    || s.timestamp < from
                    || s.timestamp >= to
                    || !types.contains(&s.data_type.as_str())
                {
                    continue;
                }
                let mut keep = true;
                for f in &query.filters {
                    let actual = score_column(s, &f.column)
                        .ok_or_else(|| unknown_column(view, &f.column))?;
                    keep &= f.admits(&actual)?;
                }
                count += u64::from(keep);
            }
        }
        "traces" => {
            return Err(ApiError::bad(
                "view: the traces view is not supported in v2 metrics; count root observations instead",
            ));
        }
        v => return Err(ApiError::bad(format!("view: Invalid enum value `{v}`"))),
    }
    // ClickHouse quotes 64-bit integers in JSON, so counts arrive as strings.
    Ok(json_body(
        &json!({ "data": [{ "count_count": count.to_string() }] }),
    ))
}
