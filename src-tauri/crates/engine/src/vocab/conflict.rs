//! Same id, different object: what the target holds under a source object's id (or key) with
//! other content. Found after comparing both sides (`after_run::conflicts`); the run and its
//! reports only name them.

use super::Entity;
use serde::{Deserialize, Serialize};

/// One object the target holds with other content under the same id (or key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub entity: Entity,
    /// The source object's id (its natural key where the target assigns ids).
    pub id: String,
    /// The fields that differ, as paths (`input`, `metadata.user`).
    pub fields: Vec<String>,
}

impl Conflict {
    /// A plain sentence for reports and the journal.
    pub fn reason(&self) -> String {
        format!(
            "the target already holds another {} under this id, which differs in {}; the run left it as it was: keep the target's, or delete it there and copy again",
            self.entity.as_str().trim_end_matches('s').replace('_', " "),
            if self.fields.is_empty() {
                "its content".to_string()
            } else {
                self.fields.join(", ")
            }
        )
    }
}
