// The zero-downtime cutover with a LangSmith source: the card offers LangSmith workspaces as its
// source, the sync's defaults are LangSmith's, and the card says what the sync takes of LangSmith
// Cloud's limits and what Switch does to an application traced with the LangSmith SDK.
import { afterEach, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { PlanStore } from "./stores/plan.svelte";
import { scenarios } from "./scenarios";
import { langsmithSwitchNote, shareText, syncGeneration } from "./sync";
import type { MigrationProfile } from "./bindings/MigrationProfile";
import type { SyncView } from "./bindings/SyncView";

const langfuse: MigrationProfile = {
  profile: { id: "lf", name: "Own", connection: { kind: "langfuse", host: "https://langfuse.example.org", publicKey: "pk-lf-2" } },
  secret: "inKeychain",
  sample: false,
};
const langsmith: MigrationProfile = {
  profile: { id: "ls", name: "LangSmith", connection: { kind: "langSmith", endpoint: "https://api.smith.langchain.com" } },
  secret: "inKeychain",
  sample: false,
};
const archive: MigrationProfile = {
  profile: { id: "f", name: "Folder", connection: { kind: "archive", folder: "/tmp/a" } },
  secret: "notNeeded",
  sample: false,
};

function view(over: Partial<SyncView> = {}): SyncView {
  return {
    passes: 1,
    lagSeconds: 0,
    waiting: 0,
    waitingOpen: 0,
    lastPass: null,
    recent: [],
    timing: { pollSecs: 30, settleSecs: 60, lookbackSecs: 1800 },
    targetUrl: "http://127.0.0.1:3002",
    sourceShare: null,
    targetShare: null,
    langsmithSource: false,
    langsmithShare: null,
    senders: [],
    quietSince: null,
    switchedAt: null,
    finishing: false,
    cutOver: null,
    drainSecs: null,
    ...over,
  };
}

describe("a live sync from LangSmith", () => {
  afterEach(() => clearMocks());

  it("offers LangSmith workspaces and Langfuse projects, not archive folders, as the cutover's source", async () => {
    mockIPC((cmd) => {
      if (cmd === "sample_data") return null;
      if (cmd === "migration_profiles") return [langfuse, langsmith, archive];
      throw new Error(`unexpected ${cmd}`);
    });
    const p = new PlanStore();
    await p.load();
    p.pick(scenarios.find((s) => s.id === "zero-downtime")!);
    expect(p.sourceOptions.map((o) => o.profile.id)).toEqual(["lf", "ls"]);
    p.setSource("ls");
    expect(p.langsmithSource).toBe(true);
    expect(p.targetOptions.map((o) => o.profile.id)).toEqual(["lf"]);
  });

  it("asks for LangSmith's defaults once the source's check names a LangSmith server", () => {
    expect(syncGeneration({ status: "langsmith", url: "u", serverVersion: "0.10", v2Queries: true, projects: [] })).toBe("langsmith");
    expect(syncGeneration({ status: "ok", projectName: null, serverVersion: "3.1", generation: "v3", capabilities: [] })).toBe("v3");
    expect(syncGeneration(null)).toBeNull();
  });

  it("says how much of LangSmith Cloud's run queries the sync takes", () => {
    const text = shareText(view({ langsmithSource: true, langsmithShare: { percent: 40, runQueriesPer10s: 6, runQueryLimit: 15 } }));
    expect(text).toContain("LangSmith Cloud");
    expect(text).toContain("at most 6 of the 15 run queries");
    expect(text).toContain("(40%)");
    // A self-hosted LangSmith has no published limits: the card says there is no budget.
    expect(shareText(view({ langsmithSource: true }))).toContain("no request budget");
  });

  it("tells that Switch leaves an application's LANGSMITH_* settings as they are", () => {
    expect(langsmithSwitchNote(view({ langsmithSource: true }))).toContain("LANGSMITH_* lines as they are");
    expect(langsmithSwitchNote(view())).toBeNull();
  });
});
