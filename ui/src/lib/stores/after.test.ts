// After a run, with Tauri's IPC mocked: a report with discrepancies, the typed rollback
// confirmation, a rollback stopped by the delete budget, and a refused cutover.
import { afterEach, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import type { Channel } from "@tauri-apps/api/core";
import { AfterRunStore } from "./after.svelte";
import type { RollbackPreviewView } from "../bindings/RollbackPreviewView";
import type { RollbackView } from "../bindings/RollbackView";
import type { RunEvent } from "../bindings/RunEvent";
import type { StepEvent } from "../bindings/StepEvent";
import type { ValidationView } from "../bindings/ValidationView";

const dirty: ValidationView = {
  runId: "r",
  generatedAt: "2026-11-25T10:00:00Z",
  source: "Langfuse at a",
  target: "Langfuse at b",
  windowFrom: null,
  windowTo: null,
  sampleSize: null,
  settled: true,
  waitedMs: 1200,
  settleNote: null,
  clean: false,
  discrepancyCount: 2,
  entities: [
    {
      entity: "observations",
      sourceCount: 10,
      targetCount: 9,
      compared: 9,
      missingCount: 1,
      extraCount: 0,
      differingCount: 1,
      missing: ["o-10"],
      extra: [],
      differing: [{ id: "o-3", fields: [{ path: "usageDetails.input", kind: "missing", source: "12", target: null }] }],
      conflictCount: 0,
      conflicts: [],
    },
  ],
  perDay: [{ day: "2026-11-24", entity: "observations", source: 10, target: 9 }],
};

const preview: RollbackPreviewView = {
  runId: "r",
  target: "https://cloud.langfuse.com",
  confirmText: "Production EU",
  delete: [{ entity: "traces", count: 200 }],
  archive: [],
  requests: 2,
  deleteRequests: 2,
  requestsDone: 0,
  dailyDeleteBudget: 1,
  daysNeeded: 2,
  estimate: "2 delete requests at 1 a day need 2 days",
  manual: [{ entity: "datasets", id: "d1", instruction: "Delete the dataset in the Langfuse UI." }],
  untouchedPreexisting: 3,
  restoresCutover: false,
  restoresLabels: [],
  warnings: [],
};

const waiting: RollbackView = {
  runId: "r",
  state: "waitingForBudget",
  message: "The day's delete budget is spent; start the rollback again after 2026-11-26T00:00:00Z.",
  requestsDone: 1,
  requestsTotal: 2,
  deleted: [{ entity: "traces", count: 100 }],
  archived: [],
  failed: [],
  manual: [],
  resumeAfter: "2026-11-26T00:00:00Z",
  verifiedChecked: null,
  stillPresent: [],
  verificationSettled: null,
  verificationNote: null,
  cutoverRestored: null,
  cutoverNote: null,
};

describe("AfterRunStore", () => {
  afterEach(() => clearMocks());

  it("shows validation steps while it runs and keeps a report with discrepancies", async () => {
    const steps: string[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "validate_run") {
        const channel = (args as Record<string, unknown>).onEvent as Channel<RunEvent<StepEvent>>;
        channel.onmessage({ runId: "x", seq: 1, event: { message: "Compared observations: 2 discrepancies", fraction: null } });
        steps.push(store.validationStep ?? "");
        return dirty;
      }
      throw new Error(`unexpected ${cmd}`);
    });
    const store = new AfterRunStore("r");
    await store.validate();
    expect(steps).toEqual(["Compared observations: 2 discrepancies"]);
    expect(store.validation?.clean).toBe(false);
    expect(store.validation?.entities[0]?.differing[0]?.fields[0]?.path).toBe("usageDetails.input");
    expect(store.validating).toBe(false);
  });

  it("rolls back only after the project name is typed, and reports a spent delete budget", async () => {
    const sent: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "rollback_preview") return preview;
      if (cmd === "rollback_run") {
        sent.push((args as Record<string, unknown>).confirmation);
        return waiting;
      }
      if (cmd === "cutover_state") return null;
      throw new Error(`unexpected ${cmd}`);
    });
    const store = new AfterRunStore("r");
    await store.loadPreview();
    store.confirmation = "production eu";
    expect(store.confirmed).toBe(false);
    await store.runRollback();
    expect(sent).toEqual([]);
    store.confirmation = " Production EU ";
    expect(store.confirmed).toBe(true);
    await store.runRollback();
    expect(sent).toEqual(["Production EU"]);
    expect(store.rollback?.state).toBe("waitingForBudget");
    expect(store.rollback?.resumeAfter).toBe("2026-11-26T00:00:00Z");
    expect(store.preview).toBeNull();
  });

  it("keeps the preview and says why when the rollback is refused", async () => {
    mockIPC((cmd) => {
      if (cmd === "rollback_preview") return preview;
      if (cmd === "rollback_run") throw "This run is still going. Cancel it first, then roll back what it wrote.";
      throw new Error(`unexpected ${cmd}`);
    });
    const store = new AfterRunStore("r");
    await store.loadPreview();
    store.confirmation = "Production EU";
    await store.runRollback();
    expect(store.rollbackError).toMatch(/Cancel it first/);
    expect(store.preview).not.toBeNull();
    expect(store.rollingBack).toBe(false);
  });

  it("shows why a cutover cannot be restored", async () => {
    mockIPC((cmd) => {
      if (cmd === "cutover_restore") throw "Run r has no .env cutover to restore.";
      throw new Error(`unexpected ${cmd}`);
    });
    const store = new AfterRunStore("r");
    await store.restoreCutover();
    expect(store.cutoverError).toMatch(/no .env cutover/);
    expect(store.cutoverBusy).toBe(false);
  });
});
