//! After the deletes: check that every object a done step removed is gone (and every archived
//! score config archived), polling with backoff because Langfuse v3/v4 apply deletes with a delay.

use super::store::Step;
use super::types::{Action, Leftover, ObjectRef, RollbackProgress, StepState, Verification};
use crate::after_run::reconnect::all_keys;
use crate::connectors::http::{Bucket, HttpFailure, Idempotency};
use crate::connectors::langfuse::{Langfuse, q};
use crate::vocab::{EngineError, Entity, Generation, Scope};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// One thing to check: an object, or a whole dataset run.
#[derive(Clone, Debug)]
enum Check {
    Object(ObjectRef),
    Run { dataset: String, run: String },
}

impl Check {
    fn leftover(&self) -> Leftover {
        match self {
            Check::Object(o) => Leftover {
                entity: o.entity,
                id: o.id.clone(),
            },
            Check::Run { dataset, run } => Leftover {
                entity: Entity::DatasetRunItems,
                id: format!("{dataset}/{run}"),
            },
        }
    }
}

/// GET `path`: `Some(body)` when it answered 2xx, `None` on 404.
async fn fetch(
    lf: &Langfuse,
    bucket: Bucket,
    path: &str,
) -> Result<Option<serde_json::Value>, EngineError> {
    match lf
        .http
        .send(bucket, || lf.http.get(path), Idempotency::Safe)
        .await
    {
        Ok(resp) => Ok(Some(resp.json().await.unwrap_or_default())),
        Err(HttpFailure::Rejected { status: 404, .. }) => Ok(None),
        Err(f) => Err(EngineError::Http {
            url: lf.info.url.clone(),
            what: "checking that a deleted object is gone".into(),
            status: 0,
            message: f.describe(),
        }),
    }
}

fn has_rows(v: &Option<serde_json::Value>) -> bool {
    v.as_ref()
        .and_then(|v| v.get("data")?.as_array().map(|a| !a.is_empty()))
        .unwrap_or(false)
}

/// Whether a check still finds the object. `traces` caches v4 trace lookups within one pass.
async fn present(
    lf: &Langfuse,
    check: &Check,
    traces: &mut HashMap<String, bool>,
) -> Result<bool, EngineError> {
    let v4 = lf.info.generation == Generation::V4;
    let o = match check {
        Check::Run { dataset, run } => {
            let path = format!("/api/public/datasets/{}/runs/{}", q(dataset), q(run));
            return Ok(fetch(lf, Bucket::Datasets, &path).await?.is_some());
        }
        Check::Object(o) => o,
    };
    Ok(match o.entity {
        // On v4 a trace is its observations: it is gone when no observation names it.
        Entity::Traces | Entity::Observations if v4 => {
            let t = o.trace_id.clone().unwrap_or_else(|| o.id.clone());
            if let Some(p) = traces.get(&t) {
                return Ok(*p);
            }
            let path = format!(
                "/api/public/v2/observations?fields=core&limit=1&traceId={}",
                q(&t)
            );
            let p = has_rows(&fetch(lf, Bucket::PublicApi, &path).await?);
            traces.insert(t, p);
            p
        }
        Entity::Traces => fetch(
            lf,
            Bucket::LegacyRead,
            &format!("/api/public/traces/{}", q(&o.id)),
        )
        .await?
        .is_some(),
        Entity::Observations => fetch(
            lf,
            Bucket::LegacyRead,
            &format!("/api/public/observations/{}", q(&o.id)),
        )
        .await?
        .is_some(),
        Entity::Scores if v4 => has_rows(
            &fetch(
                lf,
                Bucket::PublicApi,
                &format!("/api/public/v3/scores?limit=1&id={}", q(&o.id)),
            )
            .await?,
        ),
        Entity::Scores => fetch(
            lf,
            Bucket::LegacyRead,
            &format!("/api/public/v2/scores/{}", q(&o.id)),
        )
        .await?
        .is_some(),
        Entity::DatasetItems => fetch(
            lf,
            Bucket::Datasets,
            &format!("/api/public/dataset-items/{}", q(&o.id)),
        )
        .await?
        .is_some(),
        Entity::Prompts => {
            let Some((name, version)) = o.id.rsplit_once(':') else {
                return Ok(false);
            };
            fetch(
                lf,
                Bucket::Prompts,
                &format!("/api/public/v2/prompts/{}?version={version}", q(name)),
            )
            .await?
            .is_some()
        }
        Entity::Models => fetch(
            lf,
            Bucket::PublicApi,
            &format!("/api/public/models/{}", q(&o.id)),
        )
        .await?
        .is_some(),
        Entity::Evaluators
        | Entity::EvaluationRules
        | Entity::Dashboards
        | Entity::DashboardWidgets => {
            let base = match o.entity {
                Entity::Evaluators => crate::connectors::langfuse::evaluators::EVALUATORS,
                Entity::EvaluationRules => crate::connectors::langfuse::evaluators::RULES,
                Entity::Dashboards => crate::connectors::langfuse::dashboards::DASHBOARDS,
                _ => crate::connectors::langfuse::dashboards::WIDGETS,
            };
            fetch(lf, Bucket::PublicApi, &format!("{base}/{}", q(&o.id)))
                .await?
                .is_some()
        }
        Entity::AnnotationQueueItems => match o.id.split_once('/') {
            Some((queue, id)) => fetch(
                lf,
                Bucket::PublicApi,
                &format!(
                    "{}/{}/items/{}",
                    crate::connectors::langfuse::annotation_queues::PATH,
                    q(queue),
                    q(id)
                ),
            )
            .await?
            .is_some(),
            None => false,
        },
        // No read by id: the target's listing.
        Entity::LlmConnections => {
            let mut found = false;
            crate::connectors::for_each_existing_key_page(
                lf,
                o.entity,
                &Scope::default(),
                |keys| {
                    found |= keys
                        .iter()
                        .any(|k| k.target_id.as_deref() == Some(o.id.as_str()));
                },
            )
            .await?;
            found
        }
        // "Present" for an archived entity means: not archived.
        Entity::ScoreConfigs => fetch(
            lf,
            Bucket::PublicApi,
            &format!("/api/public/score-configs/{}", q(&o.id)),
        )
        .await?
        .is_some_and(|c| c.get("isArchived").and_then(|a| a.as_bool()) != Some(true)),
        // Verified through their run.
        _ => false,
    })
}

fn checks(steps: &[Step]) -> Vec<Check> {
    let mut out = vec![];
    for s in steps.iter().filter(|s| s.state == StepState::Done) {
        if let Action::DeleteDatasetRun { dataset, run } = &s.action {
            out.push(Check::Run {
                dataset: dataset.clone(),
                run: run.clone(),
            });
            continue;
        }
        out.extend(s.removes.iter().cloned().map(Check::Object));
    }
    out
}

/// Above this many objects of a tracing entity, one listing of the run's window is cheaper than
/// one request per object (Langfuse Cloud allows few reads a minute).
const LIST_ABOVE: usize = 10;

pub(crate) async fn verify(
    lf: &Langfuse,
    steps: &[Step],
    scope: &Scope,
    limit: Duration,
    progress: &(dyn Fn(RollbackProgress) + Send + Sync),
) -> Result<Verification, EngineError> {
    let started = Instant::now();
    let mut remaining = checks(steps);
    let checked = remaining.len() as u64;
    let mut delay = Duration::from_millis(250);
    loop {
        let mut lists: HashMap<Entity, HashSet<String>> = HashMap::new();
        for entity in [Entity::Traces, Entity::Observations, Entity::Scores] {
            let n = remaining
                .iter()
                .filter(|c| matches!(c, Check::Object(o) if o.entity == entity))
                .count();
            if n > LIST_ABOVE {
                lists.insert(entity, all_keys(lf, entity, scope).await?);
            }
        }
        let mut traces = HashMap::new();
        let mut still = vec![];
        for c in remaining {
            let shown = match &c {
                Check::Object(o) => match lists.get(&o.entity) {
                    Some(list) => list.contains(&o.id),
                    None => present(lf, &c, &mut traces).await?,
                },
                Check::Run { .. } => present(lf, &c, &mut traces).await?,
            };
            if shown {
                still.push(c);
            }
        }
        remaining = still;
        progress(RollbackProgress::Verifying {
            checked,
            remaining: remaining.len() as u64,
        });
        let waited_ms = started.elapsed().as_millis() as u64;
        if remaining.is_empty() {
            return Ok(Verification {
                checked,
                still_present: vec![],
                waited_ms,
                settled: true,
                note: None,
            });
        }
        if started.elapsed() >= limit {
            return Ok(Verification {
                checked,
                still_present: remaining.iter().map(Check::leftover).collect(),
                waited_ms,
                settled: false,
                note: Some(format!(
                    "Gave up waiting after {:.0} seconds: {} deleted objects are still visible. Langfuse may still be processing the deletes; run the rollback again later to check.",
                    waited_ms as f64 / 1000.0,
                    remaining.len()
                )),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
