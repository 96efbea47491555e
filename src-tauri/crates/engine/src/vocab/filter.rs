//! Client-side scope filtering: the time window `[from, to)` and the plan's filters, applied to
//! records whether or not the source could filter on the server. Trace names and tags choose
//! traces only; `trace_scope` makes the rest follow them.

use super::model::{Entity, RawObject};
use super::scope::Scope;
use chrono::{DateTime, Utc};

/// The timestamp field that places an object in the time window, if the entity has one.
pub fn time_field(entity: Entity) -> Option<&'static str> {
    match entity {
        Entity::Traces | Entity::Scores => Some("timestamp"),
        Entity::Observations => Some("startTime"),
        _ => None,
    }
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

pub fn in_scope(entity: Entity, body: &RawObject, scope: &Scope) -> bool {
    if let Some(f) = time_field(entity)
        && let Some(t) = body.str(f).as_deref().and_then(parse_time)
        && (t < scope.from || t >= scope.to)
    {
        return false;
    }
    if !scope.environments.is_empty()
        && matches!(
            entity,
            Entity::Traces | Entity::Observations | Entity::Scores
        )
    {
        let env = body.str("environment").unwrap_or_else(|| "default".into());
        if !scope.environments.contains(&env) {
            return false;
        }
    }
    // Names and tags are a trace's: other objects follow their trace (see `trace_scope`).
    if entity == Entity::Traces && !scope.trace_names.is_empty() {
        let name = body.str("name");
        if !name.is_some_and(|n| scope.trace_names.contains(&n)) {
            return false;
        }
    }
    if entity == Entity::Traces && !scope.tags.is_empty() {
        let tags: Vec<String> = body
            .get("tags")
            .and_then(|v| serde_json::from_str(v.get()).ok())
            .unwrap_or_default();
        if !scope.tags.iter().any(|t| tags.contains(t)) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_half_open() {
        let s = Scope {
            from: parse_time("2024-01-01T00:00:00Z").unwrap(),
            to: parse_time("2024-01-02T00:00:00Z").unwrap(),
            ..Scope::default()
        };
        let at = |t: &str| RawObject::from_json(&format!(r#"{{"startTime":"{t}"}}"#)).unwrap();
        assert!(in_scope(
            Entity::Observations,
            &at("2024-01-01T00:00:00.000Z"),
            &s
        ));
        assert!(!in_scope(
            Entity::Observations,
            &at("2024-01-02T00:00:00.000Z"),
            &s
        ));
        assert!(!in_scope(
            Entity::Observations,
            &at("2023-12-31T23:59:59.999Z"),
            &s
        ));
    }
}
