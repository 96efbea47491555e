//! The prompt hub: repos (`/repos`), their commits (`/commits/{owner}/{repo}`, newest first with
//! `total`) and tags. The private owner is `-`. A commit reference is `latest`, a tag, a hash or
//! a hash prefix of at least 8 characters. Pushing the manifest the repo already has is a 409,
//! as LangSmith answers "nothing to commit".

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::json_body;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use crate::store::Store;
use crate::timefmt;

fn now() -> String {
    timefmt::format_us(timefmt::now_us())
}

/// A repo as `RepoWithLookups`, with its commit count, latest hash and commit tags.
fn repo_view(store: &Store, r: &Value) -> Value {
    let handle = r["repo_handle"].as_str().unwrap_or_default();
    let commits = store.commits.get(handle);
    let mut v = r.clone();
    v["num_commits"] = json!(commits.map_or(0, Vec::len));
    v["last_commit_hash"] = json!(
        commits
            .and_then(|c| c.last())
            .map(|c| c["commit_hash"].clone())
    );
    v["commit_tags"] = json!(
        store
            .tags
            .get(handle)
            .map(|t| t.iter().map(|x| x["tag_name"].clone()).collect::<Vec<_>>())
            .unwrap_or_default()
    );
    v
}

fn owner_ok(owner: &str) -> ApiResult<()> {
    if owner == "-" {
        Ok(())
    } else {
        Err(ApiError::not_found("Repo not found"))
    }
}

/// Creates a repo; used by the route and by the sample generator.
pub fn insert_repo(store: &mut Store, b: &Value, id: Option<String>) -> ApiResult<Value> {
    let handle = b["repo_handle"]
        .as_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ApiError::invalid_body("repo_handle", "Field required", b.clone()))?;
    if store.repos.contains_key(handle) {
        return Err(ApiError::conflict("Repo already exists"));
    }
    let t = now();
    let r = json!({
        "repo_handle": handle,
        "description": b["description"].as_str().unwrap_or(""),
        "readme": b["readme"].as_str().unwrap_or(""),
        "id": id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        "tenant_id": store.tenant_id,
        "created_at": t, "updated_at": t,
        "is_public": b["is_public"].as_bool().unwrap_or(false),
        "is_archived": false,
        "tags": b["tags"].as_array().cloned().unwrap_or_default(),
        "original_repo_id": null, "upstream_repo_id": null,
        "repo_type": "prompt",
        "owner": null,
        "full_name": handle,
        "num_likes": 0, "num_downloads": 0, "num_views": 0,
        "liked_by_auth_user": false,
        "created_by": null,
    });
    store.repos.insert(handle.to_string(), r.clone());
    Ok(repo_view(store, &r))
}

pub async fn create(State(st): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    let b = json_body(&body)?;
    let r = insert_repo(&mut st.store.write(), &b, None)?;
    Ok(Json(json!({"repo": r})))
}

pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let (offset, limit) = p.page(20, 100)?;
    let query = p.get("query");
    let store = st.store.read();
    let items: Vec<&Value> = store
        .repos
        .values()
        .filter(|r| query.is_none_or(|q| r["repo_handle"].as_str().unwrap_or_default().contains(q)))
        .collect();
    let page: Vec<Value> = items
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| repo_view(&store, r))
        .collect();
    Ok(Json(json!({"repos": page, "total": items.len()})))
}

pub async fn read(
    State(st): State<AppState>,
    Path((owner, repo)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    owner_ok(&owner)?;
    let store = st.store.read();
    let r = store
        .repos
        .get(&repo)
        .ok_or_else(|| ApiError::not_found("Repo not found"))?;
    Ok(Json(json!({"repo": repo_view(&store, r)})))
}

fn go_404(what: &str) -> ApiError {
    ApiError::Go(StatusCode::NOT_FOUND, what.into())
}

/// Appends a commit; `parent` must be the latest hash when given.
pub fn insert_commit(
    store: &mut Store,
    repo: &str,
    b: &Value,
    created_at: Option<String>,
) -> ApiResult<Value> {
    let r = store
        .repos
        .get(repo)
        .ok_or_else(|| go_404("repo not found"))?
        .clone();
    let manifest = b["manifest"].clone();
    if !manifest.is_object() {
        return Err(ApiError::Go(
            StatusCode::BAD_REQUEST,
            "manifest must be an object".into(),
        ));
    }
    let commits = store.commits.entry(repo.to_string()).or_default();
    let latest = commits.last().cloned();
    if let (Some(p), Some(l)) = (b["parent_commit"].as_str(), &latest)
        && l["commit_hash"] != p
    {
        return Err(ApiError::Go(
            StatusCode::CONFLICT,
            "parent commit is not the latest commit".into(),
        ));
    }
    if latest.as_ref().is_some_and(|l| l["manifest"] == manifest) {
        return Err(ApiError::Go(
            StatusCode::CONFLICT,
            "Nothing to commit: the manifest is unchanged".into(),
        ));
    }
    let parent_hash = latest
        .as_ref()
        .map(|l| l["commit_hash"].clone())
        .unwrap_or(Value::Null);
    let mut h = Sha256::new();
    h.update(repo.as_bytes());
    h.update(parent_hash.to_string().as_bytes());
    h.update(manifest.to_string().as_bytes());
    let hash = hex::encode(h.finalize())[..40].to_string();
    let t = created_at.unwrap_or_else(now);
    let c = json!({
        "id": uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, hash.as_bytes()).to_string(),
        "commit_hash": hash,
        "repo_id": r["id"],
        "parent_id": latest.as_ref().map(|l| l["id"].clone()).unwrap_or(Value::Null),
        "parent_commit_hash": parent_hash,
        "manifest": manifest,
        "description": b["description"].as_str().unwrap_or(""),
        "created_at": t, "updated_at": t,
        "full_name": null,
        "num_downloads": 0, "num_views": 0,
        "example_run_ids": [],
    });
    commits.push(c.clone());
    Ok(c)
}

/// Drops nulls: the Go service omits empty fields.
fn omit_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| (k.clone(), x.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

pub async fn create_commit(
    State(st): State<AppState>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    owner_ok(&owner).map_err(|_| go_404("repo not found"))?;
    let b: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Go(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))?;
    let c = insert_commit(&mut st.store.write(), &repo, &b, None)?;
    Ok((StatusCode::CREATED, Json(json!({"commit": omit_nulls(&c)}))))
}

pub async fn list_commits(
    State(st): State<AppState>,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    owner_ok(&owner).map_err(|_| go_404("repo not found"))?;
    let p = Params::parse(q.as_deref());
    let (offset, limit) = p.page(20, 100).map_err(|_| {
        ApiError::Go(
            StatusCode::BAD_REQUEST,
            "limit must be between 1 and 100".into(),
        )
    })?;
    let store = st.store.read();
    if !store.repos.contains_key(&repo) {
        return Err(go_404("repo not found"));
    }
    let all = store.commits.get(&repo).cloned().unwrap_or_default();
    let page: Vec<Value> = all
        .iter()
        .rev()
        .skip(offset)
        .take(limit)
        .map(omit_nulls)
        .collect();
    Ok(Json(json!({"commits": page, "total": all.len()})))
}

fn resolve<'a>(store: &'a Store, repo: &str, reference: &str) -> Option<&'a Value> {
    let commits = store.commits.get(repo)?;
    if reference == "latest" {
        return commits.last();
    }
    if let Some(t) = store
        .tags
        .get(repo)
        .and_then(|ts| ts.iter().find(|t| t["tag_name"] == reference))
    {
        return commits.iter().find(|c| c["id"] == t["commit_id"]);
    }
    if reference.len() < 8 {
        return None;
    }
    commits.iter().find(|c| {
        c["commit_hash"]
            .as_str()
            .is_some_and(|h| h.starts_with(reference))
    })
}

pub async fn read_commit(
    State(st): State<AppState>,
    Path((owner, repo, commit)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    owner_ok(&owner).map_err(|_| go_404("repo not found"))?;
    let store = st.store.read();
    let c = resolve(&store, &repo, &commit).ok_or_else(|| go_404("commit not found"))?;
    Ok(Json(json!({
        "commit_hash": c["commit_hash"],
        "manifest": c["manifest"],
        "examples": [],
    })))
}

/// Points `tag_name` at a commit (moving it when it exists); used by the route and the sample.
pub fn put_tag(store: &mut Store, repo: &str, tag: &str, commit_id: &str) -> ApiResult<Value> {
    let r = store
        .repos
        .get(repo)
        .ok_or_else(|| ApiError::not_found("Repo not found"))?
        .clone();
    let c = store
        .commits
        .get(repo)
        .and_then(|cs| cs.iter().find(|c| c["id"] == commit_id))
        .cloned()
        .ok_or_else(|| ApiError::not_found("Commit not found"))?;
    let t = now();
    let tags = store.tags.entry(repo.to_string()).or_default();
    tags.retain(|x| x["tag_name"] != tag);
    let v = json!({
        "id": uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{repo}:{tag}").as_bytes()).to_string(),
        "repo_id": r["id"], "commit_id": commit_id, "commit_hash": c["commit_hash"],
        "tag_name": tag, "created_at": t, "updated_at": t,
    });
    tags.push(v.clone());
    Ok(v)
}

pub async fn create_tag(
    State(st): State<AppState>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    owner_ok(&owner)?;
    let b = json_body(&body)?;
    let tag = b["tag_name"]
        .as_str()
        .ok_or_else(|| ApiError::invalid_body("tag_name", "Field required", b.clone()))?;
    let commit = b["commit_id"]
        .as_str()
        .ok_or_else(|| ApiError::invalid_body("commit_id", "Field required", b.clone()))?;
    Ok(Json(put_tag(&mut st.store.write(), &repo, tag, commit)?))
}

pub async fn list_tags(
    State(st): State<AppState>,
    Path((owner, repo)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    owner_ok(&owner)?;
    let store = st.store.read();
    if !store.repos.contains_key(&repo) {
        return Err(ApiError::not_found("Repo not found"));
    }
    Ok(Json(json!(
        store.tags.get(&repo).cloned().unwrap_or_default()
    )))
}
