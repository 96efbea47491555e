//! The LLM connection keys the user typed in the plan, kept for one run only.
//!
//! Langfuse never returns a connection's secret key, so the user types it in the plan. The keys
//! go into the engine's plan in memory, and into the secret store under one entry named after
//! the run (`run-llm-keys-<run id>`), so that a resume after a crash or restart can create the
//! connections too. Sample runs keep them in memory, like the sample keys.
//!
//! When the entry is deleted (the moments a resume can no longer need it):
//! - the run ends in a state that cannot be resumed (completed, completed with failures, dry run);
//! - the run is rolled back.
//!
//! A cancelled, failed or interrupted run keeps its entry until it is resumed to its end or
//! rolled back. The keys never reach the journal, the logs, a report or the window.

use std::collections::BTreeMap;

use migrator_engine::RunState;
use migrator_engine::profile::ProfileId;
use secrecy::{ExposeSecret, SecretString};

use crate::secrets::{SecretError, SecretStore};

/// Provider → key, as the engine takes them.
pub type LlmKeys = BTreeMap<String, SecretString>;

/// The store entry of a run's keys.
pub fn entry_id(run_id: &str) -> ProfileId {
    ProfileId::from(format!("run-llm-keys-{run_id}").as_str())
}

/// The keys the user actually typed (empty fields are skipped connections).
pub fn typed(keys: LlmKeys) -> LlmKeys {
    keys.into_iter()
        .filter(|(p, k)| !p.trim().is_empty() && !k.expose_secret().trim().is_empty())
        .collect()
}

/// Stores a run's keys as one entry (a JSON object by provider).
pub fn store(store: &dyn SecretStore, run_id: &str, keys: &LlmKeys) -> Result<(), SecretError> {
    let plain: BTreeMap<&str, &str> = keys
        .iter()
        .map(|(p, k)| (p.as_str(), k.expose_secret()))
        .collect();
    let json = SecretString::from(serde_json::to_string(&plain).expect("a map of strings"));
    store.set(&entry_id(run_id), &json)
}

/// A run's keys; none when it has no entry. An entry that is not the JSON this module writes
/// reads as no keys (the connections then become manual steps, as without keys).
pub fn load(store: &dyn SecretStore, run_id: &str) -> Result<LlmKeys, SecretError> {
    let Some(json) = store.get(&entry_id(run_id))? else {
        return Ok(LlmKeys::new());
    };
    let plain: BTreeMap<String, String> =
        serde_json::from_str(json.expose_secret()).unwrap_or_default();
    Ok(plain
        .into_iter()
        .map(|(p, k)| (p, SecretString::from(k)))
        .collect())
}

/// Deletes a run's entry; deleting a missing one is fine.
pub fn forget(store: &dyn SecretStore, run_id: &str) -> Result<(), SecretError> {
    store.delete(&entry_id(run_id))
}

/// Whether a run that ended in `state` may still need its keys (a resume continues it).
pub fn still_needed(state: RunState) -> bool {
    matches!(state, RunState::Cancelled | RunState::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SessionStore;

    #[test]
    fn empty_fields_are_skipped_connections() {
        let keys = typed(LlmKeys::from([
            ("openai".into(), SecretString::from("sk-1")),
            ("bedrock-eu".into(), SecretString::from("  ")),
        ]));
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["openai"]);
    }

    #[test]
    fn only_runs_that_can_resume_keep_their_keys() {
        assert!(still_needed(RunState::Cancelled) && still_needed(RunState::Failed));
        for done in [
            RunState::Completed,
            RunState::CompletedWithFailures,
            RunState::DryRun,
        ] {
            assert!(!still_needed(done), "{done:?}");
        }
        // A run whose journal still says running was interrupted: it keeps them too (nothing
        // deletes them until it ends or is rolled back).
        let s = SessionStore::default();
        store(
            &s,
            "r1",
            &LlmKeys::from([("a".into(), SecretString::from("k"))]),
        )
        .unwrap();
        assert_eq!(load(&s, "r1").unwrap()["a"].expose_secret(), "k");
    }
}
