//! The rollback's own tables, in the run's journal file: the planned requests (steps) with their
//! state, the objects each step removes (for verification), what must be done by hand, and a few
//! key/value facts (state, when a spent delete budget allows continuing).
//!
//! A step is marked done in a committed transaction only after the server acknowledged it (or
//! answered that the object is already gone); a crash in between repeats an idempotent delete.

use super::types::{Action, ManualItem, ObjectRef, StepState};
use crate::vocab::time::now_iso_millis;
use crate::vocab::{EngineError, Entity};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS rollback_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rollback_steps(
  seq INTEGER PRIMARY KEY, action TEXT NOT NULL, removes TEXT NOT NULL,
  state TEXT NOT NULL, detail TEXT, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rollback_manual(
  entity TEXT NOT NULL, id TEXT NOT NULL, instruction TEXT NOT NULL, PRIMARY KEY(entity, id)) WITHOUT ROWID;
"#;

/// One planned request.
#[derive(Clone, Debug)]
pub struct Step {
    pub seq: i64,
    pub action: Action,
    pub removes: Vec<ObjectRef>,
    pub state: StepState,
    pub detail: Option<String>,
}

pub struct RollbackStore {
    conn: Connection,
}

fn json_err(e: serde_json::Error) -> EngineError {
    EngineError::Journal(format!("a rollback row cannot be read ({e})"))
}

impl RollbackStore {
    /// Opens the rollback tables inside the run's journal file (creating them on first use).
    pub fn open(journal_path: &Path) -> Result<Self, EngineError> {
        let conn = Connection::open(journal_path)?;
        // Before anything else, so that switching to WAL also waits for a writer.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch("PRAGMA journal_mode=WAL;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn })
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, EngineError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM rollback_meta WHERE key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), EngineError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO rollback_meta(key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
        Ok(())
    }

    pub fn clear_meta(&self, key: &str) -> Result<(), EngineError> {
        self.conn
            .execute("DELETE FROM rollback_meta WHERE key = ?1", [key])?;
        Ok(())
    }

    pub fn has_plan(&self) -> Result<bool, EngineError> {
        Ok(self.meta("planned_at")?.is_some())
    }

    /// Stores a freshly computed plan in one transaction.
    pub fn save_plan(&mut self, steps: &[Step], manual: &[ManualItem]) -> Result<(), EngineError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM rollback_steps", [])?;
        tx.execute("DELETE FROM rollback_manual", [])?;
        {
            let mut st = tx.prepare(
                "INSERT INTO rollback_steps(seq, action, removes, state, detail, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for s in steps {
                st.execute(params![
                    s.seq,
                    serde_json::to_string(&s.action).expect("action serialises"),
                    serde_json::to_string(&s.removes).expect("refs serialise"),
                    s.state.as_str(),
                    s.detail,
                    now_iso_millis()
                ])?;
            }
            let mut st = tx.prepare(
                "INSERT OR REPLACE INTO rollback_manual(entity, id, instruction) VALUES (?1, ?2, ?3)",
            )?;
            for m in manual {
                st.execute(params![m.entity.as_str(), m.id, m.instruction])?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO rollback_meta(key, value) VALUES ('planned_at', ?1)",
                [now_iso_millis()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn steps(&self) -> Result<Vec<Step>, EngineError> {
        let mut st = self.conn.prepare(
            "SELECT seq, action, removes, state, detail FROM rollback_steps ORDER BY seq",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(seq, action, removes, state, detail)| {
                Ok(Step {
                    seq,
                    action: serde_json::from_str(&action).map_err(json_err)?,
                    removes: serde_json::from_str(&removes).map_err(json_err)?,
                    state: StepState::parse(&state)?,
                    detail,
                })
            })
            .collect()
    }

    pub fn manual(&self) -> Result<Vec<ManualItem>, EngineError> {
        let mut st = self
            .conn
            .prepare("SELECT entity, id, instruction FROM rollback_manual ORDER BY entity, id")?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(e, id, instruction)| {
                Ok(ManualItem {
                    entity: Entity::parse(&e).ok_or_else(|| EngineError::NewerJournal {
                        what: "the kind of object".into(),
                        value: e.clone(),
                    })?,
                    id,
                    instruction,
                })
            })
            .collect()
    }

    pub fn mark(
        &self,
        seq: i64,
        state: StepState,
        detail: Option<&str>,
    ) -> Result<(), EngineError> {
        self.conn.execute(
            "UPDATE rollback_steps SET state = ?2, detail = ?3, updated_at = ?4 WHERE seq = ?1",
            params![seq, state.as_str(), detail, now_iso_millis()],
        )?;
        Ok(())
    }

    /// Keys the copy found in the target before it wrote (the journal's `target_existing`).
    pub fn preexisting_keys(&self, entity: Entity) -> Result<Vec<String>, EngineError> {
        let mut st = self
            .conn
            .prepare("SELECT id FROM target_existing WHERE entity = ?1")?;
        let rows = st
            .query_map([entity.as_str()], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
