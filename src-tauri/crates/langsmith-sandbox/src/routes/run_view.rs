//! A stored run as LangSmith answers it: v1 `RunSchema` (with tokens and costs rolled up from
//! descendants into chains, as LangSmith does) and v2 `RunResponse` (only the selected fields).

use serde_json::{Map, Value, json};

use crate::store::{Run, Store};

/// The run's usage as LangSmith reports it: its own on llm/embedding runs, the sum of its
/// llm/embedding descendants on every other run.
struct Usage {
    prompt: i64,
    completion: i64,
    total: i64,
    prompt_cost: Option<f64>,
    completion_cost: Option<f64>,
    total_cost: Option<f64>,
}

fn cost(v: &Map<String, Value>, k: &str) -> Option<f64> {
    match v.get(k)? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn own(v: &Map<String, Value>) -> Usage {
    let int = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    Usage {
        prompt: int("prompt_tokens"),
        completion: int("completion_tokens"),
        total: int("total_tokens"),
        prompt_cost: cost(v, "prompt_cost"),
        completion_cost: cost(v, "completion_cost"),
        total_cost: cost(v, "total_cost"),
    }
}

fn is_model(r: &Run) -> bool {
    matches!(r.str("run_type"), Some("llm" | "embedding"))
}

fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    }
}

fn usage(store: &Store, run: &Run) -> Usage {
    if is_model(run) {
        return own(&run.v);
    }
    let prefix = format!("{}.", run.dotted_order());
    let trace = run.str("trace_id").unwrap_or_default();
    let mut u = Usage {
        prompt: 0,
        completion: 0,
        total: 0,
        prompt_cost: None,
        completion_cost: None,
        total_cost: None,
    };
    for d in store
        .trace_runs(trace)
        .filter(|d| is_model(d) && d.dotted_order().starts_with(&prefix))
    {
        let o = own(&d.v);
        u.prompt += o.prompt;
        u.completion += o.completion;
        u.total += o.total;
        u.prompt_cost = add(u.prompt_cost, o.prompt_cost);
        u.completion_cost = add(u.completion_cost, o.completion_cost);
        u.total_cost = add(u.total_cost, o.total_cost);
    }
    u
}

fn decimal(c: Option<f64>) -> Value {
    c.map(|c| json!(format!("{c:.6}"))).unwrap_or(Value::Null)
}

/// Every field of v1 `RunSchema`.
pub fn v1(store: &Store, run: &Run) -> Map<String, Value> {
    let mut m = run.v.clone();
    let u = usage(store, run);
    let g = |k: &str| m.get(k).cloned().unwrap_or(Value::Null);
    let session = g("session_id");
    let id = g("id");
    let trace = g("trace_id");
    let start = g("start_time");
    m.insert("prompt_tokens".into(), json!(u.prompt));
    m.insert("completion_tokens".into(), json!(u.completion));
    m.insert("total_tokens".into(), json!(u.total));
    m.insert("prompt_cost".into(), decimal(u.prompt_cost));
    m.insert("completion_cost".into(), decimal(u.completion_cost));
    m.insert("total_cost".into(), decimal(u.total_cost));
    let parents = run.ancestors();
    if !m.contains_key("parent_run_id") || m["parent_run_id"].is_null() {
        m.insert("parent_run_id".into(), json!(parents.last()));
    }
    m.insert("parent_run_ids".into(), json!(parents));
    m.insert(
        "app_path".into(),
        json!(format!(
            "/o/{}/projects/p/{}/r/{}?trace_id={}&start_time={}",
            store.tenant_id,
            session.as_str().unwrap_or_default(),
            id.as_str().unwrap_or_default(),
            trace.as_str().unwrap_or_default(),
            start.as_str().unwrap_or_default()
        )),
    );
    m.insert("execution_order".into(), json!(1));
    m.insert("trace_tier".into(), json!("longlived"));
    for k in [
        "end_time",
        "extra",
        "error",
        "serialized",
        "inputs",
        "outputs",
        "events",
        "tags",
        "reference_example_id",
        "first_token_time",
        "prompt_token_details",
        "completion_token_details",
        "prompt_cost_details",
        "completion_cost_details",
        "feedback_stats",
        "child_run_ids",
        "direct_child_run_ids",
        "manifest_id",
        "price_model_id",
    ] {
        m.entry(k.to_string()).or_insert(Value::Null);
    }
    m.insert("in_dataset".into(), json!(false));
    m
}

/// The fields RunSchema requires; v1 answers them whatever `select` says.
const V1_REQUIRED: [&str; 8] = [
    "name",
    "run_type",
    "trace_id",
    "dotted_order",
    "id",
    "status",
    "session_id",
    "app_path",
];

pub fn v1_selected(store: &Store, run: &Run, select: Option<&[String]>) -> Value {
    let full = v1(store, run);
    let Some(sel) = select else {
        return Value::Object(full);
    };
    Value::Object(
        full.into_iter()
            .filter(|(k, _)| V1_REQUIRED.contains(&k.as_str()) || sel.iter().any(|s| s == k))
            .collect(),
    )
}

/// Selects v2 understands (upper case) and the field each answers.
pub const V2_SELECTS: [&str; 44] = [
    "ID",
    "NAME",
    "RUN_TYPE",
    "STATUS",
    "START_TIME",
    "END_TIME",
    "LATENCY_SECONDS",
    "FIRST_TOKEN_TIME",
    "ERROR",
    "ERROR_PREVIEW",
    "EXTRA",
    "METADATA",
    "EVENTS",
    "INPUTS",
    "INPUTS_PREVIEW",
    "OUTPUTS",
    "OUTPUTS_PREVIEW",
    "MANIFEST",
    "PARENT_RUN_IDS",
    "PROJECT_ID",
    "TRACE_ID",
    "THREAD_ID",
    "DOTTED_ORDER",
    "IS_ROOT",
    "REFERENCE_EXAMPLE_ID",
    "REFERENCE_DATASET_ID",
    "TOTAL_TOKENS",
    "PROMPT_TOKENS",
    "COMPLETION_TOKENS",
    "TOTAL_COST",
    "PROMPT_COST",
    "COMPLETION_COST",
    "PROMPT_TOKEN_DETAILS",
    "COMPLETION_TOKEN_DETAILS",
    "PROMPT_COST_DETAILS",
    "COMPLETION_COST_DETAILS",
    "PRICE_MODEL_ID",
    "TAGS",
    "APP_PATH",
    "ATTACHMENTS",
    "THREAD_EVALUATION_TIME",
    "IS_IN_DATASET",
    "SHARE_URL",
    "FEEDBACK_STATS",
];

fn preview(v: &Value) -> Value {
    let s = v.to_string();
    json!(s.chars().take(150).collect::<String>())
}

fn raw_ints(v: &Value) -> Value {
    match v {
        Value::Object(m) => json!({"raw": m}),
        _ => Value::Null,
    }
}

fn raw_costs(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let raw: Map<String, Value> = m
                .iter()
                .map(|(k, c)| {
                    let f = match c {
                        Value::String(s) => s.parse::<f64>().unwrap_or(0.0),
                        other => other.as_f64().unwrap_or(0.0),
                    };
                    (k.clone(), json!(f))
                })
                .collect();
            json!({"raw": raw})
        }
        _ => Value::Null,
    }
}

/// A v2 `RunResponse` with `ID` and the selected fields; absent values are left out (Go's
/// `omitempty`), run type and status are upper case, costs are numbers.
pub fn v2(store: &Store, run: &Run, selects: &[String], reference_dataset: Option<&str>) -> Value {
    let full = v1(store, run);
    let g = |k: &str| full.get(k).cloned().unwrap_or(Value::Null);
    let metadata = full
        .get("extra")
        .and_then(|e| e.get("metadata"))
        .cloned()
        .unwrap_or(Value::Null);
    let mut out = Map::new();
    out.insert("id".into(), g("id"));
    for s in selects {
        let (key, val) = match s.as_str() {
            "ID" => continue,
            "NAME" => ("name", g("name")),
            "RUN_TYPE" => (
                "run_type",
                json!(g("run_type").as_str().unwrap_or("chain").to_uppercase()),
            ),
            "STATUS" => (
                "status",
                json!(g("status").as_str().unwrap_or("pending").to_uppercase()),
            ),
            "START_TIME" => ("start_time", g("start_time")),
            "END_TIME" => ("end_time", g("end_time")),
            "LATENCY_SECONDS" => {
                let end = g("end_time").as_str().and_then(crate::timefmt::parse_us);
                (
                    "latency_seconds",
                    end.map(|e| json!((e - run.start_us) as f64 / 1e6))
                        .unwrap_or(Value::Null),
                )
            }
            "FIRST_TOKEN_TIME" => ("first_token_time", g("first_token_time")),
            "ERROR" => ("error", g("error")),
            "ERROR_PREVIEW" => ("error_preview", g("error")),
            "EXTRA" => ("extra", g("extra")),
            "METADATA" => ("metadata", metadata.clone()),
            "EVENTS" => ("events", g("events")),
            "INPUTS" => ("inputs", g("inputs")),
            "INPUTS_PREVIEW" => ("inputs_preview", preview(&g("inputs"))),
            "OUTPUTS" => ("outputs", g("outputs")),
            "OUTPUTS_PREVIEW" => ("outputs_preview", preview(&g("outputs"))),
            "PARENT_RUN_IDS" => ("parent_run_ids", g("parent_run_ids")),
            "PROJECT_ID" => ("project_id", g("session_id")),
            "TRACE_ID" => ("trace_id", g("trace_id")),
            "THREAD_ID" => (
                "thread_id",
                ["thread_id", "session_id", "conversation_id"]
                    .iter()
                    // The spec types `thread_id` as a UUID: other conversation ids stay in metadata.
                    .find_map(|k| {
                        metadata
                            .get(*k)
                            .and_then(Value::as_str)
                            .filter(|v| uuid::Uuid::parse_str(v).is_ok())
                            .map(|v| json!(v))
                    })
                    .unwrap_or(Value::Null),
            ),
            "DOTTED_ORDER" => ("dotted_order", g("dotted_order")),
            "IS_ROOT" => ("is_root", json!(run.is_root())),
            "REFERENCE_EXAMPLE_ID" => ("reference_example_id", g("reference_example_id")),
            "REFERENCE_DATASET_ID" => ("reference_dataset_id", json!(reference_dataset)),
            "TOTAL_TOKENS" => ("total_tokens", g("total_tokens")),
            "PROMPT_TOKENS" => ("prompt_tokens", g("prompt_tokens")),
            "COMPLETION_TOKENS" => ("completion_tokens", g("completion_tokens")),
            "TOTAL_COST" => ("total_cost", num(&g("total_cost"))),
            "PROMPT_COST" => ("prompt_cost", num(&g("prompt_cost"))),
            "COMPLETION_COST" => ("completion_cost", num(&g("completion_cost"))),
            "PROMPT_TOKEN_DETAILS" => {
                ("prompt_token_details", raw_ints(&g("prompt_token_details")))
            }
            "COMPLETION_TOKEN_DETAILS" => (
                "completion_token_details",
                raw_ints(&g("completion_token_details")),
            ),
            "PROMPT_COST_DETAILS" => ("prompt_cost_details", raw_costs(&g("prompt_cost_details"))),
            "COMPLETION_COST_DETAILS" => (
                "completion_cost_details",
                raw_costs(&g("completion_cost_details")),
            ),
            "TAGS" => ("tags", g("tags")),
            "APP_PATH" => ("app_path", g("app_path")),
            "IS_IN_DATASET" => ("is_in_dataset", json!(false)),
            _ => continue,
        };
        if !val.is_null() {
            out.insert(key.into(), val);
        }
    }
    Value::Object(out)
}

fn num(v: &Value) -> Value {
    match v {
        Value::String(s) => s.parse::<f64>().map(|f| json!(f)).unwrap_or(Value::Null),
        other => other.clone(),
    }
}
