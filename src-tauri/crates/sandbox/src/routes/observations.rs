//! Observations: v1 list/get (page/limit) and `v2/observations` (cursor, field groups).

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::filter::{Field, JsonFilter};
use crate::params::{DEFAULT_PAGE_CAP, Page, Params, decode_cursor, encode_cursor};
use crate::state::AppState;
use crate::store::{ObsRow, Slot, Store};
use crate::views::{ObsV1, ObsV2, ObsV2Fields, TraceCtx};

use super::json_body;

/// The trace columns an observation is read with: its own on v4, its trace's on v2/v3.
pub(crate) fn ctx<'a>(store: &'a Store, o: &'a ObsRow) -> TraceCtx<'a> {
    if store.derived_traces() {
        return TraceCtx::of_row(o);
    }
    o.trace_id
        .as_deref()
        .and_then(|t| store.traces.first_of(t))
        .and_then(|s| store.traces.get(s))
        .map(TraceCtx::of_trace)
        .unwrap_or_default()
}

const COLUMNS: [&str; 32] = [
    "id",
    "type",
    "name",
    "traceId",
    "startTime",
    "endTime",
    "environment",
    "level",
    "statusMessage",
    "version",
    "parentObservationId",
    "isRootObservation",
    "userId",
    "sessionId",
    "traceName",
    "traceTags",
    "tags",
    "traceEnvironment",
    "model",
    "providedModelName",
    "promptName",
    "promptVersion",
    "latency",
    "timeToFirstToken",
    "inputTokens",
    "outputTokens",
    "totalTokens",
    "tokens",
    "inputCost",
    "outputCost",
    "totalCost",
    "metadata",
];

/// One column of the structured filter, read from a row and its trace columns.
pub(crate) fn column(o: &ObsRow, c: &TraceCtx, col: &str) -> Field {
    let s = |v: Option<&str>| Field::Str(v.map(String::from));
    let usage = |k: &str| Field::Num(o.usage_details.get(k).map(|n| *n as f64));
    match col {
        "id" => s(Some(&o.id)),
        "type" => s(Some(&o.kind)),
        "name" => s(o.name.as_deref()),
        "traceId" => s(o.trace_id.as_deref()),
        "startTime" => Field::Time(Some(o.start_time)),
        "endTime" => Field::Time(o.end_time),
        "environment" | "traceEnvironment" => s(Some(&o.environment)),
        "level" => s(Some(&o.level)),
        "statusMessage" => s(o.status_message.as_deref()),
        "version" => s(o.version.as_deref()),
        "parentObservationId" => s(o.parent_observation_id.as_deref()),
        "isRootObservation" => Field::Bool(o.is_root()),
        "userId" => s(c.user_id),
        "sessionId" => s(c.session_id),
        "traceName" => s(c.trace_name),
        "traceTags" | "tags" => Field::List(c.tags.to_vec()),
        "model" | "providedModelName" => s(o.model.as_deref()),
        "promptName" => s(o.prompt_name.as_deref()),
        "promptVersion" => Field::Num(o.prompt_version.map(|v| v as f64)),
        "latency" => Field::Num(o.latency_secs()),
        "timeToFirstToken" => Field::Num(o.time_to_first_token()),
        "inputTokens" => usage("input"),
        "outputTokens" => usage("output"),
        "totalTokens" | "tokens" => usage("total"),
        "inputCost" => Field::Num(o.cost_details.get("input").copied()),
        "outputCost" => Field::Num(o.cost_details.get("output").copied()),
        "totalCost" => Field::Num(o.total_cost()),
        "metadata" => Field::Object(
            o.metadata
                .as_ref()
                .and_then(|m| serde_json::from_str(m.get()).ok()),
        ),
        _ => Field::Str(None),
    }
}

/// Filters shared by v1 and v2 reads.
struct Filter<'p> {
    /// The structured `filter`; when present the other filters are not applied.
    json: Option<JsonFilter>,
    name: Option<&'p str>,
    user_id: Option<&'p str>,
    session_id: Option<&'p str>,
    kind: Option<&'p str>,
    trace_id: Option<&'p str>,
    level: Option<&'p str>,
    /// Some(None) = only observations without a parent.
    parent: Option<Option<&'p str>>,
    is_root: Option<bool>,
    envs: Vec<&'p str>,
    version: Option<&'p str>,
    from: Option<i64>,
    to: Option<i64>,
}

impl<'p> Filter<'p> {
    fn parse(p: &'p Params, empty_parent_means_root: bool) -> ApiResult<Self> {
        let parent = match p.get("parentObservationId") {
            Some(v) => Some(Some(v)),
            None if empty_parent_means_root && p.has("parentObservationId") => Some(None),
            None => None,
        };
        let level = p.get("level");
        if let Some(l) = level
            && !matches!(l, "DEBUG" | "DEFAULT" | "WARNING" | "ERROR")
        {
            return Err(ApiError::bad(format!("level: Invalid enum value `{l}`")));
        }
        if let Some(f) = p.get("filter") {
            return Ok(Filter {
                json: Some(JsonFilter::parse(f, &COLUMNS)?),
                name: None,
                user_id: None,
                session_id: None,
                kind: None,
                trace_id: None,
                level: None,
                parent: None,
                is_root: None,
                envs: vec![],
                version: None,
                from: None,
                to: None,
            });
        }
        Ok(Filter {
            json: None,
            name: p.get("name"),
            user_id: p.get("userId"),
            session_id: p.get("sessionId"),
            kind: p.get("type"),
            trace_id: p.get("traceId"),
            level,
            parent,
            is_root: p.bool("isRootObservation")?,
            envs: p.all("environment"),
            version: p.get("version"),
            from: p.time("fromStartTime")?,
            to: p.time("toStartTime")?,
        })
    }

    /// No condition other than the start-time window.
    fn is_time_window_only(&self) -> bool {
        self.json.is_none()
            && self.name.is_none()
            && self.user_id.is_none()
            && self.session_id.is_none()
            && self.kind.is_none()
            && self.trace_id.is_none()
            && self.level.is_none()
            && self.parent.is_none()
            && self.is_root.is_none()
            && self.envs.is_empty()
            && self.version.is_none()
    }

    fn matches(&self, store: &Store, o: &ObsRow) -> bool {
        if let Some(j) = &self.json {
            let c = ctx(store, o);
            return j.matches(|col| column(o, &c, col));
        }
        if self.name.is_some_and(|n| o.name.as_deref() != Some(n))
            || self.kind.is_some_and(|k| o.kind != k)
            || self
                .trace_id
                .is_some_and(|t| o.trace_id.as_deref() != Some(t))
            || self.level.is_some_and(|l| o.level != l)
            || self
                .version
                .is_some_and(|v| o.version.as_deref() != Some(v))
            || self.from.is_some_and(|f| o.start_time < f)
            || self.to.is_some_and(|t| o.start_time >= t)
            || self.is_root.is_some_and(|r| o.is_root() != r)
            || (!self.envs.is_empty() && !self.envs.contains(&o.environment.as_str()))
        {
            return false;
        }
        if let Some(parent) = self.parent
            && o.parent_observation_id.as_deref() != parent
        {
            return false;
        }
        if self.user_id.is_some() || self.session_id.is_some() {
            let c = ctx(store, o);
            if self.user_id.is_some_and(|u| c.user_id != Some(u))
                || self.session_id.is_some_and(|s| c.session_id != Some(s))
            {
                return false;
            }
        }
        true
    }

    /// Matching visible slots, newest first, strictly before `before`.
    fn scan<'s>(
        &'s self,
        store: &'s Store,
        now: u64,
        before: Option<(i64, Slot)>,
    ) -> Box<dyn Iterator<Item = (i64, Slot, &'s ObsRow)> + 's> {
        let visible = move |(t, s): (i64, Slot)| {
            store
                .observations
                .get(s)
                .filter(|o| o.visible_at <= now && self.matches(store, o))
                .map(|o| (t, s, o))
        };
        match self.trace_id {
            Some(trace) => {
                let mut keys: Vec<(i64, Slot)> = store
                    .observations
                    .slots_of_trace(trace)
                    .iter()
                    .filter_map(|s| store.observations.get(*s).map(|o| (o.start_time, *s)))
                    .filter(|k| before.is_none_or(|b| *k < b))
                    .collect();
                keys.sort_unstable_by(|a, b| b.cmp(a));
                Box::new(keys.into_iter().filter_map(visible))
            }
            None => Box::new(
                store
                    .observations
                    .desc_range(self.from, self.to, before)
                    .filter_map(visible),
            ),
        }
    }
}

#[derive(Serialize)]
struct V1Page<'a> {
    data: Vec<ObsV1<'a>>,
    meta: serde_json::Value,
}

pub async fn list_v1(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let page = Page::parse(&p, DEFAULT_PAGE_CAP)?;
    let filter = Filter::parse(&p, false)?;
    let now = st.clock.now();
    let store = st.store.read();
    let (rows, total) = if filter.is_time_window_only() && store.observations.all_visible(now) {
        // Fast path for plain paging: count the index range, touch only the page's rows.
        let range = || store.observations.desc_range(filter.from, filter.to, None);
        let total = match (filter.from, filter.to) {
            (None, None) => store.observations.len(),
            _ => range().count(),
        };
        let rows = range()
            .skip(page.offset())
            .take(page.limit)
            .filter_map(|(_, s)| store.observations.get(s))
            .collect();
        (rows, total)
    } else {
        page.take(filter.scan(&store, now, None).map(|(_, _, o)| o))
    };
    *st.rows_listed
        .lock()
        .entry("GET /api/public/observations".into())
        .or_default() += rows.len() as u64;
    Ok(json_body(&V1Page {
        data: rows.into_iter().map(ObsV1).collect(),
        meta: page.meta(total),
    }))
}

pub async fn get_v1(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let now = st.clock.now();
    let store = st.store.read();
    let o = store
        .observations
        .slots_of(&id)
        .iter()
        .filter_map(|s| store.observations.get(*s))
        .find(|o| o.visible_at <= now)
        .ok_or_else(|| ApiError::not_found("Observation not found within authorized project"))?;
    Ok(json_body(&ObsV1(o)))
}

#[derive(Serialize)]
struct V2Page<'a> {
    data: Vec<ObsV2<'a>>,
    meta: V2Meta,
}

#[derive(Serialize)]
struct V2Meta {
    cursor: Option<String>,
}

pub async fn list_v2(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let limit = p.int("limit")?.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad("limit: Number must be between 1 and 1000"));
    }
    if p.bool("parseIoAsJson")? == Some(true) {
        return Err(ApiError::bad(
            "parseIoAsJson is no longer supported; input/output are always returned as raw strings",
        ));
    }
    let fields = ObsV2Fields::parse(p.get("fields")).map_err(ApiError::bad)?;
    let expand: Vec<&str> = p.csv("expandMetadata");
    let before = p.get("cursor").map(decode_cursor).transpose()?;
    let filter = Filter::parse(&p, true)?;
    let now = st.clock.now();
    let store = st.store.read();
    let mut it = filter.scan(&store, now, before);
    let mut rows = Vec::with_capacity(limit as usize);
    let mut last = None;
    for (t, s, o) in it.by_ref().take(limit as usize) {
        rows.push(o);
        last = Some((t, s));
    }
    let more = it.next().is_some();
    let cursor = if more { last.map(encode_cursor) } else { None };
    *st.rows_listed
        .lock()
        .entry("GET /api/public/v2/observations".into())
        .or_default() += rows.len() as u64;
    let project_id = store.project_id.as_str();
    // The current API renamed the 4.16 `providedModelName` to `model` (SDK 5.x `ObservationV2`).
    let model_key = if st.profile().is_current() {
        "model"
    } else {
        "providedModelName"
    };
    let data = rows
        .into_iter()
        .map(|o| ObsV2 {
            row: o,
            ctx: ctx(&store, o),
            fields,
            project_id,
            expand: &expand,
            model_key,
        })
        .collect();
    Ok(json_body(&V2Page {
        data,
        meta: V2Meta { cursor },
    }))
}
