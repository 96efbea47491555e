//! The LangSmith source as the engine sees it: which entities it yields and where each page
//! comes from (the API or a bulk-export folder). Kept apart from `source` so that the readers
//! built on `LangSmith` (`tree_stream`, `export_reads`) are not imported by the module that
//! defines it.

use async_trait::async_trait;

use super::LangSmith;
use crate::connectors::{Page, SourceConnector};
use crate::vocab::{Dialect, EngineError, Entity, Payloads, Scope};

impl LangSmith {
    async fn read_observations(
        &self,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        if self.export.is_some() {
            return self.export_observations(scope, cursor).await;
        }
        self.api_observations(scope, cursor).await
    }
}

#[async_trait]
impl SourceConnector for LangSmith {
    fn describe(&self) -> String {
        format!("LangSmith at {}", self.info.url)
    }

    fn payloads(&self) -> Payloads {
        // The mapping hands over Langfuse's legacy (v3) shapes: traces plus observations.
        Payloads::langfuse(Dialect::LangfuseV3)
    }

    fn supports(&self, entity: Entity) -> bool {
        LangSmith::ENTITIES.contains(&entity)
    }

    async fn read_page(
        &self,
        entity: Entity,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        match entity {
            Entity::Traces => self.read_traces(scope, cursor).await,
            Entity::Observations => self.read_observations(scope, cursor).await,
            Entity::Scores => self.read_scores(scope, cursor).await,
            Entity::ScoreConfigs => self.read_score_configs(scope, cursor).await,
            Entity::Datasets => self.read_datasets().await,
            Entity::DatasetItems => self.read_items(cursor).await,
            Entity::DatasetRunItems => self.read_run_items(scope, cursor).await,
            Entity::Prompts => self.read_prompts(cursor).await,
            _ => Ok(Page::default()),
        }
    }

    async fn count(&self, _entity: Entity, _scope: &Scope) -> Result<Option<u64>, EngineError> {
        Ok(None)
    }

    async fn preflight_counts(
        &self,
        entities: &[Entity],
        scope: &Scope,
    ) -> Result<crate::connectors::traits::SourceCounts, EngineError> {
        super::preflight::counts(self, entities, scope).await
    }
}
