//! Validation of media: every media object the run met must resolve in the target to bytes
//! with the source's sha256 (recorded in the journal when the source's bytes were checked).

use super::diff::{DiffKind, FieldDiff};
use super::report::{Discrepancy, EntityReconciliation};
use crate::connectors::media::{MediaMeta, MediaTarget};
use crate::run::journal::Journal;
use crate::vocab::{EngineError, Entity};

/// How many ids a report lists per kind (the counts stay exact).
const LISTED: usize = 100;

/// The `media` row of a validation, or `None` when the run met no media.
pub async fn reconcile_media(
    journal: &Journal,
    target: &dyn MediaTarget,
) -> Result<Option<EntityReconciliation>, EngineError> {
    let rows = journal.rows_where(Some(Entity::Media), None)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut rec = EntityReconciliation {
        entity: Entity::Media.as_str().to_string(),
        ..Default::default()
    };
    for row in rows {
        rec.source_count += 1;
        let id = row
            .target_id
            .clone()
            .unwrap_or_else(|| row.source_id.clone());
        let served = match target.resolve_media(&id).await {
            Ok(m) => m,
            // A transfer problem is not proof of absence; say so in the row.
            Err(e) => {
                push_diff(&mut rec, &row.source_id, "bytes", None, Some(e.to_string()));
                continue;
            }
        };
        let Some(served) = served else {
            rec.missing_count += 1;
            if rec.missing.len() < LISTED {
                let why = row
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                rec.missing.push(format!("{}{why}", row.source_id));
            }
            continue;
        };
        rec.target_count += 1;
        rec.compared += 1;
        let expected = row
            .content_hash
            .as_deref()
            .and_then(|h| MediaMeta::from_journal_hash(h, &served.content_type));
        match expected {
            Some(m) if m.sha256 == served.sha256 && m.length == served.length => {}
            Some(m) => push_diff(
                &mut rec,
                &row.source_id,
                "sha256",
                Some(format!("{} ({} bytes)", m.sha256, m.length)),
                Some(format!("{} ({} bytes)", served.sha256, served.length)),
            ),
            // The source's bytes never arrived at the migrator (it failed there), yet the target
            // serves the id: the content cannot be vouched for.
            None => push_diff(
                &mut rec,
                &row.source_id,
                "sha256",
                None,
                Some(served.sha256),
            ),
        }
    }
    Ok(Some(rec))
}

fn push_diff(
    rec: &mut EntityReconciliation,
    id: &str,
    path: &str,
    source: Option<String>,
    target: Option<String>,
) {
    rec.differing_count += 1;
    if rec.differing.len() < LISTED {
        rec.differing.push(Discrepancy {
            id: id.to_string(),
            fields: vec![FieldDiff {
                path: path.to_string(),
                kind: if source.is_some() {
                    DiffKind::Changed
                } else {
                    DiffKind::Added
                },
                source,
                target,
            }],
        });
    }
}
