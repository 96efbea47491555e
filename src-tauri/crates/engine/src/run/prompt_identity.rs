//! Prompt versions are matched by content, not by number. The target numbers versions in the
//! order they arrive, so a source with deleted versions (1, 3) becomes 1, 2 there; after an
//! unknown outcome the version that arrived is found by its content and journaled as the
//! number the target gave it. A target prompt of the same name holding versions the source
//! does not have is someone else's prompt: the source's versions are conflicts, not written
//! on top and not skipped as "already there".

use crate::connector::{TargetConnector, TargetPromptVersion};
use crate::error::EngineError;
use crate::journal::Journal;
use crate::model::{Entity, RawObject, prompt_fingerprint};
use std::collections::HashSet;

/// The target's versions of one prompt, with those the journal already gave to this run's rows.
pub(crate) struct PromptMatcher {
    name: String,
    versions: Vec<TargetPromptVersion>,
    taken: HashSet<i64>,
}

/// `name:version`, the journal's target key of a prompt version.
pub(crate) fn target_key(name: &str, version: i64) -> String {
    format!("{name}:{version}")
}

impl PromptMatcher {
    pub(crate) async fn load(
        target: &dyn TargetConnector,
        journal: &Journal,
        name: &str,
    ) -> Result<Self, EngineError> {
        let versions = target.prompt_versions(name).await?;
        let prefix = format!("{name}:");
        let taken = journal
            .rows_where(Some(Entity::Prompts), None)?
            .into_iter()
            .filter_map(|r| r.target_id)
            .filter_map(|t| t.strip_prefix(&prefix)?.parse().ok())
            .collect();
        Ok(Self {
            name: name.to_string(),
            versions,
            taken,
        })
    }

    /// The target's version with this content that no other row holds yet; it is then taken.
    pub(crate) fn take(&mut self, body: &RawObject) -> Option<TargetPromptVersion> {
        let f = prompt_fingerprint(body);
        let v = self
            .versions
            .iter()
            .find(|v| v.fingerprint == f && !self.taken.contains(&v.version))?
            .clone();
        self.taken.insert(v.version);
        Some(v)
    }

    /// Versions in the target that match nothing of this run: the prompt is not the source's.
    pub(crate) fn foreign(&self) -> Vec<i64> {
        self.versions
            .iter()
            .map(|v| v.version)
            .filter(|v| !self.taken.contains(v))
            .collect()
    }

    /// Why a source version is not written when the target's prompt has `foreign` versions.
    pub(crate) fn conflict_reason(&self, foreign: &[i64]) -> String {
        let list: Vec<String> = foreign.iter().map(|v| v.to_string()).collect();
        format!(
            "the target already has a prompt \"{}\" whose version(s) {} the source does not have; writing this version would add it on top of someone else's prompt, so the run left it out: rename one of them, or delete the target's prompt and copy again",
            self.name,
            list.join(", ")
        )
    }
}
