//! The "SDK version upgrade" scenario behind the window: check an application's folder against
//! a target server, save the report, and write the dual-export configuration. The engine does
//! the work (`migrator_engine::readiness`); nothing here reads or returns a secret.

use std::path::{Path, PathBuf};

use migrator_engine::readiness::dual_export::{self, DualExportError, DualExportRequest};
use migrator_engine::readiness::{
    self, AppReport, AppTarget, Limits, ReadinessError, TargetServer,
};
use serde::{Serialize, Serializer};

use crate::migration::after::ReportFormat;

#[derive(Debug, thiserror::Error)]
pub enum ReadinessCommandError {
    #[error(transparent)]
    Check(#[from] ReadinessError),
    #[error(transparent)]
    Engine(#[from] migrator_engine::EngineError),
    #[error(transparent)]
    DualExport(#[from] DualExportError),
    #[error("The file {0} could not be written: {1}")]
    Write(String, String),
    #[error("Internal error: {0}")]
    Internal(String),
}

impl Serialize for ReadinessCommandError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

type Result<T, E = ReadinessCommandError> = std::result::Result<T, E>;

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| ReadinessCommandError::Internal(e.to_string()))?
}

pub async fn resolve_target(target: AppTarget) -> Result<TargetServer> {
    Ok(match target {
        AppTarget::Version { version } => TargetServer::parse(&version)?,
        AppTarget::Url { url } => readiness::detect_target(&url).await?,
    })
}

/// Checks the application in `path` (a folder from the native dialog or typed by the user).
#[tauri::command]
pub async fn check_app(path: String, target: AppTarget) -> Result<AppReport> {
    let target = resolve_target(target).await?;
    blocking(move || {
        Ok(readiness::check_app(
            Path::new(path.trim()),
            &target,
            &Limits::default(),
        )?)
    })
    .await
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| ReadinessCommandError::Write(path.display().to_string(), e.to_string()))
}

/// Saves a readiness report where the user chose in the save dialog.
#[tauri::command]
pub async fn save_app_report(report: AppReport, path: PathBuf, format: ReportFormat) -> Result<()> {
    blocking(move || {
        let text = match format {
            ReportFormat::Html => readiness::render::to_html(&report),
            ReportFormat::Markdown => readiness::render::to_markdown(&report),
        };
        write(&path, &text)
    })
    .await
}

/// Writes the collector configuration and the environment snippet to the two paths the user
/// chose in the save dialog; checks the request before writing either.
#[tauri::command]
pub async fn save_dual_export(
    request: DualExportRequest,
    collector_path: PathBuf,
    env_path: PathBuf,
) -> Result<()> {
    blocking(move || {
        let config = dual_export::generate(&request)?;
        write(&collector_path, &config.collector_yaml)?;
        write(&env_path, &config.env_snippet)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use migrator_engine::readiness::dual_export::ExportBackend;

    fn fixture(name: &str) -> String {
        format!(
            "{}/../tests/fixtures/apps/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    #[tokio::test]
    async fn a_typed_target_checks_the_folder_and_a_bad_one_is_a_sentence() {
        let report = check_app(
            fixture("js-v3-trace"),
            AppTarget::Version {
                version: "v4".into(),
            },
        )
        .await
        .unwrap();
        assert_eq!(report.verdict, readiness::AppVerdict::Blocked);
        let err = check_app(
            fixture("js-v3-trace"),
            AppTarget::Version {
                version: "nine".into(),
            },
        )
        .await
        .unwrap_err();
        assert!(
            serde_json::to_string(&err)
                .unwrap()
                .contains("is not understood")
        );
        let missing = check_app(
            "/no/such/app".into(),
            AppTarget::Version {
                version: "v4".into(),
            },
        )
        .await
        .unwrap_err();
        assert_eq!(
            missing.to_string(),
            "the folder /no/such/app does not exist"
        );
    }

    #[tokio::test]
    async fn report_and_dual_export_files_are_written_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let report = check_app(
            fixture("py-v2-decorators"),
            AppTarget::Version {
                version: "cloud".into(),
            },
        )
        .await
        .unwrap();
        let md = dir.path().join("r.md");
        save_app_report(report, md.clone(), ReportFormat::Markdown)
            .await
            .unwrap();
        let text = std::fs::read_to_string(&md).unwrap();
        assert!(text.contains("app.py:1") && !text.contains("FIXTURE-SECRET"));

        let request = DualExportRequest {
            old: ExportBackend::Langfuse {
                url: "https://old.example.com".into(),
                v4: false,
            },
            new: ExportBackend::Langfuse {
                url: "https://cloud.langfuse.com".into(),
                v4: true,
            },
        };
        let (y, e) = (dir.path().join("otel.yaml"), dir.path().join("otel.env"));
        save_dual_export(request.clone(), y.clone(), e.clone())
            .await
            .unwrap();
        assert!(
            std::fs::read_to_string(&y)
                .unwrap()
                .contains("otlphttp/new_langfuse")
        );
        assert!(
            std::fs::read_to_string(&e)
                .unwrap()
                .contains("NEW_LANGFUSE_BASIC_AUTH=")
        );
        let bad = DualExportRequest {
            new: request.old.clone(),
            ..request
        };
        let err = save_dual_export(bad, y, e).await.unwrap_err();
        assert!(err.to_string().contains("same server"));
    }
}
