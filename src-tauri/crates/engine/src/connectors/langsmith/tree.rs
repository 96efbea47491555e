//! Whole trees from a stream of runs read newest first: a run whose parent has not been read yet
//! waits until it is (a child usually starts after its parent, so it comes first). What still
//! waits when the stream ends either has its parent at the source (read before a resume, so it
//! was copied then) or is an orphan: its parent was deleted or lies outside the window. An
//! orphan hangs under its trace's root and the report names it; it is never dropped.
//!
//! Memory: the ids of the last two pages (parents are usually that close) and the waiting runs,
//! which are the trees cut by a page boundary. The waiting runs' ids travel in the stream's
//! cursor, so a resumed run reads them again.

use serde_json::{Map, Value, json};
use std::collections::{HashSet, VecDeque};

use crate::vocab::{NoteKind, Remark};

type Run = Map<String, Value>;

pub const ORPHAN: &str = "runs whose parent is missing at the source (deleted, or outside the window) hang under their trace's root; metadata `langsmith_parent_run_id` keeps the missing parent";

fn str_of<'a>(r: &'a Run, k: &str) -> Option<&'a str> {
    r.get(k).and_then(Value::as_str)
}

#[derive(Default)]
pub struct Trees {
    /// Ids read in the last two pages.
    recent: VecDeque<HashSet<String>>,
    /// Runs waiting for their parent, and their ids.
    waiting: Vec<Run>,
    waiting_ids: HashSet<String>,
}

impl Trees {
    /// Runs read again after a resume, that were waiting when the run stopped.
    pub fn resume_with(waiting: Vec<Run>) -> Self {
        let mut t = Trees::default();
        for r in waiting {
            t.wait(r);
        }
        t
    }

    fn wait(&mut self, r: Run) {
        if let Some(id) = str_of(&r, "id") {
            self.waiting_ids.insert(id.to_string());
        }
        self.waiting.push(r);
    }

    fn known(&self, id: &str) -> bool {
        self.waiting_ids.contains(id) || self.recent.iter().any(|p| p.contains(id))
    }

    /// Takes one page; returns the runs whose parent is known (or that have none), those that
    /// waited for a parent of this page included.
    pub fn take_page(&mut self, page: Vec<Run>) -> Vec<Run> {
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
                Some(p) if !self.known(p) => self.wait(r),
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
        ready
    }

    pub fn waiting_ids(&self) -> Vec<String> {
        self.waiting
            .iter()
            .filter_map(|r| str_of(r, "id").map(String::from))
            .collect()
    }

    /// The parents the waiting runs still miss.
    pub fn missing_parents(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .waiting
            .iter()
            .filter_map(|r| str_of(r, "parent_run_id"))
            .filter(|p| !self.waiting_ids.contains(*p))
            .map(String::from)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// At the end of the stream: every waiting run, those whose parent `exists` (at the source,
    /// within the window) as they are, the others re-attached to their trace's root with a remark.
    pub fn finish(self, exists: &HashSet<String>) -> Vec<(Run, Option<Remark>)> {
        let waiting_ids = self.waiting_ids;
        self.waiting
            .into_iter()
            .map(|mut r| {
                let parent = str_of(&r, "parent_run_id").unwrap_or_default().to_string();
                if exists.contains(&parent) || waiting_ids.contains(&parent) {
                    return (r, None);
                }
                let remark = reattach(&mut r);
                (r, Some(remark))
            })
            .collect()
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

    #[test]
    fn children_wait_for_a_parent_on_a_later_page_and_orphans_go_to_the_root() {
        let mut t = Trees::default();
        // Newest first: the grandchild and the child, then (next page) the parent and the root.
        let first = t.take_page(vec![run("gc", Some("c")), run("c", Some("p"))]);
        assert_eq!(
            ids(&first),
            vec!["gc"],
            "gc's parent c was read; c waits for p"
        );
        assert_eq!(t.waiting_ids(), vec!["c"]);
        let second = t.take_page(vec![
            run("p", Some("root")),
            run("root", None),
            run("o", Some("gone")),
        ]);
        assert_eq!(ids(&second), vec!["p", "root", "c"]);
        assert_eq!(t.missing_parents(), vec!["gone"]);
        let end = t.finish(&HashSet::new());
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
        let mut t = Trees::resume_with(vec![run("c", Some("p"))]);
        assert!(t.take_page(vec![]).is_empty());
        let end = t.finish(&HashSet::from(["p".to_string()]));
        assert_eq!(end[0].0["parent_run_id"], "p");
        assert!(end[0].1.is_none());
    }
}
