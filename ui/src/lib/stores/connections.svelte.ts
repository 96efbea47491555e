// State of the Connections screen: the saved profiles (never with secrets), the keychain status
// and the live steps of a keychain check.
import { errorMessage, ipc } from "../ipc";
import type { KeychainStatus } from "../bindings/KeychainStatus";
import type { Presets } from "../bindings/Presets";
import type { ProbeEvent } from "../bindings/ProbeEvent";
import type { ProfileDraft } from "../bindings/ProfileDraft";
import type { ProfileId } from "../bindings/ProfileId";
import type { ProfileView } from "../bindings/ProfileView";
import type { SaveResult } from "../bindings/SaveResult";

export type Api = typeof ipc;

export class ConnectionsStore {
  profiles = $state<ProfileView[]>([]);
  presets = $state<Presets | null>(null);
  loading = $state(true);
  loadError = $state<string | null>(null);
  keychain = $state<KeychainStatus>({ state: "unchecked" });
  checking = $state(false);
  probeSteps = $state<ProbeEvent[]>([]);

  constructor(private readonly api: Api = ipc) {}

  /** Loads presets, profiles and the outcome of the start-up keychain check. */
  async load(): Promise<void> {
    this.loading = true;
    this.loadError = null;
    try {
      this.presets = await this.api.presets();
      this.keychain = await this.api.keychainStatus();
      this.profiles = await this.api.listProfiles();
    } catch (e) {
      this.loadError = errorMessage(e);
    } finally {
      this.loading = false;
    }
  }

  /** Probes the keychain again, showing each step as it happens. */
  async checkKeychain(): Promise<void> {
    this.checking = true;
    this.probeSteps = [];
    try {
      this.keychain = await this.api.checkKeychain((message) => {
        this.probeSteps = [...this.probeSteps, message.event];
      });
      this.profiles = await this.api.listProfiles();
    } catch (e) {
      this.loadError = errorMessage(e);
    } finally {
      this.checking = false;
    }
  }

  async useSessionOnly(): Promise<void> {
    this.keychain = await this.api.useSessionSecrets();
  }

  /** Saves a profile; on success the list shows it. Validation problems come back in the result. */
  async save(draft: ProfileDraft, newSecret: string | null): Promise<SaveResult> {
    const result = await this.api.saveProfile(draft, newSecret);
    const saved = result.saved;
    if (saved) {
      const index = this.profiles.findIndex((p) => p.profile.id === saved.profile.id);
      this.profiles =
        index === -1
          ? [...this.profiles, saved]
          : this.profiles.map((p, i) => (i === index ? saved : p));
    }
    return result;
  }

  async remove(id: ProfileId): Promise<void> {
    await this.api.deleteProfile(id);
    this.profiles = this.profiles.filter((p) => p.profile.id !== id);
  }

  get keychainUsable(): boolean {
    return this.keychain.state === "available" || this.keychain.state === "sessionOnly";
  }
}
