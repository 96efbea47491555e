//! Feedback configs → score configs. LangSmith keeps feedback configs per workspace; a plan that
//! names projects gets only the configs of the feedback keys those projects' feedback uses in
//! the window (the other projects' configs would be noise in the target). A plan that names no
//! project gets every config.

use std::collections::HashSet;

use serde_json::Value;

use super::others;
use super::source::{LangSmith, Nested, feedback_in_window, nested};
use crate::connectors::Page;
use crate::vocab::{Bucket, EngineError, Entity, Record, Scope};

impl LangSmith {
    /// Every feedback of one project, a page of 100 at a time, handed to `each`.
    pub(super) async fn for_each_feedback(
        &self,
        project: &str,
        what: &str,
        mut each: impl FnMut(&Value),
    ) -> Result<(), EngineError> {
        let mut offset = 0;
        loop {
            let page = self
                .offset_list(
                    Bucket::PublicApi,
                    &format!("/api/v1/feedback?session={project}"),
                    offset,
                    what,
                )
                .await?;
            page.iter().for_each(&mut each);
            offset += page.len();
            if page.len() < 100 {
                return Ok(());
            }
        }
    }

    /// The keys of the chosen projects' feedback in the window.
    async fn feedback_keys(&self, scope: &Scope) -> Result<HashSet<String>, EngineError> {
        let mut keys = HashSet::new();
        for p in self.project_ids(false) {
            self.for_each_feedback(&p, "listing the feedback keys in use", |f| {
                if let Some(k) = f["key"].as_str()
                    && feedback_in_window(f, scope)
                {
                    keys.insert(k.to_string());
                }
            })
            .await?;
        }
        Ok(keys)
    }

    pub(super) async fn read_score_configs(
        &self,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let c = nested(cursor);
        let keys = match self.named_projects {
            true => Some(self.feedback_keys(scope).await?),
            false => None,
        };
        let page = self
            .offset_list(
                Bucket::PublicApi,
                "/api/v1/feedback-configs",
                c.offset,
                "listing feedback configs",
            )
            .await?;
        let records = page
            .iter()
            .filter(|cfg| {
                keys.as_ref().is_none_or(|keys| {
                    cfg["feedback_key"]
                        .as_str()
                        .is_some_and(|k| keys.contains(k))
                })
            })
            .filter_map(others::score_config)
            .filter_map(|o| Some(Record::new(Entity::ScoreConfigs, o.str("id")?, o)))
            .collect();
        let next = (page.len() == 100).then(|| {
            serde_json::to_string(&Nested {
                i: 0,
                offset: c.offset + 100,
                cursor: None,
            })
            .expect("cursor")
        });
        Ok(Page { records, next })
    }
}
