//! Scores: create (REST and ingestion share `build`), v2 list/get, v3 cursor list, delete.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::params::{Page, Params, decode_cursor, encode_cursor, paged};
use crate::state::AppState;
use crate::store::{Raw, ScoreRow, Store, new_id};
use crate::timefmt::{self, now_ms};
use crate::views::{self, ScoreV3Fields};

/// The body of `POST /scores` and of an ingestion `score-create` event.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreInput {
    pub id: Option<String>,
    pub trace_id: Option<String>,
    pub session_id: Option<String>,
    pub observation_id: Option<String>,
    pub dataset_run_id: Option<String>,
    pub name: String,
    pub value: Value,
    pub comment: Option<String>,
    pub metadata: Option<Raw>,
    pub environment: Option<String>,
    pub queue_id: Option<String>,
    pub data_type: Option<String>,
    pub config_id: Option<String>,
    pub source: Option<String>,
    pub timestamp: Option<String>,
}

pub fn valid_environment(env: &str) -> bool {
    env.len() <= 40
        && !env.starts_with("langfuse")
        && !env.is_empty()
        && env
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Validates a score as Langfuse does and turns it into a row.
pub fn build(s: ScoreInput, fallback_time: Option<i64>) -> Result<ScoreRow, String> {
    if s.trace_id.is_none() && s.session_id.is_none() && s.dataset_run_id.is_none() {
        return Err("Score must reference a traceId, sessionId or datasetRunId".into());
    }
    if s.observation_id.is_some() && s.trace_id.is_none() {
        return Err("observationId requires traceId".into());
    }
    let env = s.environment.unwrap_or_else(crate::store::default_env);
    if !valid_environment(&env) {
        return Err(format!("Invalid environment `{env}`"));
    }
    let data_type = match (s.data_type.as_deref(), &s.value) {
        (Some(t), _) => t.to_string(),
        (None, Value::Number(_)) => "NUMERIC".into(),
        (None, Value::String(_)) => "CATEGORICAL".into(),
        (None, other) => {
            return Err(format!(
                "value: Expected number or string, received {other}"
            ));
        }
    };
    let (value, string_value) = match (data_type.as_str(), &s.value) {
        ("NUMERIC", Value::Number(n)) => (n.as_f64(), None),
        ("BOOLEAN", Value::Number(n)) if n.as_f64() == Some(0.0) || n.as_f64() == Some(1.0) => {
            let v = n.as_f64().unwrap_or_default();
            (
                Some(v),
                Some(if v == 1.0 { "True" } else { "False" }.to_string()),
            )
        }
        ("BOOLEAN", _) => return Err("Boolean score value must equal either 1 or 0".into()),
        ("CATEGORICAL", Value::String(st)) => (Some(0.0), Some(st.clone())),
        ("CATEGORICAL", Value::Number(n)) => (n.as_f64(), Some(n.to_string())),
        ("TEXT", Value::String(st)) => (None, Some(st.clone())),
        ("CORRECTION", Value::String(st)) => (Some(0.0), Some(st.clone())),
        ("NUMERIC", _) => return Err("Numeric score value must be a number".into()),
        (t @ ("TEXT" | "CORRECTION" | "CATEGORICAL"), _) => {
            return Err(format!("{t} score value must be a string"));
        }
        (other, _) => return Err(format!("dataType: Invalid enum value `{other}`")),
    };
    let source = s.source.unwrap_or_else(|| "API".into()).to_uppercase();
    if !matches!(source.as_str(), "API" | "ANNOTATION" | "EVAL") {
        return Err(format!("source: Invalid enum value `{source}`"));
    }
    let timestamp = match s.timestamp.as_deref() {
        Some(t) => timefmt::parse(t).ok_or_else(|| format!("timestamp: Invalid datetime `{t}`"))?,
        None => fallback_time.unwrap_or_else(now_ms),
    };
    let now = now_ms();
    Ok(ScoreRow {
        id: s.id.unwrap_or_else(new_id),
        trace_id: s.trace_id,
        session_id: s.session_id,
        observation_id: s.observation_id,
        dataset_run_id: s.dataset_run_id,
        name: s.name,
        value,
        string_value,
        data_type,
        source,
        timestamp,
        created_at: now,
        updated_at: now,
        author_user_id: None,
        comment: s.comment,
        metadata: s.metadata,
        config_id: s.config_id,
        queue_id: s.queue_id,
        environment: env,
        visible_at: 0,
    })
}

/// A score that names a config must match it: the config exists, the data types agree, a
/// numeric value lies within the bounds, a categorical value is one of the categories (whose
/// number becomes the score's value).
pub fn apply_config(store: &Store, row: &mut ScoreRow) -> Result<(), String> {
    let Some(config_id) = row.config_id.as_deref() else {
        return Ok(());
    };
    let cfg = store
        .score_configs
        .first_of(config_id)
        .and_then(|s| store.score_configs.get(s))
        .ok_or_else(|| format!("Score config {config_id} not found"))?;
    if cfg.data_type != row.data_type {
        return Err(format!(
            "Score does not comply with config: data type {} expected, got {}",
            cfg.data_type, row.data_type
        ));
    }
    match cfg.data_type.as_str() {
        "NUMERIC" => {
            let v = row.value.unwrap_or_default();
            if cfg.min_value.is_some_and(|m| v < m) || cfg.max_value.is_some_and(|m| v > m) {
                return Err(format!(
                    "Score does not comply with config: {v} is out of range"
                ));
            }
        }
        "CATEGORICAL" => {
            let label = row.string_value.clone().unwrap_or_default();
            let cat = cfg
                .categories
                .iter()
                .flatten()
                .find(|c| c.label == label)
                .ok_or_else(|| {
                    format!("Score does not comply with config: `{label}` is not a category")
                })?;
            row.value = Some(cat.value);
        }
        _ => {}
    }
    Ok(())
}

/// Scores are upserted by id on every generation (a ReplacingMergeTree in v3/v4).
pub fn upsert(store: &mut Store, mut row: ScoreRow) {
    if let Some(slot) = store.scores.first_of(&row.id) {
        let old = store.scores.get(slot).expect("indexed");
        row.created_at = old.created_at;
        store.scores.replace(slot, row);
    } else {
        store.scores.insert(row);
    }
}

pub async fn create(State(st): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let input: ScoreInput = crate::body::json(body).await?;
    let mut row = build(input, None).map_err(ApiError::bad)?;
    row.visible_at = st.visible_at_for_new_write();
    let id = row.id.clone();
    let mut store = st.store.write();
    apply_config(&store, &mut row).map_err(ApiError::bad)?;
    upsert(&mut store, row);
    Ok(Json(json!({"id": id})))
}

/// `POST /scores` on the current API: a JSON array of scores (the SDK 5.x client's
/// `CreateScoresRequest`). Each score is checked on its own; 202 `{"message": "Accepted"}` when
/// all were taken, else 207 with the counts and one message per rejected score (those are not
/// stored). Anything but a non-empty array is a 400, as the 4.16 single-score body is refused.
pub async fn create_batch(State(st): State<AppState>, body: Body) -> ApiResult<Response> {
    let items: Vec<Value> = crate::body::json(body).await.map_err(|e| match e {
        ApiError::BadRequest(_) => {
            ApiError::bad("Expected an array of scores (POST /api/public/scores creates a batch)")
        }
        other => other,
    })?;
    if items.is_empty() {
        return Err(ApiError::bad("Array must contain at least 1 score"));
    }
    let total = items.len();
    let visible_at = st.visible_at_for_new_write();
    let mut errors = Vec::new();
    let mut store = st.store.write();
    for (i, item) in items.into_iter().enumerate() {
        let built = serde_json::from_value::<ScoreInput>(item)
            .map_err(|e| e.to_string())
            .and_then(|input| {
                if input
                    .source
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("EVAL"))
                {
                    return Err("source: EVAL is not accepted on this endpoint".into());
                }
                build(input, None)
            })
            .and_then(|mut row| {
                row.visible_at = visible_at;
                apply_config(&store, &mut row).map(|_| row)
            });
        match built {
            Ok(row) => upsert(&mut store, row),
            Err(message) => errors.push(json!({"message": format!("[{i}] {message}")})),
        }
    }
    if errors.is_empty() {
        return Ok((StatusCode::ACCEPTED, Json(json!({"message": "Accepted"}))).into_response());
    }
    let body = json!({
        "accepted": total - errors.len(),
        "rejected": errors.len(),
        "errors": errors,
    });
    Ok((StatusCode::MULTI_STATUS, Json(body)).into_response())
}

pub async fn delete(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    if st.store.write().scores.remove_id(&id).is_empty() {
        return Err(ApiError::not_found("Score not found"));
    }
    Ok(StatusCode::NO_CONTENT)
}

fn trace_data(store: &Store, s: &ScoreRow) -> Value {
    let Some(t) = s
        .trace_id
        .as_deref()
        .and_then(|t| store.traces.first_of(t))
        .and_then(|slot| store.traces.get(slot))
    else {
        return Value::Null;
    };
    json!({"userId": t.user_id, "tags": t.tags, "environment": t.environment, "sessionId": t.session_id})
}

pub async fn list_v2(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let page = Page::parse(&p, 100)?;
    let (from, to) = (p.time("fromTimestamp")?, p.time("toTimestamp")?);
    let envs = p.all("environment");
    let ids = p.csv("scoreIds");
    let op_value = p.num("value")?;
    let operator = p.get("operator");
    let trace_tags = p.all("traceTags");
    let groups = p.csv("fields");
    if let Some(g) = groups.iter().find(|g| !matches!(**g, "score" | "trace")) {
        return Err(ApiError::bad(format!("fields: unknown field group `{g}`")));
    }
    let with_trace = groups.is_empty() || groups.contains(&"trace");
    if !with_trace && (p.get("userId").is_some() || !trace_tags.is_empty()) {
        return Err(ApiError::bad(
            "Filtering by userId or traceTags requires the 'trace' field group",
        ));
    }
    let now = st.clock.now();
    let store = st.store.read();
    let matches = |s: &ScoreRow| -> bool {
        let eq = |k: &str, v: &Option<String>| p.get(k).is_none_or(|x| v.as_deref() == Some(x));
        let trace = || {
            s.trace_id
                .as_deref()
                .and_then(|t| store.traces.first_of(t))
                .and_then(|slot| store.traces.get(slot))
        };
        s.visible_at <= now
            && p.get("name").is_none_or(|n| s.name == n)
            && p.get("source").is_none_or(|x| s.source == x)
            && p.get("dataType").is_none_or(|x| s.data_type == x)
            && eq("configId", &s.config_id)
            && eq("sessionId", &s.session_id)
            && eq("datasetRunId", &s.dataset_run_id)
            && eq("traceId", &s.trace_id)
            && eq("observationId", &s.observation_id)
            && eq("queueId", &s.queue_id)
            && (ids.is_empty() || ids.contains(&s.id.as_str()))
            && (envs.is_empty() || envs.contains(&s.environment.as_str()))
            && compare(operator, op_value, s.value)
            && p.get("userId")
                .is_none_or(|u| trace().is_some_and(|t| t.user_id.as_deref() == Some(u)))
            && (trace_tags.is_empty()
                || trace()
                    .is_some_and(|t| trace_tags.iter().all(|x| t.tags.iter().any(|y| y == x))))
    };
    let rows = store
        .scores
        .desc_range(from, to, None)
        .filter_map(|(_, slot)| store.scores.get(slot))
        .filter(|s| matches(s));
    let (page_rows, total) = page.take(rows);
    let data = page_rows
        .into_iter()
        .map(|s| {
            let mut v = views::score_v2(s);
            if with_trace {
                v["trace"] = trace_data(&store, s);
            }
            v
        })
        .collect();
    Ok(Json(paged(data, &page, total)))
}

fn compare(op: Option<&str>, want: Option<f64>, have: Option<f64>) -> bool {
    let (Some(op), Some(want)) = (op, want) else {
        return true;
    };
    let Some(have) = have else { return false };
    match op {
        "<" => have < want,
        ">" => have > want,
        "<=" => have <= want,
        ">=" => have >= want,
        "!=" | "<>" => have != want,
        _ => have == want,
    }
}

pub async fn get_v2(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let now = st.clock.now();
    let store = st.store.read();
    let s = store
        .scores
        .slots_of(&id)
        .iter()
        .filter_map(|slot| store.scores.get(*slot))
        .find(|s| s.visible_at <= now)
        .ok_or_else(|| ApiError::not_found("Score not found"))?;
    Ok(Json(views::score_v2(s)))
}

pub async fn list_v3(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let limit = p.int("limit")?.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad("limit: Number must be between 1 and 100"));
    }
    let fields = ScoreV3Fields::parse(p.get("fields")).map_err(ApiError::bad)?;
    let before = p.get("cursor").map(decode_cursor).transpose()?;
    let upper = |v: Vec<&str>| v.into_iter().map(str::to_uppercase).collect::<Vec<_>>();
    let (ids, names, sources, types) = (
        p.csv("id"),
        p.csv("name"),
        upper(p.csv("source")),
        upper(p.csv("dataType")),
    );
    let (envs, configs, queues, authors) = (
        p.csv("environment"),
        p.csv("configId"),
        p.csv("queueId"),
        p.csv("authorUserId"),
    );
    let (traces, sessions, observations, experiments) = (
        p.csv("traceId"),
        p.csv("sessionId"),
        p.csv("observationId"),
        p.csv("experimentId"),
    );
    let values = p.csv("value");
    let (vmin, vmax) = (p.num("valueMin")?, p.num("valueMax")?);
    if !observations.is_empty() && traces.is_empty() {
        return Err(ApiError::bad("observationId requires traceId"));
    }
    let subjects = [
        !traces.is_empty(),
        !sessions.is_empty(),
        !experiments.is_empty(),
    ];
    if subjects.iter().filter(|b| **b).count() > 1 {
        return Err(ApiError::bad(
            "traceId, sessionId and experimentId are mutually exclusive",
        ));
    }
    if (!values.is_empty() || vmin.is_some() || vmax.is_some()) && types.len() != 1 {
        return Err(ApiError::bad("value filters require exactly one dataType"));
    }
    if (vmin.is_some() || vmax.is_some()) && types.first().map(String::as_str) != Some("NUMERIC") {
        return Err(ApiError::bad("valueMin/valueMax require dataType=NUMERIC"));
    }
    if !values.is_empty()
        && !matches!(
            types.first().map(String::as_str),
            Some("NUMERIC" | "BOOLEAN" | "CATEGORICAL")
        )
    {
        return Err(ApiError::bad(
            "value requires dataType NUMERIC, BOOLEAN or CATEGORICAL",
        ));
    }
    let (from, to) = (p.time("fromTimestamp")?, p.time("toTimestamp")?);
    let inn = |list: &[&str], v: &Option<String>| {
        list.is_empty() || v.as_deref().is_some_and(|x| list.contains(&x))
    };
    let now = st.clock.now();
    let store = st.store.read();
    let matches = |s: &ScoreRow| -> bool {
        s.visible_at <= now
            && (ids.is_empty() || ids.contains(&s.id.as_str()))
            && (names.is_empty() || names.contains(&s.name.as_str()))
            && (sources.is_empty() || sources.contains(&s.source))
            && (types.is_empty() || types.contains(&s.data_type))
            && (envs.is_empty() || envs.contains(&s.environment.as_str()))
            && inn(&configs, &s.config_id)
            && inn(&queues, &s.queue_id)
            && inn(&authors, &s.author_user_id)
            && inn(&traces, &s.trace_id)
            && inn(&sessions, &s.session_id)
            && inn(&observations, &s.observation_id)
            && inn(&experiments, &s.dataset_run_id)
            && vmin.is_none_or(|m| s.value.is_some_and(|v| v >= m))
            && vmax.is_none_or(|m| s.value.is_some_and(|v| v <= m))
            && (values.is_empty() || values.iter().any(|want| value_eq(s, want)))
    };
    let mut it = store
        .scores
        .desc_range(from, to, before)
        .filter_map(|(t, slot)| store.scores.get(slot).map(|s| (t, slot, s)))
        .filter(|(_, _, s)| matches(s));
    let mut data = Vec::new();
    let mut last = None;
    for (t, slot, s) in it.by_ref().take(limit as usize) {
        data.push(views::score_v3(s, &store.project_id, fields));
        last = Some((t, slot));
    }
    let cursor = if it.next().is_some() {
        last.map(encode_cursor)
    } else {
        None
    };
    let mut meta = json!({"limit": limit});
    if let Some(c) = cursor {
        meta["cursor"] = json!(c);
    }
    Ok(Json(json!({"data": data, "meta": meta})))
}

fn value_eq(s: &ScoreRow, want: &str) -> bool {
    match s.data_type.as_str() {
        "NUMERIC" => want.parse::<f64>().ok() == s.value,
        "BOOLEAN" => (want == "true") == (s.value == Some(1.0)) && matches!(want, "true" | "false"),
        _ => s.string_value.as_deref() == Some(want),
    }
}
