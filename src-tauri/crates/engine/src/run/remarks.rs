//! The journal's record of what sources said about objects they mapped (see
//! `vocab::remark`): one row per object and remark, so a page read again after a resume counts
//! nothing twice; the run report sums them per entity and sentence.

use crate::run::journal::Journal;
use crate::vocab::{EngineError, Entity, MappingNote, NoteKind, Record};
use rusqlite::params;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS remarks(
  entity TEXT NOT NULL, source_id TEXT NOT NULL, kind TEXT NOT NULL, what TEXT NOT NULL,
  detail TEXT, PRIMARY KEY(entity, source_id, kind, what)) WITHOUT ROWID;
"#;

/// How many objects a report line names by example.
const EXAMPLES: usize = 20;

/// Journals the remarks of a page's records (nothing when they have none).
pub(crate) fn record(journal: &Journal, records: &[Record]) -> Result<(), EngineError> {
    if records.iter().all(|r| r.remarks.is_empty()) {
        return Ok(());
    }
    journal.with_conn(|c| {
        c.execute_batch(SCHEMA)?;
        let tx = c.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT OR REPLACE INTO remarks(entity, source_id, kind, what, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in records {
                for m in &r.remarks {
                    st.execute(params![
                        r.entity.as_str(),
                        r.id,
                        m.kind.as_str(),
                        m.what,
                        m.detail
                    ])?;
                }
            }
        }
        tx.commit()
    })
}

/// The report's lines: per kind, entity and sentence, how many objects and the first few.
pub(crate) fn notes(journal: &Journal) -> Result<Vec<MappingNote>, EngineError> {
    let rows: Vec<(String, String, String, i64, Option<String>)> = journal.with_conn(|c| {
        c.execute_batch(SCHEMA)?;
        let mut st = c.prepare(
            "SELECT kind, entity, what, COUNT(*),
                    (SELECT group_concat(d, char(10)) FROM (SELECT coalesce(detail, source_id) AS d
                       FROM remarks r2 WHERE r2.kind = r.kind AND r2.entity = r.entity
                       AND r2.what = r.what ORDER BY d LIMIT ?1))
             FROM remarks r GROUP BY kind, entity, what ORDER BY kind, entity, what",
        )?;
        st.query_map([EXAMPLES as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect()
    })?;
    Ok(rows
        .into_iter()
        .filter_map(|(kind, entity, what, count, examples)| {
            Some(MappingNote {
                kind: NoteKind::parse(&kind)?,
                entity: Entity::parse(&entity)?,
                what,
                count: count as u64,
                examples: examples
                    .map(|e| e.split('\n').map(String::from).collect())
                    .unwrap_or_default(),
            })
        })
        .collect())
}
