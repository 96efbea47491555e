//! Annotation queues and their items. A queue is created over the target's score configs (the
//! pipeline maps `scoreConfigIds` through the journal); an item is created in the target's copy
//! of its queue, on the same trace, observation or session id, with its status. Items carry
//! their queue's name (`queueName`), which is what makes them the same item in both projects.
//! User assignments have no read in the API: they are a manual step. Servers without the API
//! (Langfuse v2) have no queues to read and take none.

use super::Langfuse;
use super::q;
use crate::connectors::SourceConnector;
use crate::connectors::http::{Bucket, HttpFailure, Idempotency};
use crate::connectors::traits::{ExistingKey, Page, WriteOutcome};
use crate::vocab::{EngineError, Entity, RawObject, Record, Scope};
use serde::{Deserialize, Serialize};

pub(crate) const PATH: &str = "/api/public/annotation-queues";

/// The field the pipeline sets on an item to the id of its queue in the target.
pub(crate) const TARGET_QUEUE_ID: &str = "targetQueueId";

/// Position in the item listing: queue index and page.
#[derive(Serialize, Deserialize, Default)]
struct ItemCursor {
    queue: usize,
    page: u64,
}

/// What the user is told to do about a queue's reviewers.
pub fn assignment_step(queues: &[String]) -> String {
    format!(
        "Langfuse's API cannot read who is assigned to an annotation queue: after the run, assign the reviewers of {} again in the target's Langfuse (Annotation Queues → the queue → assign users), where they are members of the project.",
        queues
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

impl Langfuse {
    /// Every queue of the project, oldest first (empty without the API).
    pub(crate) async fn annotation_queues(&self) -> Result<Vec<RawObject>, EngineError> {
        let mut out = vec![];
        let mut page = 1;
        while let Some((data, more)) = self
            .listing_if_served(PATH, page, "listing annotation queues")
            .await?
        {
            out.extend(data);
            if !more {
                break;
            }
            page += 1;
        }
        Ok(out)
    }

    pub(crate) async fn read_annotation_queues_page(
        &self,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let page: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(1);
        let what = format!("reading {}", Entity::AnnotationQueues);
        let Some((data, more)) = self.listing_if_served(PATH, page, &what).await? else {
            return Ok(Page::default());
        };
        Ok(Page {
            records: data
                .into_iter()
                .filter_map(|o| Some(Record::new(Entity::AnnotationQueues, o.str("id")?, o)))
                .collect(),
            next: more.then(|| (page + 1).to_string()),
        })
    }

    /// Items queue by queue, each with its queue's name.
    pub(crate) async fn read_annotation_queue_items_page(
        &self,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let mut c: ItemCursor = cursor
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default();
        let queues = self.annotation_queues().await?;
        let Some(queue) = queues.get(c.queue) else {
            return Ok(Page::default());
        };
        let (Some(queue_id), Some(name)) = (queue.str("id"), queue.str("name")) else {
            return Ok(Page::default());
        };
        let page = c.page.max(1);
        let path = format!("{PATH}/{}/items", q(&queue_id));
        let what = format!("reading {}", Entity::AnnotationQueueItems);
        let (data, more) = self
            .listing_if_served(&path, page, &what)
            .await?
            .unwrap_or_default();
        let records = data
            .into_iter()
            .filter_map(|mut o| {
                o.set("queueName", &name);
                Some(Record::new(Entity::AnnotationQueueItems, o.str("id")?, o))
            })
            .collect();
        c = if more {
            ItemCursor {
                queue: c.queue,
                page: page + 1,
            }
        } else {
            ItemCursor {
                queue: c.queue + 1,
                page: 1,
            }
        };
        Ok(Page {
            records,
            next: (c.queue < queues.len()).then(|| serde_json::to_string(&c).expect("cursor")),
        })
    }

    /// The target's queues by name, or its items by queue name and object (target id:
    /// `queueId/itemId`, what deleting an item needs).
    pub(crate) async fn existing_queue_keys(
        &self,
        entity: Entity,
    ) -> Result<Vec<ExistingKey>, EngineError> {
        let queues = self.annotation_queues().await?;
        if entity == Entity::AnnotationQueues {
            return Ok(queues
                .iter()
                .filter_map(|o| {
                    Some(ExistingKey {
                        key: o.str("name")?,
                        target_id: o.str("id"),
                    })
                })
                .collect());
        }
        let mut keys = vec![];
        let mut cursor = None;
        loop {
            let p = self.read_annotation_queue_items_page(cursor).await?;
            keys.extend(p.records.iter().filter_map(|r| {
                Some(ExistingKey {
                    key: crate::vocab::natural_key(entity, &r.body)?,
                    target_id: Some(format!("{}/{}", r.body.str("queueId")?, r.id)),
                })
            }));
            match p.next {
                Some(n) => cursor = Some(n),
                None => return Ok(keys),
            }
        }
    }

    pub(crate) async fn write_annotation_queue(&self, r: &Record) -> WriteOutcome {
        let mut b = RawObject::new();
        for k in ["name", "description", "scoreConfigIds"] {
            if let Some(v) = r.body.get(k) {
                b.set_raw(k, v.to_owned());
            }
        }
        if b.get("scoreConfigIds").is_none() {
            b.set("scoreConfigIds", &Vec::<String>::new());
        }
        let name = r.body.str("name").unwrap_or_default();
        match self.send_json(PATH, &b).await {
            Ok(created) => WriteOutcome::Written {
                target_id: created.str("id"),
                object_id: None,
                // Kept in the run report: the reviewers are the user's to assign again.
                warning: Some(assignment_step(&[name])),
            },
            Err(HttpFailure::Rejected { status: 404, .. }) => WriteOutcome::Failed(format!(
                "this Langfuse server does not offer annotation queues through its API (POST {PATH} answered 404); create queue \"{name}\" in its UI by hand"
            )),
            Err(f) => super::write::failure_outcome(&f),
        }
    }

    pub(crate) async fn write_annotation_queue_item(&self, r: &Record) -> WriteOutcome {
        let Some(queue_id) = r.body.str(TARGET_QUEUE_ID) else {
            return WriteOutcome::Failed(format!(
                "its annotation queue \"{}\" was not copied to the target, so the item has no queue there",
                r.body.str("queueName").unwrap_or_default()
            ));
        };
        let mut b = RawObject::new();
        for k in ["objectId", "objectType", "status"] {
            if let Some(v) = r.body.get_present(k) {
                b.set_raw(k, v.to_owned());
            }
        }
        let path = format!("{PATH}/{}/items", q(&queue_id));
        match self.send_json(&path, &b).await {
            Ok(created) => WriteOutcome::Written {
                target_id: created.str("id").map(|id| format!("{queue_id}/{id}")),
                object_id: None,
                warning: None,
            },
            Err(f) => super::write::failure_outcome(&f),
        }
    }

    /// A POST whose repetition would create a second object (the run verifies unknown outcomes
    /// by natural key before sending again).
    pub(super) async fn send_json(
        &self,
        path: &str,
        body: &RawObject,
    ) -> Result<RawObject, HttpFailure> {
        let text = body.to_json();
        let resp = self
            .http
            .send(
                Bucket::PublicApi,
                || {
                    self.http
                        .post(path)
                        .header("content-type", "application/json")
                        .body(text.clone())
                },
                Idempotency::Unsafe,
            )
            .await?;
        resp.json::<RawObject>()
            .await
            .map_err(|_| HttpFailure::Unknown("the answer could not be read".into()))
    }
}

/// The pre-flight's word on queues: who reviews them is a manual step.
pub(crate) async fn preflight_notes(
    source: &dyn SourceConnector,
    scope: &Scope,
) -> Result<Vec<String>, EngineError> {
    let mut names = vec![];
    crate::connectors::for_each_page(source, Entity::AnnotationQueues, scope, |records| {
        names.extend(records.iter().filter_map(|r| r.body.str("name")));
        Ok(())
    })
    .await?;
    Ok(if names.is_empty() {
        vec![]
    } else {
        vec![assignment_step(&names)]
    })
}
