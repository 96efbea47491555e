// The run monitor against the real IPC wrapper, with Tauri's IPC mocked: streaming, errors,
// partial failure and the checklist.
import { afterEach, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import type { Channel } from "@tauri-apps/api/core";
import { RunMonitor } from "./run.svelte";
import { runView } from "../testing/runs";
import type { RunEvent } from "../bindings/RunEvent";
import type { RunView } from "../bindings/RunView";
import type { PlanRequest } from "../bindings/PlanRequest";

const request: PlanRequest = {
  sourceId: "a",
  targetId: "b",
  entities: ["traces"],
  fromDay: null,
  toDay: null,
  windowEnd: "2026-11-30T10:00:00.000Z",
  sourceCloudPlan: null,
  targetCloudPlan: null,
  environments: [],
  traceNames: [],
  tags: [],
  onExisting: "skip",
  runTag: true,
};

const checklist = [{ key: "notify", phase: "Planning", label: "Notify stakeholders", automatic: false, done: false }];

describe("RunMonitor", () => {
  afterEach(() => clearMocks());

  it("follows the snapshots of the run it started and loads the checklist when it ends", async () => {
    let channel: Channel<RunEvent<RunView>> | null = null;
    const calls: string[] = [];
    mockIPC((cmd, args) => {
      calls.push(cmd);
      const a = args as Record<string, unknown>;
      if (cmd === "start_run") {
        channel = a.onEvent as Channel<RunEvent<RunView>>;
        expect(a.dryRun).toBe(false);
        expect(a.expected).toEqual({ traces: 200 });
        return runView();
      }
      if (cmd === "run_checklist") return checklist;
      throw new Error(`unexpected ${cmd}`);
    });
    const m = new RunMonitor();
    expect(await m.start(request, false, { traces: 200 })).toBe(true);
    expect(m.view?.phase).toBe("running");

    channel!.onmessage({ runId: "x", seq: 1, event: runView({ throughput: [10, 40, 50, 60] }) });
    expect(m.view?.throughput).toHaveLength(4);
    // A snapshot of some other run never replaces the one shown.
    channel!.onmessage({ runId: "x", seq: 2, event: runView({ runId: "other", phase: "failed" }) });
    expect(m.view?.phase).toBe("running");

    const before = calls.filter((c) => c === "run_checklist").length;
    channel!.onmessage({
      runId: "x",
      seq: 3,
      event: runView({
        phase: "completedWithFailures",
        live: false,
        failureCount: 1,
        failures: [{ entity: "traces", id: "t1", reason: "The object is larger than any batch may be" }],
      }),
    });
    expect(m.view?.phase).toBe("completedWithFailures");
    expect(m.view?.failures[0]?.id).toBe("t1");
    await Promise.resolve();
    expect(calls.filter((c) => c === "run_checklist").length).toBe(before + 1);
  });

  it("shows the engine's plain sentence when a run cannot start", async () => {
    mockIPC((cmd) => {
      if (cmd === "start_run")
        throw "The keys were rejected by http://127.0.0.1:3001 (401). Check the public and secret key of this project.";
      throw new Error(`unexpected ${cmd}`);
    });
    const m = new RunMonitor();
    expect(await m.start(request, false, {})).toBe(false);
    expect(m.error).toMatch(/keys were rejected/);
    expect(m.view).toBeNull();
  });

  it("reports a control that no longer applies without losing the view", async () => {
    mockIPC((cmd) => {
      if (cmd === "attach_run") return runView();
      if (cmd === "run_checklist") return checklist;
      if (cmd === "control_run") throw "This run is not running in this window any more.";
      throw new Error(`unexpected ${cmd}`);
    });
    const m = new RunMonitor();
    await m.open("20261125-101500-abc123");
    await m.control("pause");
    expect(m.actionError).toMatch(/not running/);
    expect(m.view?.phase).toBe("running");
  });

  it("saves a manual checklist tick and shows a refusal in words", async () => {
    mockIPC((cmd, args) => {
      const a = args as Record<string, unknown>;
      if (cmd === "attach_run") return runView({ phase: "completed", live: false });
      if (cmd === "run_checklist") return checklist;
      if (cmd === "set_checklist_step") {
        if (a.key === "import") throw "“Import data” is ticked by the app itself when it has done it.";
        return [{ ...checklist[0], done: a.done as boolean }];
      }
      throw new Error(`unexpected ${cmd}`);
    });
    const m = new RunMonitor();
    await m.open("r");
    await m.tick("notify", true);
    expect(m.checklist[0]?.done).toBe(true);
    await m.tick("import", true);
    expect(m.checklistError).toMatch(/ticked by the app/);
  });
});
