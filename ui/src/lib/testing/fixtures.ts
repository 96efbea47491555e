// Sample data for UI unit tests, shaped by the generated bindings.
import type { Presets } from "../bindings/Presets";
import type { ProfileView } from "../bindings/ProfileView";

export const presets: Presets = {
  langfuse: [
    { id: "eu", label: "EU Cloud", url: "https://cloud.langfuse.com" },
    { id: "us", label: "US Cloud", url: "https://us.cloud.langfuse.com" },
    { id: "hipaa", label: "HIPAA Cloud", url: "https://hipaa.cloud.langfuse.com" },
  ],
  langSmith: [
    { id: "us", label: "US", url: "https://api.smith.langchain.com" },
    { id: "eu", label: "EU", url: "https://eu.api.smith.langchain.com" },
  ],
};

/** A saved Langfuse Cloud profile whose secret is in the keychain. */
export function savedLangfuse(overrides: Partial<ProfileView> = {}, host = "https://cloud.langfuse.com"): ProfileView {
  return {
    profile: { id: "p1", name: "Prod", connection: { kind: "langfuse", host, publicKey: "pk-lf-1" } },
    secret: "inKeychain",
    ...overrides,
  };
}
