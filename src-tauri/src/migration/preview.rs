//! The plan's mapping preview of a LangSmith source: one sample trace before and after, read by
//! the engine with the source's key from the keychain (or the sample set).

use std::sync::Arc;

use migrator_engine::langsmith::preview::{MappingPreview, mapping_preview};
use tauri::State;

use super::request::PlanRequest;
use super::{MigrationError, Migrations, credentials};
use crate::AppState;

/// [`preview`] without Tauri's state wrappers.
pub async fn preview_for(
    app: &Arc<AppState>,
    migrations: &Migrations,
    request: &PlanRequest,
) -> Result<MappingPreview, MigrationError> {
    let source = credentials(app, migrations, &request.source_id).await?;
    let (endpoint, scope) = request
        .preview_source(&source)?
        .ok_or(MigrationError::NotLangsmith)?;
    Ok(mapping_preview(&endpoint, &scope).await?)
}

/// One sample trace of the plan's LangSmith source and window, as LangSmith holds it and as
/// Langfuse will receive it. Writes nothing.
#[tauri::command]
pub async fn mapping_preview_of(
    app: State<'_, Arc<AppState>>,
    migrations: State<'_, Arc<Migrations>>,
    request: PlanRequest,
) -> Result<MappingPreview, MigrationError> {
    preview_for(&app, &migrations, &request).await
}
