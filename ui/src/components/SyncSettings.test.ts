// The live sync's timing in the cutover card: a Langfuse or LangSmith source gets its
// generation's defaults from the engine; the in-process sample servers, which show what they
// receive within a second, get short ones so a newcomer sees the sync in step quickly.
import { afterEach, describe, expect, it } from "vitest";
import { cleanup, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import SyncSettings from "./SyncSettings.svelte";
import { SyncSettingsStore } from "../lib/stores/cutover.svelte";

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("SyncSettings", () => {
  it("a real source gets its generation's defaults from the engine", async () => {
    const asked: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "sync_defaults") {
        asked.push((args as { generation: string }).generation);
        return { pollSecs: 30, settleSecs: 30, lookbackSecs: 900 };
      }
      throw new Error(`unexpected ${cmd}`);
    });
    const settings = new SyncSettingsStore();
    render(SyncSettings, { settings, generation: "v3", sample: false });
    await waitFor(() => expect(screen.getByTestId("sync-defaults").textContent).toContain("poll 30 s, settle 30 s, lookback 15 min"));
    expect(asked).toEqual(["v3"]);
    expect(settings.request?.timing).toEqual({ pollSecs: 30, settleSecs: 30, lookbackSecs: 900 });
  });

  it("the sample servers get short defaults, said as such, and fields the user set still win", async () => {
    mockIPC((cmd) => {
      if (cmd === "sync_defaults") return { pollSecs: 30, settleSecs: 30, lookbackSecs: 900 };
      throw new Error(`unexpected ${cmd}`);
    });
    const settings = new SyncSettingsStore();
    render(SyncSettings, { settings, generation: "v3", sample: true });
    await waitFor(() => expect(screen.getByTestId("sync-defaults").textContent).toContain("poll 2 s, settle 3 s, lookback 2 min"));
    expect(screen.getByTestId("sync-settings").textContent).toContain("the sample servers");
    settings.poll = 5;
    expect(settings.request?.timing).toEqual({ pollSecs: 5, settleSecs: 3, lookbackSecs: 120 });
  });
});
