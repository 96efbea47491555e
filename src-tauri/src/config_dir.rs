//! Where the app keeps its files. Tests point it elsewhere with an environment variable so they
//! never touch the user's own profiles.

use std::path::PathBuf;

use tauri::Manager;

pub const OVERRIDE_VAR: &str = "LANGFUSE_MIGRATOR_CONFIG_DIR";

pub fn resolve<R: tauri::Runtime>(app: &tauri::AppHandle<R>) -> Result<PathBuf, String> {
    match std::env::var_os(OVERRIDE_VAR) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => app
            .path()
            .app_config_dir()
            .map_err(|e| format!("The app's configuration folder could not be found: {e}")),
    }
}
