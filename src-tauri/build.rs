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
    "start_sample_data",
    "sample_data",
    "migration_profiles",
    "test_connection",
    "preflight",
    "start_run",
    "start_sync",
    "sync_defaults",
    "finish_sync",
    "finish_stopped_sync",
    "copy_missing",
    "start_copy_back",
    "resume_run",
    "attach_run",
    "control_run",
    "list_runs",
    "live_runs",
    "run_checklist",
    "set_checklist_step",
    "export_failures",
    "validate_run",
    "validation_report",
    "save_validation_report",
    "rollback_preview",
    "rollback_run",
    "rollback_report",
    "cutover_preview",
    "cutover_apply",
    "cutover_restore",
    "cutover_state",
    "check_app",
    "save_app_report",
    "save_dual_export",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("failed to run tauri-build");
}
