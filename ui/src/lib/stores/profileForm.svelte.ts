// The create/edit form for a connection profile. It turns what the user picked (a preset or a
// custom URL, a kept or replaced secret) into the draft the Rust side validates and saves.
import type { CloudPlan } from "../bindings/CloudPlan";
import type { ConnectionKind } from "../bindings/ConnectionKind";
import { isCloud } from "../scenarios";
import type { EndpointPreset } from "../bindings/EndpointPreset";
import type { Field } from "../bindings/Field";
import type { Issue } from "../bindings/Issue";
import type { Presets } from "../bindings/Presets";
import type { ProfileDraft } from "../bindings/ProfileDraft";
import type { ProfileId } from "../bindings/ProfileId";
import type { ProfileView } from "../bindings/ProfileView";

export const CUSTOM = "custom";

/** The preset whose URL matches, or CUSTOM. */
export function presetFor(url: string, presets: EndpointPreset[]): string {
  const normalised = url.trim().replace(/\/+$/, "");
  return presets.find((p) => p.url === normalised)?.id ?? CUSTOM;
}

export class ProfileForm {
  readonly id: ProfileId | null;
  name = $state("");
  kind = $state<ConnectionKind>("langfuse");
  langfusePreset = $state("eu");
  langfuseCustomUrl = $state("");
  publicKey = $state("");
  /** The Langfuse Cloud plan (only asked for Cloud hosts). */
  cloudPlan = $state<CloudPlan>("none");
  /** A self-hosted server's private certificate authority (PEM file); empty for none. */
  caFile = $state("");
  /** The user confirmed sending the keys over plain http to another computer. */
  allowPlainHttp = $state(false);
  langSmithPreset = $state("us");
  langSmithCustomUrl = $state("");
  folder = $state("");
  /** What the user typed as the secret; empty unless they enter or replace it. */
  secret = $state("");
  /** Whether a secret for this kind of connection is already saved (editing only). */
  readonly savedSecretKind: ConnectionKind | null;
  replacingSecret = $state(true);
  issues = $state<Issue[]>([]);

  constructor(
    private readonly presets: Presets,
    existing: ProfileView | null = null,
  ) {
    this.id = existing?.profile.id ?? null;
    const hasSaved =
      existing !== null &&
      (existing.secret === "inKeychain" ||
        existing.secret === "forThisSession" ||
        existing.secret === "unknown");
    this.savedSecretKind = hasSaved ? existing.profile.connection.kind : null;
    if (!existing) return;
    const { profile } = existing;
    this.name = profile.name;
    const c = profile.connection;
    this.kind = c.kind;
    if (c.kind === "langfuse") {
      this.langfusePreset = presetFor(c.host, presets.langfuse);
      this.langfuseCustomUrl = this.langfusePreset === CUSTOM ? c.host : "";
      this.publicKey = c.publicKey;
      this.cloudPlan = c.cloudPlan ?? "none";
      this.caFile = c.caFile ?? "";
      this.allowPlainHttp = c.allowPlainHttp ?? false;
    } else if (c.kind === "langSmith") {
      this.langSmithPreset = presetFor(c.endpoint, presets.langSmith);
      this.langSmithCustomUrl = this.langSmithPreset === CUSTOM ? c.endpoint : "";
    } else {
      this.folder = c.folder;
    }
    this.replacingSecret = !hasSaved;
  }

  get isNew(): boolean {
    return this.id === null;
  }

  get needsSecret(): boolean {
    return this.kind !== "archive";
  }

  /** True when the form shows the masked saved secret with a "Replace" button. */
  get showsSavedSecret(): boolean {
    return this.needsSecret && this.savedSecretKind === this.kind && !this.replacingSecret;
  }

  get langfuseHost(): string {
    return urlFor(this.langfusePreset, this.langfuseCustomUrl, this.presets.langfuse);
  }

  /** A Langfuse Cloud host: the form asks for the plan. */
  get isCloud(): boolean {
    return this.kind === "langfuse" && isCloud(this.langfuseHost);
  }

  /** Cloud certificates are signed by public authorities; a self-hosted server may use its own. */
  get asksForCaFile(): boolean {
    return this.kind === "langfuse" && !this.isCloud;
  }

  /** Keys would travel unencrypted to another computer: saving needs the user's confirmation.
   *  (The Rust validation enforces it; this only decides when the checkbox shows.) */
  get asksPlainHttpConfirmation(): boolean {
    return this.kind === "langfuse" && plainHttpToAnotherHost(this.langfuseHost);
  }

  get langSmithEndpoint(): string {
    return urlFor(this.langSmithPreset, this.langSmithCustomUrl, this.presets.langSmith);
  }

  startReplacingSecret(): void {
    this.replacingSecret = true;
    this.secret = "";
  }

  keepSavedSecret(): void {
    this.replacingSecret = false;
    this.secret = "";
  }

  toDraft(): ProfileDraft {
    const connection =
      this.kind === "langfuse"
        ? {
            kind: "langfuse" as const,
            host: this.langfuseHost,
            publicKey: this.publicKey,
            cloudPlan: this.isCloud ? this.cloudPlan : ("none" as const),
            ...(this.asksForCaFile && this.caFile.trim() ? { caFile: this.caFile.trim() } : {}),
            allowPlainHttp: this.asksPlainHttpConfirmation && this.allowPlainHttp,
          }
        : this.kind === "langSmith"
          ? { kind: "langSmith" as const, endpoint: this.langSmithEndpoint }
          : { kind: "archive" as const, folder: this.folder };
    return { id: this.id, name: this.name, connection };
  }

  /** The secret to send: null keeps the saved one (or there is none for this kind). */
  newSecret(): string | null {
    if (!this.needsSecret || this.showsSavedSecret) return null;
    return this.secret;
  }

  issuesFor(field: Field): Issue[] {
    return this.issues.filter((i) => i.field === field);
  }

  get hasErrors(): boolean {
    return this.issues.some((i) => i.severity === "error");
  }

  /** Forgets the typed secret, e.g. once it is saved. */
  clearSecret(): void {
    this.secret = "";
  }
}

/** An http:// address of a host other than this computer (localhost, 127.x, ::1). */
function plainHttpToAnotherHost(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return false;
  }
  const host = url.hostname.toLowerCase();
  const loopback = host === "localhost" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);
  return url.protocol === "http:" && !loopback;
}

function urlFor(preset: string, custom: string, presets: EndpointPreset[]): string {
  if (preset === CUSTOM) return custom;
  return presets.find((p) => p.id === preset)?.url ?? custom;
}
