//! Deterministic ids: a re-run computes the same Langfuse ids from the same LangSmith ids, so it
//! writes nothing new.
//!
//! - trace id = the LangSmith `trace_id` UUID as 32 lowercase hex digits (dashes removed);
//!   lossless, so a user can turn one into the other by hand.
//! - observation id = the first 16 hex digits of SHA-256(`"langsmith-run:"` + the run UUID as 32
//!   lowercase hex). It fits an OpenTelemetry span id; the original id stays in the
//!   observation's metadata (`langsmith_run_id`).
//! - score id = the feedback UUID; dataset item id = the example UUID (both unchanged).

use sha2::{Digest, Sha256};

/// `0193F0A0-...` → `0193f0a0...` (32 hex); `None` when it is not a UUID.
pub fn trace_id(uuid: &str) -> Option<String> {
    uuid::Uuid::parse_str(uuid)
        .ok()
        .map(|u| u.simple().to_string())
}

/// The observation id of a run (see the module comment).
pub fn observation_id(run_uuid: &str) -> String {
    let hex = trace_id(run_uuid).unwrap_or_else(|| run_uuid.to_ascii_lowercase());
    let mut h = Sha256::new();
    h.update(b"langsmith-run:");
    h.update(hex.as_bytes());
    hex::encode(&h.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_drop_dashes_and_lowercase() {
        assert_eq!(
            trace_id("0193F0A0-1234-7000-8000-00000000ABCD").as_deref(),
            Some("0193f0a012347000800000000000abcd")
        );
        assert_eq!(trace_id("not a uuid"), None);
    }

    #[test]
    fn observation_ids_are_16_hex_stable_and_distinct() {
        let a = observation_id("0193f0a0-1234-7000-8000-00000000abcd");
        assert_eq!(a.len(), 16);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(a, observation_id("0193F0A0-1234-7000-8000-00000000ABCD"));
        assert_ne!(a, observation_id("0193f0a0-1234-7000-8000-00000000abce"));
        // Oracle computed outside Rust (Python hashlib) for this id.
        assert_eq!(a, "9718437152f6ee3f");
    }
}
