//! The run journal: one SQLite file per run (rusqlite, bundled, WAL).
//!
//! Invariants that make kill -9 safe at any instant:
//! - an object's row is set to `sent` in a committed transaction *before* its request leaves;
//! - it becomes `confirmed` only after the target acknowledged it;
//! - a stream's checkpoint only moves past a page once every object of that page and of all
//!   earlier pages is in a final state (confirmed, skipped-existing, failed);
//! - on resume, pages after the checkpoint are read again; final rows are dropped, `sent` rows are
//!   looked up in the target before anything is re-sent.

use super::plan::Plan;
use crate::connectors::langfuse::experiments::RunLookup;
use crate::vocab::time::now_iso_millis;
use crate::vocab::{EngineError, Entity, EntityCounts, ExistingKey};
// Where these lived before the vocabulary had a folder of its own.
pub use crate::vocab::{ObjectState, RunState};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const LABEL_MOVES: &str = "prompt_label_moves";

/// The event level of problems the run report lists as warnings.
pub const WARNING: &str = "warning";

/// The journal layout this version writes for a run. A newer version that changes what rows
/// mean raises it, and this version then refuses the journal instead of misreading it.
const FORMAT: u32 = 1;

/// The layout of a live-sync run (its passes and the objects waiting to settle): a version that
/// knows only format 1 would resume it as a plain run and copy unsettled objects, so it must
/// refuse it.
pub const SYNC_FORMAT: u32 = 2;

/// The newest layout this version reads.
const READ_FORMAT: u32 = SYNC_FORMAT;

fn unknown(what: &str, value: &str) -> EngineError {
    EngineError::NewerJournal {
        what: what.to_owned(),
        value: value.to_owned(),
    }
}

fn parse_entity(s: &str) -> Result<Entity, EngineError> {
    Entity::parse(s).ok_or_else(|| unknown("the kind of object", s))
}

/// A prompt label that sat on `version` (a version the target had before the run) until the run
/// moved it onto a version it created. Rollback moves it back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelMove {
    pub prompt: String,
    pub label: String,
    pub version: i64,
}

/// One object row, for readers of the journal (validation, rollback).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ObjectRow {
    pub entity: Entity,
    pub source_id: String,
    pub target_id: Option<String>,
    pub content_hash: Option<String>,
    pub state: ObjectState,
    pub reason: Option<String>,
    /// A write carrying it had an unknown outcome (timeout, reset, 5xx) at least once: even if
    /// it ended `failed`, it may have landed in the target.
    #[serde(default)]
    pub unsettled: bool,
}

impl ObjectRow {
    /// Whether the run may have written it: confirmed, sent without an answer yet, or failed
    /// after an unknown outcome (rollback looks those up).
    pub fn may_have_landed(&self) -> bool {
        match self.state {
            ObjectState::Confirmed | ObjectState::Sent => true,
            ObjectState::Failed => self.unsettled,
            _ => false,
        }
    }
}

/// An update to one object's row.
pub struct RowUpdate<'a> {
    pub source_id: &'a str,
    pub target_id: Option<&'a str>,
    pub content_hash: Option<&'a str>,
    pub reason: Option<&'a str>,
}

pub struct Journal {
    conn: Mutex<Connection>,
    pub path: PathBuf,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints(stream TEXT PRIMARY KEY, cursor TEXT, done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS objects(
  entity TEXT NOT NULL, source_id TEXT NOT NULL, target_id TEXT, content_hash TEXT,
  state TEXT NOT NULL, reason TEXT, updated_at TEXT NOT NULL,
  unsettled INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(entity, source_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS target_existing(entity TEXT NOT NULL, id TEXT NOT NULL, target_id TEXT, PRIMARY KEY(entity, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS id_map(entity TEXT NOT NULL, source_id TEXT NOT NULL, target_id TEXT NOT NULL, PRIMARY KEY(entity, source_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, at TEXT NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL);
"#;

/// Columns added after the first release, for journals written before them.
fn add_later_columns(conn: &mut Connection) -> Result<(), EngineError> {
    let has_unsettled = |c: &Connection| -> Result<bool, rusqlite::Error> {
        c.query_row(
            "SELECT EXISTS(SELECT 1 FROM pragma_table_info('objects') WHERE name = 'unsettled')",
            [],
            |r| r.get(0),
        )
    };
    if has_unsettled(conn)? {
        return Ok(());
    }
    // Another process may open the same older journal at the same moment (`runs` next to a
    // resumed run): look again and add the column under one write lock, or both would add it.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    if !has_unsettled(&tx)? {
        tx.execute_batch("ALTER TABLE objects ADD COLUMN unsettled INTEGER NOT NULL DEFAULT 0")?;
    }
    tx.commit()?;
    Ok(())
}

/// Where a run's files live inside the data folder.
pub fn run_dir(data_dir: &Path, run_id: &str) -> PathBuf {
    data_dir.join("runs").join(run_id)
}

impl Journal {
    fn open_file(path: &Path) -> Result<Connection, EngineError> {
        let mut conn = Connection::open(path)?;
        // First: a run another process drives holds the write lock for moments at a time, and
        // every statement below (even switching to WAL) may have to wait for it.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            // WAL + NORMAL survives a killed process (not a power cut) and commits without an
            // fsync per transaction; rarer checkpoints keep the hot path out of fsync. Commits
            // of `sent` rows switch to FULL (see `mark`), which survives a power cut too.
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
             PRAGMA wal_autocheckpoint=20000; PRAGMA cache_size=-8000; PRAGMA temp_store=MEMORY;",
        )?;
        conn.execute_batch(SCHEMA)?;
        add_later_columns(&mut conn)?;
        Ok(conn)
    }

    /// Creates the journal of a new run. Everything that says what the run is (its plan,
    /// whether it is a dry run, its sides) lands in one statement, so a process killed at any
    /// instant leaves either no run or the whole description: a dry run never resumes as a
    /// real one.
    pub fn create(
        data_dir: &Path,
        run_id: &str,
        plan: &Plan,
        dry_run: bool,
    ) -> Result<Journal, EngineError> {
        Self::create_described(
            data_dir,
            run_id,
            plan,
            dry_run,
            &plan.hash(),
            FORMAT,
            ("mode", "run"),
        )
    }

    /// Creates the journal of a live-sync run: its plan hash leaves the window's end open, and
    /// its timing overrides (`settings`, JSON) land with the rest of its description.
    pub fn create_sync(
        data_dir: &Path,
        run_id: &str,
        plan: &Plan,
        settings: &str,
    ) -> Result<Journal, EngineError> {
        Self::create_described(
            data_dir,
            run_id,
            plan,
            false,
            &plan.open_end_hash(),
            SYNC_FORMAT,
            ("sync", settings),
        )
    }

    fn create_described(
        data_dir: &Path,
        run_id: &str,
        plan: &Plan,
        dry_run: bool,
        hash: &str,
        format: u32,
        (extra_key, extra_value): (&str, &str),
    ) -> Result<Journal, EngineError> {
        let dir = run_dir(data_dir, run_id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| EngineError::Journal(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("journal.sqlite");
        // Built under another name and renamed into place whole: a process killed while it was
        // being created leaves no journal that lists a run without its plan.
        let building = dir.join("journal.sqlite.new");
        for leftover in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{leftover}", building.display()));
        }
        let conn = Self::open_file(&building)?;
        conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('run_id', ?1), ('plan', ?2),
             ('plan_hash', ?3), ('state', 'running'), ('created_at', ?4), ('format', ?5),
             ('dry_run', ?6), ('source', ?7), ('target', ?8), (?9, ?10)",
            params![
                run_id,
                plan.canonical_json(),
                hash,
                now_iso_millis(),
                format.to_string(),
                if dry_run { "1" } else { "0" },
                plan.source.describe(),
                plan.target.describe(),
                extra_key,
                extra_value
            ],
        )?;
        // Closing the only connection folds the WAL into the file, so the rename moves it all.
        conn.close().map_err(|(_, e)| e)?;
        std::fs::rename(&building, &path)
            .map_err(|e| EngineError::Journal(format!("cannot create {}: {e}", path.display())))?;
        Ok(Journal {
            conn: Mutex::new(Self::open_file(&path)?),
            path,
        })
    }

    /// Opens an existing run's journal; one written by a newer version is refused.
    pub fn open(data_dir: &Path, run_id: &str) -> Result<Journal, EngineError> {
        let path = run_dir(data_dir, run_id).join("journal.sqlite");
        if !path.exists() {
            return Err(EngineError::UnknownRun(run_id.to_string()));
        }
        let conn = Self::open_file(&path)?;
        let journal = Journal {
            conn: Mutex::new(conn),
            path,
        };
        // Journals from before the format number are format 1.
        if let Some(f) = journal.meta("format")?
            && !f.parse::<u32>().is_ok_and(|n| n <= READ_FORMAT)
        {
            return Err(unknown("the journal format", &f));
        }
        Ok(journal)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().expect("journal lock")
    }

    /// Runs `f` on the journal's connection, for the tables of a part of the run machinery that
    /// keeps its own SQL (live sync's passes).
    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, EngineError> {
        Ok(f(&mut self.conn())?)
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, EngineError> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), EngineError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
        Ok(())
    }

    /// Prompt labels the run moved off versions that were in the target before it.
    pub fn label_moves(&self) -> Result<Vec<LabelMove>, EngineError> {
        match self.meta(LABEL_MOVES)? {
            None => Ok(vec![]),
            Some(text) => {
                serde_json::from_str(&text).map_err(|e| EngineError::Journal(e.to_string()))
            }
        }
    }

    /// Records where `label` sat before the run moved it. The first record per prompt and
    /// label wins: a resumed run sees the label already on its own version.
    pub fn record_label_move(&self, mv: LabelMove) -> Result<(), EngineError> {
        let mut moves = self.label_moves()?;
        if moves
            .iter()
            .any(|m| m.prompt == mv.prompt && m.label == mv.label)
        {
            return Ok(());
        }
        moves.push(mv);
        let text = serde_json::to_string(&moves).expect("label moves serialise");
        self.set_meta(LABEL_MOVES, &text)
    }

    pub fn plan(&self) -> Result<Plan, EngineError> {
        let text = self
            .meta("plan")?
            .ok_or_else(|| EngineError::Journal("the journal holds no plan".into()))?;
        serde_json::from_str(&text).map_err(|e| EngineError::Journal(e.to_string()))
    }

    pub fn state(&self) -> Result<RunState, EngineError> {
        RunState::parse(&self.meta("state")?.unwrap_or_else(|| "running".into()))
    }

    pub fn set_state(&self, s: RunState) -> Result<(), EngineError> {
        self.set_meta("state", s.as_str())?;
        self.set_meta("updated_at", &now_iso_millis())
    }

    pub fn log(&self, level: &str, message: &str) -> Result<(), EngineError> {
        self.conn().execute(
            "INSERT INTO events(at, level, message) VALUES (?1, ?2, ?3)",
            params![now_iso_millis(), level, message],
        )?;
        Ok(())
    }

    pub fn events(&self) -> Result<Vec<(String, String, String)>, EngineError> {
        let c = self.conn();
        let mut st = c.prepare("SELECT at, level, message FROM events ORDER BY id")?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn checkpoint(&self, stream: &str) -> Result<(Option<String>, bool), EngineError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT cursor, done FROM checkpoints WHERE stream = ?1",
                [stream],
                |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)? != 0)),
            )
            .optional()?
            .unwrap_or((None, false)))
    }

    pub fn set_checkpoint(
        &self,
        stream: &str,
        cursor: Option<&str>,
        done: bool,
    ) -> Result<(), EngineError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO checkpoints(stream, cursor, done) VALUES (?1, ?2, ?3)",
            params![stream, cursor, done as i64],
        )?;
        Ok(())
    }

    /// Whether any object row of `entity` exists (a fresh phase can skip per-object lookups).
    pub fn has_rows(&self, entity: Entity) -> Result<bool, EngineError> {
        Ok(self.conn().query_row(
            "SELECT EXISTS(SELECT 1 FROM objects WHERE entity = ?1)",
            [entity.as_str()],
            |r| r.get(0),
        )?)
    }

    /// Whether the target held any object of `entity` before the run.
    pub fn has_target_existing(&self, entity: Entity) -> Result<bool, EngineError> {
        Ok(self.conn().query_row(
            "SELECT EXISTS(SELECT 1 FROM target_existing WHERE entity = ?1)",
            [entity.as_str()],
            |r| r.get(0),
        )?)
    }

    /// Current states of the given ids (missing ids have no row yet).
    pub fn states(
        &self,
        entity: Entity,
        ids: &[&str],
    ) -> Result<HashMap<String, (ObjectState, Option<String>)>, EngineError> {
        let c = self.conn();
        let mut st = c.prepare_cached(
            "SELECT state, target_id FROM objects WHERE entity = ?1 AND source_id = ?2",
        )?;
        let mut out = HashMap::new();
        for id in ids {
            if let Some((s, t)) = st
                .query_row(params![entity.as_str(), id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
                })
                .optional()?
            {
                out.insert(id.to_string(), (ObjectState::parse(&s)?, t));
            }
        }
        Ok(out)
    }

    /// Sets the state of many rows in one transaction.
    pub fn mark(
        &self,
        entity: Entity,
        state: ObjectState,
        rows: &[RowUpdate<'_>],
    ) -> Result<(), EngineError> {
        let mut c = self.conn();
        // A `sent` row is the promise that a request may have reached the target: it must
        // survive a power cut or an OS crash too, not only a killed process, or a resume after
        // one could send again what already landed. FULL in WAL mode syncs the log (and every
        // earlier commit in it) before the commit returns: one fsync per batch. The pragma is
        // set outside the transaction, where SQLite takes it.
        let durable = state == ObjectState::Sent;
        if durable {
            c.execute_batch("PRAGMA synchronous=FULL")?;
        }
        let tx = c.transaction()?;
        if state == ObjectState::Confirmed
            && rows
                .iter()
                .all(|r| r.target_id.is_none() && r.content_hash.is_none())
        {
            // The hot path: rows written as `sent` a moment ago become `confirmed`.
            let mut st = tx.prepare_cached(
                "UPDATE objects SET state = 'confirmed', reason = NULL, updated_at = ?3 WHERE entity = ?1 AND source_id = ?2",
            )?;
            let t = now_iso_millis();
            let mut missing = vec![];
            for r in rows {
                if st.execute(params![entity.as_str(), r.source_id, t])? == 0 {
                    missing.push(r.source_id);
                }
            }
            drop(st);
            if !missing.is_empty() {
                let mut ins = tx.prepare_cached(
                    "INSERT INTO objects(entity, source_id, state, updated_at) VALUES (?1, ?2, 'confirmed', ?3)",
                )?;
                for id in missing {
                    ins.execute(params![entity.as_str(), id, t])?;
                }
            }
            tx.commit()?;
            return Ok(());
        }
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO objects(entity, source_id, target_id, content_hash, state, reason, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(entity, source_id) DO UPDATE SET
                   target_id = COALESCE(excluded.target_id, objects.target_id),
                   content_hash = COALESCE(excluded.content_hash, objects.content_hash),
                   state = excluded.state, reason = excluded.reason, updated_at = excluded.updated_at",
            )?;
            let t = now_iso_millis();
            for r in rows {
                st.execute(params![
                    entity.as_str(),
                    r.source_id,
                    r.target_id,
                    r.content_hash,
                    state.as_str(),
                    r.reason,
                    t
                ])?;
            }
        }
        tx.commit()?;
        if durable {
            c.execute_batch("PRAGMA synchronous=NORMAL")?;
        }
        Ok(())
    }

    /// Notes that writes carrying these objects had an unknown outcome: whatever state they end
    /// in, they may be in the target.
    pub fn mark_unsettled(&self, entity: Entity, ids: &[&str]) -> Result<(), EngineError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut c = self.conn();
        let tx = c.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "UPDATE objects SET unsettled = 1 WHERE entity = ?1 AND source_id = ?2",
            )?;
            for id in ids {
                st.execute(params![entity.as_str(), id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records that the source object id `source_id` is `target_id` in the target, for ids that
    /// are not the row's key (a prompt version's own id).
    pub fn map_id(
        &self,
        entity: Entity,
        source_id: &str,
        target_id: &str,
    ) -> Result<(), EngineError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO id_map(entity, source_id, target_id) VALUES (?1, ?2, ?3)",
            params![entity.as_str(), source_id, target_id],
        )?;
        Ok(())
    }

    pub fn mapped_id(
        &self,
        entity: Entity,
        source_id: &str,
    ) -> Result<Option<String>, EngineError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT target_id FROM id_map WHERE entity = ?1 AND source_id = ?2",
                params![entity.as_str(), source_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Every (source id, target id) pair the id map holds for `entity`.
    pub fn id_map(&self, entity: Entity) -> Result<Vec<(String, String)>, EngineError> {
        let c = self.conn();
        let mut st = c.prepare("SELECT source_id, target_id FROM id_map WHERE entity = ?1")?;
        let rows = st
            .query_map([entity.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The target id of a source object whose id the target assigned (datasets, prompts, ...).
    pub fn target_id(
        &self,
        entity: Entity,
        source_id: &str,
    ) -> Result<Option<String>, EngineError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT target_id FROM objects WHERE entity = ?1 AND source_id = ?2",
                params![entity.as_str(), source_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    /// One object's row, if the journal has it.
    pub fn row(&self, entity: Entity, source_id: &str) -> Result<Option<ObjectRow>, EngineError> {
        let found = self
            .conn()
            .query_row(
                "SELECT target_id, content_hash, state, reason, unsettled FROM objects WHERE entity = ?1 AND source_id = ?2",
                params![entity.as_str(), source_id],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, i64>(4)? != 0,
                    ))
                },
            )
            .optional()?;
        // Parsed outside SQLite's callback so an unknown word becomes the engine's own error.
        found
            .map(|(target_id, content_hash, state, reason, unsettled)| {
                Ok(ObjectRow {
                    entity,
                    source_id: source_id.to_string(),
                    target_id,
                    content_hash,
                    state: ObjectState::parse(&state)?,
                    reason,
                    unsettled,
                })
            })
            .transpose()
    }

    pub fn rows_in_state(
        &self,
        entity: Entity,
        state: ObjectState,
    ) -> Result<Vec<ObjectRow>, EngineError> {
        self.rows_where(Some(entity), Some(state))
    }

    /// Every object row, optionally filtered (for validation and rollback).
    pub fn rows_where(
        &self,
        entity: Option<Entity>,
        state: Option<ObjectState>,
    ) -> Result<Vec<ObjectRow>, EngineError> {
        let c = self.conn();
        let mut st = c.prepare(
            "SELECT entity, source_id, target_id, content_hash, state, reason, unsettled FROM objects
             WHERE (?1 IS NULL OR entity = ?1) AND (?2 IS NULL OR state = ?2) ORDER BY entity, source_id",
        )?;
        let rows = st
            .query_map(
                params![entity.map(|e| e.as_str()), state.map(|s| s.as_str())],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get::<_, String>(4)?,
                        r.get(5)?,
                        r.get::<_, i64>(6)? != 0,
                    ))
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        // Parsed outside SQLite's callback so an unknown word becomes the engine's own error.
        rows.into_iter()
            .map(
                |(e, source_id, target_id, content_hash, s, reason, unsettled)| {
                    Ok(ObjectRow {
                        entity: parse_entity(&e)?,
                        source_id,
                        target_id,
                        content_hash,
                        state: ObjectState::parse(&s)?,
                        reason,
                        unsettled,
                    })
                },
            )
            .collect()
    }

    /// Per entity and state, how many rows.
    pub fn counts(&self) -> Result<BTreeMap<Entity, EntityCounts>, EngineError> {
        let c = self.conn();
        let mut st =
            c.prepare("SELECT entity, state, COUNT(*) FROM objects GROUP BY entity, state")?;
        let mut out: BTreeMap<Entity, EntityCounts> = BTreeMap::new();
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (e, s, n) = row?;
            let c = out.entry(parse_entity(&e)?).or_default();
            let n = n as u64;
            c.read += n;
            match ObjectState::parse(&s)? {
                ObjectState::Confirmed => c.written += n,
                ObjectState::SkippedExisting => c.skipped += n,
                ObjectState::Failed => c.failed += n,
                ObjectState::Conflict => c.conflicts += n,
                _ => {}
            }
        }
        Ok(out)
    }

    /// Records ids found in the target before writing (pre-existing objects).
    pub fn add_target_existing(
        &self,
        entity: Entity,
        keys: &[ExistingKey],
    ) -> Result<(), EngineError> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT OR IGNORE INTO target_existing(entity, id, target_id) VALUES (?1, ?2, ?3)",
            )?;
            for k in keys {
                st.execute(params![entity.as_str(), k.key, k.target_id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The keys (ids; natural keys where the target assigns ids) of what the target held before
    /// this run, as listed in the run's window.
    pub fn preexisting_keys(&self, entity: Entity) -> Result<Vec<String>, EngineError> {
        let c = self.conn();
        let mut st = c.prepare_cached("SELECT id FROM target_existing WHERE entity = ?1")?;
        let rows = st
            .query_map([entity.as_str()], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Marks the rows the run skipped as "already there" whose key (as in `target_existing`)
    /// turned out to hold other content as conflicts, with a reason each. Returns the source
    /// ids marked.
    pub fn mark_conflicts(
        &self,
        entity: Entity,
        conflicts: &[(String, String)],
    ) -> Result<Vec<String>, EngineError> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        let mut marked = vec![];
        {
            let mut find = tx.prepare_cached(
                "SELECT o.source_id FROM objects o WHERE o.entity = ?1 AND o.state = 'skipped_existing'
                 AND (o.source_id = ?2 OR o.target_id = (SELECT t.target_id FROM target_existing t WHERE t.entity = ?1 AND t.id = ?2))",
            )?;
            let mut set = tx.prepare_cached(
                "UPDATE objects SET state = 'conflict', reason = ?3, updated_at = ?4 WHERE entity = ?1 AND source_id = ?2",
            )?;
            let t = now_iso_millis();
            for (key, reason) in conflicts {
                let ids = find
                    .query_map(params![entity.as_str(), key], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                for id in ids {
                    set.execute(params![entity.as_str(), id, reason, t])?;
                    marked.push(id);
                }
            }
        }
        tx.commit()?;
        Ok(marked)
    }

    /// The target's ids of the objects of `entity` it held before this run (target-assigned ids).
    pub fn preexisting_target_ids(&self, entity: Entity) -> Result<Vec<String>, EngineError> {
        let c = self.conn();
        let mut st = c.prepare_cached(
            "SELECT target_id FROM target_existing WHERE entity = ?1 AND target_id IS NOT NULL",
        )?;
        let rows = st
            .query_map([entity.as_str()], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Whether the target held `key` before this run (the caller has checked that this run did
    /// not send the object itself). Returns the target's id for target-assigned entities.
    pub fn preexisting(
        &self,
        entity: Entity,
        key: &str,
    ) -> Result<Option<Option<String>>, EngineError> {
        let c = self.conn();
        let mut st = c.prepare_cached(
            "SELECT target_id FROM target_existing WHERE entity = ?1 AND id = ?2",
        )?;
        Ok(st
            .query_row(params![entity.as_str(), key], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()?)
    }
}

impl RunLookup for Journal {
    fn target_id(&self, entity: Entity, source_id: &str) -> Result<Option<String>, EngineError> {
        Journal::target_id(self, entity, source_id)
    }
    fn state(&self, entity: Entity, source_id: &str) -> Result<Option<ObjectState>, EngineError> {
        Ok(self
            .states(entity, &[source_id])?
            .remove(source_id)
            .map(|s| s.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan::from_toml(
            r#"[source]
kind = "langfuse"
url = "http://127.0.0.1:1"
public_key = "pk"
secret_key_env = "S"
[target]
kind = "archive"
path = "/tmp/x"
"#,
        )
        .unwrap()
    }

    #[test]
    fn rows_move_through_states_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::create(dir.path(), "r1", &plan(), false).unwrap();
        let rows = [RowUpdate {
            source_id: "o1",
            target_id: None,
            content_hash: Some("h"),
            reason: None,
        }];
        j.mark(Entity::Observations, ObjectState::Sent, &rows)
            .unwrap();
        j.set_checkpoint("observations", Some("c1"), false).unwrap();
        drop(j);
        let j = Journal::open(dir.path(), "r1").unwrap();
        let s = j.states(Entity::Observations, &["o1", "o2"]).unwrap();
        assert_eq!(s["o1"].0, ObjectState::Sent);
        assert!(!s.contains_key("o2"));
        assert_eq!(
            j.checkpoint("observations").unwrap().0.as_deref(),
            Some("c1")
        );
        assert_eq!(j.plan().unwrap().hash(), plan().hash());
        j.mark(
            Entity::Observations,
            ObjectState::Confirmed,
            &[RowUpdate {
                source_id: "o1",
                target_id: None,
                content_hash: None,
                reason: None,
            }],
        )
        .unwrap();
        let c = j.counts().unwrap();
        assert_eq!(c[&Entity::Observations].written, 1);
        // content hash kept through the update
        let rows = j.rows_where(Some(Entity::Observations), None).unwrap();
        assert_eq!(rows[0].content_hash.as_deref(), Some("h"));
    }

    #[test]
    fn preexisting_keys_remember_target_ids() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::create(dir.path(), "r1", &plan(), false).unwrap();
        j.add_target_existing(Entity::Scores, &[ExistingKey::id("a".into())])
            .unwrap();
        j.add_target_existing(
            Entity::Datasets,
            &[ExistingKey {
                key: "ds".into(),
                target_id: Some("T1".into()),
            }],
        )
        .unwrap();
        assert_eq!(j.preexisting(Entity::Scores, "a").unwrap(), Some(None));
        assert_eq!(j.preexisting(Entity::Scores, "c").unwrap(), None);
        assert_eq!(
            j.preexisting(Entity::Datasets, "ds").unwrap(),
            Some(Some("T1".into()))
        );
    }

    #[test]
    fn unknown_run_is_a_plain_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = Journal::open(dir.path(), "nope").err().unwrap();
        assert_eq!(e.to_string(), "Run nope does not exist in this data folder");
    }
}
