//! The migration engine: connectors, journal, pipeline. No Tauri dependency.
pub mod cutover;
pub mod validate;
