//! LangSmith bulk-export fixtures: Parquet files with the run columns of LangSmith's export.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// A file of one project's runs in LangSmith's export layout under `root`.
pub fn day_file(root: &Path, tenant: &str, session: &str, part: &str) -> PathBuf {
    root.join(format!(
        "export_id=e1/tenant_id={tenant}/session_id={session}/runs/year=2026/month=03/day=02/{part}.parquet"
    ))
}

/// `runs` as an export folder: two files per project, every other run in each (so parents and
/// children sit in different files).
pub fn write_export_folder(root: &Path, tenant: &str, runs: &[&Value]) {
    let mut sessions: Vec<&str> = runs
        .iter()
        .map(|r| r["session_id"].as_str().unwrap())
        .collect();
    sessions.sort();
    sessions.dedup();
    for sid in &sessions {
        let mine: Vec<&Value> = runs
            .iter()
            .filter(|r| r["session_id"] == *sid)
            .copied()
            .collect();
        for (k, part) in ["part-0", "part-1"].iter().enumerate() {
            let half: Vec<&Value> = mine.iter().skip(k).step_by(2).copied().collect();
            write_export_file(&day_file(root, tenant, sid, part), &half);
        }
    }
}

/// The run columns of LangSmith's bulk export that the fixtures carry (types as an export's).
const EXPORT_SCHEMA: &str = "message run {
  REQUIRED BYTE_ARRAY id (UTF8); OPTIONAL BYTE_ARRAY tenant_id (UTF8);
  REQUIRED BYTE_ARRAY session_id (UTF8); REQUIRED BYTE_ARRAY trace_id (UTF8);
  OPTIONAL BYTE_ARRAY parent_run_id (UTF8); OPTIONAL BYTE_ARRAY reference_example_id (UTF8);
  REQUIRED BYTE_ARRAY name (UTF8); REQUIRED BYTE_ARRAY run_type (UTF8);
  REQUIRED INT64 start_time (TIMESTAMP(MICROS,true)); OPTIONAL INT64 end_time (TIMESTAMP(MICROS,true));
  OPTIONAL INT64 first_token_time (TIMESTAMP(MICROS,true));
  OPTIONAL BYTE_ARRAY status (UTF8); REQUIRED BOOLEAN is_root; OPTIONAL BYTE_ARRAY dotted_order (UTF8);
  OPTIONAL BYTE_ARRAY inputs (UTF8); OPTIONAL BYTE_ARRAY outputs (UTF8); OPTIONAL BYTE_ARRAY extra (UTF8);
  OPTIONAL BYTE_ARRAY events (UTF8); OPTIONAL BYTE_ARRAY error (UTF8);
  OPTIONAL INT64 total_tokens; OPTIONAL INT64 prompt_tokens; OPTIONAL INT64 completion_tokens;
  OPTIONAL BYTE_ARRAY total_cost (UTF8); OPTIONAL BYTE_ARRAY prompt_cost (UTF8);
  OPTIONAL BYTE_ARRAY completion_cost (UTF8);
}";

/// Writes `runs` (API shapes) as one Parquet file of an export, zstd-compressed as on Cloud.
pub fn write_export_file(path: &Path, runs: &[&Value]) {
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::column::writer::ColumnWriter;
    use parquet::data_type::ByteArray;
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let schema =
        std::sync::Arc::new(parquet::schema::parser::parse_message_type(EXPORT_SCHEMA).unwrap());
    let props = std::sync::Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .build(),
    );
    let file = std::fs::File::create(path).unwrap();
    let mut w = SerializedFileWriter::new(file, schema.clone(), props).unwrap();
    let mut rg = w.next_row_group().unwrap();
    let micros = |v: &Value| {
        let s = v.as_str()?;
        let t = chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&chrono::Utc))
            .or_else(|_| {
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .map(|n| n.and_utc())
            })
            .ok()?;
        Some(t.timestamp_micros())
    };
    for field in schema.get_fields() {
        let name = field.name();
        let col_of = |r: &Value| -> Value {
            match name {
                "is_root" => json!(r["parent_run_id"].is_null()),
                "inputs" | "outputs" | "extra" | "events" if !r[name].is_null() => {
                    json!(r[name].to_string())
                }
                "total_cost" | "prompt_cost" | "completion_cost" if r[name].is_number() => {
                    json!(r[name].to_string())
                }
                _ => r[name].clone(),
            }
        };
        let values: Vec<Value> = runs.iter().map(|r| col_of(r)).collect();
        let defs: Vec<i16> = values.iter().map(|v| i16::from(!v.is_null())).collect();
        let defs = (!field.is_primitive()
            || field.get_basic_info().repetition() == parquet::basic::Repetition::OPTIONAL)
            .then_some(defs.as_slice());
        let mut col = rg.next_column().unwrap().unwrap();
        match col.untyped() {
            ColumnWriter::ByteArrayColumnWriter(c) => {
                let v: Vec<ByteArray> = values
                    .iter()
                    .filter_map(|v| v.as_str().map(ByteArray::from))
                    .collect();
                c.write_batch(&v, defs, None).unwrap();
            }
            ColumnWriter::Int64ColumnWriter(c) => {
                let v: Vec<i64> = values
                    .iter()
                    .filter_map(|v| {
                        if name.ends_with("_time") {
                            micros(v)
                        } else {
                            v.as_i64()
                        }
                    })
                    .collect();
                c.write_batch(&v, defs, None).unwrap();
            }
            ColumnWriter::BoolColumnWriter(c) => {
                let v: Vec<bool> = values.iter().filter_map(Value::as_bool).collect();
                c.write_batch(&v, defs, None).unwrap();
            }
            _ => unreachable!("the schema has no other types"),
        }
        col.close().unwrap();
    }
    rg.close().unwrap();
    w.close().unwrap();
}
