//! Dashboards and their widgets (`unstable/dashboards`, `unstable/dashboard-widgets`; served on
//! the current API only). A widget is a saved query (view, dimensions, metrics, filters) with a
//! chart; a dashboard places widgets (or Langfuse's presets) on a grid. A widget placement must
//! name a widget of the project; a placement may bring its own id. Deleting a widget takes its
//! placements off the dashboards.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::params::{DEFAULT_PAGE_CAP, Page, Params, paged};
use crate::state::AppState;
use crate::store::{DashboardRow, DashboardWidgetRow, Store, new_id};
use crate::timefmt::{fmt, now_ms};

const VIEWS: [&str; 4] = [
    "observations",
    "scores-numeric",
    "scores-boolean",
    "scores-categorical",
];
const CHARTS: [&str; 9] = [
    "LINE_TIME_SERIES",
    "AREA_TIME_SERIES",
    "BAR_TIME_SERIES",
    "HORIZONTAL_BAR",
    "VERTICAL_BAR",
    "PIE",
    "NUMBER",
    "HISTOGRAM",
    "PIVOT_TABLE",
];
const AGGREGATIONS: [&str; 12] = [
    "sum",
    "avg",
    "count",
    "max",
    "min",
    "p50",
    "p75",
    "p90",
    "p95",
    "p99",
    "histogram",
    "uniq",
];

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad(msg)
}

fn widget_view(w: &DashboardWidgetRow) -> Value {
    json!({
        "id": w.id,
        "createdAt": fmt(w.created_at),
        "updatedAt": fmt(w.updated_at),
        "name": w.name,
        "description": w.description,
        "view": w.view,
        "dimensions": w.dimensions,
        "metrics": w.metrics,
        "filters": w.filters,
        "chartType": w.chart_type,
        "chartConfig": w.chart_config,
    })
}

fn dashboard_view(d: &DashboardRow) -> Value {
    json!({
        "id": d.id,
        "createdAt": fmt(d.created_at),
        "updatedAt": fmt(d.updated_at),
        "name": d.name,
        "description": d.description,
        "definition": {"widgets": d.placements},
        "filters": d.filters,
    })
}

fn list_of(v: Option<&Value>, what: &str) -> ApiResult<Option<Vec<Value>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a.clone())),
        Some(_) => Err(bad(format!("{what}: Expected array"))),
    }
}

fn check_filters(filters: &[Value]) -> ApiResult<()> {
    for f in filters {
        for k in ["column", "operator", "type"] {
            if !f[k].is_string() {
                return Err(bad(format!("filters: every filter needs a string {k}")));
            }
        }
    }
    Ok(())
}

/// Applies a create or update body to a widget (all of it on create).
fn apply_widget(w: &mut DashboardWidgetRow, req: &Value, create: bool) -> ApiResult<()> {
    if let Some(n) = req["name"].as_str() {
        if n.trim().is_empty() {
            return Err(bad("name: must not be empty"));
        }
        w.name = n.into();
    }
    if let Some(d) = req["description"].as_str() {
        w.description = d.into();
    }
    if let Some(v) = req["view"].as_str() {
        if !VIEWS.contains(&v) {
            return Err(bad(format!("view: Invalid enum value `{v}`")));
        }
        w.view = v.into();
    }
    if let Some(dims) = list_of(req.get("dimensions"), "dimensions")? {
        if !dims.iter().all(|d| d["field"].is_string()) {
            return Err(bad("dimensions: every dimension needs a field"));
        }
        w.dimensions = dims;
    }
    if let Some(metrics) = list_of(req.get("metrics"), "metrics")? {
        for m in &metrics {
            let agg = m["agg"].as_str().unwrap_or_default();
            if !m["measure"].is_string() || !AGGREGATIONS.contains(&agg) {
                return Err(bad("metrics: every metric needs a measure and a known agg"));
            }
        }
        w.metrics = metrics;
    }
    if let Some(filters) = list_of(req.get("filters"), "filters")? {
        check_filters(&filters)?;
        w.filters = filters;
    }
    if let Some(c) = req["chartType"].as_str() {
        if !CHARTS.contains(&c) {
            return Err(bad(format!("chartType: Invalid enum value `{c}`")));
        }
        w.chart_type = c.into();
    }
    if let Some(cfg) = req.get("chartConfig").filter(|c| c.is_object()) {
        w.chart_config = cfg.clone();
    }
    if create && (w.view.is_empty() || w.chart_type.is_empty() || w.metrics.is_empty()) {
        return Err(bad("view, metrics and chartType are required"));
    }
    // The chart config always names its chart.
    if !w.chart_config.is_object() {
        w.chart_config = json!({});
    }
    w.chart_config["type"] = json!(w.chart_type);
    Ok(())
}

fn widget_slot(store: &Store, id: &str) -> ApiResult<u32> {
    store
        .dashboard_widgets
        .first_of(id)
        .ok_or_else(|| ApiError::not_found("Dashboard widget not found"))
}

fn dashboard_slot(store: &Store, id: &str) -> ApiResult<u32> {
    store
        .dashboards
        .first_of(id)
        .ok_or_else(|| ApiError::not_found("Dashboard not found"))
}

pub async fn create_widget(State(st): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let req: Value = crate::body::json(body).await?;
    let now = now_ms();
    let mut w = DashboardWidgetRow {
        id: new_id(),
        name: String::new(),
        description: String::new(),
        view: String::new(),
        dimensions: vec![],
        metrics: vec![],
        filters: vec![],
        chart_type: String::new(),
        chart_config: Value::Null,
        created_at: now,
        updated_at: now,
        visible_at: 0,
    };
    if req["name"].as_str().is_none() {
        return Err(bad("name: Required"));
    }
    apply_widget(&mut w, &req, true)?;
    let out = widget_view(&w);
    st.store.write().dashboard_widgets.insert(w);
    Ok(Json(out))
}

fn listed<T>(rows: Vec<&T>, q: Option<&str>, view: impl Fn(&T) -> Value) -> ApiResult<Json<Value>> {
    let page = Page::parse(&Params::parse(q), DEFAULT_PAGE_CAP)?;
    let (rows, total) = page.take(rows.into_iter());
    Ok(Json(paged(
        rows.into_iter().map(view).collect(),
        &page,
        total,
    )))
}

pub async fn list_widgets(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let store = st.store.read();
    let mut rows: Vec<&DashboardWidgetRow> =
        store.dashboard_widgets.iter().map(|(_, w)| w).collect();
    rows.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    listed(rows, q.as_deref(), widget_view)
}

pub async fn get_widget(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let store = st.store.read();
    let w = store
        .dashboard_widgets
        .get(widget_slot(&store, &id)?)
        .expect("live slot");
    Ok(Json(widget_view(w)))
}

pub async fn update_widget(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let req: Value = crate::body::json(body).await?;
    let mut store = st.store.write();
    let s = widget_slot(&store, &id)?;
    let mut w = store.dashboard_widgets.get(s).expect("live slot").clone();
    apply_widget(&mut w, &req, false)?;
    w.updated_at = now_ms();
    let out = widget_view(&w);
    store.dashboard_widgets.replace(s, w);
    Ok(Json(out))
}

pub async fn delete_widget(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let mut store = st.store.write();
    let s = widget_slot(&store, &id)?;
    store.dashboard_widgets.remove(s);
    let slots: Vec<u32> = store.dashboards.iter().map(|(s, _)| s).collect();
    for d in slots {
        let dash = store.dashboards.get_mut(d).expect("live slot");
        dash.placements.retain(|p| p["widgetId"] != id.as_str());
    }
    Ok(Json(json!({"message": "Dashboard widget deleted"})))
}

/// A placement as stored: its type, id (given or new), what it shows, and its grid cell.
fn placement(store: &Store, p: &Value) -> ApiResult<Value> {
    let kind = p["type"].as_str().unwrap_or_default();
    let id = p["id"].as_str().map(str::to_string).unwrap_or_else(new_id);
    let mut out = json!({
        "type": kind,
        "id": id,
        "x": p["x"].as_i64().unwrap_or(0),
        "y": p["y"].as_i64().unwrap_or(0),
        "width": p["width"].as_i64().unwrap_or(6),
        "height": p["height"].as_i64().unwrap_or(6),
    });
    match kind {
        "widget" => {
            let w = p["widgetId"].as_str().unwrap_or_default();
            if store.dashboard_widgets.first_of(w).is_none() {
                return Err(bad(format!(
                    "widgetId: widget {w} does not exist in this project"
                )));
            }
            out["widgetId"] = json!(w);
        }
        "preset" => {
            let Some(preset) = p["presetId"].as_str() else {
                return Err(bad("presetId: Required"));
            };
            out["presetId"] = json!(preset);
        }
        other => return Err(bad(format!("type: Invalid enum value `{other}`"))),
    }
    Ok(out)
}

fn placements(store: &Store, definition: Option<&Value>) -> ApiResult<Option<Vec<Value>>> {
    let Some(d) = definition.filter(|d| !d.is_null()) else {
        return Ok(None);
    };
    list_of(d.get("widgets"), "definition.widgets")?
        .unwrap_or_default()
        .iter()
        .map(|p| placement(store, p))
        .collect::<ApiResult<Vec<_>>>()
        .map(Some)
}

pub async fn create_dashboard(State(st): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let req: Value = crate::body::json(body).await?;
    let Some(name) = req["name"].as_str().filter(|n| !n.trim().is_empty()) else {
        return Err(bad("name: Required"));
    };
    let mut store = st.store.write();
    let filters = list_of(req.get("filters"), "filters")?.unwrap_or_default();
    check_filters(&filters)?;
    let now = now_ms();
    let d = DashboardRow {
        id: new_id(),
        name: name.into(),
        description: req["description"].as_str().unwrap_or_default().into(),
        placements: placements(&store, req.get("definition"))?.unwrap_or_default(),
        filters,
        created_at: now,
        updated_at: now,
        visible_at: 0,
    };
    let out = dashboard_view(&d);
    store.dashboards.insert(d);
    Ok(Json(out))
}

pub async fn list_dashboards(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let store = st.store.read();
    let mut rows: Vec<&DashboardRow> = store.dashboards.iter().map(|(_, d)| d).collect();
    rows.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    listed(rows, q.as_deref(), dashboard_view)
}

pub async fn get_dashboard(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let store = st.store.read();
    let d = store
        .dashboards
        .get(dashboard_slot(&store, &id)?)
        .expect("live slot");
    Ok(Json(dashboard_view(d)))
}

pub async fn update_dashboard(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let req: Value = crate::body::json(body).await?;
    let mut store = st.store.write();
    let s = dashboard_slot(&store, &id)?;
    let mut d = store.dashboards.get(s).expect("live slot").clone();
    if let Some(n) = req["name"].as_str() {
        d.name = n.into();
    }
    if let Some(desc) = req["description"].as_str() {
        d.description = desc.into();
    }
    if let Some(p) = placements(&store, req.get("definition"))? {
        d.placements = p;
    }
    if let Some(f) = list_of(req.get("filters"), "filters")? {
        check_filters(&f)?;
        d.filters = f;
    }
    d.updated_at = now_ms();
    let out = dashboard_view(&d);
    store.dashboards.replace(s, d);
    Ok(Json(out))
}

pub async fn delete_dashboard(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let mut store = st.store.write();
    let s = dashboard_slot(&store, &id)?;
    store.dashboards.remove(s);
    Ok(Json(json!({"message": "Dashboard deleted"})))
}

pub async fn add_placement(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let req: Value = crate::body::json(body).await?;
    let mut store = st.store.write();
    let s = dashboard_slot(&store, &id)?;
    let p = placement(&store, &req)?;
    let d = store.dashboards.get_mut(s).expect("live slot");
    d.placements.push(p.clone());
    d.updated_at = now_ms();
    Ok(Json(p))
}

pub async fn update_placement(
    State(st): State<AppState>,
    Path((id, placement_id)): Path<(String, String)>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let req: Value = crate::body::json(body).await?;
    let mut store = st.store.write();
    let s = dashboard_slot(&store, &id)?;
    let d = store.dashboards.get_mut(s).expect("live slot");
    let p = d
        .placements
        .iter_mut()
        .find(|p| p["id"] == placement_id.as_str())
        .ok_or_else(|| ApiError::not_found("Placement not found"))?;
    for k in ["x", "y", "width", "height"] {
        if let Some(n) = req[k].as_i64() {
            p[k] = json!(n);
        }
    }
    Ok(Json(p.clone()))
}

pub async fn delete_placement(
    State(st): State<AppState>,
    Path((id, placement_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut store = st.store.write();
    let s = dashboard_slot(&store, &id)?;
    let d = store.dashboards.get_mut(s).expect("live slot");
    let before = d.placements.len();
    d.placements.retain(|p| p["id"] != placement_id.as_str());
    if d.placements.len() == before {
        return Err(ApiError::not_found("Placement not found"));
    }
    Ok(Json(json!({"message": "Placement deleted"})))
}
