// The store against the real IPC wrapper, with Tauri's IPC mocked at the invoke boundary.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { ConnectionsStore } from "./connections.svelte";
import { savedLangfuse } from "../testing/fixtures";
import type { Channel } from "@tauri-apps/api/core";
import type { ProbeEvent } from "../bindings/ProbeEvent";
import type { RunEvent } from "../bindings/RunEvent";
import type { ProfileView } from "../bindings/ProfileView";
import type { SaveResult } from "../bindings/SaveResult";

const view: ProfileView = savedLangfuse();

type Calls = { cmd: string; args: Record<string, unknown> }[];

function backend(overrides: Record<string, (args: Record<string, unknown>) => unknown> = {}): Calls {
  const calls: Calls = [];
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
    const handler = overrides[cmd];
    if (handler) return handler((args ?? {}) as Record<string, unknown>);
    switch (cmd) {
      case "connection_presets":
        return { langfuse: [], langSmith: [] };
      case "keychain_status":
        return { state: "available" };
      case "list_profiles":
        return [view];
      default:
        throw new Error(`unexpected command ${cmd}`);
    }
  });
  return calls;
}

describe("ConnectionsStore", () => {
  beforeEach(() => clearMocks());
  afterEach(() => clearMocks());

  it("loads presets, keychain status and profiles", async () => {
    backend();
    const store = new ConnectionsStore();
    await store.load();
    expect(store.loading).toBe(false);
    expect(store.loadError).toBeNull();
    expect(store.keychain).toEqual({ state: "available" });
    expect(store.profiles).toEqual([view]);
    expect(store.keychainUsable).toBe(true);
  });

  it("shows a load failure as the sentence Rust sent", async () => {
    backend({
      list_profiles: () => {
        throw "The connections file /x/profiles.json is damaged and was left untouched.";
      },
    });
    const store = new ConnectionsStore();
    await store.load();
    expect(store.loadError).toMatch(/damaged and was left untouched/);
  });

  it("reports an unusable keychain and switches to session-only on request", async () => {
    const calls = backend({
      keychain_status: () => ({ state: "unavailable", reason: "no Secret Service" }),
      use_session_secrets: () => ({ state: "sessionOnly", reason: "no Secret Service" }),
    });
    const store = new ConnectionsStore();
    await store.load();
    expect(store.keychainUsable).toBe(false);
    await store.useSessionOnly();
    expect(store.keychain.state).toBe("sessionOnly");
    expect(calls.map((c) => c.cmd)).toContain("use_session_secrets");
  });

  it("streams the keychain check step by step and refreshes the list", async () => {
    const calls = backend({
      check_keychain: (args) => {
        const channel = args.onEvent as Channel<RunEvent<ProbeEvent>>;
        channel.onmessage({ runId: "r", seq: 1, event: { status: "started", step: "write" } });
        channel.onmessage({ runId: "r", seq: 2, event: { status: "passed", step: "write" } });
        return { state: "available" };
      },
    });
    const store = new ConnectionsStore();
    await store.checkKeychain();
    expect(store.probeSteps).toEqual([
      { status: "started", step: "write" },
      { status: "passed", step: "write" },
    ]);
    expect(store.checking).toBe(false);
    expect(calls.map((c) => c.cmd)).toEqual(["check_keychain", "list_profiles"]);
  });

  it("sends the draft and the new secret, and lists the saved profile without it", async () => {
    const saved: SaveResult = {
      saved: { ...view, profile: { ...view.profile, id: "p2", name: "Staging" } },
      report: { issues: [] },
    };
    const calls = backend({ save_profile: () => saved });
    const store = new ConnectionsStore();
    await store.load();
    const draft = {
      id: null,
      name: "Staging",
      connection: { kind: "langfuse" as const, host: "https://cloud.langfuse.com", publicKey: "pk-lf-2" },
    };
    await store.save(draft, "sk-lf-2");
    expect(calls.find((c) => c.cmd === "save_profile")?.args).toEqual({ draft, newSecret: "sk-lf-2" });
    expect(store.profiles.map((p) => p.profile.name)).toEqual(["Prod", "Staging"]);
    expect(JSON.stringify(store.profiles)).not.toContain("sk-lf-2");
  });

  it("keeps the list unchanged when validation refuses the save", async () => {
    backend({
      save_profile: () => ({
        saved: null,
        report: { issues: [{ field: "name", severity: "error", message: "Give the connection a name." }] },
      }),
    });
    const store = new ConnectionsStore();
    await store.load();
    const result = await store.save(
      { id: null, name: "", connection: { kind: "archive", folder: "/x" } },
      null,
    );
    expect(result.saved).toBeNull();
    expect(store.profiles).toEqual([view]);
  });

  it("replaces an edited profile in place and removes a deleted one", async () => {
    const renamed = { ...view, profile: { ...view.profile, name: "Prod (EU)" } };
    backend({ save_profile: () => ({ saved: renamed, report: { issues: [] } }), delete_profile: () => null });
    const store = new ConnectionsStore();
    await store.load();
    await store.save({ id: "p1", name: "Prod (EU)", connection: view.profile.connection }, null);
    expect(store.profiles).toEqual([renamed]);
    await store.remove("p1");
    expect(store.profiles).toEqual([]);
  });

  it("keeps a profile in the list when deleting it fails", async () => {
    backend({
      delete_profile: () => {
        throw "The system keychain could not be used: locked";
      },
    });
    const store = new ConnectionsStore();
    await store.load();
    await expect(store.remove("p1")).rejects.toMatch(/could not be used/);
    expect(store.profiles).toEqual([view]);
  });
});
