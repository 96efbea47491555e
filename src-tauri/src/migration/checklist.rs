//! The seed's migration checklist, per run. Steps the app performs tick themselves from what the
//! run's journal says; steps only a person can do are ticked by hand and saved next to the
//! journal (`runs/<id>/checklist.json`, written atomically).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::views::{RunPhase, RunView};

#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ChecklistItem {
    pub key: String,
    pub phase: String,
    pub label: String,
    /// The app ticks this one itself when it has done it.
    pub automatic: bool,
    pub done: bool,
}

/// (key, phase, label, automatic)
const STEPS: [(&str, &str, &str, bool); 15] = [
    ("inventory", "Planning", "Inventory source data", true),
    ("downtime", "Planning", "Plan downtime window", false),
    ("rollback-plan", "Planning", "Create rollback plan", false),
    ("notify", "Planning", "Notify stakeholders", false),
    ("export", "Execution", "Export source data", true),
    ("setup-target", "Execution", "Set up target system", false),
    ("import", "Execution", "Import data", true),
    (
        "update-config",
        "Execution",
        "Update application config",
        false,
    ),
    ("verify-counts", "Validation", "Verify trace counts", true),
    ("spot-check", "Validation", "Spot check data quality", true),
    (
        "test-integration",
        "Validation",
        "Test new integration",
        false,
    ),
    ("monitor", "Validation", "Monitor for errors", false),
    ("remove-old-config", "Cleanup", "Remove old config", false),
    ("archive", "Cleanup", "Archive source data", true),
    ("update-docs", "Cleanup", "Update documentation", false),
];

/// What the app knows it has done for a run.
#[derive(Clone, Copy, Debug, Default)]
pub struct AutoFacts {
    pub validated_clean: bool,
    pub validated_pairs: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ChecklistError {
    #[error("“{0}” is ticked by the app itself when it has done it.")]
    Automatic(String),
    #[error("“{0}” is not a checklist step.")]
    Unknown(String),
    #[error("The checklist could not be saved: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Default, Serialize, Deserialize)]
struct Saved {
    manual: BTreeMap<String, bool>,
}

fn path(run_dir: &Path) -> PathBuf {
    run_dir.join("checklist.json")
}

fn load(run_dir: &Path) -> Saved {
    std::fs::read(path(run_dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn auto_done(key: &str, run: &RunView, facts: AutoFacts) -> bool {
    let read: u64 = run.entities.iter().map(|e| e.read).sum();
    let finished = matches!(
        run.phase,
        RunPhase::Completed | RunPhase::CompletedWithFailures
    );
    let to_archive = run.target.starts_with("archive folder");
    match key {
        "inventory" => read > 0,
        "export" => finished && read > 0,
        "import" => finished && !to_archive,
        "verify-counts" => facts.validated_clean,
        "spot-check" => facts.validated_pairs,
        "archive" => finished && to_archive,
        _ => false,
    }
}

pub fn checklist(run_dir: &Path, run: &RunView, facts: AutoFacts) -> Vec<ChecklistItem> {
    let saved = load(run_dir);
    STEPS
        .iter()
        .map(|(key, phase, label, automatic)| ChecklistItem {
            key: (*key).to_owned(),
            phase: (*phase).to_owned(),
            label: (*label).to_owned(),
            automatic: *automatic,
            done: if *automatic {
                auto_done(key, run, facts)
            } else {
                saved.manual.get(*key).copied().unwrap_or(false)
            },
        })
        .collect()
}

/// Ticks or unticks a manual step and saves it with the run.
pub fn set_manual(run_dir: &Path, key: &str, done: bool) -> Result<(), ChecklistError> {
    let Some((_, _, label, automatic)) = STEPS.iter().find(|s| s.0 == key) else {
        return Err(ChecklistError::Unknown(key.to_owned()));
    };
    if *automatic {
        return Err(ChecklistError::Automatic((*label).to_owned()));
    }
    let mut saved = load(run_dir);
    saved.manual.insert(key.to_owned(), done);
    let mut tmp = tempfile::NamedTempFile::new_in(run_dir)?;
    tmp.write_all(&serde_json::to_vec_pretty(&saved).map_err(std::io::Error::other)?)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path(run_dir)).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::views::EntityRow;

    fn finished_run() -> RunView {
        let mut run = RunView::new(
            "r1".into(),
            "Langfuse at a".into(),
            "Langfuse at b".into(),
            false,
        );
        run.phase = RunPhase::Completed;
        run.entities = vec![EntityRow {
            entity: "traces".into(),
            read: 5,
            written: 5,
            ..EntityRow::default()
        }];
        run
    }

    #[test]
    fn app_steps_tick_themselves_and_manual_ticks_are_saved_with_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let run = finished_run();
        let items = checklist(dir.path(), &run, AutoFacts::default());
        let done =
            |items: &[ChecklistItem], key: &str| items.iter().find(|i| i.key == key).unwrap().done;
        assert!(done(&items, "inventory") && done(&items, "import"));
        assert!(!done(&items, "verify-counts") && !done(&items, "notify"));

        set_manual(dir.path(), "notify", true).unwrap();
        let items = checklist(
            dir.path(),
            &run,
            AutoFacts {
                validated_clean: true,
                validated_pairs: true,
            },
        );
        assert!(done(&items, "notify") && done(&items, "verify-counts"));
        assert!(matches!(
            set_manual(dir.path(), "import", true),
            Err(ChecklistError::Automatic(_))
        ));
    }
}
