//! Keys of objects the target already holds.

/// An object found in the target: its key and, where the target assigns ids, its id there.
#[derive(Clone, Debug, PartialEq)]
pub struct ExistingKey {
    pub key: String,
    pub target_id: Option<String>,
}

impl ExistingKey {
    pub fn id(key: String) -> Self {
        ExistingKey {
            key,
            target_id: None,
        }
    }
}
