//! The validation report as the window sees it, built from the engine's report.

use migrator_engine::validate::{DiffKind, Discrepancy, ValidationReport};
use serde::Serialize;
use ts_rs::TS;

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FieldDiffView {
    pub path: String,
    /// `missing` (only in the source), `added` (only in the target), `changed`, `truncated`.
    pub kind: String,
    pub source: Option<String>,
    pub target: Option<String>,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DiscrepancyView {
    pub id: String,
    pub fields: Vec<FieldDiffView>,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct EntityCheck {
    pub entity: String,
    #[ts(type = "number")]
    pub source_count: u64,
    #[ts(type = "number")]
    pub target_count: u64,
    #[ts(type = "number")]
    pub compared: u64,
    #[ts(type = "number")]
    pub missing_count: u64,
    #[ts(type = "number")]
    pub extra_count: u64,
    #[ts(type = "number")]
    pub differing_count: u64,
    pub missing: Vec<String>,
    pub extra: Vec<String>,
    pub differing: Vec<DiscrepancyView>,
    /// Objects the target held before the run under the same id with other content.
    #[ts(type = "number")]
    pub conflict_count: u64,
    pub conflicts: Vec<DiscrepancyView>,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DayView {
    pub day: String,
    pub entity: String,
    #[ts(type = "number")]
    pub source: u64,
    #[ts(type = "number")]
    pub target: u64,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ValidationView {
    pub run_id: String,
    pub generated_at: String,
    pub source: String,
    pub target: String,
    pub window_from: Option<String>,
    pub window_to: Option<String>,
    /// `null` when every pair was compared.
    pub sample_size: Option<u32>,
    pub settled: bool,
    #[ts(type = "number")]
    pub waited_ms: u64,
    pub settle_note: Option<String>,
    pub clean: bool,
    #[ts(type = "number")]
    pub discrepancy_count: u64,
    pub entities: Vec<EntityCheck>,
    pub per_day: Vec<DayView>,
}

fn kind(k: &DiffKind) -> &'static str {
    match k {
        DiffKind::Missing => "missing",
        DiffKind::Added => "added",
        DiffKind::Changed => "changed",
        DiffKind::Truncated => "truncated",
    }
}

fn discrepancy(d: &Discrepancy) -> DiscrepancyView {
    DiscrepancyView {
        id: d.id.clone(),
        fields: d
            .fields
            .iter()
            .map(|f| FieldDiffView {
                path: f.path.clone(),
                kind: kind(&f.kind).to_owned(),
                source: f.source.clone(),
                target: f.target.clone(),
            })
            .collect(),
    }
}

impl From<&ValidationReport> for ValidationView {
    fn from(r: &ValidationReport) -> Self {
        ValidationView {
            run_id: r.run_id.clone(),
            generated_at: r.generated_at.clone(),
            source: r.source.clone(),
            target: r.target.clone(),
            window_from: r.window_from.clone(),
            window_to: r.window_to.clone(),
            sample_size: r.sample_size.map(|n| n.min(u32::MAX as usize) as u32),
            settled: r.settle.settled,
            waited_ms: r.settle.waited_ms,
            settle_note: r.settle.note.clone(),
            clean: r.is_clean(),
            discrepancy_count: r.discrepancy_count(),
            entities: r
                .entities
                .iter()
                .map(|e| EntityCheck {
                    entity: e.entity.clone(),
                    source_count: e.source_count,
                    target_count: e.target_count,
                    compared: e.compared,
                    missing_count: e.missing_count,
                    extra_count: e.extra_count,
                    differing_count: e.differing_count,
                    missing: e.missing.clone(),
                    extra: e.extra.clone(),
                    differing: e.differing.iter().map(discrepancy).collect(),
                    conflict_count: e.conflict_count,
                    conflicts: e.conflicts.iter().map(discrepancy).collect(),
                })
                .collect(),
            per_day: r
                .per_day
                .iter()
                .map(|d| DayView {
                    day: d.day.clone(),
                    entity: d.entity.clone(),
                    source: d.source,
                    target: d.target,
                })
                .collect(),
        }
    }
}
