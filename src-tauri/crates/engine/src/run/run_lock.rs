//! One driver per run: an advisory lock on `runs/<id>/lock`, held for as long as a process
//! drives the run. The OS releases it when the process ends in any way (kill -9 included), so a
//! lock never outlives its holder and "locked" always means "running somewhere right now".
//!
//! std's `File::try_lock` (flock on Unix, LockFileEx on Windows) locks per open file, so two
//! windows of one process exclude each other as two processes do.

use crate::run::journal::run_dir;
use crate::vocab::EngineError;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// Held while a run is driven; dropping it releases the run.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

fn lock_path(data_dir: &Path, run_id: &str) -> PathBuf {
    run_dir(data_dir, run_id).join("lock")
}

fn open(data_dir: &Path, run_id: &str) -> Result<File, EngineError> {
    let path = lock_path(data_dir, run_id);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| EngineError::Journal(format!("cannot open {}: {e}", path.display())))
}

impl RunLock {
    /// Takes the run, or says plainly that someone else drives it.
    pub fn acquire(data_dir: &Path, run_id: &str) -> Result<RunLock, EngineError> {
        let file = open(data_dir, run_id)?;
        // A listing looks at the lock for an instant (`is_held`); a few tries ride over that.
        for _ in 0..5 {
            match file.try_lock() {
                Ok(()) => return Ok(RunLock { _file: file }),
                Err(TryLockError::WouldBlock) => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                Err(TryLockError::Error(e)) => {
                    return Err(EngineError::Journal(format!(
                        "cannot lock run {run_id}: {e}"
                    )));
                }
            }
        }
        Err(EngineError::RunBusy(run_id.to_owned()))
    }

    /// Whether a process (this one included) drives the run right now.
    pub fn is_held(data_dir: &Path, run_id: &str) -> bool {
        let Ok(file) = File::open(lock_path(data_dir, run_id)) else {
            return false; // never driven since locks exist, or the folder is gone
        };
        matches!(file.try_lock_shared(), Err(TryLockError::WouldBlock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(run_dir(dir.path(), "r1")).unwrap();
        assert!(!RunLock::is_held(dir.path(), "r1"));
        let held = RunLock::acquire(dir.path(), "r1").unwrap();
        assert!(RunLock::is_held(dir.path(), "r1"));
        let e = RunLock::acquire(dir.path(), "r1").unwrap_err();
        assert!(matches!(e, EngineError::RunBusy(_)), "{e}");
        drop(held);
        assert!(!RunLock::is_held(dir.path(), "r1"));
        RunLock::acquire(dir.path(), "r1").unwrap();
    }
}
