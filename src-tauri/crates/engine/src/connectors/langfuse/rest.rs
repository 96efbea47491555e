//! REST entities: score configs, models, datasets, dataset items, dataset run items, prompts and
//! comments. Small volumes, one object per request; ids the target assigns are returned so the
//! journal can map them.

use super::write::{failure_outcome, tag_metadata};
use super::{Langfuse, q};
use crate::connectors::http::{Bucket, HttpFailure, Idempotency};
use crate::connectors::{ExistingKey, Page, WriteOutcome};
use crate::vocab::{EngineError, Entity, RawObject, Record, Scope, natural_key};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

#[derive(Deserialize)]
struct Paged {
    data: Vec<RawObject>,
    meta: PagedMeta,
}
#[derive(Deserialize)]
struct PagedMeta {
    page: u64,
    #[serde(rename = "totalPages")]
    total_pages: u64,
}

/// Position inside a nested listing (dataset → run → page, prompt list page → index).
#[derive(Serialize, Deserialize, Default, Clone)]
struct NestedCursor {
    /// Index of the parent (dataset, prompt) in its listing.
    i: usize,
    /// Index of the child listing (run) inside the parent.
    j: usize,
    /// Page of the innermost listing.
    p: u64,
}

fn bucket_of(entity: Entity) -> Bucket {
    match entity {
        Entity::Datasets | Entity::DatasetItems | Entity::DatasetRunItems => Bucket::Datasets,
        Entity::Prompts => Bucket::Prompts,
        _ => Bucket::PublicApi,
    }
}

fn pick(o: &RawObject, keys: &[&str]) -> RawObject {
    let mut out = RawObject::new();
    for k in keys {
        if let Some(v) = o.get_present(k) {
            out.set_raw(k, v.to_owned());
        }
    }
    out
}

impl Langfuse {
    async fn list_all(
        &self,
        bucket: Bucket,
        path: &str,
        what: &str,
    ) -> Result<Vec<RawObject>, EngineError> {
        let mut out = vec![];
        let mut page = 1;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let p: Paged = self
                .get_json(bucket, &format!("{path}{sep}limit=100&page={page}"), what)
                .await?;
            let n = p.data.len();
            out.extend(p.data);
            if p.meta.page >= p.meta.total_pages || n == 0 {
                return Ok(out);
            }
            page += 1;
        }
    }

    async fn one_page(
        &self,
        bucket: Bucket,
        path: &str,
        page: u64,
        what: &str,
    ) -> Result<(Vec<RawObject>, bool), EngineError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let p: Paged = self
            .get_json(bucket, &format!("{path}{sep}limit=100&page={page}"), what)
            .await?;
        let more = p.meta.page < p.meta.total_pages && !p.data.is_empty();
        Ok((p.data, more))
    }

    async fn dataset_names(&self) -> Result<Vec<(String, String)>, EngineError> {
        let mut v: Vec<(String, String)> = self
            .list_all(
                Bucket::Datasets,
                "/api/public/v2/datasets",
                "listing datasets",
            )
            .await?
            .into_iter()
            .filter_map(|d| Some((d.str("name")?, d.str("id")?)))
            .collect();
        v.sort();
        Ok(v)
    }

    pub(crate) async fn read_rest_page(
        &self,
        entity: Entity,
        _scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let what = format!("reading {entity}");
        let mk = |entity: Entity, objs: Vec<RawObject>| -> Vec<Record> {
            objs.into_iter()
                .filter_map(|mut o| {
                    o.remove("projectId");
                    let id = if entity == Entity::Prompts {
                        natural_key(entity, &o)?
                    } else {
                        o.str("id")?
                    };
                    Some(Record::new(entity, id, o))
                })
                .collect()
        };
        match entity {
            Entity::ScoreConfigs | Entity::Models | Entity::Datasets | Entity::Comments => {
                let path = match entity {
                    Entity::ScoreConfigs => "/api/public/score-configs",
                    Entity::Models => "/api/public/models",
                    Entity::Datasets => "/api/public/v2/datasets",
                    _ => "/api/public/comments",
                };
                let page: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(1);
                let (mut data, more) = self.one_page(bucket_of(entity), path, page, &what).await?;
                if entity == Entity::Models {
                    data.retain(|m| m.bool("isLangfuseManaged") != Some(true));
                }
                Ok(Page {
                    records: mk(entity, data),
                    next: more.then(|| (page + 1).to_string()),
                })
            }
            Entity::DatasetItems => {
                let mut c: NestedCursor = cursor
                    .as_deref()
                    .and_then(|c| serde_json::from_str(c).ok())
                    .unwrap_or_default();
                let datasets = self.dataset_names().await?;
                let Some((name, _)) = datasets.get(c.i) else {
                    return Ok(Page::default());
                };
                let page = c.p.max(1);
                let path = format!("/api/public/dataset-items?datasetName={}", q(name));
                let (data, more) = self.one_page(Bucket::Datasets, &path, page, &what).await?;
                if more {
                    c.p = page + 1;
                } else {
                    c = NestedCursor {
                        i: c.i + 1,
                        j: 0,
                        p: 1,
                    };
                }
                let next =
                    (c.i < datasets.len()).then(|| serde_json::to_string(&c).expect("cursor"));
                Ok(Page {
                    records: mk(entity, data),
                    next,
                })
            }
            Entity::DatasetRunItems if self.reads_v4_style() => {
                self.read_experiment_items(cursor).await
            }
            Entity::DatasetRunItems => {
                let mut c: NestedCursor = cursor
                    .as_deref()
                    .and_then(|c| serde_json::from_str(c).ok())
                    .unwrap_or_default();
                let datasets = self.dataset_names().await?;
                let Some((name, id)) = datasets.get(c.i) else {
                    return Ok(Page::default());
                };
                let runs = match self
                    .list_all(
                        Bucket::Datasets,
                        &format!("/api/public/datasets/{}/runs", q(name)),
                        "listing dataset runs",
                    )
                    .await
                {
                    Ok(r) => r,
                    Err(EngineError::Http { status: 404, .. }) => {
                        return Err(EngineError::Unsupported(
                            "Reading dataset runs".into(),
                            "this server does not offer dataset run reads".into(),
                        ));
                    }
                    Err(e) => return Err(e),
                };
                let mut run_names: Vec<(String, RawObject)> = runs
                    .into_iter()
                    .filter_map(|r| Some((r.str("name")?, r)))
                    .collect();
                run_names.sort_by(|a, b| a.0.cmp(&b.0));
                let mut records = vec![];
                if let Some((run, run_obj)) = run_names.get(c.j) {
                    let page = c.p.max(1);
                    let path = format!(
                        "/api/public/dataset-run-items?datasetId={}&runName={}",
                        q(id),
                        q(run)
                    );
                    let (data, more) = self.one_page(Bucket::Datasets, &path, page, &what).await?;
                    records = mk(entity, data)
                        .into_iter()
                        .map(|mut r| {
                            // Carry the run's description and metadata: the target creates the run
                            // with its first item.
                            if let Some(d) = run_obj.get_present("description") {
                                r.body.set_raw("runDescription", d.to_owned());
                            }
                            if let Some(m) = run_obj.get_present("metadata") {
                                r.body.set_raw("runMetadata", m.to_owned());
                            }
                            r.body.set("datasetName", name);
                            r.body.set("datasetId", id);
                            r
                        })
                        .collect();
                    if more {
                        c.p = page + 1;
                    } else {
                        c = NestedCursor {
                            i: c.i,
                            j: c.j + 1,
                            p: 1,
                        };
                    }
                }
                if c.j >= run_names.len() {
                    c = NestedCursor {
                        i: c.i + 1,
                        j: 0,
                        p: 1,
                    };
                }
                let next =
                    (c.i < datasets.len()).then(|| serde_json::to_string(&c).expect("cursor"));
                Ok(Page { records, next })
            }
            Entity::Prompts => {
                // One prompt (all its versions, oldest first) per page.
                let c: NestedCursor = cursor
                    .as_deref()
                    .and_then(|c| serde_json::from_str(c).ok())
                    .unwrap_or_default();
                let mut metas = self
                    .list_all(Bucket::Prompts, "/api/public/v2/prompts", "listing prompts")
                    .await?;
                metas.sort_by_key(|m| m.str("name"));
                let Some(meta) = metas.get(c.i) else {
                    return Ok(Page::default());
                };
                let name = meta.str("name").unwrap_or_default();
                let mut versions: Vec<i64> = meta
                    .get("versions")
                    .and_then(|v| serde_json::from_str(v.get()).ok())
                    .unwrap_or_default();
                versions.sort();
                let mut objs = vec![];
                for v in versions {
                    let p: RawObject = self
                        .get_json(
                            Bucket::Prompts,
                            &format!("/api/public/v2/prompts/{}?version={v}", q(&name)),
                            &what,
                        )
                        .await?;
                    objs.push(p);
                }
                let next_c = NestedCursor {
                    i: c.i + 1,
                    j: 0,
                    p: 0,
                };
                let next = (next_c.i < metas.len())
                    .then(|| serde_json::to_string(&next_c).expect("cursor"));
                Ok(Page {
                    records: mk(entity, objs),
                    next,
                })
            }
            _ => Ok(Page::default()),
        }
    }

    /// v4 has no dataset run reads: run items come from experiment items, runs from experiments.
    async fn read_experiment_items(&self, cursor: Option<String>) -> Result<Page, EngineError> {
        #[derive(Deserialize)]
        struct CursorPage {
            data: Vec<RawObject>,
            #[serde(default)]
            meta: Option<serde_json::Value>,
        }
        let since = "1970-01-01T00:00:00.000Z";
        let mut runs = std::collections::HashMap::new();
        let mut c: Option<String> = None;
        loop {
            let mut path = format!(
                "/api/public/experiments?fields=metadata&limit=100&fromStartTime={}",
                q(since)
            );
            if let Some(c) = &c {
                path.push_str(&format!("&cursor={}", q(c)));
            }
            let page: CursorPage = self
                .get_json(Bucket::Datasets, &path, "reading experiments")
                .await?;
            for r in page.data {
                if let Some(id) = r.str("id") {
                    runs.insert(id, r);
                }
            }
            c = page
                .meta
                .and_then(|m| m.get("cursor").and_then(|c| c.as_str()).map(String::from));
            if c.is_none() {
                break;
            }
        }
        let datasets: std::collections::HashMap<String, String> = self
            .dataset_names()
            .await?
            .into_iter()
            .map(|(n, id)| (id, n))
            .collect();
        let mut path = format!(
            "/api/public/experiment-items?fields=dataset&limit=100&fromStartTime={}",
            q(since)
        );
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", q(c)));
        }
        let page: CursorPage = self
            .get_json(Bucket::Datasets, &path, "reading experiment items")
            .await?;
        let next = page
            .meta
            .and_then(|m| m.get("cursor").and_then(|c| c.as_str()).map(String::from));
        let records = page
            .data
            .into_iter()
            .filter_map(|i| {
                let run_id = i.str("experimentId")?;
                let run = runs.get(&run_id);
                let mut o = RawObject::new();
                o.set("datasetRunName", &i.str("experimentName")?);
                o.set("datasetItemId", &i.str("experimentItemId")?);
                o.set("traceId", &i.str("traceId"));
                o.set("datasetRunId", &run_id);
                // The span that carried the item in the source: on a v4 target it carries it again.
                o.set("experimentObservationId", &i.str("id"));
                // The v4 API names the trace's root observation when the item has none.
                o.set("observationId", &None::<String>);
                let ds = i
                    .str("experimentDatasetId")
                    .or_else(|| run.and_then(|r| r.str("datasetId")));
                if let Some(name) = ds.as_ref().and_then(|d| datasets.get(d)) {
                    o.set("datasetName", name);
                }
                if let Some(d) = &ds {
                    o.set("datasetId", d);
                }
                if let Some(r) = run {
                    if let Some(d) = r.get_present("description") {
                        o.set_raw("runDescription", d.to_owned());
                    }
                    if let Some(m) = r.get_present("metadata") {
                        o.set_raw("runMetadata", m.to_owned());
                    }
                }
                let key = natural_key(Entity::DatasetRunItems, &o)?;
                Some(Record::new(Entity::DatasetRunItems, key, o))
            })
            .collect();
        Ok(Page { records, next })
    }

    pub(crate) async fn existing_rest_keys_page(
        &self,
        entity: Entity,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<(Vec<ExistingKey>, Option<String>), EngineError> {
        if entity == Entity::DatasetRunItems {
            // Listed the way they are read; a server without run reads simply has none to list.
            return match self.read_rest_page(entity, scope, cursor).await {
                Ok(p) => Ok((
                    p.records
                        .iter()
                        .filter_map(|r| natural_key(entity, &r.body))
                        .map(ExistingKey::id)
                        .collect(),
                    p.next,
                )),
                Err(EngineError::Unsupported(..)) => Ok((vec![], None)),
                Err(e) => Err(e),
            };
        }
        let page: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(1);
        let path = match entity {
            Entity::ScoreConfigs => "/api/public/score-configs",
            Entity::Models => "/api/public/models",
            Entity::Datasets => "/api/public/v2/datasets",
            Entity::Comments => "/api/public/comments",
            Entity::DatasetItems => "/api/public/dataset-items",
            Entity::Prompts => "/api/public/v2/prompts",
            _ => return Ok((vec![], None)),
        };
        let (data, more) = self
            .one_page(
                bucket_of(entity),
                path,
                page,
                &format!("listing {entity} in the target"),
            )
            .await?;
        let mut keys = vec![];
        for o in data {
            match entity {
                Entity::Prompts => {
                    let name = o.str("name").unwrap_or_default();
                    let versions: Vec<i64> = o
                        .get("versions")
                        .and_then(|v| serde_json::from_str(v.get()).ok())
                        .unwrap_or_default();
                    // The versions' own ids let comments on them be pointed at the right one.
                    for v in versions {
                        let path = format!("/api/public/v2/prompts/{}?version={v}", q(&name));
                        let p: RawObject = self
                            .get_json(Bucket::Prompts, &path, "reading a prompt in the target")
                            .await?;
                        keys.push(ExistingKey {
                            key: format!("{name}:{v}"),
                            target_id: p.str("id"),
                        });
                    }
                }
                Entity::DatasetItems => keys.extend(o.str("id").map(ExistingKey::id)),
                Entity::Models if o.bool("isLangfuseManaged") == Some(true) => {}
                _ => {
                    if let Some(k) = natural_key(entity, &o) {
                        keys.push(ExistingKey {
                            key: k,
                            target_id: o.str("id"),
                        });
                    }
                }
            }
        }
        Ok((keys, more.then(|| (page + 1).to_string())))
    }

    async fn post_json(
        &self,
        entity: Entity,
        path: &str,
        body: &RawObject,
        idem: Idempotency,
    ) -> Result<RawObject, HttpFailure> {
        let text = body.to_json();
        let resp = self
            .http
            .send(
                bucket_of(entity),
                || {
                    self.http
                        .post(path)
                        .header("content-type", "application/json")
                        .body(text.clone())
                },
                idem,
            )
            .await?;
        resp.json::<RawObject>()
            .await
            .map_err(|_| HttpFailure::Unknown("the answer could not be read".into()))
    }

    async fn write_rest_one(&self, entity: Entity, r: &Record) -> WriteOutcome {
        let run_tag = self.run_tag.as_deref();
        let (path, body, idem): (String, RawObject, Idempotency) = match entity {
            Entity::ScoreConfigs => (
                "/api/public/score-configs".into(),
                pick(
                    &r.body,
                    &[
                        "name",
                        "dataType",
                        "categories",
                        "minValue",
                        "maxValue",
                        "description",
                    ],
                ),
                Idempotency::Unsafe,
            ),
            Entity::Models => (
                "/api/public/models".into(),
                pick(
                    &r.body,
                    &[
                        "modelName",
                        "matchPattern",
                        "startDate",
                        "unit",
                        "inputPrice",
                        "outputPrice",
                        "totalPrice",
                        "pricingTiers",
                        "tokenizerId",
                        "tokenizerConfig",
                    ],
                ),
                Idempotency::Unsafe,
            ),
            Entity::Datasets => {
                let mut b = pick(
                    &r.body,
                    &[
                        "name",
                        "description",
                        "metadata",
                        "inputSchema",
                        "expectedOutputSchema",
                    ],
                );
                tag_metadata(&mut b, run_tag);
                // Creating a dataset upserts by name.
                ("/api/public/v2/datasets".into(), b, Idempotency::Safe)
            }
            Entity::DatasetItems => {
                let mut b = pick(
                    &r.body,
                    &[
                        "datasetName",
                        "input",
                        "expectedOutput",
                        "metadata",
                        "sourceTraceId",
                        "sourceObservationId",
                        "id",
                        "status",
                    ],
                );
                tag_metadata(&mut b, run_tag);
                // Items carry their id: creating again upserts.
                ("/api/public/dataset-items".into(), b, Idempotency::Safe)
            }
            Entity::DatasetRunItems => {
                let mut b = RawObject::new();
                if let Some(v) = r.body.get_present("datasetRunName") {
                    b.set_raw("runName", v.to_owned());
                }
                for (from, to) in [
                    ("runDescription", "runDescription"),
                    ("runMetadata", "metadata"),
                    ("datasetItemId", "datasetItemId"),
                    ("observationId", "observationId"),
                    ("traceId", "traceId"),
                    ("createdAt", "createdAt"),
                ] {
                    if let Some(v) = r.body.get_present(from) {
                        b.set_raw(to, v.to_owned());
                    }
                }
                (
                    "/api/public/dataset-run-items".into(),
                    b,
                    Idempotency::Unsafe,
                )
            }
            Entity::Prompts => {
                let mut b = pick(
                    &r.body,
                    &["name", "prompt", "config", "type", "tags", "commitMessage"],
                );
                // Labels move once every version exists (a label names one version only).
                b.set("labels", &Vec::<String>::new());
                ("/api/public/v2/prompts".into(), b, Idempotency::Unsafe)
            }
            Entity::Comments => {
                let mut b = pick(
                    &r.body,
                    &["objectType", "objectId", "content", "authorUserId"],
                );
                b.set(
                    "projectId",
                    &self.info.project_id.clone().unwrap_or_default(),
                );
                ("/api/public/comments".into(), b, Idempotency::Unsafe)
            }
            _ => return WriteOutcome::Failed(format!("{entity} cannot be written over REST")),
        };
        match self.post_json(entity, &path, &body, idem).await {
            Ok(resp) => {
                let target_id = match entity {
                    Entity::Prompts => resp
                        .i64("version")
                        .map(|v| format!("{}:{v}", resp.str("name").unwrap_or_default())),
                    _ => resp.str("id"),
                };
                if entity == Entity::ScoreConfigs && r.body.bool("isArchived") == Some(true)
                    && let Some(id) = &target_id {
                        let path = format!("/api/public/score-configs/{}", q(id));
                        let _ = self
                            .http
                            .send(
                                Bucket::PublicApi,
                                || {
                                    self.http
                                        .patch(&path)
                                        .json(&serde_json::json!({"isArchived": true}))
                                },
                                Idempotency::Safe,
                            )
                            .await;
                    }
                let object_id = if entity == Entity::Prompts { resp.str("id") } else { None };
                WriteOutcome::Written { target_id, object_id }
            }
            // The commented object may not be visible yet (v3/v4 show writes after a delay).
            Err(HttpFailure::Rejected { status: 404, body }) if entity == Entity::Comments => {
                WriteOutcome::Retry(format!("the object it comments on was not found: {}", crate::connectors::http::truncate(&body, 200)))
            }
            Err(HttpFailure::Rejected { status: 404, .. }) if entity == Entity::DatasetRunItems => WriteOutcome::Failed(
                "this Langfuse server does not accept dataset run items through its API (POST /dataset-run-items answered 404)".into(),
            ),
            Err(f) => failure_outcome(&f),
        }
    }

    pub(crate) async fn write_rest(&self, entity: Entity, records: &[Record]) -> Vec<WriteOutcome> {
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            out.push(self.write_rest_one(entity, r).await);
        }
        out
    }

    pub(crate) async fn which_exist_rest(
        &self,
        entity: Entity,
        records: &[Record],
    ) -> Result<HashSet<String>, EngineError> {
        let mut keys = HashSet::new();
        let mut cursor = None;
        loop {
            let (page, next) = self
                .existing_rest_keys_page(entity, &Scope::default(), cursor)
                .await?;
            keys.extend(page.into_iter().map(|k| k.key));
            cursor = next;
            if cursor.is_none() {
                break;
            }
        }
        Ok(records
            .iter()
            .filter(|r| natural_key(entity, &r.body).is_some_and(|k| keys.contains(&k)))
            .map(|r| r.id.clone())
            .collect())
    }

    /// The version of prompt `name` found by `key` (`label` or `version`) = `value`, with its
    /// labels; `None` when no version matches.
    pub(crate) async fn prompt_version_by(
        &self,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<Option<(i64, Vec<String>)>, EngineError> {
        let path = format!("/api/public/v2/prompts/{}?{key}={}", q(name), q(value));
        let what = format!("reading prompt {name} ({key} {value}) in the target");
        #[derive(Deserialize)]
        struct VersionLabels {
            version: i64,
            #[serde(default)]
            labels: Vec<String>,
        }
        match self
            .get_json::<VersionLabels>(Bucket::Prompts, &path, &what)
            .await
        {
            Ok(p) => Ok(Some((p.version, p.labels))),
            Err(EngineError::Http { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn patch_prompt_labels(
        &self,
        name: &str,
        version: i64,
        labels: &[String],
    ) -> Result<(), EngineError> {
        let labels: Vec<&String> = labels.iter().filter(|l| l.as_str() != "latest").collect();
        if labels.is_empty() {
            return Ok(());
        }
        let path = format!("/api/public/v2/prompts/{}/versions/{version}", q(name));
        let body = serde_json::json!({ "newLabels": labels });
        self.http
            .send(
                Bucket::Prompts,
                || self.http.patch(&path).json(&body),
                Idempotency::Safe,
            )
            .await
            .map(|_| ())
            .map_err(|f| {
                self.failure(
                    &format!("setting the labels of prompt {name} version {version}"),
                    f,
                )
            })
    }
}
