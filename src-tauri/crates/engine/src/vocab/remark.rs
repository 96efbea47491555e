//! What a source says about one object it mapped: approximately (a type folded, a field kept only
//! in metadata), still running at the source, or an orphan re-attached to its trace's root. The
//! run journals these per object (so a resumed run counts each once) and its report sums them.

use super::Entity;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// Mapped approximately: it has no exact home in Langfuse (kept in metadata, folded).
    Approximate,
    /// Still running at the source when it was read: it arrives without an end.
    StillRunning,
    /// Its parent is missing at the source: it hangs under its trace's root instead.
    Orphan,
}

impl NoteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Approximate => "approximate",
            NoteKind::StillRunning => "still_running",
            NoteKind::Orphan => "orphan",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            NoteKind::Approximate,
            NoteKind::StillRunning,
            NoteKind::Orphan,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One remark on one record: `what` is the sentence objects are grouped by, `detail` names this
/// object (shown for the first few).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remark {
    pub kind: NoteKind,
    pub what: String,
    pub detail: Option<String>,
}

impl Remark {
    pub fn new(kind: NoteKind, what: impl Into<String>) -> Self {
        Remark {
            kind,
            what: what.into(),
            detail: None,
        }
    }

    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
}

/// One line of the run report: how many objects of an entity got the same remark, and the first
/// few of them by name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MappingNote {
    pub kind: NoteKind,
    pub entity: Entity,
    pub what: String,
    pub count: u64,
    pub examples: Vec<String>,
}

impl MappingNote {
    /// The line as the CLI prints it.
    pub fn sentence(&self) -> String {
        let label = match self.kind {
            NoteKind::Approximate => "mapped approximately",
            NoteKind::StillRunning => "still running at the source",
            NoteKind::Orphan => "parent missing at the source",
        };
        format!("{label}: {} {}: {}", self.count, self.entity, self.what)
    }
}
