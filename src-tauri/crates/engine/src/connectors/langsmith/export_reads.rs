//! Reading runs from a bulk-export folder ([`super::export`]) as the LangSmith source's pages:
//! the traces whose root starts in the window, whole, one file at a time.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::export::{ExportFolder, ExportIndex};
use super::source::{LangSmith, in_window};
use super::tree;
use crate::connectors::Page;
use crate::vocab::{EngineError, Entity, Record, Scope};

fn text<'a>(r: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    r.get(k).and_then(Value::as_str)
}

fn is_root(r: &Map<String, Value>) -> bool {
    r.get("parent_run_id").is_none_or(Value::is_null)
}

fn next_file(i: usize, n: usize) -> Option<String> {
    (i + 1 < n).then(|| (i + 1).to_string())
}

impl LangSmith {
    fn folder(&self) -> &ExportFolder {
        self.export.as_ref().expect("an export folder")
    }

    /// The rows of one file (blocking reads off the async threads).
    async fn file_rows(&self, i: usize) -> Result<Vec<Map<String, Value>>, String> {
        let folder = self.folder();
        let file = folder.files[i].clone();
        let rows = tokio::task::block_in_place(|| folder.read(&file));
        rows.map_err(|e| format!("{}: {e}", folder.name(&file)))
    }

    async fn index(&self, scope: &Scope) -> Result<Arc<ExportIndex>, EngineError> {
        let key = (scope.from, scope.to, None);
        if let Some((k, ix)) = self.export_index.lock().expect("index").as_ref()
            && *k == key
        {
            return Ok(ix.clone());
        }
        let projects: HashSet<String> = self.project_ids(false).into_iter().collect();
        let mut traces = HashSet::new();
        let mut members: Vec<(String, String)> = vec![];
        for i in 0..self.folder().files.len() {
            // An unreadable file is named by the observation phase.
            let Ok(rows) = self.file_rows(i).await else {
                continue;
            };
            for r in rows
                .iter()
                .filter(|r| text(r, "session_id").is_some_and(|s| projects.contains(s)))
            {
                let (Some(id), Some(trace)) = (text(r, "id"), text(r, "trace_id")) else {
                    continue;
                };
                if is_root(r) && in_window(r, scope) {
                    traces.insert(trace.to_string());
                }
                members.push((id.to_string(), trace.to_string()));
            }
        }
        let runs = members
            .into_iter()
            .filter(|(_, t)| traces.contains(t))
            .map(|(id, _)| id)
            .collect();
        let ix = Arc::new(ExportIndex { traces, runs });
        *self.export_index.lock().expect("index") = Some((key, ix.clone()));
        Ok(ix)
    }

    /// One file's root runs of `projects` in the window (an unreadable file gives none here).
    pub(super) async fn export_roots(
        &self,
        projects: &[String],
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<(Vec<Map<String, Value>>, Option<String>), EngineError> {
        let n = self.folder().files.len();
        let i: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        if i >= n {
            return Ok((vec![], None));
        }
        let rows = self.file_rows(i).await.unwrap_or_default();
        let roots = rows
            .into_iter()
            .filter(|r| {
                is_root(r)
                    && in_window(r, scope)
                    && text(r, "session_id").is_some_and(|s| projects.iter().any(|p| p == s))
            })
            .collect();
        Ok((roots, next_file(i, n)))
    }

    /// One file's runs of the window's traces; an orphan hangs under its root; an unreadable
    /// file fails on its own, named, and the next file follows.
    pub(super) async fn export_observations(
        &self,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let n = self.folder().files.len();
        let i: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        if i >= n {
            return Ok(Page::default());
        }
        let ix = self.index(scope).await?;
        let next = next_file(i, n);
        let rows = match self.file_rows(i).await {
            Ok(rows) => rows,
            Err(why) => {
                let name = self.folder().name(&self.folder().files[i]);
                let reason = format!(
                    "the bulk-export file {why} cannot be read as Parquet; its runs were not copied (the other files were). Replace the file and run the plan again"
                );
                let failed = Record::unreadable(
                    Entity::Observations,
                    format!("bulk-export file {name}"),
                    reason,
                );
                return Ok(Page {
                    records: vec![failed],
                    next,
                });
            }
        };
        let records = rows
            .into_iter()
            .filter(|r| text(r, "trace_id").is_some_and(|t| ix.traces.contains(t)))
            .filter_map(|mut r| {
                let orphan = text(&r, "parent_run_id")
                    .is_some_and(|p| !ix.runs.contains(p))
                    .then(|| tree::reattach(&mut r));
                self.observation_record(&r, orphan)
            })
            .collect();
        Ok(Page { records, next })
    }
}
