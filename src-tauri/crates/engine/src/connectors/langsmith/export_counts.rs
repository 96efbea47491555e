//! What a bulk-export folder holds for the pre-flight: traces (root runs) and runs per project
//! in the window, counted as the copy reads them (a trace is in the window when its root
//! starts in it; its runs come with it), without the API.
//!
//! A project whose files all carry their project in the path (`session_id=…`) and whose row
//! groups' `start_time` statistics lie inside the window is counted from the files' footers
//! alone: rows per row group, roots = nulls in `parent_run_id`. Otherwise its files' four
//! columns that decide (`session_id`, `trace_id`, `parent_run_id`, `start_time`) are read, and
//! nothing else. A file that cannot be read is named and not counted.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use parquet::basic::{LogicalType, TimeUnit};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::statistics::Statistics;
use parquet::schema::types::Type;
use serde_json::{Map, Value};

use super::export::{ExportFolder, field};
use super::source::in_window;
use crate::vocab::Scope;

/// The columns that decide whether a run is copied.
const DECIDING: [&str; 4] = ["session_id", "trace_id", "parent_run_id", "start_time"];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub traces: u64,
    pub runs: u64,
}

/// How a project's count was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// From the files' footers (row counts and statistics): no row was read.
    Footers,
    /// From the deciding columns of every row.
    Columns,
}

#[derive(Debug, Default)]
pub struct ExportCounts {
    pub projects: BTreeMap<String, (Tally, Method)>,
    /// Files that cannot be read as Parquet, named relative to the export's root, with why.
    pub unreadable: Vec<String>,
}

/// The project a file's path names (`…/session_id=<id>/…`).
fn path_project(file: &Path) -> Option<String> {
    file.components().find_map(|c| {
        c.as_os_str()
            .to_str()?
            .strip_prefix("session_id=")
            .map(String::from)
    })
}

/// A timestamp column's statistic (or a text one's) as a time.
fn stat_time(s: &Statistics, unit: Option<&TimeUnit>, max: bool) -> Option<DateTime<Utc>> {
    match s {
        Statistics::Int64(v) => {
            let n = *(if max { v.max_opt() } else { v.min_opt() })?;
            match unit? {
                TimeUnit::MILLIS => DateTime::from_timestamp_millis(n),
                TimeUnit::MICROS => DateTime::from_timestamp_micros(n),
                TimeUnit::NANOS => Some(DateTime::from_timestamp_nanos(n)),
            }
        }
        // Text statistics may be cut short: only exact ones tell the range.
        Statistics::ByteArray(v) if v.min_is_exact() && v.max_is_exact() => {
            let b = if max { v.max_opt() } else { v.min_opt() }?;
            let t = super::runs::iso_ms(std::str::from_utf8(b.data()).ok()?)?;
            t.parse().ok()
        }
        _ => None,
    }
}

/// This file's (rows, roots) when its footer alone tells them: every row group starts inside
/// the window and counts its `parent_run_id` nulls.
fn footer_tally(meta: &ParquetMetaData, scope: &Scope) -> Option<Tally> {
    let schema = meta.file_metadata().schema_descr();
    let col = |name: &str| schema.columns().iter().position(|c| c.name() == name);
    let (start, parent) = (col("start_time")?, col("parent_run_id")?);
    let unit = match schema.column(start).logical_type_ref() {
        Some(LogicalType::Timestamp(t)) => Some(t.unit),
        _ => None,
    };
    let mut tally = Tally::default();
    for rg in meta.row_groups() {
        let s = rg.column(start).statistics()?;
        let lo = stat_time(s, unit.as_ref(), false)?;
        let hi = stat_time(s, unit.as_ref(), true)?;
        if lo < scope.from || hi >= scope.to {
            return None;
        }
        tally.runs += rg.num_rows() as u64;
        tally.traces += rg.column(parent).statistics()?.null_count_opt()?;
    }
    Some(tally)
}

/// The deciding columns of every row of one file (the others are not read).
fn deciding_rows(
    reader: &SerializedFileReader<std::fs::File>,
) -> Result<Vec<Map<String, Value>>, String> {
    let root = reader.metadata().file_metadata().schema();
    let fields = root
        .get_fields()
        .iter()
        .filter(|f| DECIDING.contains(&f.name()))
        .cloned()
        .collect();
    let projection = Type::group_type_builder(root.name())
        .with_fields(fields)
        .build()
        .map_err(|e| e.to_string())?;
    let mut out = vec![];
    for row in reader
        .get_row_iter(Some(projection))
        .map_err(|e| e.to_string())?
    {
        let row = row.map_err(|e| e.to_string())?;
        out.push(
            row.get_column_iter()
                .map(|(k, v)| (k.clone(), field(v)))
                .filter(|(_, v)| !v.is_null())
                .collect(),
        );
    }
    Ok(out)
}

fn text<'a>(r: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    r.get(k).and_then(Value::as_str)
}

fn open(file: &Path) -> Result<SerializedFileReader<std::fs::File>, String> {
    let f = std::fs::File::open(file).map_err(|e| e.to_string())?;
    SerializedFileReader::new(f).map_err(|e| e.to_string())
}

/// Counts the traces and runs of `projects` (ids) in the window.
pub fn count(folder: &ExportFolder, projects: &[String], scope: &Scope) -> ExportCounts {
    let mut out = ExportCounts::default();
    let wanted: HashSet<&str> = projects.iter().map(String::as_str).collect();
    // Footers first: a project keeps its footer count only if every one of its files allows it.
    let mut readers = vec![];
    let mut footers: HashMap<String, Option<Tally>> = HashMap::new();
    for file in &folder.files {
        let reader = match open(file) {
            Ok(r) => r,
            Err(why) => {
                out.unreadable.push(format!("{}: {why}", folder.name(file)));
                continue;
            }
        };
        let project = path_project(file);
        match &project {
            Some(p) if !wanted.contains(p.as_str()) => continue,
            Some(p) => {
                let t = footer_tally(reader.metadata(), scope);
                let sum = footers.entry(p.clone()).or_insert(Some(Tally::default()));
                *sum = sum.zip(t).map(|(a, b)| Tally {
                    traces: a.traces + b.traces,
                    runs: a.runs + b.runs,
                });
            }
            // A file outside the layout may hold any project: every project is read.
            None => {
                for p in projects {
                    footers.insert(p.clone(), None);
                }
            }
        }
        readers.push((file, project, reader));
    }
    let by_footer = |p: &str| footers.get(p).copied().flatten();
    // The rest: roots in the window and every run's trace, across files (trees cross them).
    let mut roots: HashMap<String, String> = HashMap::new();
    let mut runs_of: HashMap<String, u64> = HashMap::new();
    for (file, project, reader) in readers {
        if project.as_deref().is_some_and(|p| by_footer(p).is_some()) {
            continue;
        }
        let rows = match deciding_rows(&reader) {
            Ok(rows) => rows,
            Err(why) => {
                out.unreadable.push(format!("{}: {why}", folder.name(file)));
                continue;
            }
        };
        for r in rows {
            let (Some(session), Some(trace)) = (text(&r, "session_id"), text(&r, "trace_id"))
            else {
                continue;
            };
            if !wanted.contains(session) || by_footer(session).is_some() {
                continue;
            }
            *runs_of.entry(trace.to_string()).or_default() += 1;
            if text(&r, "parent_run_id").is_none() && in_window(&r, scope) {
                roots.insert(trace.to_string(), session.to_string());
            }
        }
    }
    for p in projects {
        let tally = match footers.get(p) {
            Some(Some(t)) => (*t, Method::Footers),
            Some(None) => (Tally::default(), Method::Columns),
            // No file of this project: nothing to read.
            None => (Tally::default(), Method::Footers),
        };
        out.projects.insert(p.clone(), tally);
    }
    for (trace, project) in roots {
        if let Some((t, _)) = out.projects.get_mut(&project) {
            t.traces += 1;
            t.runs += runs_of.get(&trace).copied().unwrap_or(0);
        }
    }
    out
}
