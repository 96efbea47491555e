// The progress view in jsdom: partial failure, an interrupted run, controls.
import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import RunProgress from "./RunProgress.svelte";
import { RunMonitor } from "../lib/stores/run.svelte";
import { runView } from "../lib/testing/runs";
import type { SyncView } from "../lib/bindings/SyncView";

const finishedSync: SyncView = {
  passes: 4,
  lagSeconds: 0,
  waiting: 0,
  waitingOpen: 0,
  lastPass: null,
  recent: [],
  timing: { pollSecs: 1, settleSecs: 1, lookbackSecs: 60 },
  targetUrl: "http://127.0.0.1:3002",
  sourceShare: null,
  langsmithSource: false,
  langsmithShare: null,
  targetShare: null,
  senders: [],
  quietSince: null,
  switchedAt: null,
  finishing: false,
  cutOver: { at: "2026-11-30T10:05:00Z", windowTo: "2026-11-30T10:05:00Z", validationClean: true, validationSummary: "clean" },
  drainSecs: null,
};

describe("RunProgress", () => {
  afterEach(() => {
    cleanup();
    clearMocks();
  });

  it("shows a partial failure with its counts and an expandable error list", async () => {
    mockIPC((cmd) => {
      if (cmd === "attach_run")
        return runView({
          phase: "completedWithFailures",
          live: false,
          entities: [{ entity: "traces", expected: 3, read: 3, written: 2, skipped: 0, failed: 1, conflicts: 0, perSecond: 0, etaSeconds: null, wouldWrite: null }],
          failureCount: 1,
          failures: [{ entity: "traces", id: "t-big", reason: "The object is larger than the largest request allowed" }],
        });
      if (cmd === "run_checklist") return [];
      throw new Error(`unexpected ${cmd}`);
    });
    const m = new RunMonitor();
    await m.open("r");
    render(RunProgress, { monitor: m });
    expect(screen.getByTestId("run-phase").textContent).toBe("Completed with failures");
    expect(screen.queryByText("t-big")).toBeNull();
    await fireEvent.click(screen.getByRole("button", { name: "Show 1 failed object" }));
    expect(screen.getByText("t-big")).toBeTruthy();
    expect(screen.getByText(/larger than the largest request/)).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Pause" })).toBeNull();
  });

  it("offers Resume for an interrupted run and says what happened", async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      if (cmd === "attach_run") return runView({ phase: "interrupted", live: false });
      if (cmd === "resume_run") return runView({ phase: "running" });
      if (cmd === "run_checklist") return [];
      throw new Error(`unexpected ${cmd}`);
    });
    const m = new RunMonitor();
    await m.open("r");
    render(RunProgress, { monitor: m });
    expect(screen.getByText(/stopped without finishing/)).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "Resume" }));
    expect(calls).toContain("resume_run");
    expect(await screen.findByRole("button", { name: "Pause" })).toBeTruthy();
  });

  it("says a run another window drives is running there, with no Resume and no Cancel", async () => {
    mockIPC((cmd) => {
      if (cmd === "attach_run") return runView({ phase: "runningElsewhere", live: false });
      if (cmd === "run_checklist") return [];
      throw new Error(`unexpected ${cmd}`);
    });
    const m = new RunMonitor();
    await m.open("r");
    render(RunProgress, { monitor: m });
    expect(screen.getByTestId("run-phase").textContent).toBe("Running in another window or process");
    expect(screen.getByText(/Another window or process drives this run right now/)).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Resume" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
  });

  it("resumes a stopped run more gently when asked, and plainly otherwise", async () => {
    const resumed: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "attach_run") return runView({ phase: "failed", live: false, message: "Too many requests (429)" });
      if (cmd === "resume_run") {
        resumed.push((args as Record<string, unknown>).settings);
        return runView({ phase: "running" });
      }
      if (cmd === "run_checklist") return [];
      throw new Error(`unexpected ${cmd}`);
    });
    const m = new RunMonitor();
    await m.open("r");
    render(RunProgress, { monitor: m });
    await fireEvent.click(screen.getByText("Resume with gentler settings"));
    await fireEvent.input(screen.getByLabelText("Concurrent requests"), { target: { value: "1" } });
    await fireEvent.input(screen.getByLabelText("Requests per minute"), { target: { value: "120" } });
    await fireEvent.click(screen.getByRole("button", { name: "Resume with these settings" }));
    expect(resumed).toEqual([{ concurrency: 1, requestTimeoutSecs: null, requestsPerMinute: 120 }]);

    cleanup();
    await m.open("r");
    render(RunProgress, { monitor: m });
    await fireEvent.click(screen.getByRole("button", { name: "Resume" }));
    expect(resumed[1]).toBeNull();
  });

  it("pauses a live run", async () => {
    const actions: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "attach_run") return runView();
      if (cmd === "run_checklist") return [];
      if (cmd === "control_run") {
        actions.push((args as Record<string, unknown>).action);
        return runView({ phase: "paused" });
      }
      throw new Error(`unexpected ${cmd}`);
    });
    const m = new RunMonitor();
    await m.open("r");
    render(RunProgress, { monitor: m });
    await fireEvent.click(screen.getByRole("button", { name: "Pause" }));
    expect(actions).toEqual(["pause"]);
    expect(await screen.findByRole("button", { name: "Continue" })).toBeTruthy();
  });

  it("a sync's bars count what it copied against the pre-flight, not its passes' re-reads", async () => {
    mockIPC((cmd) => {
      if (cmd === "attach_run")
        return runView({
          sync: { ...finishedSync, cutOver: null },
          entities: [{ entity: "score_configs", expected: 4, read: 24, written: 4, skipped: 0, failed: 0, conflicts: 0, perSecond: 0, etaSeconds: null, wouldWrite: null }],
        });
      if (cmd === "run_checklist") return [];
      if (cmd === "cutover_state" || cmd === "validation_report") return null;
      throw new Error(`unexpected ${cmd}`);
    });
    const m = new RunMonitor();
    await m.open("r");
    render(RunProgress, { monitor: m });
    expect(screen.getByLabelText(/Score configs: 4 of 4/)).toBeTruthy();
  });

  it("offers the .env cutover only when the target is a Langfuse project with real keys", async () => {
    for (const [what, overrides, offered] of [
      ["a Langfuse target", { cutoverApplies: true }, true],
      ["an archive folder", { target: "archive folder /tmp/export", cutoverApplies: false }, false],
      ["the sample servers", { sample: true, cutoverApplies: false }, false],
      // A live sync switches the .env from its own card, after the readiness check.
      ["a finished sync", { cutoverApplies: true, sync: finishedSync }, false],
    ] as const) {
      mockIPC((cmd) => {
        if (cmd === "attach_run") return runView({ phase: "completed", live: false, ...overrides });
        if (cmd === "run_checklist") return [];
        if (cmd === "validation_report" || cmd === "rollback_report" || cmd === "cutover_state") return null;
        throw new Error(`unexpected ${cmd}`);
      });
      const m = new RunMonitor();
      await m.open("r");
      render(RunProgress, { monitor: m });
      expect(await screen.findByTestId("validation")).toBeTruthy();
      expect(screen.queryByTestId("cutover") !== null, what).toBe(offered);
      cleanup();
      clearMocks();
    }
  });

  it("a clean verdict claims field-by-field equality only for the pairs it compared", async () => {
    const report = (sampleSize: number | null) => ({
      runId: "r", generatedAt: "2026-11-30T10:00:00Z", source: "s", target: "t", windowFrom: null, windowTo: null,
      sampleSize, settled: true, waitedMs: 0, settleNote: null, clean: true, discrepancyCount: 0, perDay: [],
      entities: [{ entity: "traces", sourceCount: 200, targetCount: 200, compared: sampleSize ?? 200, missingCount: 0, extraCount: 0, differingCount: 0, missing: [], extra: [], differing: [] }],
    });
    for (const sampleSize of [50, null]) {
      mockIPC((cmd) => {
        if (cmd === "attach_run") return runView({ phase: "completed", live: false });
        if (cmd === "validation_report") return report(sampleSize);
        if (cmd === "run_checklist") return [];
        if (cmd === "rollback_report" || cmd === "cutover_state") return null;
        throw new Error(`unexpected ${cmd}`);
      });
      const m = new RunMonitor();
      await m.open("r");
      render(RunProgress, { monitor: m });
      const verdict = (await screen.findByTestId("validation-verdict")).textContent ?? "";
      if (sampleSize !== null) {
        // Every id was checked, but only the sample's fields.
        expect(verdict).not.toMatch(/field for field/);
        expect(verdict).toMatch(/50 .*compared field by field/);
      } else {
        expect(verdict).toMatch(/every object/);
        // What the comparison leaves out is named, so "the same" is not a bigger claim than it is.
        expect(verdict).toMatch(/run tag/);
      }
      cleanup();
      clearMocks();
    }
  });
});

describe("RunProgress conflicts", () => {
  afterEach(() => {
    cleanup();
    clearMocks();
  });

  it("lists conflicts apart from skipped objects, with what differs", async () => {
    mockIPC((cmd) => {
      if (cmd === "attach_run")
        return runView({
          phase: "completed",
          live: false,
          entities: [
            { entity: "scores", expected: 4, read: 4, written: 2, skipped: 1, failed: 0, conflicts: 1, perSecond: 0, etaSeconds: null, wouldWrite: null },
          ],
          conflicts: [{ entity: "scores", id: "score-7", reason: "the target already holds another score under this id, which differs in value" }],
        });
      if (cmd === "run_checklist") return [];
      if (cmd === "validation_report" || cmd === "rollback_report" || cmd === "cutover_state") return null;
      throw new Error(`unexpected ${cmd}`);
    });
    const m = new RunMonitor();
    await m.open("r");
    render(RunProgress, { monitor: m });
    const row = document.querySelector('tr[data-entity="scores"]');
    expect(row?.querySelector('[data-col="skipped"]')?.textContent).toBe("1");
    expect(row?.querySelector('[data-col="conflicts"]')?.textContent).toBe("1");
    const box = screen.getByTestId("conflicts");
    expect(box.textContent).toContain("score-7");
    expect(box.textContent).toMatch(/differs in value/);
    expect(box.textContent).toMatch(/1 conflict:/);
  });
});
