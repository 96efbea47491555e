// The plan form's pre-flight result in jsdom, Tauri's IPC mocked: conflicts are listed apart
// from objects already in the target, each with what differs.
import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import PlanForm from "./PlanForm.svelte";
import { PlanStore } from "../lib/stores/plan.svelte";
import { scenarios } from "../lib/scenarios";
import type { MigrationProfile } from "../lib/bindings/MigrationProfile";
import type { PreflightView } from "../lib/bindings/PreflightView";

const cloud: MigrationProfile = {
  profile: { id: "c", name: "Cloud", connection: { kind: "langfuse", host: "https://cloud.langfuse.com", publicKey: "pk-lf-1" } },
  secret: "inKeychain",
  sample: false,
};
const own: MigrationProfile = {
  profile: { id: "s", name: "Own", connection: { kind: "langfuse", host: "https://langfuse.example.org", publicKey: "pk-lf-2" } },
  secret: "inKeychain",
  sample: false,
};

const preflight: PreflightView = {
  source: "Langfuse at https://cloud.langfuse.com",
  target: "Langfuse at https://langfuse.example.org",
  sourceCheck: null,
  targetCheck: null,
  entities: [{ entity: "scores", count: 4, existingInTarget: 2, existingExamples: ["score-1", "score-7"] }],
  conflicts: [{ entity: "scores", id: "score-7", fields: ["value"] }],
  etaSeconds: 1,
  warnings: [],
  windowFrom: null,
  windowEnd: "2026-02-01T00:00:00Z",
  llmConnections: [],
  sourceNotes: [],
};

describe("PlanForm pre-flight", () => {
  afterEach(() => {
    cleanup();
    clearMocks();
  });

  it("lists each conflict with what differs and leaves the choice to the user", async () => {
    mockIPC((cmd) => {
      if (cmd === "sample_data") return null;
      if (cmd === "migration_profiles") return [cloud, own];
      if (cmd === "preflight") return preflight;
      throw new Error(`unexpected ${cmd}`);
    });
    const plan = new PlanStore();
    await plan.load();
    plan.pick(scenarios.find((s) => s.id === "cloud-to-self-hosted")!);
    plan.setSource("c");
    plan.setTarget("s");
    await plan.runPreflight();
    render(PlanForm, { plan, starting: false, onStart: () => {} });
    const box = screen.getByTestId("preflight-conflicts");
    expect(box.textContent).toMatch(/1 conflict:/);
    expect(box.textContent).toContain("score-7");
    expect(box.textContent).toMatch(/differs in value/);
    expect(box.textContent).toMatch(/your decision/);
  });

  it("shows what the source counted about itself, such as a LangSmith workspace's projects and least time", async () => {
    const notes = [
      "project support-bot: 12 traces, 80 runs in the window",
      "LangSmith Cloud's limits allow this copy in no less than 3 s",
    ];
    mockIPC((cmd) => {
      if (cmd === "sample_data") return null;
      if (cmd === "migration_profiles") return [cloud, own];
      if (cmd === "preflight") return { ...preflight, conflicts: [], sourceNotes: notes };
      throw new Error(`unexpected ${cmd}`);
    });
    const plan = new PlanStore();
    await plan.load();
    plan.pick(scenarios.find((s) => s.id === "cloud-to-self-hosted")!);
    plan.setSource("c");
    plan.setTarget("s");
    await plan.runPreflight();
    render(PlanForm, { plan, starting: false, onStart: () => {} });
    const items = screen.getByTestId("preflight-source-notes").querySelectorAll("li");
    expect([...items].map((li) => li.textContent)).toEqual(notes);
  });

  it("asks for each LLM connection's key or a skip before a real run, and hands over only typed keys", async () => {
    mockIPC((cmd) => {
      if (cmd === "sample_data") return null;
      if (cmd === "migration_profiles") return [cloud, own];
      if (cmd === "preflight")
        return {
          ...preflight,
          conflicts: [],
          llmConnections: [
            { provider: "openai", adapter: "openai", baseUrl: null, hasKey: false },
            { provider: "my-gateway", adapter: "openai", baseUrl: "https://gw.example.com/v1", hasKey: false },
          ],
        };
      throw new Error(`unexpected ${cmd}`);
    });
    const plan = new PlanStore();
    await plan.load();
    plan.pick(scenarios.find((s) => s.id === "cloud-to-self-hosted")!);
    plan.setSource("c");
    plan.setTarget("s");
    await plan.runPreflight();
    render(PlanForm, { plan, starting: false, onStart: () => {} });
    const box = screen.getByTestId("llm-keys");
    expect(box.textContent).toContain("https://gw.example.com/v1");
    expect(box.textContent).toMatch(/system keychain for this run only/);
    const start = screen.getByTestId("start-run") as HTMLButtonElement;
    expect(start.disabled).toBe(true);
    const openaiKey = screen.getAllByTestId("llm-key")[0] as HTMLInputElement;
    expect(openaiKey.type).toBe("password");
    await fireEvent.input(openaiKey, { target: { value: "sk-typed-1" } });
    expect(start.disabled).toBe(true);
    await fireEvent.click(screen.getAllByTestId("llm-skip")[1]!);
    expect(start.disabled).toBe(false);
    expect(plan.takeLlmKeys()).toEqual({ openai: "sk-typed-1" });
    // Taken once: the window holds the key no longer.
    expect(plan.llmKeys).toEqual({});
  });
});
