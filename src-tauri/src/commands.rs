//! The IPC commands the window may call (each also granted in capabilities/main.json).
//! Blocking work (file and keychain access) runs off the UI thread via `spawn_blocking`.

use std::sync::Arc;
use std::time::Duration;

use migrator_engine::profile::{Presets, ProfileDraft, ProfileId, ValidationReport};
use secrecy::SecretString;
use serde::{Serialize, Serializer};
use tauri::State;
use tauri::ipc::Channel;
use ts_rs::TS;

use crate::AppState;
use crate::profiles::{ProfileError, ProfileView, SaveResult};
use crate::progress::{RunEvent, RunStream};
use crate::secrets::{KeychainStatus, ProbeEvent};

/// Errors reach the window as one plain sentence.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("Internal error: {0}")]
    Internal(String),
}

impl Serialize for CommandError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

type CommandResult<T> = Result<T, CommandError>;

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ProfileError> + Send + 'static,
) -> CommandResult<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| CommandError::Internal(e.to_string()))?
        .map_err(CommandError::from)
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct AppInfo {
    pub version: String,
    /// Where profiles.json lives, shown so users know what to back up.
    pub config_dir: String,
}

#[tauri::command]
pub fn app_info(state: State<'_, Arc<AppState>>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        config_dir: state.config_dir.display().to_string(),
    }
}

#[tauri::command]
pub fn connection_presets() -> Presets {
    Presets::all()
}

#[tauri::command]
pub async fn list_profiles(state: State<'_, Arc<AppState>>) -> CommandResult<Vec<ProfileView>> {
    let state = Arc::clone(&state);
    blocking(move || state.profiles.list()).await
}

#[tauri::command]
pub async fn validate_profile(
    state: State<'_, Arc<AppState>>,
    draft: ProfileDraft,
    new_secret: Option<SecretString>,
) -> CommandResult<ValidationReport> {
    use secrecy::ExposeSecret;
    let state = Arc::clone(&state);
    blocking(move || {
        state
            .profiles
            .validate(&draft, new_secret.as_ref().map(|s| s.expose_secret()))
    })
    .await
}

/// `new_secret` is `None` to keep the saved secret. It is written to the secret store and never
/// returned.
#[tauri::command]
pub async fn save_profile(
    state: State<'_, Arc<AppState>>,
    draft: ProfileDraft,
    new_secret: Option<SecretString>,
) -> CommandResult<SaveResult> {
    let state = Arc::clone(&state);
    blocking(move || state.profiles.save(draft, new_secret)).await
}

#[tauri::command]
pub async fn delete_profile(state: State<'_, Arc<AppState>>, id: ProfileId) -> CommandResult<()> {
    let state = Arc::clone(&state);
    blocking(move || state.profiles.delete(&id)).await
}

// `async`: runs off the UI thread, as it waits while a keychain check is in progress.
#[tauri::command(async)]
pub fn keychain_status(state: State<'_, Arc<AppState>>) -> KeychainStatus {
    state.profiles.secrets().status()
}

/// Runs the keychain probe, streaming each step to `on_event`.
#[tauri::command]
pub async fn check_keychain(
    state: State<'_, Arc<AppState>>,
    on_event: Channel<RunEvent<ProbeEvent>>,
) -> CommandResult<KeychainStatus> {
    let state = Arc::clone(&state);
    blocking(move || {
        let mut stream = RunStream::new(on_event, Duration::from_millis(100));
        Ok(state.profiles.secrets().check(move |e| stream.send(e)))
    })
    .await
}

/// The user's explicit opt-in to keep secrets in memory when no keychain is usable.
#[tauri::command(async)]
pub fn use_session_secrets(state: State<'_, Arc<AppState>>) -> KeychainStatus {
    state.profiles.secrets().use_session_only()
}
