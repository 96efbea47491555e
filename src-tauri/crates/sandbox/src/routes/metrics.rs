//! `GET /api/public/v2/metrics` (v4): the `count` measure of the `observations`,
//! `scores-numeric`, `scores-boolean` and `scores-categorical` views over a time range, with the
//! same JSON filter conditions as the observation reads, on the columns a migration narrows by.
//! Other measures, grouping dimensions and time dimensions answer 400 saying the sandbox does not
//! compute them, rather than a made-up number.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::json_body;
use super::observations::{column, ctx};
use crate::error::{ApiError, ApiResult};
use crate::filter::{Field, JsonFilter};
use crate::params::Params;
use crate::state::AppState;
use crate::store::{ObsRow, ScoreRow, Store};

const OBSERVATION_COLUMNS: [&str; 6] = [
    "environment",
    "type",
    "name",
    "traceName",
    "tags",
    "isRootObservation",
];
const SCORE_COLUMNS: [&str; 4] = ["environment", "name", "source", "dataType"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Query {
    view: String,
    #[serde(default)]
    dimensions: Vec<Value>,
    metrics: Vec<Metric>,
    #[serde(default)]
    filters: Vec<Value>,
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

/// The observations view's columns: the observation reads' own, with `tags` the trace's tags.
fn observation_column(store: &Store, o: &ObsRow, col: &str) -> Field {
    let c = ctx(store, o);
    match col {
        "tags" => Field::List(c.tags.to_vec()),
        _ => column(o, &c, col),
    }
}

fn score_column(s: &ScoreRow, col: &str) -> Field {
    let v = |v: &str| Field::Str(Some(v.to_string()));
    match col {
        "environment" => v(&s.environment),
        "name" => v(&s.name),
        "source" => v(&s.source),
        "dataType" => v(&s.data_type),
        _ => Field::Str(None),
    }
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
    let filters = serde_json::to_string(&query.filters).expect("JSON values serialise");
    let now = st.clock.now();
    let store = st.store.read();
    let count = match query.view.as_str() {
        "observations" => {
            let filter = JsonFilter::parse(&filters, &OBSERVATION_COLUMNS)?;
            store
                .observations
                .iter()
                .filter(|(_, o)| o.visible_at <= now && o.start_time >= from && o.start_time < to)
                .filter(|(_, o)| filter.matches(|col| observation_column(&store, o, col)))
                .count() as u64
        }
        view @ ("scores-numeric" | "scores-boolean" | "scores-categorical") => {
            let types: &[&str] = match view {
                "scores-numeric" => &["NUMERIC", "BOOLEAN"],
                "scores-boolean" => &["BOOLEAN"],
                _ => &["CATEGORICAL"],
            };
            let filter = JsonFilter::parse(&filters, &SCORE_COLUMNS)?;
            store
                .scores
                .iter()
                .filter(|(_, s)| {
                    s.visible_at <= now
                        && s.timestamp >= from
                        && s.timestamp < to
                        && types.contains(&s.data_type.as_str())
                })
                .filter(|(_, s)| filter.matches(|col| score_column(s, col)))
                .count() as u64
        }
        "traces" => {
            return Err(ApiError::bad(
                "view: the traces view is not supported in v2 metrics; count root observations instead",
            ));
        }
        v => return Err(ApiError::bad(format!("view: Invalid enum value `{v}`"))),
    };
    // ClickHouse quotes 64-bit integers in JSON, so counts arrive as strings.
    Ok(json_body(
        &json!({ "data": [{ "count_count": count.to_string() }] }),
    ))
}
