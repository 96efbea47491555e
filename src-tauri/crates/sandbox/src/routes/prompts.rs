//! Prompts: server-assigned version numbers, labels unique across versions, `latest` managed by
//! the server, tags shared by all versions of a prompt.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::params::{DEFAULT_PAGE_CAP, Page, Params, paged};
use crate::state::AppState;
use crate::store::{PromptRow, Raw, Slot, Store, empty_object, new_id, to_value};
use crate::timefmt::{fmt, now_ms};

const LATEST: &str = "latest";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatePrompt {
    name: String,
    prompt: Raw,
    config: Option<Raw>,
    #[serde(rename = "type")]
    kind: Option<String>,
    labels: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    commit_message: Option<String>,
}

fn slots_of_name(store: &Store, name: &str) -> Vec<Slot> {
    store
        .prompts
        .iter()
        .filter(|(_, p)| p.name == name)
        .map(|(s, _)| s)
        .collect()
}

fn validate_prompt(kind: &str, prompt: &Raw) -> Result<(), String> {
    let v: Value = serde_json::from_str(prompt.get()).map_err(|e| e.to_string())?;
    match (kind, &v) {
        ("text", Value::String(_)) => Ok(()),
        ("text", _) => Err("prompt: Expected string, received non-string for a text prompt".into()),
        ("chat", Value::Array(msgs)) => {
            for m in msgs {
                let is_placeholder = m.get("type").and_then(Value::as_str) == Some("placeholder")
                    && m.get("name").is_some_and(Value::is_string);
                let is_message = m.get("role").is_some_and(Value::is_string)
                    && m.get("content").is_some_and(Value::is_string);
                if !is_placeholder && !is_message {
                    return Err(format!("prompt: invalid chat message {m}"));
                }
            }
            Ok(())
        }
        ("chat", _) => Err("prompt: Expected array of chat messages".into()),
        (other, _) => Err(format!("type: Invalid enum value `{other}`")),
    }
}

/// Moves `labels` onto `slot`, removing them from the prompt's other versions.
fn assign_labels(store: &mut Store, name: &str, slot: Slot, labels: &[String]) {
    for s in slots_of_name(store, name) {
        if s != slot {
            let p = store.prompts.get_mut(s).expect("live");
            p.labels.retain(|l| !labels.contains(l));
        }
    }
    let p = store.prompts.get_mut(slot).expect("live");
    for l in labels {
        if !p.labels.contains(l) {
            p.labels.push(l.clone());
        }
    }
}

/// `latest` always sits on the highest version.
fn refresh_latest(store: &mut Store, name: &str) {
    let slots = slots_of_name(store, name);
    let newest = slots
        .iter()
        .copied()
        .max_by_key(|s| store.prompts.get(*s).map(|p| p.version));
    for s in slots {
        let p = store.prompts.get_mut(s).expect("live");
        p.labels.retain(|l| l != LATEST);
        if Some(s) == newest {
            p.labels.push(LATEST.to_string());
        }
    }
}

pub async fn create(State(st): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let req: CreatePrompt = crate::body::json(body).await?;
    let kind = req.kind.clone().unwrap_or_else(|| "text".into());
    validate_prompt(&kind, &req.prompt).map_err(ApiError::bad)?;
    let labels = req.labels.clone().unwrap_or_default();
    if labels.iter().any(|l| l == LATEST) {
        return Err(ApiError::bad(
            "The 'latest' label is reserved and managed by Langfuse",
        ));
    }
    let mut store = st.store.write();
    let existing = slots_of_name(&store, &req.name);
    let prev = existing
        .iter()
        .filter_map(|s| store.prompts.get(*s))
        .max_by_key(|p| p.version)
        .cloned();
    if let Some(prev) = &prev
        && prev.kind != kind
    {
        return Err(ApiError::bad(format!(
            "Previous versions have a different prompt type. Create a new prompt with a different name. Previous type: {}, new type: {}",
            prev.kind, kind
        )));
    }
    let tags = req
        .tags
        .clone()
        .or_else(|| prev.as_ref().map(|p| p.tags.clone()))
        .unwrap_or_default();
    let now = now_ms();
    let row = PromptRow {
        id: new_id(),
        name: req.name.clone(),
        version: prev.as_ref().map(|p| p.version + 1).unwrap_or(1),
        kind,
        prompt: req.prompt,
        config: req.config.unwrap_or_else(empty_object),
        labels: vec![],
        tags: tags.clone(),
        commit_message: req.commit_message,
        created_at: now,
        updated_at: now,
        visible_at: 0,
    };
    let slot = store.prompts.insert(row);
    assign_labels(&mut store, &req.name, slot, &labels);
    refresh_latest(&mut store, &req.name);
    if req.tags.is_some() {
        for s in existing {
            store.prompts.get_mut(s).expect("live").tags = tags.clone();
        }
    }
    Ok(Json(to_value(
        store.prompts.get(slot).expect("just inserted"),
    )))
}

pub async fn get(
    State(st): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let version = p.int("version")?;
    let label = p.get("label");
    if version.is_some() && label.is_some() {
        return Err(ApiError::bad("Cannot specify both version and label"));
    }
    let store = st.store.read();
    let found = slots_of_name(&store, &name)
        .into_iter()
        .filter_map(|s| store.prompts.get(s))
        .find(|pr| match version {
            Some(v) => pr.version == v,
            None => pr.labels.iter().any(|l| l == label.unwrap_or("production")),
        });
    let pr = found.ok_or_else(|| {
        ApiError::not_found(format!(
            "Prompt not found: '{name}' with {}",
            match version {
                Some(v) => format!("version {v}"),
                None => format!("label '{}'", label.unwrap_or("production")),
            }
        ))
    })?;
    Ok(Json(to_value(pr)))
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let page = Page::parse(&p, DEFAULT_PAGE_CAP)?;
    let (from, to) = (p.time("fromUpdatedAt")?, p.time("toUpdatedAt")?);
    let store = st.store.read();
    let mut by_name: BTreeMap<&str, Vec<&PromptRow>> = BTreeMap::new();
    for (_, pr) in store.prompts.iter() {
        if from.is_some_and(|f| pr.updated_at < f) || to.is_some_and(|t| pr.updated_at >= t) {
            continue;
        }
        by_name.entry(pr.name.as_str()).or_default().push(pr);
    }
    let metas = by_name.into_iter().filter_map(|(name, mut versions)| {
        versions.sort_by_key(|v| v.version);
        let labels: BTreeSet<&str> = versions
            .iter()
            .flat_map(|v| v.labels.iter().map(String::as_str))
            .collect();
        let last = versions.last()?;
        if p.get("name").is_some_and(|n| n != name)
            || p.get("label").is_some_and(|l| !labels.contains(l))
            || p.get("tag")
                .is_some_and(|t| !last.tags.iter().any(|x| x == t))
        {
            return None;
        }
        let config: Value = serde_json::from_str(last.config.get()).unwrap_or(Value::Null);
        Some(json!({
            "name": name,
            "type": last.kind,
            "versions": versions.iter().map(|v| v.version).collect::<Vec<_>>(),
            "labels": labels,
            "tags": last.tags,
            "lastUpdatedAt": fmt(versions.iter().map(|v| v.updated_at).max().unwrap_or_default()),
            "lastConfig": config,
        }))
    });
    let (rows, total) = page.take(metas);
    Ok(Json(paged(rows, &page, total)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateLabels {
    new_labels: Vec<String>,
}

pub async fn update_labels(
    State(st): State<AppState>,
    Path((name, version)): Path<(String, i64)>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let req: UpdateLabels = crate::body::json(body).await?;
    if req.new_labels.iter().any(|l| l == LATEST) {
        return Err(ApiError::bad(
            "The 'latest' label is reserved and managed by Langfuse",
        ));
    }
    let mut store = st.store.write();
    let slot = slots_of_name(&store, &name)
        .into_iter()
        .find(|s| store.prompts.get(*s).is_some_and(|p| p.version == version))
        .ok_or_else(|| ApiError::not_found("Prompt not found"))?;
    {
        let p = store.prompts.get_mut(slot).expect("live");
        p.labels.retain(|l| l == LATEST);
        p.updated_at = now_ms();
    }
    assign_labels(&mut store, &name, slot, &req.new_labels);
    Ok(Json(to_value(store.prompts.get(slot).expect("live"))))
}

pub async fn delete(
    State(st): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<StatusCode> {
    let p = Params::parse(q.as_deref());
    let version = p.int("version")?;
    let label = p.get("label");
    let mut store = st.store.write();
    let targets: Vec<Slot> = slots_of_name(&store, &name)
        .into_iter()
        .filter(|s| {
            let pr = store.prompts.get(*s).expect("live");
            version.is_none_or(|v| pr.version == v)
                && label.is_none_or(|l| pr.labels.iter().any(|x| x == l))
        })
        .collect();
    if targets.is_empty() {
        return Err(ApiError::not_found("Prompt not found"));
    }
    for s in targets {
        store.prompts.remove(s);
    }
    refresh_latest(&mut store, &name);
    Ok(StatusCode::NO_CONTENT)
}
