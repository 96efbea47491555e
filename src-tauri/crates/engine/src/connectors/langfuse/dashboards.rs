//! Dashboards and their widgets, through the API's `unstable/dashboard-widgets` and
//! `unstable/dashboards` (Langfuse marks them unstable; servers without them answer 404 and
//! are named as lacking them). A widget is created with its query and chart; a dashboard with
//! its filters and placements, each placement keeping its id and pointing at the target's copy
//! of its widget (the pipeline maps them through the journal). Langfuse's preset placements are
//! copied as they are.

use super::Langfuse;
use super::evaluators::{parsed, without_nulls};
use crate::connectors::traits::{ExistingKey, Page, WriteOutcome};
use crate::vocab::{EngineError, Entity, RawObject, Record};

pub(crate) const WIDGETS: &str = "/api/public/unstable/dashboard-widgets";
pub(crate) const DASHBOARDS: &str = "/api/public/unstable/dashboards";

/// The field the pipeline sets on a dashboard to the widget ids the target lacks.
pub(crate) const MISSING_WIDGETS: &str = "missingWidgets";

/// What the user reads when a side lacks the API.
pub fn lacking(side: &str, version: &str) -> String {
    format!(
        "The {side} (Langfuse {version}) does not offer dashboards through its API (Langfuse marks it unstable): dashboards and their widgets are not copied; recreate them in the target's Langfuse (Dashboards) after the run."
    )
}

fn path(entity: Entity) -> &'static str {
    if entity == Entity::Dashboards {
        DASHBOARDS
    } else {
        WIDGETS
    }
}

impl Langfuse {
    pub(crate) async fn read_dashboard_page(
        &self,
        entity: Entity,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let page: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(1);
        let what = format!("reading {entity}");
        let Some((data, more)) = self.listing_if_served(path(entity), page, &what).await? else {
            return Ok(Page::default());
        };
        Ok(Page {
            records: data
                .into_iter()
                .filter_map(|o| Some(Record::new(entity, o.str("id")?, o)))
                .collect(),
            next: more.then(|| (page + 1).to_string()),
        })
    }

    /// The target's widgets or dashboards by natural key (a project holds few).
    pub(crate) async fn existing_dashboard_keys(
        &self,
        entity: Entity,
    ) -> Result<Vec<ExistingKey>, EngineError> {
        let mut keys = vec![];
        let mut cursor = None;
        loop {
            let p = self.read_dashboard_page(entity, cursor).await?;
            keys.extend(p.records.iter().filter_map(|r| {
                Some(ExistingKey {
                    key: crate::vocab::natural_key(entity, &r.body)?,
                    target_id: Some(r.id.clone()),
                })
            }));
            match p.next {
                Some(n) => cursor = Some(n),
                None => return Ok(keys),
            }
        }
    }

    pub(crate) async fn write_dashboard_object(&self, entity: Entity, r: &Record) -> WriteOutcome {
        let name = r.body.str("name").unwrap_or_default();
        let body = match entity {
            Entity::Dashboards => match dashboard_body(&r.body) {
                Ok(b) => b,
                Err(why) => return WriteOutcome::Failed(why),
            },
            _ => widget_body(&r.body),
        };
        match self.send_json(path(entity), &body).await {
            Ok(created) => WriteOutcome::Written {
                target_id: created.str("id"),
                object_id: None,
                warning: None,
            },
            Err(crate::connectors::http::HttpFailure::Rejected { status: 404, .. }) => {
                WriteOutcome::Failed(format!(
                    "the target (Langfuse {}) does not offer {entity} through its API; create \"{name}\" in its UI by hand",
                    self.info.server_version
                ))
            }
            Err(f) => super::write::failure_outcome(&f),
        }
    }
}

fn widget_body(o: &RawObject) -> RawObject {
    let mut b = RawObject::new();
    for k in [
        "name",
        "description",
        "view",
        "dimensions",
        "metrics",
        "filters",
        "chartType",
    ] {
        if let Some(v) = o.get_present(k) {
            b.set_raw(k, v.to_owned());
        }
    }
    if let Some(cfg) = parsed(o, "chartConfig") {
        b.set("chartConfig", &without_nulls(&cfg));
    }
    b
}

fn dashboard_body(o: &RawObject) -> Result<RawObject, String> {
    let name = o.str("name").unwrap_or_default();
    let missing: Vec<String> = parsed(o, MISSING_WIDGETS)
        .and_then(|m| serde_json::from_value(m).ok())
        .unwrap_or_default();
    if !missing.is_empty() {
        return Err(format!(
            "dashboard \"{name}\" shows widgets that were not copied to the target ({}): copy the dashboard widgets first (or place them again in the target's Langfuse)",
            missing.join(", ")
        ));
    }
    let mut b = RawObject::new();
    for k in ["name", "description", "filters", "definition"] {
        if let Some(v) = o.get_present(k) {
            b.set_raw(k, v.to_owned());
        }
    }
    Ok(b)
}
