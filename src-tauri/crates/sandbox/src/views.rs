//! How stored rows are written in each API shape. Observation views are hand-written `Serialize`
//! impls over borrowed rows so a page of 1000 observations is written without copying payloads.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use crate::store::{ObsRow, ScoreRow, TraceRow, to_value};
use crate::timefmt::fmt;

struct Ts(i64);
impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fmt(self.0))
    }
}

fn ts_opt(v: Option<i64>) -> Option<Ts> {
    v.map(Ts)
}

struct Usage<'a>(&'a ObsRow);
impl Serialize for Usage<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = &self.0.usage_details;
        let input = u.get("input").copied().unwrap_or(0);
        let output = u.get("output").copied().unwrap_or(0);
        let total = u.get("total").copied().unwrap_or(input + output);
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("input", &input)?;
        m.serialize_entry("output", &output)?;
        m.serialize_entry("total", &total)?;
        m.serialize_entry("unit", if u.is_empty() { &None } else { &Some("TOKENS") })?;
        m.end()
    }
}

/// `ObservationsView` (v1 reads, trace details, the dump).
pub struct ObsV1<'a>(pub &'a ObsRow);

impl Serialize for ObsV1<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &o.id)?;
        m.serialize_entry("traceId", &o.trace_id)?;
        m.serialize_entry("type", &o.kind)?;
        m.serialize_entry("name", &o.name)?;
        m.serialize_entry("startTime", &Ts(o.start_time))?;
        m.serialize_entry("endTime", &ts_opt(o.end_time))?;
        m.serialize_entry("completionStartTime", &ts_opt(o.completion_start_time))?;
        m.serialize_entry("model", &o.model)?;
        m.serialize_entry("modelParameters", &o.model_parameters)?;
        m.serialize_entry("input", &o.input)?;
        m.serialize_entry("version", &o.version)?;
        m.serialize_entry("metadata", &o.metadata)?;
        m.serialize_entry("output", &o.output)?;
        m.serialize_entry("usage", &Usage(o))?;
        m.serialize_entry("level", &o.level)?;
        m.serialize_entry("statusMessage", &o.status_message)?;
        m.serialize_entry("parentObservationId", &o.parent_observation_id)?;
        m.serialize_entry("promptId", &o.prompt_id)?;
        m.serialize_entry("usageDetails", &o.usage_details)?;
        m.serialize_entry("costDetails", &o.cost_details)?;
        m.serialize_entry("environment", &o.environment)?;
        m.serialize_entry("promptName", &o.prompt_name)?;
        m.serialize_entry("promptVersion", &o.prompt_version)?;
        m.serialize_entry("modelId", &None::<String>)?;
        m.serialize_entry("inputPrice", &None::<f64>)?;
        m.serialize_entry("outputPrice", &None::<f64>)?;
        m.serialize_entry("totalPrice", &None::<f64>)?;
        m.serialize_entry("calculatedInputCost", &o.cost_details.get("input"))?;
        m.serialize_entry("calculatedOutputCost", &o.cost_details.get("output"))?;
        m.serialize_entry("calculatedTotalCost", &o.total_cost())?;
        m.serialize_entry("latency", &o.latency_secs())?;
        m.serialize_entry("timeToFirstToken", &o.time_to_first_token())?;
        m.end()
    }
}

/// A dump row: the v1 view plus the row's bookkeeping and (v4) trace columns.
pub fn obs_dump(o: &ObsRow) -> Value {
    let mut v = serde_json::to_value(ObsV1(o)).expect("observation serializes");
    if let (Value::Object(m), Value::Object(extra)) = (&mut v, to_value(o)) {
        for (k, val) in extra {
            m.entry(k).or_insert(val);
        }
    }
    v
}

/// The field groups of `GET /api/public/v2/observations`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ObsV2Fields {
    pub basic: bool,
    pub time: bool,
    pub io: bool,
    pub metadata: bool,
    pub model: bool,
    pub usage: bool,
    pub prompt: bool,
    pub metrics: bool,
    pub trace_context: bool,
}

impl ObsV2Fields {
    pub fn parse(s: Option<&str>) -> Result<Self, String> {
        let mut f = ObsV2Fields::default();
        let Some(s) = s.filter(|s| !s.trim().is_empty()) else {
            f.basic = true;
            return Ok(f);
        };
        for g in s.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            match g {
                "core" => {}
                "basic" => f.basic = true,
                "time" => f.time = true,
                "io" => f.io = true,
                "metadata" => f.metadata = true,
                "model" => f.model = true,
                "usage" => f.usage = true,
                "prompt" => f.prompt = true,
                "metrics" => f.metrics = true,
                "trace_context" => f.trace_context = true,
                other => return Err(format!("Invalid field group: {other}")),
            }
        }
        Ok(f)
    }
}

/// Trace columns an observation is read with (joined from the trace on v3, the row's own on v4).
#[derive(Default, Clone, Copy)]
pub struct TraceCtx<'a> {
    pub user_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub tags: &'a [String],
    pub release: Option<&'a str>,
    pub trace_name: Option<&'a str>,
    pub public: bool,
}

impl<'a> TraceCtx<'a> {
    pub fn of_row(o: &'a ObsRow) -> Self {
        TraceCtx {
            user_id: o.user_id.as_deref(),
            session_id: o.session_id.as_deref(),
            tags: &o.tags,
            release: o.release.as_deref(),
            trace_name: o.trace_name.as_deref(),
            public: o.public,
        }
    }
    pub fn of_trace(t: &'a TraceRow) -> Self {
        TraceCtx {
            user_id: t.user_id.as_deref(),
            session_id: t.session_id.as_deref(),
            tags: &t.tags,
            release: t.release.as_deref(),
            trace_name: t.name.as_deref(),
            public: t.public,
        }
    }
}

/// v2 reads return input/output as raw strings: a JSON string as its text, anything else as JSON.
struct IoString<'a>(&'a Option<crate::store::Raw>);
impl Serialize for IoString<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => s.serialize_none(),
            Some(r) => {
                let text = r.get();
                if text.starts_with('"')
                    && let Ok(st) = serde_json::from_str::<String>(text)
                {
                    return s.serialize_str(&st);
                }
                s.serialize_str(text)
            }
        }
    }
}

/// v4 metadata is a string map; values over 200 characters are cut unless their key is expanded.
/// Values are read as raw JSON, so nested objects are not parsed into trees.
pub struct MetadataV2<'a> {
    pub raw: &'a Option<crate::store::Raw>,
    pub expand: &'a [&'a str],
}

impl Serialize for MetadataV2<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde_json::value::RawValue;
        use std::borrow::Cow;
        use std::collections::BTreeMap;
        let Some(raw) = self.raw else {
            return s.serialize_none();
        };
        let Ok(map) = serde_json::from_str::<BTreeMap<Cow<str>, &RawValue>>(raw.get()) else {
            return s.serialize_none();
        };
        let mut m = s.serialize_map(Some(map.len()))?;
        for (k, v) in &map {
            let text = v.get();
            let mut val: Cow<str> = if text.starts_with('"') {
                serde_json::from_str::<String>(text)
                    .map(Cow::Owned)
                    .unwrap_or(Cow::Borrowed(text))
            } else {
                Cow::Borrowed(text)
            };
            if !self.expand.contains(&k.as_ref()) && val.chars().count() > 200 {
                val = Cow::Owned(val.chars().take(200).collect());
            }
            m.serialize_entry(k.as_ref(), val.as_ref())?;
        }
        m.end()
    }
}

pub struct ObsV2<'a> {
    pub row: &'a ObsRow,
    pub ctx: TraceCtx<'a>,
    pub fields: ObsV2Fields,
    pub project_id: &'a str,
    pub expand: &'a [&'a str],
    /// `model` on the current API, `providedModelName` on 4.16.
    pub model_key: &'static str,
}

impl Serialize for ObsV2<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.row;
        let f = self.fields;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &o.id)?;
        m.serialize_entry("traceId", &o.trace_id)?;
        m.serialize_entry("startTime", &Ts(o.start_time))?;
        m.serialize_entry("endTime", &ts_opt(o.end_time))?;
        m.serialize_entry("projectId", self.project_id)?;
        m.serialize_entry("parentObservationId", &o.parent_observation_id)?;
        m.serialize_entry("type", &o.kind)?;
        m.serialize_entry("modelId", &None::<String>)?;
        m.serialize_entry("inputPrice", &None::<String>)?;
        m.serialize_entry("outputPrice", &None::<String>)?;
        m.serialize_entry("totalPrice", &None::<String>)?;
        if f.basic {
            m.serialize_entry("name", &o.name)?;
            m.serialize_entry("level", &o.level)?;
            m.serialize_entry("statusMessage", &o.status_message)?;
            m.serialize_entry("version", &o.version)?;
            m.serialize_entry("environment", &o.environment)?;
            m.serialize_entry("bookmarked", &false)?;
            m.serialize_entry("public", &self.ctx.public)?;
            m.serialize_entry("userId", &self.ctx.user_id)?;
            m.serialize_entry("sessionId", &self.ctx.session_id)?;
            m.serialize_entry("isRootObservation", &o.is_root())?;
        }
        if f.time {
            m.serialize_entry("completionStartTime", &ts_opt(o.completion_start_time))?;
            m.serialize_entry("createdAt", &Ts(o.created_at))?;
            m.serialize_entry("updatedAt", &Ts(o.updated_at))?;
        }
        if f.io {
            m.serialize_entry("input", &IoString(&o.input))?;
            m.serialize_entry("output", &IoString(&o.output))?;
        }
        if f.metadata {
            let meta = MetadataV2 {
                raw: &o.metadata,
                expand: self.expand,
            };
            m.serialize_entry("metadata", &meta)?;
        }
        if f.model {
            m.serialize_entry(self.model_key, &o.model)?;
            m.serialize_entry("internalModelId", &None::<String>)?;
            m.serialize_entry("modelParameters", &o.model_parameters)?;
        }
        if f.usage {
            m.serialize_entry("usageDetails", &o.usage_details)?;
            m.serialize_entry("costDetails", &o.cost_details)?;
            m.serialize_entry("totalCost", &o.total_cost())?;
            m.serialize_entry("usagePricingTierName", &None::<String>)?;
        }
        if f.prompt {
            m.serialize_entry("promptId", &o.prompt_id)?;
            m.serialize_entry("promptName", &o.prompt_name)?;
            m.serialize_entry("promptVersion", &o.prompt_version)?;
        }
        if f.metrics {
            m.serialize_entry("latency", &o.latency_secs())?;
            m.serialize_entry("timeToFirstToken", &o.time_to_first_token())?;
        }
        if f.trace_context {
            m.serialize_entry("tags", self.ctx.tags)?;
            m.serialize_entry("release", &self.ctx.release)?;
            m.serialize_entry("traceName", &self.ctx.trace_name)?;
        }
        m.end()
    }
}

/// `Score` (v2 by id, dump) as a JSON object.
pub fn score_v2(s: &ScoreRow) -> Value {
    to_value(s)
}

/// `ScoreV1` inside a trace's details: like v2 but without session/dataset-run subjects.
pub fn score_v1(s: &ScoreRow) -> Value {
    let mut v = to_value(s);
    if let Value::Object(m) = &mut v {
        m.remove("sessionId");
        m.remove("datasetRunId");
        if m.get("traceId").is_none_or(Value::is_null) {
            m.insert("traceId".into(), Value::String(String::new()));
        }
    }
    v
}

/// v3 score field groups.
#[derive(Clone, Copy, Default)]
pub struct ScoreV3Fields {
    pub details: bool,
    pub subject: bool,
    pub annotation: bool,
}

impl ScoreV3Fields {
    pub fn parse(s: Option<&str>) -> Result<Self, String> {
        let mut f = ScoreV3Fields::default();
        for g in s
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
        {
            match g {
                "details" => f.details = true,
                "subject" => f.subject = true,
                "annotation" => f.annotation = true,
                other => return Err(format!("Unknown field group: {other}")),
            }
        }
        Ok(f)
    }
}

pub fn score_v3(s: &ScoreRow, project_id: &str, f: ScoreV3Fields) -> Value {
    let value = match s.data_type.as_str() {
        "NUMERIC" => json!(s.value.unwrap_or(0.0)),
        "BOOLEAN" => json!(s.value.unwrap_or(0.0) != 0.0),
        _ => json!(s.string_value.clone().unwrap_or_default()),
    };
    let mut m = Map::new();
    m.insert("id".into(), json!(s.id));
    m.insert("projectId".into(), json!(project_id));
    m.insert("name".into(), json!(s.name));
    m.insert("value".into(), value);
    m.insert("dataType".into(), json!(s.data_type));
    m.insert("source".into(), json!(s.source));
    m.insert("timestamp".into(), json!(fmt(s.timestamp)));
    m.insert("environment".into(), json!(s.environment));
    m.insert("createdAt".into(), json!(fmt(s.created_at)));
    m.insert("updatedAt".into(), json!(fmt(s.updated_at)));
    if f.details {
        m.insert("comment".into(), json!(s.comment));
        m.insert("configId".into(), json!(s.config_id));
        let meta = s
            .metadata
            .as_ref()
            .and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
            .filter(Value::is_object)
            .unwrap_or(Value::Null);
        m.insert("metadata".into(), meta);
    }
    if f.subject {
        let subject = if let Some(o) = &s.observation_id {
            json!({"kind": "observation", "id": o, "traceId": s.trace_id})
        } else if let Some(t) = &s.trace_id {
            json!({"kind": "trace", "id": t})
        } else if let Some(ss) = &s.session_id {
            json!({"kind": "session", "id": ss})
        } else if let Some(r) = &s.dataset_run_id {
            json!({"kind": "experiment", "id": r})
        } else {
            Value::Null
        };
        m.insert("subject".into(), subject);
    }
    if f.annotation {
        m.insert("authorUserId".into(), json!(s.author_user_id));
        m.insert("queueId".into(), json!(s.queue_id));
    }
    Value::Object(m)
}

/// Trace list fields (`core` always; `io`, `scores`, `observations`, `metrics`).
#[derive(Clone, Copy)]
pub struct TraceFields {
    pub io: bool,
    pub scores: bool,
    pub observations: bool,
    pub metrics: bool,
}

impl TraceFields {
    pub fn parse(s: Option<&str>) -> Result<Self, String> {
        let Some(s) = s.filter(|s| !s.trim().is_empty()) else {
            return Ok(TraceFields {
                io: true,
                scores: true,
                observations: true,
                metrics: true,
            });
        };
        let mut f = TraceFields {
            io: false,
            scores: false,
            observations: false,
            metrics: false,
        };
        for g in s.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            match g {
                "core" => {}
                "io" => f.io = true,
                "scores" => f.scores = true,
                "observations" => f.observations = true,
                "metrics" => f.metrics = true,
                other => return Err(format!("Invalid fields value: {other}")),
            }
        }
        Ok(f)
    }
}

/// The `Trace` core object.
pub fn trace_core(t: &TraceRow, io: bool) -> Map<String, Value> {
    let mut v = match to_value(t) {
        Value::Object(m) => m,
        _ => unreachable!("a trace serializes to an object"),
    };
    if !io {
        v.remove("input");
        v.remove("output");
        v.remove("metadata");
    }
    v.insert(
        "htmlPath".into(),
        json!(format!("/project/sandbox-project/traces/{}", t.id)),
    );
    v
}
