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
    /// The application's `.env` points at the target now (switched, not restored).
    pub switched: bool,
    /// The `.env` was switched at some point (restored since, or not).
    pub ever_switched: bool,
}

/// Steps a live sync does itself on top of a run's: the switch updates the application's
/// config, and the sync watches the source after the switch until Finish.
const SYNC_STEPS: [&str; 2] = ["update-config", "monitor"];

fn is_automatic(key: &str, static_automatic: bool, run: &RunView) -> bool {
    static_automatic || (run.sync.is_some() && SYNC_STEPS.contains(&key))
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
    if run.sync.is_some() {
        // A sync never completes by itself: it is cut over once it stopped and the window it
        // copied validated clean (Finish).
        let cut_over = !run.live && run.phase.is_final() && facts.validated_clean;
        return match key {
            "inventory" => read > 0,
            "export" | "import" => cut_over,
            "update-config" => facts.switched,
            "monitor" => cut_over && facts.ever_switched,
            "verify-counts" => facts.validated_clean,
            "spot-check" => facts.validated_pairs,
            _ => false,
        };
    }
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
            automatic: is_automatic(key, *automatic, run),
            done: if is_automatic(key, *automatic, run) {
                auto_done(key, run, facts)
            } else {
                saved.manual.get(*key).copied().unwrap_or(false)
            },
        })
        .collect()
}

/// Ticks or unticks a manual step and saves it with the run.
pub fn set_manual(
    run_dir: &Path,
    run: &RunView,
    key: &str,
    done: bool,
) -> Result<(), ChecklistError> {
    let Some((_, _, label, fixed)) = STEPS.iter().find(|s| s.0 == key) else {
        return Err(ChecklistError::Unknown(key.to_owned()));
    };
    if is_automatic(key, *fixed, run) {
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

        set_manual(dir.path(), &run, "notify", true).unwrap();
        let items = checklist(
            dir.path(),
            &run,
            AutoFacts {
                validated_clean: true,
                validated_pairs: true,
                ..AutoFacts::default()
            },
        );
        assert!(done(&items, "notify") && done(&items, "verify-counts"));
        assert!(matches!(
            set_manual(dir.path(), &run, "import", true),
            Err(ChecklistError::Automatic(_))
        ));
    }

    #[test]
    fn a_sync_ticks_export_import_config_counts_and_monitoring_once_switched_and_finished_clean() {
        let dir = tempfile::tempdir().unwrap();
        let done =
            |items: &[ChecklistItem], key: &str| items.iter().find(|i| i.key == key).unwrap().done;
        let mut run = finished_run();
        run.sync = Some(Default::default());
        run.phase = RunPhase::Running;
        run.live = true;
        let switched = AutoFacts {
            switched: true,
            ever_switched: true,
            ..AutoFacts::default()
        };
        let items = checklist(dir.path(), &run, switched);
        assert!(done(&items, "update-config"));
        assert!(!done(&items, "export") && !done(&items, "import") && !done(&items, "monitor"));
        assert!(matches!(
            set_manual(dir.path(), &run, "monitor", true),
            Err(ChecklistError::Automatic(_))
        ));

        // Finish: the sync stopped after its pass, and the window validated clean.
        run.phase = RunPhase::Cancelled;
        run.live = false;
        let finished = AutoFacts {
            validated_clean: true,
            validated_pairs: true,
            ..switched
        };
        let items = checklist(dir.path(), &run, finished);
        for key in [
            "export",
            "import",
            "update-config",
            "verify-counts",
            "monitor",
        ] {
            assert!(done(&items, key), "{key} is not ticked");
        }
        // Rolled back: the config no longer points at the target.
        let rolled_back = AutoFacts {
            switched: false,
            ..finished
        };
        assert!(!done(
            &checklist(dir.path(), &run, rolled_back),
            "update-config"
        ));
    }
}
