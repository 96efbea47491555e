//! Langfuse's legacy merge of a re-sent trace or observation (v2/v3 upsert): new values win
//! except absent ones and `{}`; metadata is deep-merged; tags are unioned; a few fields never
//! change after the first write.

use serde_json::Value;

use crate::store::{ObsRow, Raw, TraceRow, raw};

fn is_empty_object(r: &Raw) -> bool {
    r.get().trim() == "{}"
}

fn take_raw(old: &mut Option<Raw>, new: Option<Raw>) {
    if let Some(n) = new
        && !is_empty_object(&n)
    {
        *old = Some(n);
    }
}

fn take<T>(old: &mut Option<T>, new: Option<T>) {
    if new.is_some() {
        *old = new;
    }
}

fn deep_merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                deep_merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn merge_metadata(old: &mut Option<Raw>, new: Option<Raw>) {
    let Some(new) = new else { return };
    match old {
        None => *old = Some(new),
        Some(o) => {
            let mut a: Value = serde_json::from_str(o.get()).unwrap_or(Value::Null);
            let b: Value = serde_json::from_str(new.get()).unwrap_or(Value::Null);
            if a.is_object() && b.is_object() {
                deep_merge(&mut a, b);
                *old = Some(raw(&a));
            } else {
                *old = Some(new);
            }
        }
    }
}

pub fn merge_trace(old: &mut TraceRow, new: TraceRow) {
    take(&mut old.name, new.name);
    take_raw(&mut old.input, new.input);
    take_raw(&mut old.output, new.output);
    take(&mut old.session_id, new.session_id);
    take(&mut old.release, new.release);
    take(&mut old.version, new.version);
    take(&mut old.user_id, new.user_id);
    merge_metadata(&mut old.metadata, new.metadata);
    for t in new.tags {
        if !old.tags.contains(&t) {
            old.tags.push(t);
        }
    }
    old.public = old.public || new.public;
    old.updated_at = new.updated_at;
}

/// `new_fields` says which optional scalar fields the update actually carried.
pub fn merge_obs(old: &mut ObsRow, new: ObsRow, level_given: bool) {
    if old.kind == "SPAN" || new.kind != "SPAN" {
        old.kind = new.kind;
    }
    take(&mut old.name, new.name);
    take(&mut old.end_time, new.end_time);
    take(&mut old.completion_start_time, new.completion_start_time);
    take(&mut old.model, new.model);
    take_raw(&mut old.model_parameters, new.model_parameters);
    take_raw(&mut old.input, new.input);
    take_raw(&mut old.output, new.output);
    merge_metadata(&mut old.metadata, new.metadata);
    take(&mut old.version, new.version);
    if level_given {
        old.level = new.level;
    }
    take(&mut old.status_message, new.status_message);
    take(&mut old.parent_observation_id, new.parent_observation_id);
    take(&mut old.prompt_id, new.prompt_id);
    take(&mut old.prompt_name, new.prompt_name);
    take(&mut old.prompt_version, new.prompt_version);
    if !new.usage_details.is_empty() {
        old.usage_details = new.usage_details;
    }
    if !new.cost_details.is_empty() {
        old.cost_details = new.cost_details;
    }
    old.updated_at = new.updated_at;
}
