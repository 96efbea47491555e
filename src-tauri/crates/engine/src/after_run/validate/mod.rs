//! Validation: prove that the target holds what the source held for a run's window and filters.
//!
//! - [`diff`]: normalised field-by-field comparison of one object pair.
//! - [`reconcile`]: per entity, missing / extra / differing ids.
//! - [`report`]: the report as JSON (UI), Markdown and standalone HTML.

pub mod diff;
pub mod final_check;
pub mod media;
pub mod reconcile;
pub mod report;
pub mod run;
mod slices;

pub use diff::{DiffKind, DiffOptions, FieldDiff, diff_objects};
pub use reconcile::{Sample, reconcile_entity};
pub use report::{
    ChecklistLine, DayCount, Discrepancy, EntityReconciliation, SettleOutcome, ValidationReport,
};
pub use run::{
    SavedReport, ValidateOptions, ValidationError, ValidationProgress, ValidationSummary,
    latest_report, validate_run,
};
