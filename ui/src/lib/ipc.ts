// Every call from the window into Rust goes through this file, typed with the bindings that
// ts-rs generates from the Rust types (src/lib/bindings, never edited by hand).
import { Channel, invoke } from "@tauri-apps/api/core";
import { open, save } from "@tauri-apps/plugin-dialog";

import type { OperatingSettings } from "./bindings/OperatingSettings";
import type { AppInfo } from "./bindings/AppInfo";
import type { AppReport } from "./bindings/AppReport";
import type { AppTarget } from "./bindings/AppTarget";
import type { DualExportRequest } from "./bindings/DualExportRequest";
import type { ChecklistItem } from "./bindings/ChecklistItem";
import type { CopyMissingView } from "./bindings/CopyMissingView";
import type { CutoverView } from "./bindings/CutoverView";
import type { EnvChange } from "./bindings/EnvChange";
import type { ReportFormat } from "./bindings/ReportFormat";
import type { RollbackPreviewView } from "./bindings/RollbackPreviewView";
import type { RollbackView } from "./bindings/RollbackView";
import type { StepEvent } from "./bindings/StepEvent";
import type { ValidationView } from "./bindings/ValidationView";
import type { ConnectionCheck } from "./bindings/ConnectionCheck";
import type { MigrationProfile } from "./bindings/MigrationProfile";
import type { PlanRequest } from "./bindings/PlanRequest";
import type { PreflightView } from "./bindings/PreflightView";
import type { MappingPreview } from "./bindings/MappingPreview";
import type { RunAction } from "./bindings/RunAction";
import type { RunView } from "./bindings/RunView";
import type { SampleInfo } from "./bindings/SampleInfo";
import type { SyncRequest } from "./bindings/SyncRequest";
import type { SyncTimingView } from "./bindings/SyncTimingView";
import type { KeychainStatus } from "./bindings/KeychainStatus";
import type { Presets } from "./bindings/Presets";
import type { ProbeEvent } from "./bindings/ProbeEvent";
import type { ProfileDraft } from "./bindings/ProfileDraft";
import type { ProfileId } from "./bindings/ProfileId";
import type { ProfileView } from "./bindings/ProfileView";
import type { RunEvent } from "./bindings/RunEvent";
import type { SaveResult } from "./bindings/SaveResult";
import type { ValidationReport } from "./bindings/ValidationReport";

export const ipc = {
  appInfo: () => invoke<AppInfo>("app_info"),
  presets: () => invoke<Presets>("connection_presets"),
  listProfiles: () => invoke<ProfileView[]>("list_profiles"),
  validateProfile: (draft: ProfileDraft, newSecret: string | null) =>
    invoke<ValidationReport>("validate_profile", { draft, newSecret }),
  /** `newSecret` null keeps the saved secret. The secret is never sent back. */
  saveProfile: (draft: ProfileDraft, newSecret: string | null) =>
    invoke<SaveResult>("save_profile", { draft, newSecret }),
  deleteProfile: (id: ProfileId) => invoke<null>("delete_profile", { id }),
  keychainStatus: () => invoke<KeychainStatus>("keychain_status"),
  /** Runs the keychain probe; each step arrives on `onStep` while it runs. */
  checkKeychain: (onStep: (event: RunEvent<ProbeEvent>) => void) => {
    const onEvent = new Channel<RunEvent<ProbeEvent>>();
    onEvent.onmessage = onStep;
    return invoke<KeychainStatus>("check_keychain", { onEvent });
  },
  useSessionSecrets: () => invoke<KeychainStatus>("use_session_secrets"),
  /** Starts the two in-process sample servers (once per session) and returns their profiles. */
  startSampleData: () => invoke<SampleInfo>("start_sample_data"),
  sampleData: () => invoke<SampleInfo | null>("sample_data"),
  /** Saved connections plus the sample ones; never a secret. */
  migrationProfiles: () => invoke<MigrationProfile[]>("migration_profiles"),
  testConnection: (profileId: ProfileId) => invoke<ConnectionCheck>("test_connection", { profileId }),
  preflight: (request: PlanRequest) => invoke<PreflightView>("preflight", { request }),
  /** One sample trace of a LangSmith source's window, before and after the mapping. Writes nothing. */
  mappingPreview: (request: PlanRequest) => invoke<MappingPreview>("mapping_preview_of", { request }),
  /**
   * Starts a run; snapshots of its progress arrive on `onView` until it ends. `llmKeys` are the
   * LLM connection keys the user typed, by provider (kept in the keychain for this run only).
   */
  startRun: (
    request: PlanRequest,
    dryRun: boolean,
    expected: Record<string, number>,
    onView: (event: RunEvent<RunView>) => void,
    llmKeys: Record<string, string> = {},
  ) => invoke<RunView>("start_run", { request, dryRun, expected, llmKeys, onEvent: channel(onView) }),
  /** Starts a live sync (history, then what arrives); snapshots and finished passes arrive on `onView`. */
  startSync: (
    request: PlanRequest,
    sync: SyncRequest,
    expected: Record<string, number>,
    onView: (event: RunEvent<RunView>) => void,
    llmKeys: Record<string, string> = {},
  ) => invoke<RunView>("start_sync", { request, sync, expected, llmKeys, onEvent: channel(onView) }),
  /** Finish a live sync: last pass, validation of the whole window, cut over. */
  finishSync: (runId: string) => invoke<RunView>("finish_sync", { runId }),
  /** Finish for a sync not running in this window: journals the finish and resumes the sync (last pass, validation, cut over). */
  finishStoppedSync: (runId: string, onView: (event: RunEvent<RunView>) => void) =>
    invoke<RunView>("finish_stopped_sync", { runId, onEvent: channel(onView) }),
  /** Copies what the run's last validation found missing through its journal, then validates it again. */
  copyMissing: (runId: string, onStep: (event: RunEvent<StepEvent>) => void) =>
    invoke<CopyMissingView>("copy_missing", { runId, onEvent: channel(onStep) }),
  /** Copies what the application wrote to a sync's target since the switch back to its source, as a run of its own. */
  startCopyBack: (runId: string, onView: (event: RunEvent<RunView>) => void) =>
    invoke<RunView>("start_copy_back", { runId, onEvent: channel(onView) }),
  /** Poll, settle and lookback a sync of a source of this generation starts with. */
  syncDefaults: (generation: string | null) => invoke<SyncTimingView>("sync_defaults", { generation }),
  /** Continues a run; `settings` (or `null` to keep them) change how it works, not what it copies. */
  resumeRun: (runId: string, settings: OperatingSettings | null, onView: (event: RunEvent<RunView>) => void) =>
    invoke<RunView>("resume_run", { runId, settings, onEvent: channel(onView) }),
  /** Follows a run again (after a reload or from Runs); a finished run is read from its journal. */
  attachRun: (runId: string, onView: (event: RunEvent<RunView>) => void) =>
    invoke<RunView>("attach_run", { runId, onEvent: channel(onView) }),
  controlRun: (runId: string, action: RunAction) => invoke<RunView>("control_run", { runId, action }),
  listRuns: () => invoke<RunView[]>("list_runs"),
  liveRuns: () => invoke<RunView[]>("live_runs"),
  runChecklist: (runId: string) => invoke<ChecklistItem[]>("run_checklist", { runId }),
  setChecklistStep: (runId: string, key: string, done: boolean) =>
    invoke<ChecklistItem[]>("set_checklist_step", { runId, key, done }),
  exportFailures: (runId: string, path: string) => invoke<number>("export_failures", { runId, path }),
  /** Reconciles source and target of a finished run; each step arrives on `onStep`. */
  validateRun: (runId: string, onStep: (event: RunEvent<StepEvent>) => void) =>
    invoke<ValidationView>("validate_run", { runId, onEvent: channel(onStep) }),
  validationReport: (runId: string) => invoke<ValidationView | null>("validation_report", { runId }),
  saveValidationReport: (runId: string, path: string, format: ReportFormat) =>
    invoke<null>("save_validation_report", { runId, path, format }),
  rollbackPreview: (runId: string) => invoke<RollbackPreviewView>("rollback_preview", { runId }),
  /** `confirmation` must be the target project's name, typed by the user; Rust checks it again. */
  rollbackRun: (runId: string, confirmation: string, onStep: (event: RunEvent<StepEvent>) => void) =>
    invoke<RollbackView>("rollback_run", { runId, confirmation, onEvent: channel(onStep) }),
  rollbackReport: (runId: string) => invoke<RollbackView | null>("rollback_report", { runId }),
  cutoverPreview: (runId: string, envPath: string) => invoke<EnvChange[]>("cutover_preview", { runId, envPath }),
  cutoverApply: (runId: string, envPath: string) => invoke<CutoverView>("cutover_apply", { runId, envPath }),
  cutoverRestore: (runId: string) => invoke<CutoverView>("cutover_restore", { runId }),
  cutoverState: (runId: string) => invoke<CutoverView | null>("cutover_state", { runId }),
  /** Checks an application's folder against a target server (SDK versions, API usage, settings). */
  checkApp: (path: string, target: AppTarget) => invoke<AppReport>("check_app", { path, target }),
  saveAppReport: (report: AppReport, path: string, format: ReportFormat) =>
    invoke<null>("save_app_report", { report, path, format }),
  /** Writes the collector configuration and the env snippet to the two paths chosen in the save dialog. */
  saveDualExport: (request: DualExportRequest, collectorPath: string, envPath: string) =>
    invoke<null>("save_dual_export", { request, collectorPath, envPath }),
  /** The native file picker for one file; null when the user cancels. */
  chooseFile: async (title: string): Promise<string | null> => {
    const picked = await open({ directory: false, multiple: false, title });
    return typeof picked === "string" ? picked : null;
  },
  /** The native save dialog; null when the user cancels. */
  chooseSavePath: async (title: string, defaultPath: string, extension: string): Promise<string | null> =>
    (await save({ title, defaultPath, filters: [{ name: extension.toUpperCase(), extensions: [extension] }] })) ?? null,
  /** The native folder picker; null when the user cancels. */
  chooseFolder: async (title: string): Promise<string | null> => {
    const picked = await open({ directory: true, multiple: false, title });
    return typeof picked === "string" ? picked : null;
  },
};

function channel<T>(onMessage: (message: T) => void): Channel<T> {
  const c = new Channel<T>();
  c.onmessage = onMessage;
  return c;
}

/** Command errors arrive as one plain sentence; anything else is shown as text. */
export function errorMessage(error: unknown): string {
  if (typeof error === "string") return error;
  if (error instanceof Error) return error.message;
  return String(error);
}
