// The plan form with a LangSmith source in jsdom, Tauri's IPC mocked: "What to move" offers only
// what a LangSmith workspace yields, and the mapping preview shows one trace before and after.
import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import PlanForm from "./PlanForm.svelte";
import { PlanStore } from "../lib/stores/plan.svelte";
import { scenarios } from "../lib/scenarios";
import type { MigrationProfile } from "../lib/bindings/MigrationProfile";
import type { MappingPreview } from "../lib/bindings/MappingPreview";

const workspace: MigrationProfile = {
  profile: { id: "ls", name: "Workspace", connection: { kind: "langSmith", endpoint: "https://api.smith.langchain.com" } },
  secret: "inKeychain",
  sample: false,
};
const own: MigrationProfile = {
  profile: { id: "s", name: "Own", connection: { kind: "langfuse", host: "https://langfuse.example.org", publicKey: "pk-lf-2" } },
  secret: "inKeychain",
  sample: false,
};
const cloud: MigrationProfile = {
  profile: { id: "c", name: "Cloud", connection: { kind: "langfuse", host: "https://cloud.langfuse.com", publicKey: "pk-lf-1" } },
  secret: "inKeychain",
  sample: false,
};

/** Kinds a LangSmith workspace never yields (the engine's `LangSmith::supports`). */
const never = [
  "llm_connections",
  "annotation_queues",
  "models",
  "evaluators",
  "evaluation_rules",
  "dashboard_widgets",
  "dashboards",
  "media",
  "comments",
  "annotation_queue_items",
];
const yields = ["score_configs", "datasets", "prompts", "traces", "observations", "dataset_items", "scores", "dataset_run_items"];

const preview: MappingPreview = {
  project: "support-bot",
  runs: [
    { id: "r-root", name: "rag-chain", runType: "chain", parentRunId: null, depth: 0 },
    { id: "r-ret", name: "retriever", runType: "retriever", parentRunId: "r-root", depth: 1 },
    { id: "r-llm", name: "ChatOpenAI", runType: "llm", parentRunId: "r-root", depth: 1 },
  ],
  trace: { id: "0193f0a0aaaa", name: "rag-chain", sessionId: "conv-0001", userId: "user-1", tags: ["langsmith-project:support-bot"] },
  observations: [
    { id: "o-root", observationType: "CHAIN", name: "rag-chain", parentObservationId: null, runId: "r-root", model: null, usage: {}, depth: 0 },
    { id: "o-ret", observationType: "RETRIEVER", name: "retriever", parentObservationId: "o-root", runId: "r-ret", model: null, usage: {}, depth: 1 },
    { id: "o-llm", observationType: "GENERATION", name: "ChatOpenAI", parentObservationId: "o-root", runId: "r-llm", model: "gpt-4o-mini", usage: { input: 220, output: 40 }, depth: 1 },
  ],
  more: 3,
  moreUnread: false,
  notes: ["run events other than streamed tokens are kept only in metadata `langsmith_events`"],
};

function backend(extra: Record<string, (a: Record<string, unknown>) => unknown> = {}) {
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    if (extra[cmd]) return extra[cmd](a);
    if (cmd === "sample_data") return null;
    if (cmd === "migration_profiles") return [workspace, own, cloud];
    throw new Error(`unexpected ${cmd}`);
  });
}

async function langsmithPlan(): Promise<PlanStore> {
  const plan = new PlanStore();
  await plan.load();
  plan.pick(scenarios.find((s) => s.id === "langsmith")!);
  plan.setSource("ls");
  plan.setTarget("s");
  return plan;
}

function offered(): string[] {
  return [...document.querySelectorAll<HTMLInputElement>("input[data-entity]")].map((i) => i.dataset.entity!);
}

describe("PlanForm with a LangSmith source", () => {
  afterEach(() => {
    cleanup();
    clearMocks();
  });

  it("offers only the kinds of object a LangSmith workspace yields, says why, and sends only those", async () => {
    let sent: Record<string, unknown> | null = null;
    backend({
      preflight: (a) => {
        sent = a.request as Record<string, unknown>;
        return { source: "LangSmith", target: "t", sourceCheck: null, targetCheck: null, entities: [], conflicts: [], warnings: [], etaSeconds: null, windowFrom: null, windowEnd: "2026-01-01T00:00:00Z", llmConnections: [], sourceNotes: [] };
      },
    });
    const plan = await langsmithPlan();
    render(PlanForm, { plan, starting: false, onStart: () => {} });
    expect(offered().sort()).toEqual([...yields].sort());
    const why = screen.getByTestId("langsmith-not-offered");
    expect(why.textContent).toMatch(/LLM connections/);
    expect(why.textContent).toMatch(/annotation queues/);
    expect(why.textContent).toMatch(/media attachments/);
    await fireEvent.click(screen.getByTestId("run-preflight"));
    await waitFor(() => expect(sent).not.toBeNull());
    const kinds = (sent as unknown as { entities: string[] }).entities;
    expect(kinds.sort()).toEqual([...yields].sort());
    for (const k of never) expect(kinds).not.toContain(k);
  });

  it("offers every kind again for a Langfuse source", async () => {
    backend();
    const plan = new PlanStore();
    await plan.load();
    plan.pick(scenarios.find((s) => s.id === "cloud-to-self-hosted")!);
    plan.setSource("c");
    plan.setTarget("s");
    render(PlanForm, { plan, starting: false, onStart: () => {} });
    for (const k of [...never, ...yields]) expect(offered()).toContain(k);
    expect(screen.queryByTestId("langsmith-not-offered")).toBeNull();
  });

  it("shows the mapping preview as two trees, LangSmith runs and the Langfuse trace they become", async () => {
    let asked: Record<string, unknown> | null = null;
    backend({
      mapping_preview_of: (a) => {
        asked = a.request as Record<string, unknown>;
        return preview;
      },
    });
    const plan = await langsmithPlan();
    plan.toggleProject("support-bot", true);
    render(PlanForm, { plan, starting: false, onStart: () => {} });
    await fireEvent.click(screen.getByTestId("show-mapping-preview"));
    const before = await screen.findByTestId("preview-langsmith");
    expect(asked).toMatchObject({ sourceId: "ls", projects: ["support-bot"] });
    const runs = [...before.querySelectorAll("li[data-run]")];
    expect(runs.map((li) => li.getAttribute("data-run"))).toEqual(["r-root", "r-ret", "r-llm"]);
    expect(runs.map((li) => li.getAttribute("data-depth"))).toEqual(["0", "1", "1"]);
    expect(runs[2]!.textContent).toMatch(/ChatOpenAI/);
    expect(runs[2]!.textContent).toMatch(/llm/);
    const after = screen.getByTestId("preview-langfuse");
    expect(after.textContent).toContain("0193f0a0aaaa");
    const obs = [...after.querySelectorAll("li[data-observation]")];
    expect(obs.map((li) => li.getAttribute("data-observation"))).toEqual(["o-root", "o-ret", "o-llm"]);
    expect(obs[2]!.textContent).toMatch(/GENERATION/);
    expect(obs[2]!.textContent).toMatch(/gpt-4o-mini/);
    expect(obs[2]!.textContent).toMatch(/input 220/);
    expect(screen.getByTestId("mapping-preview").textContent).toMatch(/and 3 more runs/);
    expect(screen.getByTestId("mapping-preview").textContent).toMatch(/langsmith_events/);
  });

  it("says in a sentence why there is no preview", async () => {
    const sentence = "The window from 2025-01-01 00:00 UTC to 2025-02-01 00:00 UTC holds no LangSmith trace in the project “support-bot”, so there is no sample trace to preview. Widen the window or pick other projects.";
    backend({
      mapping_preview_of: () => {
        throw sentence;
      },
    });
    const plan = await langsmithPlan();
    render(PlanForm, { plan, starting: false, onStart: () => {} });
    await fireEvent.click(screen.getByTestId("show-mapping-preview"));
    const error = await screen.findByTestId("mapping-preview-error");
    expect(error.textContent).toBe(sentence);
    expect(screen.queryByTestId("preview-langsmith")).toBeNull();
  });

  it("forgets a preview once the window or projects change", async () => {
    backend({ mapping_preview_of: () => preview });
    const plan = await langsmithPlan();
    render(PlanForm, { plan, starting: false, onStart: () => {} });
    await fireEvent.click(screen.getByTestId("show-mapping-preview"));
    await screen.findByTestId("preview-langsmith");
    plan.toggleProject("research-agent", true);
    await waitFor(() => expect(screen.queryByTestId("preview-langsmith")).toBeNull());
  });
});
