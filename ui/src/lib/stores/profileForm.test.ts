import { describe, expect, it } from "vitest";
import { CUSTOM, ProfileForm, presetFor } from "./profileForm.svelte";
import { presets, savedLangfuse } from "../testing/fixtures";
import type { ProfileView } from "../bindings/ProfileView";

function saved(secret: ProfileView["secret"], host = "https://us.cloud.langfuse.com"): ProfileView {
  return savedLangfuse({ secret }, host);
}

describe("ProfileForm", () => {
  it("builds a Langfuse draft from the chosen preset and sends the typed secret", () => {
    const form = new ProfileForm(presets);
    form.name = "New";
    form.langfusePreset = "hipaa";
    form.publicKey = "pk-lf-x";
    form.secret = "sk-lf-y";
    expect(form.toDraft()).toEqual({
      id: null,
      name: "New",
      connection: {
        kind: "langfuse",
        host: "https://hipaa.cloud.langfuse.com",
        publicKey: "pk-lf-x",
        cloudPlan: "none",
        allowPlainHttp: false,
      },
    });
    expect(form.newSecret()).toBe("sk-lf-y");
  });

  it("asks a Cloud connection for its plan and keeps none for a self-hosted one", () => {
    const form = new ProfileForm(presets);
    expect(form.isCloud).toBe(true);
    form.cloudPlan = "core";
    expect(form.toDraft().connection).toMatchObject({ cloudPlan: "core" });
    form.langfusePreset = CUSTOM;
    form.langfuseCustomUrl = "https://langfuse.internal";
    expect(form.isCloud).toBe(false);
    expect(form.toDraft().connection).toMatchObject({ cloudPlan: "none" });
  });

  it("uses the custom URL when no preset is chosen", () => {
    const form = new ProfileForm(presets);
    form.langfusePreset = CUSTOM;
    form.langfuseCustomUrl = "https://langfuse.internal";
    expect(form.toDraft().connection).toMatchObject({ host: "https://langfuse.internal" });
  });

  it("shows a saved secret masked and keeps it unless the user replaces it", () => {
    const form = new ProfileForm(presets, saved("inKeychain"));
    expect(form.langfusePreset).toBe("us");
    expect(form.showsSavedSecret).toBe(true);
    expect(form.newSecret()).toBeNull();
    form.startReplacingSecret();
    expect(form.showsSavedSecret).toBe(false);
    expect(form.newSecret()).toBe("");
    form.secret = "sk-lf-new";
    expect(form.newSecret()).toBe("sk-lf-new");
    form.keepSavedSecret();
    expect(form.newSecret()).toBeNull();
  });

  it("asks for the secret again when it is missing or the kind changed", () => {
    expect(new ProfileForm(presets, saved("missing")).showsSavedSecret).toBe(false);
    const form = new ProfileForm(presets, saved("inKeychain"));
    form.kind = "langSmith";
    expect(form.showsSavedSecret).toBe(false);
    expect(form.newSecret()).toBe("");
    form.kind = "archive";
    expect(form.newSecret()).toBeNull();
  });

  it("recognises a self-hosted host as custom when editing", () => {
    const form = new ProfileForm(presets, saved("inKeychain", "https://langfuse.corp.example"));
    expect(form.langfusePreset).toBe(CUSTOM);
    expect(form.langfuseCustomUrl).toBe("https://langfuse.corp.example");
  });

  it("sends a self-hosted server's CA file, and none for Cloud or when left blank", () => {
    const form = new ProfileForm(presets);
    form.langfusePreset = CUSTOM;
    form.langfuseCustomUrl = "https://langfuse.corp.example";
    expect(form.asksForCaFile).toBe(true);
    form.caFile = "  /etc/ssl/corp-ca.pem ";
    expect(form.toDraft().connection).toMatchObject({ caFile: "/etc/ssl/corp-ca.pem" });
    form.caFile = "   ";
    expect(form.toDraft().connection).not.toHaveProperty("caFile");
    form.caFile = "/etc/ssl/corp-ca.pem";
    form.langfusePreset = "eu";
    expect(form.asksForCaFile).toBe(false);
    expect(form.toDraft().connection).not.toHaveProperty("caFile");
  });

  it("asks to confirm plain http to another computer, not to this one", () => {
    const form = new ProfileForm(presets);
    form.langfusePreset = CUSTOM;
    for (const local of ["http://localhost:3000", "http://127.0.0.1:3000", "http://[::1]:3000", "https://langfuse.internal"]) {
      form.langfuseCustomUrl = local;
      expect(form.asksPlainHttpConfirmation, local).toBe(false);
    }
    form.langfuseCustomUrl = "http://langfuse.internal:3000";
    expect(form.asksPlainHttpConfirmation).toBe(true);
    expect(form.toDraft().connection).toMatchObject({ allowPlainHttp: false });
    form.allowPlainHttp = true;
    expect(form.toDraft().connection).toMatchObject({ allowPlainHttp: true });
    // A confirmation does not outlive the address it was given for.
    form.langfuseCustomUrl = "https://langfuse.internal";
    expect(form.toDraft().connection).toMatchObject({ allowPlainHttp: false });
  });

  it("loads the saved CA file and confirmation when editing", () => {
    const view = saved("inKeychain", "http://langfuse.internal:3000");
    if (view.profile.connection.kind !== "langfuse") throw new Error("fixture kind");
    view.profile.connection.caFile = "/etc/ssl/corp-ca.pem";
    view.profile.connection.allowPlainHttp = true;
    const form = new ProfileForm(presets, view);
    expect(form.caFile).toBe("/etc/ssl/corp-ca.pem");
    expect(form.allowPlainHttp).toBe(true);
    expect(form.toDraft().connection).toMatchObject({ caFile: "/etc/ssl/corp-ca.pem", allowPlainHttp: true });
  });

  it("sorts issues by field and knows whether any blocks saving", () => {
    const form = new ProfileForm(presets);
    form.issues = [
      { field: "publicKey", severity: "warning", message: "odd key" },
      { field: "name", severity: "error", message: "Give the connection a name." },
    ];
    expect(form.issuesFor("name").map((i) => i.message)).toEqual(["Give the connection a name."]);
    expect(form.hasErrors).toBe(true);
    form.issues = form.issuesFor("publicKey");
    expect(form.hasErrors).toBe(false);
  });
});

describe("presetFor", () => {
  it("matches a preset regardless of a trailing slash", () => {
    expect(presetFor("https://cloud.langfuse.com/", presets.langfuse)).toBe("eu");
    expect(presetFor("https://example.com", presets.langfuse)).toBe(CUSTOM);
  });
});
