//! A LangSmith bulk export copied to a local folder: Parquet files under
//! `export_id=…/tenant_id=…/session_id=…/runs/year=…/month=…/day=…/`, one row per run with
//! LangSmith's default columns (`inputs`, `outputs`, `extra`, `events`, `feedback_stats` as JSON
//! text; times as timestamps or text). Runs are read from here with no API limit; feedback,
//! datasets and prompts still come from the API (an export has none).
//!
//! Read row by row with the `parquet` crate's record API (no arrow). A file that cannot be read
//! (malformed, truncated) fails on its own, named; the other files still move.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use serde_json::{Map, Value, json};

use super::runs;
use crate::vocab::EngineError;

pub struct ExportFolder {
    pub root: PathBuf,
    /// Every `*.parquet` file under the root, in path order (the cursor is an index into it).
    pub files: Vec<PathBuf>,
}

impl ExportFolder {
    pub fn open(root: &Path) -> Result<Self, EngineError> {
        if !root.is_dir() {
            return Err(EngineError::InvalidPlan(format!(
                "the LangSmith bulk-export folder {} does not exist or is not a folder",
                root.display()
            )));
        }
        let mut files = vec![];
        let mut dirs = vec![root.to_path_buf()];
        while let Some(d) = dirs.pop() {
            let entries = std::fs::read_dir(&d).map_err(|e| {
                EngineError::InvalidPlan(format!("cannot list {}: {e}", d.display()))
            })?;
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "parquet") {
                    files.push(p);
                }
            }
        }
        files.sort();
        Ok(ExportFolder {
            root: root.to_path_buf(),
            files,
        })
    }

    /// A file's path as the report names it: relative to the export's root.
    pub fn name(&self, file: &Path) -> String {
        file.strip_prefix(&self.root)
            .unwrap_or(file)
            .display()
            .to_string()
    }

    /// The runs of one file in v1 names (see `runs::normalise`), or why it cannot be read.
    pub fn read(&self, file: &Path) -> Result<Vec<Map<String, Value>>, String> {
        let f = std::fs::File::open(file).map_err(|e| e.to_string())?;
        let reader = SerializedFileReader::new(f).map_err(|e| e.to_string())?;
        let rows = reader.get_row_iter(None).map_err(|e| e.to_string())?;
        let mut out = vec![];
        for row in rows {
            let row = row.map_err(|e| e.to_string())?;
            let mut m = Map::new();
            for (k, v) in row.get_column_iter() {
                let v = field(v);
                if !v.is_null() {
                    m.insert(k.clone(), v);
                }
            }
            out.push(runs::normalise(m));
        }
        Ok(out)
    }
}

/// A Parquet value as the API would send it: times as RFC 3339 text, lists as arrays.
pub(super) fn field(f: &Field) -> Value {
    let time = |us: i64| {
        chrono::DateTime::from_timestamp_micros(us)
            .map(|t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
            .unwrap_or(Value::Null)
    };
    match f {
        Field::TimestampMicros(us) => time(*us),
        Field::TimestampMillis(ms) => time(ms * 1000),
        Field::ListInternal(l) => Value::Array(l.elements().iter().map(field).collect()),
        Field::Null => Value::Null,
        Field::Bool(b) => json!(b),
        Field::Byte(n) => json!(n),
        Field::Short(n) => json!(n),
        Field::Int(n) => json!(n),
        Field::Long(n) => json!(n),
        Field::UByte(n) => json!(n),
        Field::UShort(n) => json!(n),
        Field::UInt(n) => json!(n),
        Field::ULong(n) => json!(n),
        Field::Float(n) => json!(n),
        Field::Double(n) => json!(n),
        Field::Str(s) => json!(s),
        Field::Bytes(b) => json!(String::from_utf8_lossy(b.data())),
        Field::Group(row) => Value::Object(
            row.get_column_iter()
                .map(|(k, v)| (k.clone(), field(v)))
                .collect(),
        ),
        // Decimals (costs) as their decimal text, like the API's; the rest as displayed.
        other => json!(other.to_string()),
    }
}

/// The export's trees in a window: the traces whose root starts in it (chosen projects only)
/// and the ids of their runs (to tell an orphan without reading any file twice per page).
pub struct ExportIndex {
    pub traces: HashSet<String>,
    pub runs: HashSet<String>,
}
