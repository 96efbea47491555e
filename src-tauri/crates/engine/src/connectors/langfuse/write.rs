//! Writing to Langfuse: OTLP for traces and observations on v4, the ingestion batch endpoint for
//! scores (all generations) and for traces and observations on v2/v3, REST for the rest.

use super::{Langfuse, q};
use crate::connectors::http::{Bucket, HttpFailure, Idempotency};
use crate::connectors::langfuse::experiments;
use crate::connectors::langfuse::otlp::{self, SpanOptions};
use crate::connectors::{ExistingKey, TargetConnector, WriteOutcome};
use crate::vocab::time::{iso_millis, now_iso_millis};
use crate::vocab::{Dialect, EngineError, Entity, Generation, RawObject, Record, Scope};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Fields computed or assigned by the server, never sent back.
const OBS_SERVER_FIELDS: &[&str] = &[
    "usage",
    "calculatedInputCost",
    "calculatedOutputCost",
    "calculatedTotalCost",
    "latency",
    "timeToFirstToken",
    "modelId",
    "inputPrice",
    "outputPrice",
    "totalPrice",
    "promptId",
    "createdAt",
    "updatedAt",
    "projectId",
    "internalModelId",
    "totalCost",
    "usagePricingTierName",
    "bookmarked",
    "isRootObservation",
    "traceName",
    "userId",
    "sessionId",
    "tags",
    "release",
    "public",
];
const TRACE_SERVER_FIELDS: &[&str] = &[
    "createdAt",
    "updatedAt",
    "projectId",
    "htmlPath",
    "latency",
    "totalCost",
    "observations",
    "scores",
    "bookmarked",
];
const SCORE_SERVER_FIELDS: &[&str] = &[
    "createdAt",
    "updatedAt",
    "projectId",
    "authorUserId",
    "stringValue",
];

/// Adds the run tag to a metadata payload (objects and absent metadata only; other shapes are
/// left exactly as they are).
pub(crate) fn tag_metadata(o: &mut RawObject, run_tag: Option<&str>) {
    let Some(run) = run_tag else { return };
    match o.get_present("metadata") {
        None => {
            let mut m = BTreeMap::new();
            m.insert(otlp::RUN_TAG_KEY, run);
            o.set("metadata", &m);
        }
        Some(v) if v.get().trim_start().starts_with('{') => {
            if let Ok(mut m) =
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(v.get())
            {
                m.insert(otlp::RUN_TAG_KEY.into(), run.into());
                o.set("metadata", &m);
            }
        }
        Some(_) => {}
    }
}

fn strip(mut o: RawObject, fields: &[&str]) -> RawObject {
    for f in fields {
        o.remove(f);
    }
    o
}

/// The outcome of an ingestion batch (boxed: the function splits and recurses).
type IngestFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Vec<WriteOutcome>> + Send + 'a>>;

/// Why one object alone was refused as too large.
fn too_large(size: usize) -> String {
    format!(
        "it is {} as sent, and the target refused a request of that size as too large (413)",
        crate::vocab::bytes::human_bytes(size)
    )
}

/// Room for what a span adds around its fields (ids, times, attribute keys).
const SPAN_OVERHEAD: usize = 2_048;

/// The outcome of sending spans (boxed: the function splits and recurses).
type SpanFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Vec<(usize, WriteOutcome)>> + Send + 'a>>;

#[derive(Deserialize)]
struct IngestionResponse {
    #[serde(default)]
    successes: Vec<IngestionItem>,
    #[serde(default)]
    errors: Vec<IngestionItem>,
}
#[derive(Deserialize)]
struct IngestionItem {
    id: String,
    status: u16,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

impl Langfuse {
    fn score_event(&self, r: &Record) -> RawObject {
        let mut body = r.body.clone();
        let data_type = body.str("dataType").unwrap_or_else(|| "NUMERIC".into());
        if matches!(data_type.as_str(), "CATEGORICAL" | "TEXT" | "CORRECTION")
            && let Some(sv) = body.get_present("stringValue").map(|v| v.to_owned())
        {
            body.set_raw("value", sv);
        }
        let mut body = strip(body, SCORE_SERVER_FIELDS);
        tag_metadata(&mut body, self.run_tag.as_deref());
        let mut ev = RawObject::new();
        ev.set("id", &uuid::Uuid::new_v4().to_string());
        ev.set("type", "score-create");
        let ts = r.body.str("timestamp").unwrap_or_else(now_iso_millis);
        ev.set("timestamp", &ts);
        ev.set("body", &body);
        ev
    }

    fn legacy_event(&self, entity: Entity, r: &Record) -> RawObject {
        let (kind, mut body) = match entity {
            Entity::Traces => (
                "trace-create".to_string(),
                strip(r.body.clone(), TRACE_SERVER_FIELDS),
            ),
            _ => {
                let t = r.body.str("type").unwrap_or_else(|| "SPAN".into());
                let kind = match t.as_str() {
                    "GENERATION" => "generation-create",
                    "SPAN" => "span-create",
                    "EVENT" => "event-create",
                    _ => "observation-create",
                };
                (kind.to_string(), strip(r.body.clone(), OBS_SERVER_FIELDS))
            }
        };
        tag_metadata(&mut body, self.run_tag.as_deref());
        let mut ev = RawObject::new();
        ev.set("id", &uuid::Uuid::new_v4().to_string());
        ev.set("type", &kind);
        ev.set("timestamp", &now_iso_millis());
        ev.set("body", &body);
        ev
    }

    /// Sends an ingestion batch; one outcome per event. A batch the server finds too large
    /// (413) is split until each part fits; one event too large alone fails with its size.
    fn ingest(&self, events: Vec<RawObject>, idem: Idempotency) -> IngestFuture<'_> {
        Box::pin(async move {
            let mut text = String::from("{\"batch\":");
            text.push_str(&serde_json::to_string(&events).expect("events serialise"));
            text.push('}');
            match self.ingest_text(text, &events, idem).await {
                Err(_) if events.len() > 1 => {
                    let mut left = events;
                    let right = left.split_off(left.len() / 2);
                    let mut out = self.ingest(left, idem).await;
                    out.extend(self.ingest(right, idem).await);
                    out
                }
                Err(size) => vec![WriteOutcome::Failed(too_large(size))],
                Ok(out) => out,
            }
        })
    }

    /// One ingestion request; `Err(size)` when the server refused it as too large.
    async fn ingest_text(
        &self,
        text: String,
        events: &[RawObject],
        idem: Idempotency,
    ) -> Result<Vec<WriteOutcome>, usize> {
        let ids: Vec<String> = events
            .iter()
            .map(|e| e.str("id").unwrap_or_default())
            .collect();
        let size = text.len();
        // Shared, not copied, by every attempt.
        let body = bytes::Bytes::from(text);
        let result = self
            .http
            .send(
                Bucket::Ingestion,
                || {
                    self.http
                        .post("/api/public/ingestion")
                        .header("content-type", "application/json")
                        .body(body.clone())
                },
                idem,
            )
            .await;
        Ok(match result {
            Ok(resp) => {
                let parsed: Result<IngestionResponse, _> = resp.json().await;
                let Ok(parsed) = parsed else {
                    return Ok(ids
                        .iter()
                        .map(|_| WriteOutcome::Unknown("the answer could not be read".into()))
                        .collect());
                };
                let mut by_id: HashMap<String, WriteOutcome> = HashMap::new();
                for s in parsed.successes {
                    by_id.insert(s.id, WriteOutcome::written());
                }
                for e in parsed.errors {
                    let msg = e
                        .message
                        .or_else(|| e.error.map(|v| v.to_string()))
                        .unwrap_or_else(|| "no reason given".into());
                    let outcome = if e.status >= 500 || e.status == 429 {
                        WriteOutcome::Retry(format!(
                            "the server failed on it ({}): {msg}",
                            e.status
                        ))
                    } else {
                        WriteOutcome::Failed(format!("the server refused it ({}): {msg}", e.status))
                    };
                    by_id.insert(e.id, outcome);
                }
                ids.iter()
                    .map(|id| {
                        by_id.remove(id).unwrap_or_else(|| {
                            WriteOutcome::Unknown("the server did not report on it".into())
                        })
                    })
                    .collect()
            }
            Err(HttpFailure::Rejected { status: 413, .. }) => return Err(size),
            Err(f) => ids.iter().map(|_| failure_outcome(&f)).collect(),
        })
    }

    /// Sends spans over OTLP (protobuf when every id fits, JSON otherwise); a rejected export
    /// is split to find the spans at fault.
    fn send_spans<'a>(&'a self, spans: Vec<(usize, otlp::SpanData)>) -> SpanFuture<'a> {
        Box::pin(async move {
            let protobuf = spans.iter().all(|(_, s)| s.fits_protobuf());
            let (body, content_type) = if protobuf {
                let bytes = otlp::export_protobuf(spans.iter().map(|(_, s)| s.clone()));
                (bytes::Bytes::from(bytes), "application/x-protobuf")
            } else {
                let text = otlp::export_json(spans.iter().map(|(_, s)| s));
                (bytes::Bytes::from(text), "application/json")
            };
            let result = self
                .http
                .send(
                    Bucket::Ingestion,
                    || {
                        self.http
                            .post("/api/public/otel/v1/traces")
                            .header("content-type", content_type)
                            .header("x-langfuse-ingestion-version", "4")
                            .body(body.clone())
                    },
                    Idempotency::Unsafe,
                )
                .await;
            let size = body.len();
            drop(body);
            match result {
                Ok(_) => spans
                    .into_iter()
                    .map(|(i, _)| (i, WriteOutcome::written()))
                    .collect(),
                // A rejected export is split to find the spans at fault; one too large for
                // the server (413) is split until each part fits.
                Err(HttpFailure::Rejected {
                    status: 400 | 413, ..
                }) if spans.len() > 1 => {
                    let mut spans = spans;
                    let right = spans.split_off(spans.len() / 2);
                    let mut out = self.send_spans(spans).await;
                    out.extend(self.send_spans(right).await);
                    out
                }
                Err(HttpFailure::Rejected { status: 413, .. }) => {
                    let o = WriteOutcome::Failed(too_large(size));
                    spans.into_iter().map(|(i, _)| (i, o.clone())).collect()
                }
                Err(f) => {
                    let o = failure_outcome(&f);
                    spans.into_iter().map(|(i, _)| (i, o.clone())).collect()
                }
            }
        })
    }

    async fn write_otlp(
        &self,
        entity: Entity,
        records: &[Record],
        source: Dialect,
    ) -> Vec<WriteOutcome> {
        let opts = SpanOptions {
            run_tag: self.run_tag.as_deref(),
            source,
        };
        let mut outcomes: Vec<Option<WriteOutcome>> = vec![None; records.len()];
        let mut spans = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            let span = match entity {
                Entity::Traces => otlp::trace_span(&r.body, &opts),
                _ => otlp::observation_span(&r.body, &opts),
            };
            match span {
                Ok(s) => spans.push((i, s)),
                Err(e) => outcomes[i] = Some(WriteOutcome::Failed(e.0)),
            }
        }
        // One request per format (a rate budget counts requests): protobuf for the spans whose
        // ids fit it, JSON for the rest, so each is as large as `wire_len` said.
        let (proto, json): (Vec<_>, Vec<_>) =
            spans.into_iter().partition(|(_, s)| s.fits_protobuf());
        for part in [proto, json] {
            if !part.is_empty() {
                for (i, o) in self.send_spans(part).await {
                    outcomes[i] = Some(o);
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.expect("every record has an outcome"))
            .collect()
    }

    /// Ids among `ids` that the target shows, per trace (v4 has no lookup by id list).
    async fn observation_ids_of_traces(
        &self,
        trace_ids: &HashSet<String>,
    ) -> Result<HashSet<String>, EngineError> {
        let mut found = HashSet::new();
        for t in trace_ids {
            let mut cursor: Option<String> = None;
            loop {
                let mut path = format!(
                    "/api/public/v2/observations?fields=core&limit=1000&traceId={}",
                    q(t)
                );
                if let Some(c) = &cursor {
                    path.push_str(&format!("&cursor={}", q(c)));
                }
                let page: CorePage = self
                    .get_json(Bucket::PublicApi, &path, "checking observations")
                    .await?;
                found.extend(page.data.into_iter().map(|o| o.id));
                cursor = page.meta.and_then(|m| m.cursor).filter(|c| !c.is_empty());
                if cursor.is_none() {
                    break;
                }
            }
        }
        Ok(found)
    }
}

#[derive(Deserialize)]
struct CoreRow {
    id: String,
    #[serde(rename = "traceId", default)]
    trace_id: Option<String>,
}
#[derive(Deserialize)]
struct CorePage {
    data: Vec<CoreRow>,
    #[serde(default)]
    meta: Option<CoreMeta>,
}
#[derive(Deserialize)]
struct CoreMeta {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    page: Option<u64>,
    #[serde(rename = "totalPages", default)]
    total_pages: Option<u64>,
}

/// The spans of their own that run items carry to a v4 target (see `experiments`), as
/// observation records; items without one are left out.
fn item_spans(records: &[Record]) -> Vec<Record> {
    records
        .iter()
        .filter_map(|r| {
            let body = r.body.get_present(experiments::ITEM_SPAN_KEY)?;
            let body = RawObject::from_json(body.get()).ok()?;
            Some(Record::new(Entity::Observations, body.str("id")?, body))
        })
        .collect()
}

pub(crate) fn failure_outcome(f: &HttpFailure) -> WriteOutcome {
    match f {
        HttpFailure::Rejected { .. } => WriteOutcome::Failed(f.describe()),
        HttpFailure::Unknown(_) => WriteOutcome::Unknown(f.describe()),
        HttpFailure::GaveUp(_) => WriteOutcome::Retry(f.describe()),
    }
}

#[async_trait]
impl TargetConnector for Langfuse {
    fn media_target(&self) -> Option<&dyn crate::connectors::media::MediaTarget> {
        Some(self)
    }
    fn describe(&self) -> String {
        SourceDescribe::describe(self)
    }
    fn generation(&self) -> Option<Generation> {
        Some(self.info.generation)
    }
    fn max_batch_bytes(&self, entity: Entity) -> usize {
        match entity {
            // The ingestion endpoint takes at most 3.5 MB per batch.
            Entity::Scores => 3_000_000,
            Entity::Traces | Entity::Observations if self.info.generation != Generation::V4 => {
                3_000_000
            }
            Entity::Traces | Entity::Observations => 4_000_000,
            _ => 3_000_000,
        }
    }
    fn max_batch_items(&self, entity: Entity) -> usize {
        match entity {
            Entity::Traces | Entity::Observations | Entity::Scores => 1000,
            _ => 1,
        }
    }
    fn wire_len(&self, entity: Entity, record: &Record) -> usize {
        match entity {
            // OTLP/JSON writes input, output and metadata as strings, escaped once more;
            // protobuf (spans whose ids are lowercase hex) carries them as they are.
            Entity::Traces | Entity::Observations if self.info.generation == Generation::V4 => {
                let protobuf = entity == Entity::Observations
                    && otlp::ids_fit_protobuf(
                        &record.id,
                        record.body.str("traceId").as_deref(),
                        record.body.str("parentObservationId").as_deref(),
                    );
                SPAN_OVERHEAD
                    + if protobuf {
                        record.body.approx_len()
                    } else {
                        record.body.escaped_len()
                    }
            }
            _ => record.body.approx_len() + 256,
        }
    }

    async fn existing_keys_page(
        &self,
        entity: Entity,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<(Vec<ExistingKey>, Option<String>), EngineError> {
        let from = q(&iso_millis(&scope.from));
        let to = q(&iso_millis(&scope.to));
        let v4 = self.info.generation == Generation::V4;
        let (path, bucket, cursor_style) = match entity {
            Entity::Observations | Entity::Traces if v4 => (
                format!(
                    "/api/public/v2/observations?fields=core&limit=1000&fromStartTime={from}&toStartTime={to}"
                ),
                Bucket::PublicApi,
                true,
            ),
            Entity::Scores if v4 => (
                format!("/api/public/v3/scores?limit=100&fromTimestamp={from}&toTimestamp={to}"),
                Bucket::PublicApi,
                true,
            ),
            Entity::Traces => (
                format!(
                    "/api/public/traces?fields=core&limit=100&fromTimestamp={from}&toTimestamp={to}"
                ),
                Bucket::LegacyRead,
                false,
            ),
            Entity::Observations => (
                format!("/api/public/observations?limit=100&fromStartTime={from}&toStartTime={to}"),
                Bucket::LegacyRead,
                false,
            ),
            Entity::Scores => (
                format!("/api/public/v2/scores?limit=100&fromTimestamp={from}&toTimestamp={to}"),
                Bucket::LegacyRead,
                false,
            ),
            Entity::Sessions => return Ok((vec![], None)),
            _ => return self.existing_rest_keys_page(entity, scope, cursor).await,
        };
        let path = match (&cursor, cursor_style) {
            (Some(c), true) => format!("{path}&cursor={}", q(c)),
            (Some(c), false) => format!("{path}&page={c}"),
            (None, true) => path,
            (None, false) => format!("{path}&page=1"),
        };
        let page: CorePage = self
            .get_json(bucket, &path, &format!("listing {entity} in the target"))
            .await?;
        let next = match (&page.meta, cursor_style) {
            (Some(m), true) => m.cursor.clone().filter(|c| !c.is_empty()),
            (Some(m), false) => match (m.page, m.total_pages) {
                (Some(p), Some(t)) if p < t && !page.data.is_empty() => Some((p + 1).to_string()),
                _ => None,
            },
            (None, _) => None,
        };
        let keys = if entity == Entity::Traces && v4 {
            let set: HashSet<String> = page.data.into_iter().filter_map(|r| r.trace_id).collect();
            set.into_iter().map(ExistingKey::id).collect()
        } else {
            page.data
                .into_iter()
                .map(|r| ExistingKey::id(r.id))
                .collect()
        };
        Ok((keys, next))
    }

    async fn write_batch(
        &self,
        entity: Entity,
        records: &[Record],
        source: Dialect,
    ) -> Vec<WriteOutcome> {
        let v4 = self.info.generation == Generation::V4;
        match entity {
            Entity::Traces if v4 && source.is_v4() => {
                // A v4 trace is derived from its spans, which the observations stream writes.
                records.iter().map(|_| WriteOutcome::written()).collect()
            }
            Entity::Traces | Entity::Observations if v4 => {
                self.write_otlp(entity, records, source).await
            }
            Entity::Traces | Entity::Observations => {
                let events = records
                    .iter()
                    .map(|r| self.legacy_event(entity, r))
                    .collect();
                // Legacy ingestion upserts by id: repeating it is harmless.
                self.ingest(events, Idempotency::Safe).await
            }
            Entity::Scores => {
                let events = records.iter().map(|r| self.score_event(r)).collect();
                self.ingest(
                    events,
                    if v4 {
                        Idempotency::Unsafe
                    } else {
                        Idempotency::Safe
                    },
                )
                .await
            }
            Entity::Sessions => records.iter().map(|_| WriteOutcome::written()).collect(),
            // A run item that does not ride on its trace's span is a span of its own.
            Entity::DatasetRunItems if v4 => {
                let spans = item_spans(records);
                if spans.len() < records.len() {
                    return records
                        .iter()
                        .map(|_| {
                            WriteOutcome::Failed(
                                "Langfuse v4 creates experiment items only from spans".into(),
                            )
                        })
                        .collect();
                }
                self.write_otlp(Entity::Observations, &spans, source).await
            }
            _ => self.write_rest(entity, records).await,
        }
    }

    async fn which_exist(
        &self,
        entity: Entity,
        records: &[Record],
    ) -> Result<HashSet<String>, EngineError> {
        let v4 = self.info.generation == Generation::V4;
        match entity {
            Entity::Observations | Entity::Traces if v4 => {
                let traces: HashSet<String> = records
                    .iter()
                    .filter_map(|r| {
                        if entity == Entity::Traces {
                            Some(r.id.clone())
                        } else {
                            r.body.str("traceId")
                        }
                    })
                    .collect();
                let found = self.observation_ids_of_traces(&traces).await?;
                Ok(records
                    .iter()
                    .filter(|r| {
                        let key = if entity == Entity::Traces {
                            otlp::trace_span_id(&r.id)
                        } else {
                            r.id.clone()
                        };
                        found.contains(&key)
                    })
                    .map(|r| r.id.clone())
                    .collect())
            }
            Entity::Scores if v4 => {
                let mut found = HashSet::new();
                for chunk in records.chunks(50) {
                    let ids: Vec<&str> = chunk.iter().map(|r| r.id.as_str()).collect();
                    let path = format!("/api/public/v3/scores?limit=100&id={}", q(&ids.join(",")));
                    let page: CorePage = self
                        .get_json(Bucket::PublicApi, &path, "checking scores")
                        .await?;
                    found.extend(page.data.into_iter().map(|r| r.id));
                }
                Ok(found)
            }
            Entity::Traces | Entity::Observations | Entity::Scores => {
                let mut found = HashSet::new();
                for r in records {
                    let path = match entity {
                        Entity::Traces => format!("/api/public/traces/{}", q(&r.id)),
                        Entity::Observations => format!("/api/public/observations/{}", q(&r.id)),
                        _ => format!("/api/public/v2/scores/{}", q(&r.id)),
                    };
                    match self
                        .http
                        .send(
                            Bucket::LegacyRead,
                            || self.http.get(&path),
                            Idempotency::Safe,
                        )
                        .await
                    {
                        Ok(_) => {
                            found.insert(r.id.clone());
                        }
                        Err(HttpFailure::Rejected { status: 404, .. }) => {}
                        Err(f) => return Err(self.failure("checking what arrived", f)),
                    }
                }
                Ok(found)
            }
            Entity::Sessions => Ok(records.iter().map(|r| r.id.clone()).collect()),
            Entity::DatasetRunItems if v4 => {
                let spans = item_spans(records);
                let found = self.which_exist(Entity::Observations, &spans).await?;
                Ok(records
                    .iter()
                    .filter(|r| found.contains(&experiments::item_span_id(&r.id)))
                    .map(|r| r.id.clone())
                    .collect())
            }
            _ => self.which_exist_rest(entity, records).await,
        }
    }

    async fn prompt_versions(
        &self,
        name: &str,
    ) -> Result<Vec<crate::connector::TargetPromptVersion>, EngineError> {
        self.prompt_versions_of(name).await
    }

    async fn prompt_label_holders(
        &self,
        name: &str,
        labels: &[String],
    ) -> Result<Vec<(String, i64)>, EngineError> {
        let mut holders = vec![];
        for label in labels.iter().filter(|l| l.as_str() != "latest") {
            if let Some((version, _)) = self.prompt_version_by(name, "label", label).await? {
                holders.push((label.clone(), version));
            }
        }
        Ok(holders)
    }

    async fn apply_prompt_labels(
        &self,
        name: &str,
        version: i64,
        labels: &[String],
    ) -> Result<(), EngineError> {
        self.patch_prompt_labels(name, version, labels).await
    }
}

/// Disambiguates `describe`, which both connector traits define.
trait SourceDescribe {
    fn describe(&self) -> String;
}
impl SourceDescribe for Langfuse {
    fn describe(&self) -> String {
        crate::connectors::SourceConnector::describe(self)
    }
}

#[allow(dead_code)]
fn _raw(_: &RawValue) {}
