//! REST entities: score configs, models, datasets, dataset items, dataset run items, prompts and
//! comments. Small volumes, one object per request; ids the target assigns are returned so the
//! journal can map them.

use super::write::{failure_outcome, tag_metadata};
use super::{Langfuse, q};
use crate::connectors::http::{Bucket, HttpFailure, Idempotency};
use crate::connectors::traits::{ExistingKey, Page, WriteOutcome, for_each_existing_key_page};
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

impl NestedCursor {
    fn parse(cursor: Option<&str>) -> Self {
        cursor
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default()
    }

    /// This cursor as the next page's, unless it points past the last of `parents`.
    fn within(&self, parents: usize) -> Option<String> {
        (self.i < parents).then(|| serde_json::to_string(self).expect("cursor"))
    }
}

/// Records of a listing: the project id dropped, keyed by id (prompt versions: `name:version`).
fn to_records(entity: Entity, objs: Vec<RawObject>) -> Vec<Record> {
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
}

/// `POST /dataset-run-items` body from a run item as read (the run's name, description and
/// metadata travel on each item).
fn run_item_body(item: &RawObject) -> RawObject {
    let mut b = RawObject::new();
    if let Some(v) = item.get_present("datasetRunName") {
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
        if let Some(v) = item.get_present(from) {
            b.set_raw(to, v.to_owned());
        }
    }
    b
}

fn bucket_of(entity: Entity) -> Bucket {
    match entity {
        Entity::Datasets | Entity::DatasetItems | Entity::DatasetRunItems => Bucket::Datasets,
        Entity::Prompts => Bucket::Prompts,
        _ => Bucket::PublicApi,
    }
}

/// The fields each create request takes (everything else is the server's own or read-only).
const SCORE_CONFIG_FIELDS: &[&str] = &[
    "name",
    "dataType",
    "categories",
    "minValue",
    "maxValue",
    "description",
];
const MODEL_FIELDS: &[&str] = &[
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
];
const DATASET_FIELDS: &[&str] = &[
    "name",
    "description",
    "metadata",
    "inputSchema",
    "expectedOutputSchema",
];
const DATASET_ITEM_FIELDS: &[&str] = &[
    "datasetName",
    "input",
    "expectedOutput",
    "metadata",
    "sourceTraceId",
    "sourceObservationId",
    "id",
    "status",
];
const PROMPT_FIELDS: &[&str] = &["name", "prompt", "config", "type", "tags", "commitMessage"];
const COMMENT_FIELDS: &[&str] = &["objectType", "objectId", "content", "authorUserId"];

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

    /// One page of a listing that servers before a certain version lack (LLM connections,
    /// annotation queues): `None` when the server answers 404.
    pub(super) async fn listing_if_served(
        &self,
        path: &str,
        page: u64,
        what: &str,
    ) -> Result<Option<(Vec<RawObject>, bool)>, EngineError> {
        match self.one_page(Bucket::PublicApi, path, page, what).await {
            Ok(p) => Ok(Some(p)),
            Err(EngineError::Http { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
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
        match entity {
            Entity::ScoreConfigs | Entity::Models | Entity::Datasets | Entity::Comments => {
                self.read_listing_page(entity, cursor).await
            }
            Entity::DatasetItems => self.read_dataset_items_page(cursor).await,
            Entity::DatasetRunItems if self.reads_v4_style() => {
                self.read_experiment_items(cursor).await
            }
            Entity::DatasetRunItems => self.read_dataset_run_items_page(cursor).await,
            Entity::Prompts => self.read_prompts_page(cursor).await,
            Entity::LlmConnections => self.read_llm_connections_page(cursor).await,
            Entity::AnnotationQueues => self.read_annotation_queues_page(cursor).await,
            Entity::AnnotationQueueItems => self.read_annotation_queue_items_page(cursor).await,
            Entity::Evaluators | Entity::EvaluationRules => {
                self.read_evaluation_page(entity, cursor).await
            }
            Entity::DashboardWidgets | Entity::Dashboards => {
                self.read_dashboard_page(entity, cursor).await
            }
            _ => Ok(Page::default()),
        }
    }

    /// Score configs, models, datasets and comments: one page of their plain listing.
    async fn read_listing_page(
        &self,
        entity: Entity,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let path = match entity {
            Entity::ScoreConfigs => "/api/public/score-configs",
            Entity::Models => "/api/public/models",
            Entity::Datasets => "/api/public/v2/datasets",
            _ => "/api/public/comments",
        };
        let page: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(1);
        let what = format!("reading {entity}");
        let (mut data, more) = self.one_page(bucket_of(entity), path, page, &what).await?;
        if entity == Entity::Models {
            data.retain(|m| m.bool("isLangfuseManaged") != Some(true));
        }
        Ok(Page {
            records: to_records(entity, data),
            next: more.then(|| (page + 1).to_string()),
        })
    }

    /// Dataset items, dataset by dataset (cursor: dataset index and page).
    async fn read_dataset_items_page(&self, cursor: Option<String>) -> Result<Page, EngineError> {
        let mut c = NestedCursor::parse(cursor.as_deref());
        let datasets = self.dataset_names().await?;
        let Some((name, _)) = datasets.get(c.i) else {
            return Ok(Page::default());
        };
        let page = c.p.max(1);
        let path = format!("/api/public/dataset-items?datasetName={}", q(name));
        let what = format!("reading {}", Entity::DatasetItems);
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
        Ok(Page {
            records: to_records(Entity::DatasetItems, data),
            next: c.within(datasets.len()),
        })
    }

    /// Dataset run items on servers that list them: dataset by dataset, run by run (cursor:
    /// dataset index, run index, page). Each item carries its run's description and metadata,
    /// because the target creates the run with its first item.
    async fn read_dataset_run_items_page(
        &self,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let entity = Entity::DatasetRunItems;
        let mut c = NestedCursor::parse(cursor.as_deref());
        let datasets = self.dataset_names().await?;
        let Some((name, id)) = datasets.get(c.i) else {
            return Ok(Page::default());
        };
        let runs = self.dataset_runs(name).await?;
        let mut records = vec![];
        if let Some((run, run_obj)) = runs.get(c.j) {
            let page = c.p.max(1);
            let path = format!(
                "/api/public/dataset-run-items?datasetId={}&runName={}",
                q(id),
                q(run)
            );
            let what = format!("reading {entity}");
            let (data, more) = self.one_page(Bucket::Datasets, &path, page, &what).await?;
            records = to_records(entity, data)
                .into_iter()
                .map(|mut r| {
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
        if c.j >= runs.len() {
            c = NestedCursor {
                i: c.i + 1,
                j: 0,
                p: 1,
            };
        }
        Ok(Page {
            records,
            next: c.within(datasets.len()),
        })
    }

    /// The runs of dataset `name`, by run name.
    async fn dataset_runs(&self, name: &str) -> Result<Vec<(String, RawObject)>, EngineError> {
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
        let mut named: Vec<(String, RawObject)> = runs
            .into_iter()
            .filter_map(|r| Some((r.str("name")?, r)))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(named)
    }

    /// One prompt per page: all its versions, oldest first (cursor: the prompt's index).
    async fn read_prompts_page(&self, cursor: Option<String>) -> Result<Page, EngineError> {
        let c = NestedCursor::parse(cursor.as_deref());
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
        let what = format!("reading {}", Entity::Prompts);
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
        Ok(Page {
            records: to_records(Entity::Prompts, objs),
            next: next_c.within(metas.len()),
        })
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
        if entity == Entity::LlmConnections {
            return self.existing_llm_connections_page(cursor).await;
        }
        if matches!(
            entity,
            Entity::AnnotationQueues | Entity::AnnotationQueueItems
        ) {
            // A project holds few queues: one listing of all of them.
            return Ok((self.existing_queue_keys(entity).await?, None));
        }
        if matches!(entity, Entity::Evaluators | Entity::EvaluationRules) {
            return Ok((self.existing_evaluation_keys(entity).await?, None));
        }
        if matches!(entity, Entity::DashboardWidgets | Entity::Dashboards) {
            return Ok((self.existing_dashboard_keys(entity).await?, None));
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
        match entity {
            Entity::LlmConnections => return self.write_llm_connection(r).await,
            Entity::AnnotationQueues => return self.write_annotation_queue(r).await,
            Entity::AnnotationQueueItems => return self.write_annotation_queue_item(r).await,
            Entity::Evaluators => return self.write_evaluator(r).await,
            Entity::EvaluationRules => return self.write_evaluation_rule(r).await,
            Entity::DashboardWidgets | Entity::Dashboards => {
                return self.write_dashboard_object(entity, r).await;
            }
            _ => {}
        }
        let Some((path, body, idem)) = self.create_request(entity, r) else {
            return WriteOutcome::Failed(format!("{entity} cannot be written over REST"));
        };
        match self.post_json(entity, path, &body, idem).await {
            Ok(resp) => self.created(entity, r, resp).await,
            // The commented object may not be visible yet (v3/v4 show writes after a delay).
            Err(HttpFailure::Rejected { status: 404, body }) if entity == Entity::Comments => {
                WriteOutcome::Retry(format!(
                    "the object it comments on was not found: {}",
                    crate::connectors::http::truncate(&body, 200)
                ))
            }
            Err(HttpFailure::Rejected { status: 404, .. }) if entity == Entity::DatasetRunItems => {
                WriteOutcome::Failed(
                    "this Langfuse server does not accept dataset run items through its API (POST /dataset-run-items answered 404)".into(),
                )
            }
            Err(f) => failure_outcome(&f),
        }
    }

    /// The create request for one object: path, the body (only the fields the API takes, run
    /// tag added) and whether sending it twice is harmless. `None` for entities REST cannot write.
    fn create_request(
        &self,
        entity: Entity,
        r: &Record,
    ) -> Option<(&'static str, RawObject, Idempotency)> {
        let run_tag = self.run_tag.as_deref();
        Some(match entity {
            Entity::ScoreConfigs => (
                "/api/public/score-configs",
                pick(&r.body, SCORE_CONFIG_FIELDS),
                Idempotency::Unsafe,
            ),
            Entity::Models => (
                "/api/public/models",
                pick(&r.body, MODEL_FIELDS),
                Idempotency::Unsafe,
            ),
            Entity::Datasets => {
                let mut b = pick(&r.body, DATASET_FIELDS);
                tag_metadata(&mut b, run_tag);
                // Creating a dataset upserts by name.
                ("/api/public/v2/datasets", b, Idempotency::Safe)
            }
            Entity::DatasetItems => {
                let mut b = pick(&r.body, DATASET_ITEM_FIELDS);
                tag_metadata(&mut b, run_tag);
                // Items carry their id: creating again upserts.
                ("/api/public/dataset-items", b, Idempotency::Safe)
            }
            Entity::DatasetRunItems => (
                "/api/public/dataset-run-items",
                run_item_body(&r.body),
                Idempotency::Unsafe,
            ),
            Entity::Prompts => {
                let mut b = pick(&r.body, PROMPT_FIELDS);
                // Labels move once every version exists (a label names one version only).
                b.set("labels", &Vec::<String>::new());
                ("/api/public/v2/prompts", b, Idempotency::Unsafe)
            }
            Entity::Comments => {
                let mut b = pick(&r.body, COMMENT_FIELDS);
                b.set(
                    "projectId",
                    &self.info.project_id.clone().unwrap_or_default(),
                );
                ("/api/public/comments", b, Idempotency::Unsafe)
            }
            _ => return None,
        })
    }

    /// The outcome of a create the target acknowledged: the key it gave the object (prompt
    /// versions: `name:version`, with the version's own id for references). A score config that
    /// was archived in the source is archived here too.
    async fn created(&self, entity: Entity, r: &Record, resp: RawObject) -> WriteOutcome {
        let target_id = match entity {
            Entity::Prompts => resp
                .i64("version")
                .map(|v| format!("{}:{v}", resp.str("name").unwrap_or_default())),
            _ => resp.str("id"),
        };
        let warning = match (
            &target_id,
            entity == Entity::ScoreConfigs && r.body.bool("isArchived") == Some(true),
        ) {
            (Some(id), true) => self.archive_score_config(id).await.err(),
            _ => None,
        };
        let object_id = if entity == Entity::Prompts {
            resp.str("id")
        } else {
            None
        };
        WriteOutcome::Written {
            target_id,
            object_id,
            warning,
        }
    }

    /// Archives a score config that is archived in the source; the error is a sentence for the
    /// run report (the config itself was created).
    async fn archive_score_config(&self, id: &str) -> Result<(), String> {
        let path = format!("/api/public/score-configs/{}", q(id));
        self.http
            .send(
                Bucket::PublicApi,
                || {
                    self.http
                        .patch(&path)
                        .json(&serde_json::json!({"isArchived": true}))
                },
                Idempotency::Safe,
            )
            .await
            .map(|_| ())
            .map_err(|f| {
                format!(
                    "Score config {id} was created in the target but could not be archived as it is in the source ({}); archive it in the Langfuse UI under Settings → Scores.",
                    f.describe()
                )
            })
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
        for_each_existing_key_page(self, entity, &Scope::default(), |page| {
            keys.extend(page.into_iter().map(|k| k.key))
        })
        .await?;
        Ok(records
            .iter()
            .filter(|r| natural_key(entity, &r.body).is_some_and(|k| keys.contains(&k)))
            .map(|r| r.id.clone())
            .collect())
    }

    /// Every version of prompt `name` in this project, with its content's fingerprint.
    pub(crate) async fn prompt_versions_of(
        &self,
        name: &str,
    ) -> Result<Vec<crate::connector::TargetPromptVersion>, EngineError> {
        let metas = self
            .list_all(
                Bucket::Prompts,
                &format!("/api/public/v2/prompts?name={}", q(name)),
                "listing a prompt's versions in the target",
            )
            .await?;
        let mut versions: Vec<i64> = metas
            .iter()
            .filter(|m| m.str("name").as_deref() == Some(name))
            .flat_map(|m| {
                m.get("versions")
                    .and_then(|v| serde_json::from_str::<Vec<i64>>(v.get()).ok())
                    .unwrap_or_default()
            })
            .collect();
        versions.sort();
        versions.dedup();
        let mut out = vec![];
        for v in versions {
            let p: RawObject = self
                .get_json(
                    Bucket::Prompts,
                    &format!("/api/public/v2/prompts/{}?version={v}", q(name)),
                    "reading a prompt version in the target",
                )
                .await?;
            out.push(crate::connector::TargetPromptVersion {
                version: v,
                object_id: p.str("id"),
                fingerprint: crate::model::prompt_fingerprint(&p),
            });
        }
        Ok(out)
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
