//! Reading from Langfuse: cursor endpoints on v4, page endpoints on older servers, normalised to
//! the canonical shapes (the v1 single-object GET shapes, which the archive stores).

use super::{Langfuse, q};
use crate::connectors::http::Bucket;
use crate::connectors::{Page, SourceConnector};
use crate::vocab::time::iso_millis;
use crate::vocab::{Dialect, EngineError, Entity, Generation, Payloads, RawObject, Record, Scope};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeSet;

const OBS_FIELDS: &str = "core,basic,time,io,metadata,model,usage,prompt,trace_context";
/// v4 cuts metadata values longer than this unless the key is expanded.
const METADATA_CUT: usize = 200;

#[derive(Deserialize)]
struct CursorPage {
    data: Vec<RawObject>,
    #[serde(default)]
    meta: Option<CursorMeta>,
}
#[derive(Deserialize)]
struct CursorMeta {
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Deserialize)]
struct NumberedPage {
    data: Vec<RawObject>,
    meta: PageMeta,
}
#[derive(Deserialize)]
struct PageMeta {
    page: u64,
    #[serde(rename = "totalPages")]
    total_pages: u64,
    #[serde(rename = "totalItems", default)]
    total_items: Option<u64>,
}

/// A v2 read returns input/output as text: JSON text becomes JSON again, other text a string.
pub(crate) fn io_from_text(v: &RawValue) -> Box<RawValue> {
    if let Ok(text) = serde_json::from_str::<String>(v.get()) {
        if let Ok(parsed) = serde_json::from_str::<Box<RawValue>>(&text) {
            return parsed;
        }
        return serde_json::value::to_raw_value(&text).expect("string serialises");
    }
    v.to_owned()
}

/// v4 metadata is a map of strings; values that hold JSON are restored.
fn metadata_from_v2(v: &RawValue) -> Box<RawValue> {
    let Ok(map) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(v.get())
    else {
        return v.to_owned();
    };
    let restored: serde_json::Map<String, serde_json::Value> = map
        .into_iter()
        .map(|(k, val)| {
            // v4 keeps metadata values as strings; JSON in them (objects, numbers, booleans)
            // is restored, plain text stays text.
            let val = match &val {
                serde_json::Value::String(s) => {
                    match serde_json::from_str::<serde_json::Value>(s) {
                        Ok(serde_json::Value::String(_)) | Err(_) => val,
                        Ok(parsed) => parsed,
                    }
                }
                _ => val,
            };
            (k, val)
        })
        .collect();
    serde_json::value::to_raw_value(&restored).expect("map serialises")
}

/// Keys whose metadata value may have been cut.
fn long_metadata_keys(o: &RawObject, out: &mut BTreeSet<String>) {
    let Some(m) = o.get_present("metadata") else {
        return;
    };
    if let Ok(map) = serde_json::from_str::<std::collections::BTreeMap<String, &RawValue>>(m.get())
    {
        for (k, v) in map {
            let len = serde_json::from_str::<String>(v.get())
                .map(|s| s.chars().count())
                .unwrap_or(v.get().len());
            if len >= METADATA_CUT {
                out.insert(k);
            }
        }
    }
}

/// Canonical observation from a `/v2/observations` row.
fn observation_from_v2(mut o: RawObject) -> RawObject {
    o.remove("projectId");
    for k in ["input", "output"] {
        if let Some(v) = o.get_present(k) {
            let parsed = io_from_text(v);
            o.set_raw(k, parsed);
        }
    }
    if let Some(m) = o.get_present("metadata") {
        let restored = metadata_from_v2(m);
        o.set_raw("metadata", restored);
    }
    o.rename("providedModelName", "model");
    o
}

/// A trace derived from its root observation (v4 has no trace table).
fn trace_from_root(o: &RawObject) -> Option<RawObject> {
    let mut t = RawObject::new();
    t.set_raw("id", o.get_present("traceId")?.to_owned());
    if let Some(v) = o.get("startTime") {
        t.set_raw("timestamp", v.to_owned());
    }
    let name = o.get_present("traceName").or_else(|| o.get("name"));
    if let Some(v) = name {
        t.set_raw("name", v.to_owned());
    }
    for k in [
        "input",
        "output",
        "sessionId",
        "release",
        "version",
        "userId",
        "metadata",
        "tags",
        "public",
        "environment",
    ] {
        if let Some(v) = o.get(k) {
            t.set_raw(k, v.to_owned());
        }
    }
    Some(t)
}

/// Canonical score (the v2 `Score` shape) from a `/v3/scores` row.
fn score_from_v3(mut s: RawObject) -> RawObject {
    s.remove("projectId");
    let data_type = s.str("dataType").unwrap_or_default();
    if let Some(v) = s.remove("value") {
        match data_type.as_str() {
            "NUMERIC" => s.set_raw("value", v),
            "BOOLEAN" => {
                let b: bool = serde_json::from_str(v.get()).unwrap_or(false);
                s.set("value", &(if b { 1.0 } else { 0.0 }));
                s.set("stringValue", if b { "True" } else { "False" });
            }
            _ => s.set_raw("stringValue", v),
        }
    }
    if let Some(subject) = s.remove("subject") {
        #[derive(Deserialize)]
        struct Subject {
            kind: String,
            id: String,
            #[serde(rename = "traceId")]
            trace_id: Option<String>,
        }
        if let Ok(sub) = serde_json::from_str::<Subject>(subject.get()) {
            let (t, o, sess, run) = match sub.kind.as_str() {
                "trace" => (Some(sub.id), None, None, None),
                "observation" => (sub.trace_id, Some(sub.id), None, None),
                "session" => (None, None, Some(sub.id), None),
                _ => (None, None, None, Some(sub.id)),
            };
            s.set("traceId", &t);
            s.set("observationId", &o);
            s.set("sessionId", &sess);
            s.set("datasetRunId", &run);
        }
    }
    s
}

impl Langfuse {
    /// Observations (or root observations) in the window, through `v2/metrics`; `None` when the
    /// server does not answer it (no metrics API, or not allowed for this key).
    async fn count_observations(&self, scope: &Scope, roots_only: bool) -> Option<u64> {
        let root = serde_json::json!({"column": "isRootObservation", "operator": "=", "value": true, "type": "boolean"});
        let filters = if roots_only { vec![root] } else { vec![] };
        self.metric_count("observations", filters, scope).await
    }

    /// Numeric, boolean and categorical scores in the window (the metric views have no text
    /// scores): an estimate, not a total.
    async fn estimate_scores(&self, scope: &Scope) -> Option<u64> {
        let numeric = self.metric_count("scores-numeric", vec![], scope).await?;
        let categorical = self
            .metric_count("scores-categorical", vec![], scope)
            .await?;
        Some(numeric + categorical)
    }

    /// The `count` metric of a `v2/metrics` view in the scope's window and environments.
    async fn metric_count(
        &self,
        view: &str,
        mut filters: Vec<serde_json::Value>,
        scope: &Scope,
    ) -> Option<u64> {
        if !scope.environments.is_empty() {
            filters.push(serde_json::json!({"column": "environment", "operator": "any of", "value": scope.environments, "type": "stringOptions"}));
        }
        let query = serde_json::json!({
            "view": view,
            "metrics": [{"measure": "count", "aggregation": "count"}],
            "filters": filters,
            "fromTimestamp": iso_millis(&scope.from),
            // An open-ended window ends in year 9999, past what ClickHouse dates hold.
            "toTimestamp": iso_millis(&scope.to.min(chrono::Utc::now() + chrono::Duration::days(1))),
        });
        let path = format!("/api/public/v2/metrics?query={}", q(&query.to_string()));
        let answer: serde_json::Value = self
            .get_json(Bucket::PublicApi, &path, &format!("counting {view}"))
            .await
            .ok()?;
        // ClickHouse writes 64-bit counts as strings; accept numbers too.
        match &answer["data"][0]["count_count"] {
            serde_json::Value::String(s) => s.parse().ok(),
            v => v.as_u64(),
        }
    }

    fn env_query(&self, scope: &Scope, key: &str) -> String {
        scope
            .environments
            .iter()
            .map(|e| format!("&{key}={}", q(e)))
            .collect()
    }

    async fn read_v2_observations(
        &self,
        scope: &Scope,
        cursor: Option<String>,
        roots_only: bool,
    ) -> Result<(Vec<RawObject>, Option<String>), EngineError> {
        let mut base = format!(
            "/api/public/v2/observations?fields={OBS_FIELDS}&limit=1000&fromStartTime={}&toStartTime={}{}",
            q(&iso_millis(&scope.from)),
            q(&iso_millis(&scope.to)),
            self.env_query(scope, "environment")
        );
        if roots_only {
            base.push_str("&isRootObservation=true");
        }
        if let Some(c) = &cursor {
            base.push_str(&format!("&cursor={}", q(c)));
        }
        let page: CursorPage = self
            .get_json(Bucket::PublicApi, &base, "reading observations")
            .await?;
        let mut data = page.data;
        // Metadata values over 200 characters come back cut: fetch the same page again with
        // those keys expanded, so nothing is lost.
        let mut long = BTreeSet::new();
        for o in &data {
            long_metadata_keys(o, &mut long);
        }
        if !long.is_empty() {
            let keys: Vec<&str> = long.iter().map(String::as_str).collect();
            let path = format!("{base}&expandMetadata={}", q(&keys.join(",")));
            let full: CursorPage = self
                .get_json(Bucket::PublicApi, &path, "reading observations")
                .await?;
            if full.data.len() == data.len() {
                data = full.data;
            } else {
                return Err(EngineError::Protocol {
                    url: self.info.url.clone(),
                    what: "reading observations with full metadata".into(),
                    detail: "the page changed between two reads".into(),
                });
            }
        }
        let next = page.meta.and_then(|m| m.cursor).filter(|c| !c.is_empty());
        Ok((data, next))
    }

    async fn read_numbered(
        &self,
        bucket: Bucket,
        path: &str,
        cursor: Option<String>,
        what: &str,
    ) -> Result<(Vec<RawObject>, Option<String>, Option<u64>), EngineError> {
        let page_no: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(1);
        let sep = if path.contains('?') { '&' } else { '?' };
        let p: NumberedPage = self
            .get_json(bucket, &format!("{path}{sep}page={page_no}"), what)
            .await?;
        let next = (p.meta.page < p.meta.total_pages && !p.data.is_empty())
            .then(|| (page_no + 1).to_string());
        Ok((p.data, next, p.meta.total_items))
    }

    fn legacy_path(&self, entity: Entity, scope: &Scope) -> Option<(Bucket, String)> {
        let (from, to) = (q(&iso_millis(&scope.from)), q(&iso_millis(&scope.to)));
        Some(match entity {
            Entity::Traces => (
                Bucket::LegacyRead,
                format!(
                    "/api/public/traces?limit=100&fields=core,io&orderBy=timestamp.desc&fromTimestamp={from}&toTimestamp={to}{}",
                    self.env_query(scope, "environment")
                ),
            ),
            Entity::Observations => (
                Bucket::LegacyRead,
                format!(
                    "/api/public/observations?limit=100&fromStartTime={from}&toStartTime={to}{}",
                    self.env_query(scope, "environment")
                ),
            ),
            Entity::Scores => (
                Bucket::LegacyRead,
                format!(
                    "/api/public/v2/scores?limit=100&fromTimestamp={from}&toTimestamp={to}{}",
                    self.env_query(scope, "environment")
                ),
            ),
            _ => return None,
        })
    }

    pub(crate) async fn read_tracing_page(
        &self,
        entity: Entity,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let (objects, next): (Vec<RawObject>, Option<String>) = match entity {
            Entity::Observations if self.reads_v4_style() => {
                let (d, n) = self.read_v2_observations(scope, cursor, false).await?;
                (d.into_iter().map(observation_from_v2).collect(), n)
            }
            Entity::Traces if self.reads_v4_style() => {
                let (d, n) = self.read_v2_observations(scope, cursor, true).await?;
                let traces = d
                    .into_iter()
                    .map(observation_from_v2)
                    .filter_map(|o| trace_from_root(&o))
                    .collect();
                (traces, n)
            }
            Entity::Scores
                if self.info.capabilities.scores_v3 && !self.info.capabilities.legacy_reads =>
            {
                let mut path = format!(
                    "/api/public/v3/scores?fields=details,subject,annotation&limit=100&fromTimestamp={}&toTimestamp={}",
                    q(&iso_millis(&scope.from)),
                    q(&iso_millis(&scope.to))
                );
                if !scope.environments.is_empty() {
                    path.push_str(&format!(
                        "&environment={}",
                        q(&scope.environments.join(","))
                    ));
                }
                if let Some(c) = &cursor {
                    path.push_str(&format!("&cursor={}", q(c)));
                }
                let p: CursorPage = self
                    .get_json(Bucket::PublicApi, &path, "reading scores")
                    .await?;
                let next = p.meta.and_then(|m| m.cursor).filter(|c| !c.is_empty());
                (p.data.into_iter().map(score_from_v3).collect(), next)
            }
            _ => {
                let (bucket, path) = self.legacy_path(entity, scope).ok_or_else(|| {
                    EngineError::Unsupported(
                        entity.to_string(),
                        "no read path on this server".into(),
                    )
                })?;
                let (d, n, _) = self
                    .read_numbered(bucket, &path, cursor, &format!("reading {entity}"))
                    .await?;
                let d = d
                    .into_iter()
                    .map(|mut o| {
                        o.remove("projectId");
                        o.remove("htmlPath");
                        o
                    })
                    .collect();
                (d, n)
            }
        };
        let records = objects
            .into_iter()
            .filter(|o| crate::vocab::filter::in_scope(entity, o, scope))
            .filter_map(|o| {
                let id = o.str("id")?;
                Some(Record::new(entity, id, o))
            })
            .collect();
        Ok(Page { records, next })
    }
}

#[async_trait]
impl SourceConnector for Langfuse {
    fn media_source(&self) -> Option<&dyn crate::connectors::media::MediaSource> {
        Some(self)
    }
    fn describe(&self) -> String {
        format!(
            "Langfuse {} at {} ({})",
            self.info.server_version,
            self.info.url,
            self.info
                .project_name
                .as_deref()
                .unwrap_or("unnamed project")
        )
    }
    fn payloads(&self) -> Payloads {
        let read_as = if self.reads_v4_style() {
            Generation::V4
        } else {
            self.info.generation.min_legacy()
        };
        Payloads::langfuse(Dialect::of(read_as))
    }
    fn supports(&self, entity: Entity) -> bool {
        !matches!(entity, Entity::Sessions)
    }
    async fn read_page(
        &self,
        entity: Entity,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        match entity {
            Entity::Traces | Entity::Observations | Entity::Scores => {
                self.read_tracing_page(entity, scope, cursor).await
            }
            _ => self.read_rest_page(entity, scope, cursor).await,
        }
    }
    async fn count(&self, entity: Entity, scope: &Scope) -> Result<Option<u64>, EngineError> {
        if matches!(entity, Entity::Evaluators | Entity::EvaluationRules) {
            return self.count_evaluation(entity).await;
        }
        if self.reads_v4_style() {
            return match entity {
                // A v4 trace is its root observation.
                Entity::Traces => Ok(self.count_observations(scope, true).await),
                Entity::Observations => Ok(self.count_observations(scope, false).await),
                // The metric views leave text scores out: no honest total.
                Entity::Scores => Ok(None),
                _ => Ok(None),
            };
        }
        if let Some((bucket, path)) = self.legacy_path(entity, scope) {
            let path = path.replace("limit=100", "limit=1");
            let (_, _, total) = self.read_numbered(bucket, &path, None, "counting").await?;
            return Ok(total);
        }
        Ok(None)
    }
    async fn estimate(&self, entity: Entity, scope: &Scope) -> Result<Option<u64>, EngineError> {
        if self.reads_v4_style() && entity == Entity::Scores {
            return Ok(self.estimate_scores(scope).await);
        }
        self.count(entity, scope).await
    }
}

impl Generation {
    /// Servers that still read through legacy pages are treated as v3 (or v2) sources.
    fn min_legacy(self) -> Generation {
        if self == Generation::V4 {
            Generation::V3
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_text_becomes_json_again() {
        let raw = |s: &str| RawValue::from_string(s.to_string()).unwrap();
        assert_eq!(io_from_text(&raw(r#""{\"a\":1}""#)).get(), r#"{"a":1}"#);
        assert_eq!(io_from_text(&raw(r#""hello""#)).get(), r#""hello""#);
        assert_eq!(io_from_text(&raw(r#""\"quoted\"""#)).get(), r#""quoted""#);
    }

    #[test]
    fn v3_scores_become_v2_shape() {
        let s = RawObject::from_json(r#"{"id":"s1","projectId":"p","name":"ok","value":true,"dataType":"BOOLEAN","subject":{"kind":"observation","id":"o1","traceId":"t1"}}"#).unwrap();
        let s = score_from_v3(s);
        assert_eq!(s.str("observationId").as_deref(), Some("o1"));
        assert_eq!(s.str("traceId").as_deref(), Some("t1"));
        assert_eq!(s.get("value").unwrap().get(), "1.0");
        assert!(s.get("projectId").is_none());
    }

    #[test]
    fn long_metadata_values_are_found() {
        let long = "x".repeat(200);
        let o = RawObject::from_json(&format!(r#"{{"metadata":{{"a":"{long}","b":"short"}}}}"#))
            .unwrap();
        let mut keys = BTreeSet::new();
        long_metadata_keys(&o, &mut keys);
        assert_eq!(keys.into_iter().collect::<Vec<_>>(), vec!["a".to_string()]);
    }
}
