// Every call from the window into Rust goes through this file, typed with the bindings that
// ts-rs generates from the Rust types (src/lib/bindings, never edited by hand).
import { Channel, invoke } from "@tauri-apps/api/core";
import { open } from "@tauri-apps/plugin-dialog";

import type { AppInfo } from "./bindings/AppInfo";
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
  /** The native folder picker; null when the user cancels. */
  chooseFolder: async (title: string): Promise<string | null> => {
    const picked = await open({ directory: true, multiple: false, title });
    return typeof picked === "string" ? picked : null;
  },
};

/** Command errors arrive as one plain sentence; anything else is shown as text. */
export function errorMessage(error: unknown): string {
  if (typeof error === "string") return error;
  if (error instanceof Error) return error.message;
  return String(error);
}
