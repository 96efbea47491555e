//! The v4 model: there is no trace table. A trace and a session are built when read from the
//! observation rows that carry their columns (langfuse-otel-mapping.md §6, "Events trace").

use std::collections::HashMap;

use super::{ObsRow, SessionRow, Store, TraceRow};

fn non_empty(s: &Option<String>) -> Option<&String> {
    s.as_ref().filter(|s| !s.is_empty())
}

/// Traces derived from the observation rows visible at `now` (server clock ms).
pub fn traces(store: &Store, now: u64) -> Vec<TraceRow> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<&str, Vec<&ObsRow>> = HashMap::new();
    for (_, o) in store.observations.iter() {
        if o.visible_at > now {
            continue;
        }
        let Some(t) = o.trace_id.as_deref() else {
            continue;
        };
        let g = groups.entry(t).or_default();
        if g.is_empty() {
            order.push(t.to_string());
        }
        g.push(o);
    }
    order
        .iter()
        .map(|id| derive_trace(id, &groups[id.as_str()]))
        .collect()
}

/// One trace from its rows, given in insertion order.
pub fn derive_trace(id: &str, rows: &[&ObsRow]) -> TraceRow {
    let root = rows.iter().rev().find(|o| o.is_root());
    let latest = |f: fn(&ObsRow) -> Option<&String>| -> Option<String> {
        rows.iter().rev().find_map(|o| f(o)).cloned()
    };
    let name = latest(|o| non_empty(&o.trace_name)).or_else(|| root.and_then(|r| r.name.clone()));
    let tags = rows
        .iter()
        .rev()
        .find(|o| !o.tags.is_empty())
        .map(|o| o.tags.clone())
        .unwrap_or_default();
    TraceRow {
        id: id.to_string(),
        timestamp: rows.iter().map(|o| o.start_time).min().unwrap_or_default(),
        name,
        input: root.and_then(|r| r.input.clone()),
        output: root.and_then(|r| r.output.clone()),
        session_id: latest(|o| non_empty(&o.session_id)),
        release: latest(|o| non_empty(&o.release)),
        version: root.and_then(|r| r.version.clone()),
        user_id: latest(|o| non_empty(&o.user_id)),
        metadata: root.and_then(|r| r.trace_metadata.clone().or_else(|| r.metadata.clone())),
        tags,
        public: rows.iter().any(|o| o.public),
        environment: rows
            .last()
            .map(|o| o.environment.clone())
            .unwrap_or_else(super::default_env),
        created_at: rows.iter().map(|o| o.created_at).min().unwrap_or_default(),
        updated_at: rows.iter().map(|o| o.updated_at).max().unwrap_or_default(),
        visible_at: 0,
    }
}

/// Sessions derived from the observation rows visible at `now`.
pub fn sessions(store: &Store, now: u64) -> Vec<SessionRow> {
    let mut out: Vec<SessionRow> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (_, o) in store.observations.iter() {
        if o.visible_at > now {
            continue;
        }
        let Some(s) = non_empty(&o.session_id) else {
            continue;
        };
        match index.get(s) {
            Some(i) => {
                let row = &mut out[*i];
                row.created_at = row.created_at.min(o.start_time);
            }
            None => {
                index.insert(s.clone(), out.len());
                out.push(SessionRow {
                    id: s.clone(),
                    created_at: o.start_time,
                    project_id: store.project_id.clone(),
                    environment: o.environment.clone(),
                    visible_at: 0,
                });
            }
        }
    }
    out
}
