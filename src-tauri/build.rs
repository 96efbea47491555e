// Declares the app's own commands so that each needs an explicit grant in capabilities/,
// instead of every command being callable from any window by default.
const COMMANDS: &[&str] = &[
    "app_info",
    "connection_presets",
    "list_profiles",
    "validate_profile",
    "save_profile",
    "delete_profile",
    "keychain_status",
    "check_keychain",
    "use_session_secrets",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("failed to run tauri-build");
}
