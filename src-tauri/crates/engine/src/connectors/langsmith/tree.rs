//! Whole trees from a stream of runs read newest first: a run whose parent has not been read yet
//! waits until it is (a child usually starts after its parent, so it comes first). What still
//! waits when the stream ends either has its parent at the source (read before a resume, so it
//! was copied then) or is an orphan: its parent was deleted or lies outside the window. An
//! orphan hangs under its trace's root and the report names it; it is never dropped.
//!
//! Memory: the ids of the last two pages (parents are usually that close) and at most `cap`
//! waiting runs; beyond that they wait in a temporary SQLite file (a window that starts
//! mid-tree can leave every run waiting). At the end they come back a page at a time. The
//! waiting runs' ids travel in the stream's cursor, so a resumed run reads them again.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value, json};
use std::collections::{HashSet, VecDeque};

use crate::vocab::{EngineError, NoteKind, Remark};

type Run = Map<String, Value>;

pub const ORPHAN: &str = "runs whose parent is missing at the source (deleted, or outside the window) hang under their trace's root; metadata `langsmith_parent_run_id` keeps the missing parent";

/// How many waiting runs stay in memory by default (a run is a few kB: tens of MB at most).
pub const WAITING_IN_MEMORY: usize = 10_000;

fn str_of<'a>(r: &'a Run, k: &str) -> Option<&'a str> {
    r.get(k).and_then(Value::as_str)
}

fn spill_error(e: rusqlite::Error) -> EngineError {
    EngineError::Journal(format!(
        "the temporary file of runs waiting for their parent failed: {e}"
    ))
}

/// The waiting runs beyond the cap, and at the end the parents found at the source. SQLite's
/// nameless database is a private file deleted when it closes; it keeps only a small page
/// cache in memory.
struct Spill(Connection);

impl Spill {
    fn open() -> Result<Self, EngineError> {
        let c = Connection::open("").map_err(spill_error)?;
        c.execute_batch(
            "CREATE TABLE waiting(id TEXT PRIMARY KEY, parent TEXT NOT NULL, run TEXT NOT NULL);
             CREATE INDEX waiting_parent ON waiting(parent);
             CREATE TABLE present(id TEXT PRIMARY KEY);",
        )
        .map_err(spill_error)?;
        Ok(Spill(c))
    }

    fn put(&self, r: &Run) -> Result<(), EngineError> {
        self.0
            .prepare_cached("INSERT OR REPLACE INTO waiting(id, parent, run) VALUES (?1, ?2, ?3)")
            .and_then(|mut st| {
                st.execute(params![
                    str_of(r, "id").unwrap_or_default(),
                    str_of(r, "parent_run_id").unwrap_or_default(),
                    Value::Object(r.clone()).to_string()
                ])
            })
            .map(drop)
            .map_err(spill_error)
    }

    fn has(&self, id: &str) -> Result<bool, EngineError> {
        self.0
            .prepare_cached("SELECT 1 FROM waiting WHERE id = ?1")
            .and_then(|mut st| st.query_row([id], |_| Ok(())).optional())
            .map(|r| r.is_some())
            .map_err(spill_error)
    }

    /// Takes out the runs waiting for `parent`.
    fn children_of(&self, parent: &str) -> Result<Vec<Run>, EngineError> {
        let runs: Vec<String> = self
            .0
            .prepare_cached("DELETE FROM waiting WHERE parent = ?1 RETURNING run")
            .and_then(|mut st| st.query_map([parent], |r| r.get(0))?.collect())
            .map_err(spill_error)?;
        Ok(runs.iter().filter_map(|r| parse(r)).collect())
    }

    fn column(&self, sql: &str, after: &str, n: usize) -> Result<Vec<String>, EngineError> {
        self.0
            .prepare_cached(sql)
            .and_then(|mut st| {
                st.query_map(params![after, n as i64], |r| r.get(0))?
                    .collect()
            })
            .map_err(spill_error)
    }
}

fn parse(run: &str) -> Option<Run> {
    match serde_json::from_str(run) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

pub struct Trees {
    /// Ids read in the last two pages.
    recent: VecDeque<HashSet<String>>,
    /// Runs waiting for their parent in memory (at most `cap`), and their ids.
    waiting: Vec<Run>,
    waiting_ids: HashSet<String>,
    cap: usize,
    /// The others, from the first one over the cap on.
    spill: Option<Spill>,
    /// The most runs that waited in memory at once.
    peak: usize,
}

impl Default for Trees {
    fn default() -> Self {
        Trees::with_cap(WAITING_IN_MEMORY)
    }
}

impl Trees {
    /// Trees that keep at most `cap` waiting runs in memory.
    pub fn with_cap(cap: usize) -> Self {
        Trees {
            recent: VecDeque::new(),
            waiting: vec![],
            waiting_ids: HashSet::new(),
            cap,
            spill: None,
            peak: 0,
        }
    }

    /// Runs read again after a resume, that were waiting when the run stopped.
    pub fn resume_with(&mut self, waiting: Vec<Run>) -> Result<(), EngineError> {
        waiting.into_iter().try_for_each(|r| self.wait(r))
    }

    /// The runs waiting in memory now, and the most there ever were.
    pub fn in_memory(&self) -> (usize, usize) {
        (self.waiting.len(), self.peak)
    }

    fn spill(&mut self) -> Result<&Spill, EngineError> {
        if self.spill.is_none() {
            self.spill = Some(Spill::open()?);
        }
        Ok(self.spill.as_ref().expect("just opened"))
    }

    fn wait(&mut self, r: Run) -> Result<(), EngineError> {
        if self.waiting.len() >= self.cap {
            return self.spill()?.put(&r);
        }
        if let Some(id) = str_of(&r, "id") {
            self.waiting_ids.insert(id.to_string());
        }
        self.waiting.push(r);
        self.peak = self.peak.max(self.waiting.len());
        Ok(())
    }

    fn known(&self, id: &str) -> Result<bool, EngineError> {
        if self.waiting_ids.contains(id) || self.recent.iter().any(|p| p.contains(id)) {
            return Ok(true);
        }
        self.spill.as_ref().map_or(Ok(false), |s| s.has(id))
    }

    /// Takes one page; returns the runs whose parent is known (or that have none), those that
    /// waited for a parent of this page included.
    pub fn take_page(&mut self, page: Vec<Run>) -> Result<Vec<Run>, EngineError> {
        let ids: HashSet<String> = page
            .iter()
            .filter_map(|r| str_of(r, "id").map(String::from))
            .collect();
        self.recent.push_back(ids);
        while self.recent.len() > 2 {
            self.recent.pop_front();
        }
        let mut ready = Vec::with_capacity(page.len());
        for r in page {
            match str_of(&r, "parent_run_id") {
                Some(p) if !self.known(p)? => self.wait(r)?,
                _ => ready.push(r),
            }
        }
        // Waiting runs whose parent this page brought (a chain may resolve in one go).
        let waiting = std::mem::take(&mut self.waiting);
        for r in waiting {
            let parent = str_of(&r, "parent_run_id").unwrap_or_default();
            if self.recent.iter().any(|p| p.contains(parent)) {
                if let Some(id) = str_of(&r, "id") {
                    self.waiting_ids.remove(id);
                }
                ready.push(r);
            } else {
                self.waiting.push(r);
            }
        }
        if let Some(spill) = &self.spill {
            for id in self.recent.back().into_iter().flatten() {
                ready.extend(spill.children_of(id)?);
            }
        }
        Ok(ready)
    }

    /// The ids of the waiting runs (in memory and spilled) after `after`, in id order.
    pub fn waiting_ids(&self, after: &str) -> Result<Vec<String>, EngineError> {
        let mut out: Vec<String> = self
            .waiting
            .iter()
            .filter_map(|r| str_of(r, "id").filter(|id| *id > after).map(String::from))
            .collect();
        if let Some(s) = &self.spill {
            out.extend(s.column(
                "SELECT id FROM waiting WHERE id > ?1 ORDER BY id LIMIT ?2",
                after,
                i64::MAX as usize,
            )?);
        }
        out.sort();
        Ok(out)
    }

    /// The end of the stream: every waiting run goes to the spill, where the rest of the end
    /// reads them a page at a time.
    fn ending(&mut self) -> Result<&Spill, EngineError> {
        let waiting = std::mem::take(&mut self.waiting);
        self.waiting_ids.clear();
        let spill = self.spill()?;
        for r in &waiting {
            spill.put(r)?;
        }
        Ok(spill)
    }

    /// At the end of the stream: up to `n` of the parents the waiting runs miss, those after
    /// `after` (in id order).
    pub fn missing_parents(&mut self, after: &str, n: usize) -> Result<Vec<String>, EngineError> {
        self.ending()?.column(
            "SELECT DISTINCT parent FROM waiting WHERE parent > ?1
               AND parent NOT IN (SELECT id FROM waiting) ORDER BY parent LIMIT ?2",
            after,
            n,
        )
    }

    /// Parents that exist at the source (within the window), found among the missing ones.
    pub fn found(&mut self, ids: &[String]) -> Result<(), EngineError> {
        let spill = self.ending()?;
        let mut st = spill
            .0
            .prepare_cached("INSERT OR IGNORE INTO present(id) VALUES (?1)")
            .map_err(spill_error)?;
        for id in ids {
            st.execute([id]).map_err(spill_error)?;
        }
        Ok(())
    }

    /// At the end of the stream, up to `n` waiting runs after `after` (in id order): those
    /// whose parent waited too or was `found` as they are, the others re-attached to their
    /// trace's root with a remark.
    pub fn drain(
        &mut self,
        after: &str,
        n: usize,
    ) -> Result<Vec<(Run, Option<Remark>)>, EngineError> {
        let runs = self.ending()?.column(
            "SELECT w.run FROM waiting w WHERE w.id > ?1 ORDER BY w.id LIMIT ?2",
            after,
            n,
        )?;
        let orphans: HashSet<String> = self
            .ending()?
            .column(
                "SELECT w.id FROM (SELECT * FROM waiting WHERE id > ?1 ORDER BY id LIMIT ?2) w
                 WHERE w.parent NOT IN (SELECT id FROM waiting)
                   AND w.parent NOT IN (SELECT id FROM present)",
                after,
                n,
            )?
            .into_iter()
            .collect();
        Ok(runs
            .iter()
            .filter_map(|r| parse(r))
            .map(|mut r| {
                let orphan = str_of(&r, "id").is_some_and(|id| orphans.contains(id));
                let remark = orphan.then(|| reattach(&mut r));
                (r, remark)
            })
            .collect())
    }
}

/// Hangs an orphan under its trace's root (keeping the missing parent for its metadata) and
/// says so.
pub fn reattach(r: &mut Run) -> Remark {
    let parent = str_of(r, "parent_run_id").unwrap_or_default().to_string();
    let id = str_of(r, "id").unwrap_or_default().to_string();
    let root = str_of(r, "trace_id").unwrap_or_default().to_string();
    let name = str_of(r, "name").unwrap_or_default().to_string();
    let remark = Remark::new(NoteKind::Orphan, ORPHAN).detail(format!(
        "run {id} ({name}): parent {parent} is missing; attached to the root {root}"
    ));
    if root.is_empty() || root == id {
        r.remove("parent_run_id");
    } else {
        r.insert("parent_run_id".into(), json!(root));
    }
    r.insert("langsmith_missing_parent".into(), json!(parent));
    remark
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, parent: Option<&str>) -> Run {
        let mut r = json!({"id": id, "trace_id": "root", "name": id});
        if let Some(p) = parent {
            r["parent_run_id"] = json!(p);
        }
        r.as_object().unwrap().clone()
    }

    fn ids(rs: &[Run]) -> Vec<&str> {
        rs.iter().map(|r| r["id"].as_str().unwrap()).collect()
    }

    /// Everything the end of the stream gives, a page of `n` at a time.
    fn drain_all(t: &mut Trees, n: usize) -> Vec<(Run, Option<Remark>)> {
        let mut missing = vec![];
        let mut after = String::new();
        loop {
            let chunk = t.missing_parents(&after, n).unwrap();
            let Some(last) = chunk.last() else { break };
            after = last.clone();
            missing.extend(chunk);
        }
        let found: Vec<String> = missing.into_iter().filter(|p| p != "gone").collect();
        t.found(&found).unwrap();
        let (mut out, mut after) = (vec![], String::new());
        loop {
            let page = t.drain(&after, n).unwrap();
            let Some((last, _)) = page.last() else { break };
            after = last["id"].as_str().unwrap().to_string();
            out.extend(page);
        }
        out
    }

    #[test]
    fn children_wait_for_a_parent_on_a_later_page_and_orphans_go_to_the_root() {
        let mut t = Trees::default();
        // Newest first: the grandchild and the child, then (next page) the parent and the root.
        let first = t
            .take_page(vec![run("gc", Some("c")), run("c", Some("p"))])
            .unwrap();
        assert_eq!(
            ids(&first),
            vec!["gc"],
            "gc's parent c was read; c waits for p"
        );
        assert_eq!(t.waiting_ids("").unwrap(), vec!["c"]);
        let second = t
            .take_page(vec![
                run("p", Some("root")),
                run("root", None),
                run("o", Some("gone")),
            ])
            .unwrap();
        assert_eq!(ids(&second), vec!["p", "root", "c"]);
        assert_eq!(t.missing_parents("", 10).unwrap(), vec!["gone"]);
        let end = drain_all(&mut t, 10);
        assert_eq!(end.len(), 1);
        let (o, remark) = &end[0];
        assert_eq!(o["parent_run_id"], "root");
        let remark = remark.as_ref().unwrap();
        assert_eq!(remark.kind, NoteKind::Orphan);
        assert!(
            remark
                .detail
                .as_deref()
                .unwrap()
                .contains("parent gone is missing")
        );
    }

    #[test]
    fn a_parent_read_before_a_resume_is_not_an_orphan() {
        let mut t = Trees::default();
        t.resume_with(vec![run("c", Some("p"))]).unwrap();
        assert!(t.take_page(vec![]).unwrap().is_empty());
        assert_eq!(t.missing_parents("", 10).unwrap(), vec!["p"]);
        t.found(&["p".to_string()]).unwrap();
        let end = t.drain("", 10).unwrap();
        assert_eq!(end[0].0["parent_run_id"], "p");
        assert!(end[0].1.is_none());
    }

    /// Issue 11: a window that starts mid-tree leaves most runs waiting; no more than the cap
    /// wait in memory, and every one still arrives: orphans under their root, named, and runs
    /// whose parent came later (or waited too) as they are — also after a resume.
    #[test]
    fn many_waiting_runs_stay_within_the_memory_cap_and_all_arrive() {
        let cap = 7;
        let mut t = Trees::with_cap(cap);
        let mut arrived: Vec<(Run, Option<Remark>)> = vec![];
        // 50 pages of 20: per page, 10 orphans (parent gone), 5 children of a parent three pages
        // later, and 5 grandchildren of an orphan of the page before.
        for page in 0..50 {
            let mut runs = vec![];
            for k in 0..10 {
                runs.push(run(&format!("o{page:02}-{k}"), Some("gone")));
            }
            for k in 0..5 {
                runs.push(run(
                    &format!("c{page:02}-{k}"),
                    Some(&format!("p{page:02}")),
                ));
            }
            if page >= 3 {
                runs.push(run(&format!("p{:02}", page - 3), None));
            }
            if page >= 1 {
                for k in 0..5 {
                    runs.push(run(
                        &format!("g{page:02}-{k}"),
                        Some(&format!("o{:02}-{k}", page - 1)),
                    ));
                }
            }
            arrived.extend(t.take_page(runs).unwrap().into_iter().map(|r| (r, None)));
            assert!(t.in_memory().0 <= cap, "{:?} at page {page}", t.in_memory());
        }
        // The stream stops here and resumes: the waiting runs are read again by id.
        let waiting = t.waiting_ids("").unwrap();
        let mut t = Trees::with_cap(cap);
        t.resume_with(
            waiting
                .iter()
                .map(|id| {
                    let parent = match id.as_bytes()[0] {
                        b'o' => "gone".to_string(),
                        b'c' => format!("p{}", &id[1..3]),
                        _ => {
                            unreachable!("only orphans and children of the last parents wait: {id}")
                        }
                    };
                    run(id, Some(&parent))
                })
                .collect(),
        )
        .unwrap();
        assert!(t.in_memory().1 <= cap, "{:?}", t.in_memory());
        arrived.extend(drain_all(&mut t, 13));
        assert_eq!(t.in_memory().0, 0);

        let mut got: Vec<&str> = arrived
            .iter()
            .map(|(r, _)| r["id"].as_str().unwrap())
            .collect();
        got.sort();
        let before = got.len();
        got.dedup();
        assert_eq!(before, got.len(), "no run twice");
        assert_eq!(
            got.len(),
            50 * 10 + 50 * 5 + 47 + 49 * 5,
            "every run arrives"
        );
        for (r, remark) in &arrived {
            let id = r["id"].as_str().unwrap();
            if id.starts_with('o') {
                assert_eq!(r["parent_run_id"], "root", "{id} hangs under the root");
                let remark = remark.as_ref().unwrap_or_else(|| panic!("{id} is named"));
                assert!(remark.detail.as_deref().unwrap().contains(id));
            } else {
                assert!(remark.is_none(), "{id} is no orphan");
                assert_ne!(
                    r.get("parent_run_id"),
                    Some(&json!("root")),
                    "{id} keeps its parent"
                );
            }
        }
    }
}
