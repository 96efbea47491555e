//! Before a trace is deleted: everything the whole trace holds in the target, at any time. The
//! run's window is not enough, because a trace's older observations and scores may lie before
//! it, and a trace delete takes them along.

use crate::error::EngineError;
use crate::http::Bucket;
use crate::langfuse::{Langfuse, q};
use crate::model::Generation;
use serde::Deserialize;
use std::collections::BTreeSet;

/// The ids of a trace's observations and scores in the target.
#[derive(Debug, Default)]
pub(crate) struct TraceContents {
    pub observations: BTreeSet<String>,
    pub scores: BTreeSet<String>,
}

#[derive(Deserialize)]
struct CursorPage {
    data: Vec<IdRow>,
    #[serde(default)]
    meta: Option<CursorMeta>,
}
#[derive(Deserialize)]
struct CursorMeta {
    #[serde(default)]
    cursor: Option<String>,
}
#[derive(Deserialize)]
struct IdRow {
    id: String,
}

/// An entry of a legacy trace's `observations` or `scores`: an id or a whole object.
#[derive(Deserialize)]
#[serde(untagged)]
enum IdOrObject {
    Id(String),
    Object(IdRow),
}

impl IdOrObject {
    fn id(self) -> String {
        match self {
            IdOrObject::Id(s) => s,
            IdOrObject::Object(o) => o.id,
        }
    }
}

#[derive(Deserialize)]
struct LegacyTrace {
    #[serde(default)]
    observations: Vec<IdOrObject>,
    #[serde(default)]
    scores: Vec<IdOrObject>,
}

/// Every id a cursor listing returns for `path` (no time window).
async fn all_ids(lf: &Langfuse, path: &str, what: &str) -> Result<BTreeSet<String>, EngineError> {
    let mut out = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut p = path.to_string();
        if let Some(c) = &cursor {
            p.push_str(&format!("&cursor={}", q(c)));
        }
        let page: CursorPage = lf.get_json(Bucket::PublicApi, &p, what).await?;
        out.extend(page.data.into_iter().map(|r| r.id));
        cursor = page.meta.and_then(|m| m.cursor).filter(|c| !c.is_empty());
        if cursor.is_none() {
            return Ok(out);
        }
    }
}

/// What trace `trace` holds in the target; `None` when the target has no such trace.
pub(crate) async fn contents(
    lf: &Langfuse,
    trace: &str,
) -> Result<Option<TraceContents>, EngineError> {
    let what = format!("reading trace {trace} in the target before deleting it");
    if lf.info.generation == Generation::V4 {
        let observations = all_ids(
            lf,
            &format!(
                "/api/public/v2/observations?fields=core&limit=1000&traceId={}",
                q(trace)
            ),
            &what,
        )
        .await?;
        let scores = all_ids(
            lf,
            &format!("/api/public/v3/scores?limit=100&traceId={}", q(trace)),
            &what,
        )
        .await?;
        if observations.is_empty() && scores.is_empty() {
            return Ok(None);
        }
        return Ok(Some(TraceContents {
            observations,
            scores,
        }));
    }
    match lf
        .get_json::<LegacyTrace>(
            Bucket::LegacyRead,
            &format!("/api/public/traces/{}", q(trace)),
            &what,
        )
        .await
    {
        Ok(t) => Ok(Some(TraceContents {
            observations: t.observations.into_iter().map(IdOrObject::id).collect(),
            scores: t.scores.into_iter().map(IdOrObject::id).collect(),
        })),
        Err(EngineError::Http { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
