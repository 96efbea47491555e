//! The official guides each finding links to (Langfuse documentation, read Nov 2026; see
//! `shared/notes/sdk-compat.md` for the facts taken from them).

pub const PY_V2_TO_V3: &str =
    "https://langfuse.com/docs/observability/sdk/upgrade-path/python-v2-to-v3";
pub const PY_V3_TO_V4: &str =
    "https://langfuse.com/docs/observability/sdk/upgrade-path/python-v3-to-v4";
pub const PY_V4_TO_V5: &str =
    "https://langfuse.com/docs/observability/sdk/upgrade-path/python-v4-to-v5";
pub const JS_V3_TO_V4: &str =
    "https://langfuse.com/docs/observability/sdk/upgrade-path/js-v3-to-v4";
pub const JS_V4_TO_V5: &str =
    "https://langfuse.com/docs/observability/sdk/upgrade-path/js-v4-to-v5";
pub const JS_V5_TO_V6: &str =
    "https://langfuse.com/docs/observability/sdk/upgrade-path/js-v5-to-v6";
/// Which SDK works with which server.
pub const COMPATIBILITY: &str = "https://langfuse.com/docs/compatibility";
/// Server versions and what each needs.
pub const VERSIONING: &str = "https://langfuse.com/self-hosting/upgrade/versioning";
/// Making a project ready for Langfuse v4.
pub const UPGRADE_TO_V4: &str = "https://langfuse.com/faq/all/upgrade-to-langfuse-v4";
/// Langfuse's "Migrate from LangSmith" guide (OpenTelemetry fan-out, callback handler).
pub const FROM_LANGSMITH: &str =
    "https://langfuse.com/resources/engineering/migrate-from-langsmith";

/// The guide that takes a Python SDK from `major` to `major + 1`.
pub fn python_step(major: u64) -> &'static str {
    match major {
        0..=2 => PY_V2_TO_V3,
        3 => PY_V3_TO_V4,
        _ => PY_V4_TO_V5,
    }
}

/// The guide that takes a JS SDK from `major` to `major + 1`.
pub fn js_step(major: u64) -> &'static str {
    match major {
        0..=3 => JS_V3_TO_V4,
        4 => JS_V4_TO_V5,
        _ => JS_V5_TO_V6,
    }
}
