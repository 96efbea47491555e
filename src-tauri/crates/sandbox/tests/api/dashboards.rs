//! Dashboards and widgets (`unstable`, current API only): widgets are checked (view, chart,
//! metrics) and listed in pages; a dashboard's widget placements must name the project's widgets
//! and may keep their own ids; placements are added, moved and removed; deleting a widget takes
//! it off the dashboards; older servers answer 404.

use super::common::*;
use langfuse_sandbox::{DASHBOARD_NAME, ServerProfile};
use reqwest::{Method, StatusCode};
use serde_json::json;

const WIDGETS: &str = "/api/public/unstable/dashboard-widgets";
const DASHBOARDS: &str = "/api/public/unstable/dashboards";

#[tokio::test]
async fn widgets_and_dashboards_are_created_placed_and_deleted() {
    let api = start_profile(ServerProfile::V4).await;
    let widget = json!({
        "name": "Traces per day", "view": "observations",
        "dimensions": [{"field": "name"}], "metrics": [{"measure": "count", "agg": "count"}],
        "filters": [], "chartType": "BAR_TIME_SERIES", "chartConfig": {"row_limit": 20}
    });
    let w = api
        .post("unstable_dashboardWidgets_create", WIDGETS, widget.clone())
        .await;
    assert_eq!(
        w["chartConfig"],
        json!({"type": "BAR_TIME_SERIES", "row_limit": 20})
    );
    let wid = w["id"].as_str().unwrap().to_string();
    let mut wrong = widget.clone();
    wrong["view"] = json!("traces");
    let r = api
        .op(
            "unstable_dashboardWidgets_create",
            Method::POST,
            WIDGETS,
            Some(wrong),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "the legacy view is read-only"
    );

    let missing = api
        .op(
            "unstable_dashboards_create",
            Method::POST,
            DASHBOARDS,
            Some(json!({"name": "d", "definition": {"widgets": [{"type": "widget", "widgetId": "nope"}]}})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let d = api
        .post(
            "unstable_dashboards_create",
            DASHBOARDS,
            json!({"name": "Ops", "definition": {"widgets": [
                {"type": "widget", "id": "keep-me", "widgetId": wid, "x": 0, "y": 0, "width": 4, "height": 3}
            ]}}),
        )
        .await;
    assert_eq!(d["definition"]["widgets"][0]["id"], "keep-me");
    assert_eq!(d["description"], "");
    let did = d["id"].as_str().unwrap().to_string();
    let added = api
        .post(
            "unstable_dashboards_addPlacement",
            &format!("{DASHBOARDS}/{did}/placements"),
            json!({"type": "preset", "presetId": "latency-percentiles"}),
        )
        .await;
    let pid = added["id"].as_str().unwrap();
    let moved = api
        .op(
            "unstable_dashboards_updatePlacement",
            Method::PATCH,
            &format!("{DASHBOARDS}/{did}/placements/{pid}"),
            Some(json!({"y": 3})),
        )
        .await;
    assert_eq!(moved.body["y"], 3);
    api.op(
        "unstable_dashboardWidgets_delete",
        Method::DELETE,
        &format!("{WIDGETS}/{wid}"),
        None,
    )
    .await;
    let d = api
        .get("unstable_dashboards_get", &format!("{DASHBOARDS}/{did}"))
        .await;
    assert_eq!(d["definition"]["widgets"].as_array().unwrap().len(), 1);
    let del = api
        .op(
            "unstable_dashboards_delete",
            Method::DELETE,
            &format!("{DASHBOARDS}/{did}"),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::OK);
    assert_eq!(
        api.status(Method::GET, &format!("{DASHBOARDS}/{did}"))
            .await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_settings_sample_holds_a_dashboard_and_older_servers_have_none() {
    let api = start_profile(ServerProfile::V4).await;
    api.sb.load_settings_sample();
    let list = api
        .get(
            "unstable_dashboards_list",
            &format!("{DASHBOARDS}?page=1&limit=10"),
        )
        .await;
    assert_eq!(list["data"][0]["name"], DASHBOARD_NAME);
    assert_eq!(list["meta"]["totalItems"], 1);
    let widgets = api.get("unstable_dashboardWidgets_list", WIDGETS).await;
    assert_eq!(widgets["data"].as_array().unwrap().len(), 2);
    for profile in [ServerProfile::V3, ServerProfile::V4_16] {
        let old = start_profile(profile).await;
        assert_eq!(
            old.status(Method::GET, DASHBOARDS).await,
            StatusCode::NOT_FOUND,
            "{profile:?}"
        );
    }
}
