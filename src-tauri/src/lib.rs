//! Langfuse Migrator, the desktop app: thin glue between the window and the engine. Commands,
//! app state, keychain access and progress streaming live here; everything that moves data
//! lives in `migrator-engine`.

pub mod commands;
pub mod config_dir;
pub mod migration;
pub mod profiles;
pub mod progress;
pub mod readiness;
pub mod sample;
pub mod secrets;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use migrator_engine::profile::ProfileFile;
use tauri::Manager;

use crate::migration::Migrations;
use crate::profiles::ProfileService;
use crate::secrets::{KeychainStore, Secrets};

/// Set to 1 to start the sample servers at launch (the README's demo).
pub const SAMPLE_ENV: &str = "LANGFUSE_MIGRATOR_SAMPLE";

/// How long the keychain probe may take before the keychain counts as unusable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

pub struct AppState {
    pub config_dir: PathBuf,
    pub profiles: ProfileService,
}

impl AppState {
    pub fn new(config_dir: PathBuf, secrets: Arc<Secrets>) -> Self {
        Self {
            profiles: ProfileService::new(ProfileFile::in_dir(&config_dir), secrets),
            config_dir,
        }
    }
}

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            let config_dir = config_dir::resolve(app.handle())?;
            tracing::info!(config_dir = %config_dir.display(), "starting");
            let secrets = Arc::new(Secrets::new(Arc::new(KeychainStore::new()), PROBE_TIMEOUT));
            // The start-up keychain probe, off the UI thread; commands that need the keychain
            // before it finishes wait for it.
            let probe = Arc::clone(&secrets);
            std::thread::spawn(move || probe.check(|_| {}));
            let migrations = Arc::new(Migrations::new(config_dir.clone()));
            if std::env::var_os(SAMPLE_ENV).is_some_and(|v| v == "1") {
                // `scripts/run.sh --sample`: the sample servers are up before the window asks.
                let m = Arc::clone(&migrations);
                tauri::async_runtime::block_on(async move {
                    let set = sample::SampleSet::start(&m.data_dir).await?;
                    migration::remember_sample(&m, set).await;
                    Ok::<_, sample::SampleError>(())
                })?;
            }
            app.manage(migrations);
            app.manage(Arc::new(AppState::new(config_dir, secrets)));
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::connection_presets,
            commands::list_profiles,
            commands::validate_profile,
            commands::save_profile,
            commands::delete_profile,
            commands::keychain_status,
            commands::check_keychain,
            commands::use_session_secrets,
            migration::start_sample_data,
            migration::sample_data,
            migration::migration_profiles,
            migration::test_connection,
            migration::preflight,
            migration::preview::mapping_preview_of,
            migration::start_run,
            migration::sync::start_sync,
            migration::sync::sync_defaults,
            migration::sync::finish_sync,
            migration::sync::start_copy_back,
            migration::sync::finish_stopped_sync,
            migration::copy_missing::copy_missing,
            migration::resume_run,
            migration::attach_run,
            migration::control_run,
            migration::list_runs,
            migration::live_runs,
            migration::run_checklist,
            migration::set_checklist_step,
            migration::export_failures,
            migration::after::validate_run,
            migration::after::validation_report,
            migration::after::save_validation_report,
            migration::after::rollback_preview,
            migration::after::rollback_run,
            migration::after::rollback_report,
            migration::after::cutover_preview,
            migration::after::cutover_apply,
            migration::after::cutover_restore,
            migration::after::cutover_state,
            readiness::check_app,
            readiness::save_app_report,
            readiness::save_dual_export,
        ])
        .run(tauri::generate_context!())
        .expect("error while running tauri application");
}
