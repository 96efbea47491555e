//! The observation stream from the API: pages of runs as whole trees (see `tree`). After the
//! API's last page, the runs still waiting for their parent follow, a page at a time in id
//! order: as they are when their parent exists at the source, else under their trace's root.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::source::{LangSmith, root_window_filter, scan_bounds};
use super::tree::Trees;
use crate::connectors::Page;
use crate::vocab::{EngineError, Scope};

/// Waiting runs per page at the end, like a page of v2 runs.
const END_PAGE: usize = 1000;
/// Parents looked up per run query (by id).
const PARENTS_PER_QUERY: usize = 100;

/// The observation stream's cursor: the API's, the runs waiting for their parent, and once the
/// API's pages are done, the last waiting run given back.
#[derive(Serialize, Deserialize, Default)]
struct TreeCursor {
    api: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    waiting: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ending: Option<String>,
}

impl TreeCursor {
    /// A cursor journaled before trees were tracked is the API's own.
    fn parse(c: Option<&str>) -> Self {
        match c {
            None => TreeCursor::default(),
            Some(c) => serde_json::from_str(c).unwrap_or(TreeCursor {
                api: Some(c.to_string()),
                ..TreeCursor::default()
            }),
        }
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).expect("cursor serialises")
    }
}

impl LangSmith {
    pub(super) async fn api_observations(
        &self,
        scope: &Scope,
        cursor: Option<String>,
    ) -> Result<Page, EngineError> {
        let bounds = scan_bounds(scope);
        let projects = self.project_ids(false);
        let at = TreeCursor::parse(cursor.as_deref());
        // The trees of this stream, unless this is another stream or a resume: then the runs
        // that were waiting for their parent are read again by id.
        let kept = self.trees.lock().expect("trees").take();
        let (mut trees, resumed) = match kept {
            Some((key, t)) if key == (scope.from, scope.to, cursor.clone()) => (t, false),
            _ => {
                let mut t = Trees::with_cap(self.waiting_cap);
                for ids in at.waiting.chunks(PARENTS_PER_QUERY) {
                    t.resume_with(self.runs_by_id(&projects, bounds, ids).await?)?;
                }
                (t, true)
            }
        };
        if let Some(after) = at.ending {
            if resumed {
                self.find_parents(&projects, bounds, &mut trees).await?;
            }
            return self.end_page(scope, trees, &after);
        }
        let key = (scope.from, scope.to, at.api.clone());
        let ready = {
            let mut slot = self.prefetched.lock().expect("prefetched");
            match slot.take() {
                Some((k, page)) if k == key => Some(page),
                _ => None,
            }
        };
        let (runs, next) = match ready {
            Some(page) => page,
            None => {
                self.runs_query(
                    &projects,
                    None,
                    bounds,
                    Some(root_window_filter(scope)),
                    None,
                    at.api,
                )
                .await?
            }
        };
        // The next API page is asked for before this one is mapped, so the server prepares it
        // while this process maps (the two take about as long). Not under Cloud's limits: a
        // request waiting for its budget would hold this page back.
        let ahead = next.clone().filter(|_| !self.cloud_limits);
        let fetch_next = async {
            let api = ahead?;
            let page = self
                .runs_query(
                    &projects,
                    None,
                    bounds,
                    Some(root_window_filter(scope)),
                    None,
                    Some(api.clone()),
                )
                .await
                // A failed read-ahead is not this page's failure: the next call asks again.
                .ok()?;
            Some(((scope.from, scope.to, Some(api)), page))
        };
        let map_this = async {
            Ok::<Vec<_>, EngineError>(
                trees
                    .take_page(runs)?
                    .iter()
                    .filter_map(|r| self.observation_record(r, None))
                    .collect(),
            )
        };
        // `join!` polls the read-ahead first: its request is on its way before mapping starts.
        let (prefetched, records) = tokio::join!(biased; fetch_next, map_this);
        let records = records?;
        *self.prefetched.lock().expect("prefetched") = prefetched;
        let next = match next {
            Some(api) => Some(TreeCursor {
                api: Some(api),
                waiting: trees.waiting_ids("")?,
                ending: None,
            }),
            None => {
                self.find_parents(&projects, bounds, &mut trees).await?;
                let waiting = trees.waiting_ids("")?;
                (!waiting.is_empty()).then(|| TreeCursor {
                    api: None,
                    waiting,
                    ending: Some(String::new()),
                })
            }
        };
        Ok(Page {
            records,
            next: next.map(|c| self.keep(scope, trees, &c.encode())),
        })
    }

    /// Keeps the trees for the page the cursor `c` (encoded) points at; the cursor.
    // The cursor arrives as text: a `TreeCursor` in this signature would make `source` (where
    // the module graph check places `LangSmith`'s methods) import this module.
    fn keep(&self, scope: &Scope, trees: Trees, c: &str) -> String {
        *self.trees.lock().expect("trees") =
            Some(((scope.from, scope.to, Some(c.to_string())), trees));
        c.to_string()
    }

    /// Which parents the waiting runs miss exist at the source (within the scan bounds).
    async fn find_parents(
        &self,
        projects: &[String],
        bounds: (DateTime<Utc>, DateTime<Utc>),
        trees: &mut Trees,
    ) -> Result<(), EngineError> {
        let mut after = String::new();
        loop {
            let missing = trees.missing_parents(&after, PARENTS_PER_QUERY)?;
            let Some(last) = missing.last() else {
                return Ok(());
            };
            after = last.clone();
            let found: Vec<String> = self
                .runs_by_id(projects, bounds, &missing)
                .await?
                .iter()
                .filter_map(|r| r.get("id").and_then(Value::as_str).map(String::from))
                .collect();
            trees.found(&found)?;
        }
    }

    /// One page of the waiting runs after `after`, orphans under their trace's root.
    fn end_page(&self, scope: &Scope, mut trees: Trees, after: &str) -> Result<Page, EngineError> {
        let runs = trees.drain(after, END_PAGE)?;
        let last = runs
            .last()
            .and_then(|(r, _)| r.get("id").and_then(Value::as_str).map(String::from));
        let records = runs
            .into_iter()
            .filter_map(|(r, orphan)| self.observation_record(&r, orphan))
            .collect();
        let next = match last {
            Some(last) => {
                let waiting = trees.waiting_ids(&last)?;
                (!waiting.is_empty()).then_some(TreeCursor {
                    api: None,
                    waiting,
                    ending: Some(last),
                })
            }
            None => None,
        };
        Ok(Page {
            records,
            next: next.map(|c| self.keep(scope, trees, &c.encode())),
        })
    }
}
