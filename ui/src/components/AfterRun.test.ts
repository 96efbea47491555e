// After a run, in jsdom with Tauri's IPC mocked: conflicts in a validation report, and a
// rollback preview that keeps traces holding older data and says so in true words.
import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import AfterRun from "./AfterRun.svelte";
import type { RollbackPreviewView } from "../lib/bindings/RollbackPreviewView";
import type { ValidationView } from "../lib/bindings/ValidationView";

const withConflict: ValidationView = {
  runId: "r",
  generatedAt: "2026-11-30T10:00:00Z",
  source: "Langfuse at a",
  target: "Langfuse at b",
  windowFrom: null,
  windowTo: null,
  sampleSize: null,
  settled: true,
  waitedMs: 100,
  settleNote: null,
  clean: false,
  discrepancyCount: 1,
  entities: [
    {
      entity: "scores",
      sourceCount: 4,
      targetCount: 4,
      compared: 4,
      missingCount: 0,
      extraCount: 0,
      differingCount: 0,
      missing: [],
      extra: [],
      differing: [],
      conflictCount: 1,
      conflicts: [{ id: "score-7", fields: [{ path: "value", kind: "changed", source: "0.5", target: "1000.5" }] }],
    },
  ],
  perDay: [],
};

const keepsTraces: RollbackPreviewView = {
  runId: "r",
  target: "http://127.0.0.1:3002",
  confirmText: "Sandbox project",
  delete: [{ entity: "traces", count: 3 }],
  archive: [],
  requests: 1,
  deleteRequests: 1,
  requestsDone: 0,
  dailyDeleteBudget: null,
  daysNeeded: null,
  estimate: "1 delete and 0 other requests",
  manual: [
    { entity: "traces", id: "t-shared", instruction: "The trace also holds older observations; it stays." },
    { entity: "observations", id: "o-ours", instruction: "Delete it in the Langfuse UI." },
  ],
  untouchedPreexisting: 2,
  restoresCutover: false,
  restoresLabels: [],
  warnings: [],
};

function mock(validation: ValidationView | null) {
  mockIPC((cmd) => {
    if (cmd === "validation_report") return validation;
    if (cmd === "rollback_report" || cmd === "cutover_state") return null;
    if (cmd === "rollback_preview") return keepsTraces;
    throw new Error(`unexpected ${cmd}`);
  });
}

describe("AfterRun", () => {
  afterEach(() => {
    cleanup();
    clearMocks();
  });

  it("names a conflict apart from differences, with its id and what differs", async () => {
    mock(withConflict);
    render(AfterRun, { runId: "r", cutover: false });
    const row = await waitFor(() => {
      const r = document.querySelector('tr[data-entity="scores"] td[data-col="conflicts"]');
      if (!r) throw new Error("no row yet");
      return r;
    });
    expect(row.textContent).toBe("1");
    const text = screen.getByTestId("validation-conflicts").textContent ?? "";
    expect(text).toContain("score-7");
    expect(text).toContain("value");
    expect(text).toMatch(/same id with other content/);
    expect(text).toMatch(/Decide for each/);
  });

  it("says which traces a rollback keeps and promises nothing untrue", async () => {
    mock(null);
    render(AfterRun, { runId: "r", cutover: false });
    const promise = screen.getByTestId("rollback-promise").textContent ?? "";
    expect(promise).not.toMatch(/never/);
    expect(promise).toMatch(/kept and listed/);
    await fireEvent.click(screen.getByTestId("rollback-preview"));
    const kept = await screen.findByTestId("rollback-kept-traces");
    expect(kept.textContent).toMatch(/^1 trace the run wrote into also holds data it did not write, so it stays/);
    expect(screen.getByText("t-shared")).toBeTruthy();
  });

  it("offers to copy what the validation found missing, and shows the copy and the validation after it", async () => {
    const missingTrace: ValidationView = {
      ...withConflict,
      discrepancyCount: 1,
      entities: [
        { ...withConflict.entities[0]!, entity: "traces", missingCount: 1, missing: ["t-late"], conflictCount: 0, conflicts: [] },
      ],
    };
    const calls: string[] = [];
    mockIPC((cmd, args) => {
      calls.push(cmd);
      if (cmd === "validation_report") return missingTrace;
      if (cmd === "rollback_report" || cmd === "cutover_state") return null;
      if (cmd === "copy_missing") {
        expect((args as { runId: string }).runId).toBe("r");
        return {
          asked: 1,
          copied: 1,
          notFound: 0,
          failed: 0,
          validation: { ...missingTrace, clean: true, discrepancyCount: 0, entities: [{ ...missingTrace.entities[0]!, missingCount: 0, missing: [] }] },
        };
      }
      throw new Error(`unexpected ${cmd}`);
    });
    render(AfterRun, { runId: "r", cutover: false });
    const button = await screen.findByTestId("copy-missing");
    expect(button.textContent).toBe("Copy what is missing (1)");
    await fireEvent.click(button);
    await waitFor(() => expect(screen.getByTestId("copy-missing-result").textContent).toBe("Copied 1 object for the 1 missing. Validation after the copy: clean."));
    expect(screen.getByTestId("validation-verdict").dataset.clean).toBe("true");
    expect(screen.queryByTestId("copy-missing")).toBeNull();
    expect(calls).toContain("copy_missing");
  });
});
