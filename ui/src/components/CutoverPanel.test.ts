// The cutover card in jsdom: the sync's standing (history, behind, in sync), its rate, the
// Cloud share, and the switch gated by the readiness verdict (a blocked one needs a yes).
import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import CutoverPanel from "./CutoverPanel.svelte";
import { RunMonitor } from "../lib/stores/run.svelte";
import { runView } from "../lib/testing/runs";
import type { SyncView } from "../lib/bindings/SyncView";
import type { SyncPassView } from "../lib/bindings/SyncPassView";
import type { ValidationView } from "../lib/bindings/ValidationView";
import type { EntityCheck } from "../lib/bindings/EntityCheck";

function check(entity: string, missing: string[]): EntityCheck {
  return {
    entity,
    sourceCount: 3,
    targetCount: 3 - missing.length,
    compared: 3 - missing.length,
    missingCount: missing.length,
    extraCount: 0,
    differingCount: 0,
    missing,
    extra: [],
    differing: [],
    conflictCount: 0,
    conflicts: [],
  };
}

function validation(missing: Record<string, string[]>): ValidationView {
  const entities = Object.entries(missing).map(([e, ids]) => check(e, ids));
  const count = entities.reduce((n, e) => n + e.missingCount, 0);
  return {
    runId: "20261125-101500-abc123",
    generatedAt: "2026-11-30T10:05:00Z",
    source: "Langfuse at http://127.0.0.1:3001",
    target: "Langfuse at http://127.0.0.1:3002",
    windowFrom: null,
    windowTo: "2026-11-30T10:05:00Z",
    sampleSize: null,
    settled: true,
    waitedMs: 10,
    settleNote: null,
    clean: count === 0,
    discrepancyCount: count,
    entities,
    perDay: [],
  };
}

function pass(n: number, startedAt: string, endedAt: string, copied: number, lag: number): SyncPassView {
  return { pass: n, seen: copied, copied, skipped: 0, startedAt, endedAt, seconds: (Date.parse(endedAt) - Date.parse(startedAt)) / 1000, lagSeconds: lag };
}

function sync(over: Partial<SyncView> = {}): SyncView {
  return {
    passes: 0,
    lagSeconds: null,
    waiting: 0,
    waitingOpen: 0,
    lastPass: null,
    recent: [],
    timing: { pollSecs: 2, settleSecs: 3, lookbackSecs: 60 },
    targetUrl: "http://127.0.0.1:3002",
    sourceShare: null,
    langsmithSource: false,
    langsmithShare: null,
    targetShare: null,
    senders: [],
    quietSince: null,
    switchedAt: null,
    finishing: false,
    cutOver: null,
    drainSecs: null,
    ...over,
  };
}

const follow = [
  pass(1, "2026-11-30T10:00:00.000Z", "2026-11-30T10:00:30.000Z", 1000, 40),
  pass(2, "2026-11-30T10:01:00.000Z", "2026-11-30T10:01:01.500Z", 30, 2),
  pass(3, "2026-11-30T10:01:30.000Z", "2026-11-30T10:02:00.000Z", 30, 1),
];

function report(verdict: "ready" | "blocked") {
  return {
    root: "/apps/shop",
    target: { generation: "v4", version: "4.60.0", cloud: false, url: "http://127.0.0.1:3002" },
    verdict,
    sdks: [],
    settings: [],
    points_at: [],
    findings:
      verdict === "blocked"
        ? [{ file: "index.ts", line: 6, severity: "blocker", subject: "langfuse.trace()", message: "gone", action: "Use startActiveObservation", guide: null }]
        : [],
    skipped: [],
    complete: true,
    files_scanned: 3,
    elapsed_ms: 4,
  };
}

async function mount(view: ReturnType<typeof runView>, handler: (cmd: string, args: Record<string, unknown>) => unknown = () => null) {
  mockIPC((cmd, args) => {
    if (cmd === "attach_run") return view;
    if (cmd === "run_checklist") return [];
    if (cmd === "cutover_state" || cmd === "validation_report") return null;
    return handler(cmd, args as Record<string, unknown>);
  });
  const m = new RunMonitor();
  await m.open(view.runId);
  render(CutoverPanel, { monitor: m });
  return m;
}

describe("CutoverPanel", () => {
  afterEach(() => {
    cleanup();
    clearMocks();
  });

  it("says the history is being copied before the first pass ends, and that no side has a Cloud budget", async () => {
    await mount(runView({ sync: sync() }));
    expect(screen.getByTestId("sync-standing").dataset.standing).toBe("backfill");
    expect(screen.getByTestId("sync-rate").textContent).toBe("–");
    expect(screen.getByTestId("sync-share").textContent).toMatch(/No side is on a Langfuse Cloud plan/);
    expect((screen.getByTestId("switch-application") as HTMLButtonElement).disabled).toBe(true);
  });

  it("is behind by the waiting objects and the lag while the lag exceeds settle + 2 × poll", async () => {
    await mount(runView({ sync: sync({ passes: 2, lagSeconds: 95, waiting: 12, waitingOpen: 2, recent: follow.slice(0, 2), lastPass: follow[1]! }) }));
    expect(screen.getByTestId("sync-standing").textContent).toBe("Behind by 12 objects / 1 min 35 s");
    expect(screen.getByTestId("sync-waiting").textContent).toBe(
      "Waiting to settle: 10 objects resting for 3 s before the copy; 2 objects still open (not ended yet).",
    );
    expect(screen.getByTestId("sync-last-pass").textContent).toMatch(/#2: 2 s, 30 copied/);
  });

  it("is in sync once the lag is within settle + 2 × poll, with objects per minute over the follow passes only", async () => {
    await mount(
      runView({
        sync: sync({
          passes: 3,
          lagSeconds: 7,
          recent: follow,
          lastPass: follow[2]!,
          sourceShare: { plan: "hobby", percent: 50, requestsPerMinute: 15, planLimit: 30 },
        }),
      }),
    );
    expect(screen.getByTestId("sync-standing").textContent).toBe("In sync");
    // Passes 2 and 3: 60 objects from 10:01:00 to 10:02:00; the backfill's 1000 are left out.
    expect(screen.getByTestId("sync-rate").textContent).toBe("60");
    expect(screen.getByTestId("sync-share").textContent).toMatch(/source \(Langfuse Cloud, Hobby plan\) the sync takes at most 50% of each of the plan's request limits \(15 of 30 requests a minute where the limit is lowest\)/);
  });

  it("checks the folder against the sync's target, and a blocked verdict needs an explicit yes before the switch writes the .env", async () => {
    const calls: [string, Record<string, unknown>][] = [];
    await mount(runView({ sync: sync({ passes: 3, lagSeconds: 1, recent: follow }) }), (cmd, args) => {
      calls.push([cmd, args]);
      if (cmd === "check_app") return report("blocked");
      if (cmd === "cutover_apply")
        return { envPath: "/apps/shop/.env", backupPath: "/apps/shop/.env.bak", appliedAt: "2026-11-30T10:03:00Z", restoredAt: null };
      throw new Error(`unexpected ${cmd}`);
    });
    await fireEvent.input(screen.getByTestId("switch-folder"), { target: { value: "/apps/shop/" } });
    await fireEvent.click(screen.getByTestId("switch-check"));
    await waitFor(() => expect(screen.getByTestId("switch-verdict").dataset.verdict).toBe("blocked"));
    expect(calls[0]).toEqual(["check_app", { path: "/apps/shop/", target: { kind: "url", url: "http://127.0.0.1:3002" } }]);
    expect(screen.getByTestId("switch-verdict").textContent).toMatch(/index\.ts:6/);
    const switchButton = screen.getByTestId("switch-application") as HTMLButtonElement;
    expect(switchButton.disabled).toBe(true);
    await fireEvent.click(screen.getByTestId("accept-blocked"));
    expect(switchButton.disabled).toBe(false);
    await fireEvent.click(switchButton);
    await waitFor(() => expect(screen.getByTestId("switched")).toBeTruthy());
    expect(calls.at(-1)).toEqual(["cutover_apply", { runId: "20261125-101500-abc123", envPath: "/apps/shop/.env" }]);
  });

  it("in sample mode offers the sample application's folder, says what it is, and switches its .env", async () => {
    const calls: [string, Record<string, unknown>][] = [];
    const appFolder = "/home/u/.config/langfuse-migrator/sample-app";
    await mount(runView({ sample: true, sync: sync({ passes: 3, lagSeconds: 1, recent: follow }) }), (cmd, args) => {
      calls.push([cmd, args]);
      if (cmd === "sample_data") return { appFolder };
      if (cmd === "check_app") return { ...report("ready"), root: appFolder, verdict: "ready_with_warnings" };
      if (cmd === "cutover_apply")
        return { envPath: `${appFolder}/.env`, backupPath: `${appFolder}/.env.bak`, appliedAt: "2026-11-30T10:03:00Z", restoredAt: null };
      throw new Error(`unexpected ${cmd}`);
    });
    await waitFor(() => expect((screen.getByTestId("switch-folder") as HTMLInputElement).value).toBe(appFolder));
    const hint = screen.getByTestId("sample-app").textContent ?? "";
    expect(hint).toContain(appFolder);
    expect(hint).toMatch(/the only one a sample run can switch/);
    expect(hint).toMatch(/points at the sample source/);
    await fireEvent.click(screen.getByTestId("switch-check"));
    await waitFor(() => expect(screen.getByTestId("switch-verdict").dataset.verdict).toBe("ready_with_warnings"));
    await fireEvent.click(screen.getByTestId("switch-application"));
    await waitFor(() => expect(screen.getByTestId("switched")).toBeTruthy());
    expect(calls.at(-1)).toEqual(["cutover_apply", { runId: "20261125-101500-abc123", envPath: `${appFolder}/.env` }]);
    expect(screen.getByTestId("cutover-notice").textContent).toMatch(/The sample application's \.env now points at the target/);
  });

  it("outside sample mode asks for no sample folder and offers none", async () => {
    const calls: string[] = [];
    await mount(runView({ sync: sync({ passes: 3, lagSeconds: 1, recent: follow }) }), (cmd) => {
      calls.push(cmd);
      return null;
    });
    await waitFor(() => expect(screen.getByTestId("switch-folder")).toBeTruthy());
    expect((screen.getByTestId("switch-folder") as HTMLInputElement).value).toBe("");
    expect(screen.queryByTestId("sample-app")).toBeNull();
    expect(calls).not.toContain("sample_data");
  });

  it("does not offer the switch while the sync is behind, even with a ready verdict", async () => {
    await mount(runView({ sync: sync({ passes: 3, lagSeconds: 500, recent: follow }) }), (cmd) => {
      if (cmd === "check_app") return report("ready");
      throw new Error(`unexpected ${cmd}`);
    });
    await fireEvent.input(screen.getByTestId("switch-folder"), { target: { value: "/apps/shop" } });
    await fireEvent.click(screen.getByTestId("switch-check"));
    await waitFor(() => expect(screen.getByTestId("switch-verdict").dataset.verdict).toBe("ready"));
    expect((screen.getByTestId("switch-application") as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByText("The switch opens once the sync is in step.")).toBeTruthy();
  });

  it("after the switch lists who still writes to the source, by SDK, service, release and environment", async () => {
    await mount(
      runView({
        sync: sync({
          passes: 9,
          lagSeconds: 1,
          recent: follow,
          switchedAt: "2026-11-30T10:03:00.000Z",
          senders: [
            { sdk: "langfuse-python", sdkVersion: "3.2.1", service: "worker", release: "v41", environment: "production", objects: 12, lastSeen: "2026-11-30T10:04:00.000Z" },
            { sdk: null, sdkVersion: null, service: null, release: null, environment: null, objects: 1, lastSeen: "2026-11-30T10:04:10.000Z" },
          ],
        }),
      }),
    );
    expect(screen.getByTestId("drain").textContent).toMatch(/Still receiving from 2 services/);
    const items = [...screen.getByTestId("senders").querySelectorAll("li")].map((li) => li.textContent);
    expect(items[0]).toBe("langfuse-python 3.2.1 (worker, release v41, environment production): 12 objects, last at 2026-11-30T10:04:00.000Z");
    expect(items[1]).toMatch(/^an SDK the source did not record: 1 object,/);
    // The switch stands: the card says so instead of offering it again, and offers the way back.
    expect(screen.queryByTestId("switch-application")).toBeNull();
    expect(screen.getByTestId("roll-back-switch")).toBeTruthy();
  });

  it("Finish asks the engine to finish and shows the cut-over with its validation once the sync stopped", async () => {
    const calls: string[] = [];
    const m = await mount(runView({ sync: sync({ passes: 5, lagSeconds: 1, recent: follow, switchedAt: "2026-11-30T10:03:00.000Z" }) }), (cmd) => {
      calls.push(cmd);
      if (cmd === "finish_sync") return runView({ sync: sync({ passes: 5, finishing: true }) });
      throw new Error(`unexpected ${cmd}`);
    });
    await fireEvent.click(screen.getByTestId("finish"));
    await waitFor(() => expect(calls).toContain("finish_sync"));
    // The engine's last snapshot: stopped and cut over.
    m.view = runView({
      phase: "completed",
      live: false,
      sync: sync({
        passes: 6,
        lagSeconds: 0,
        recent: follow,
        cutOver: { at: "2026-11-30T10:05:00Z", windowTo: "2026-11-30T10:05:00Z", validationClean: true, validationSummary: "validation of the whole window is clean" },
      }),
    });
    await waitFor(() => expect(screen.getByTestId("finish-validation").dataset.clean).toBe("true"));
    expect(screen.queryByTestId("finish")).toBeNull();
    expect(screen.getByTestId("sync-standing").dataset.standing).toBe("cutOver");
  });

  it("rolling back the switch restores the .env and starts the copy-back as a run of its own", async () => {
    const calls: [string, Record<string, unknown>][] = [];
    await mount(runView({ sync: sync({ passes: 5, lagSeconds: 1, recent: follow, switchedAt: "2026-11-30T10:03:00.000Z" }) }), (cmd, args) => {
      calls.push([cmd, args]);
      if (cmd === "cutover_restore")
        return { envPath: "/apps/shop/.env", backupPath: "/apps/shop/.env.bak", appliedAt: "2026-11-30T10:03:00Z", restoredAt: "2026-11-30T10:06:00Z" };
      if (cmd === "start_copy_back")
        return runView({ runId: "copy-back-1", source: "Langfuse at http://127.0.0.1:3002", target: "Langfuse at http://127.0.0.1:3001" });
      throw new Error(`unexpected ${cmd}`);
    });
    await fireEvent.click(screen.getByTestId("roll-back-switch"));
    await waitFor(() => expect(screen.getByTestId("copy-back").dataset.runId).toBe("copy-back-1"));
    expect(calls.map((c) => c[0])).toEqual(["cutover_restore", "start_copy_back"]);
    expect(calls[1]![1].runId).toBe("20261125-101500-abc123");
    expect(screen.getByTestId("switch-restored")).toBeTruthy();
    // Restored: the card no longer says the application points at the target.
    expect(screen.queryByTestId("switched")).toBeNull();
    expect(screen.queryByTestId("roll-back-switch")).toBeNull();
  });

  it("after a Finish that found objects missing offers to copy them, shows the progress and the validation after it", async () => {
    const calls: [string, Record<string, unknown>][] = [];
    // The run's journal: its cut-over record carries the validation after a copy.
    let copied = false;
    mockIPC((cmd, args) => {
      calls.push([cmd, args as Record<string, unknown>]);
      if (cmd === "attach_run")
        return runView({
          phase: "completed",
          live: false,
          sync: sync({
            passes: 6,
            lagSeconds: 0,
            recent: follow,
            cutOver: copied
              ? { at: "2026-11-30T10:05:00Z", windowTo: "2026-11-30T10:05:00Z", validationClean: true, validationSummary: "validation of the whole window is clean" }
              : { at: "2026-11-30T10:05:00Z", windowTo: "2026-11-30T10:05:00Z", validationClean: false, validationSummary: "validation of the whole window found traces: 1 missing" },
          }),
        });
      if (cmd === "run_checklist") return [];
      if (cmd === "cutover_state") return null;
      if (cmd === "validation_report") return validation({ traces: ["t-late"], observations: ["o-late"] });
      if (cmd === "copy_missing") {
        const channel = (args as { onEvent: { onmessage: (m: unknown) => void } }).onEvent;
        channel.onmessage({ runId: "x", seq: 1, event: { message: "Copying what is missing: 2 written", fraction: null } });
        return new Promise((resolve) =>
          setTimeout(() => {
            copied = true;
            resolve({ asked: 2, copied: 3, notFound: 0, failed: 0, validation: validation({ traces: [], observations: [] }) });
          }, 50),
        );
      }
      throw new Error(`unexpected ${cmd}`);
    });
    const m = new RunMonitor();
    await m.open("20261125-101500-abc123");
    render(CutoverPanel, { monitor: m });
    const button = (await screen.findByTestId("copy-missing")) as HTMLButtonElement;
    expect(button.textContent).toBe("Copy what is missing (2)");
    expect(screen.getByTestId("finish-validation").dataset.clean).toBe("false");
    await fireEvent.click(button);
    await waitFor(() => expect(screen.getByTestId("copy-missing-step").textContent).toBe("Copying what is missing: 2 written"));
    expect(button.disabled).toBe(true);
    await waitFor(() => expect(screen.getByTestId("copy-missing-result").dataset.clean).toBe("true"));
    expect(screen.getByTestId("copy-missing-result").textContent).toMatch(/Copied 3 objects for the 2 missing\. Validation after the copy: clean\./);
    expect(calls.find((c) => c[0] === "copy_missing")![1].runId).toBe("20261125-101500-abc123");
    // Nothing missing any more: nothing left to offer, and the cut-over line no longer says so.
    expect(screen.queryByTestId("copy-missing")).toBeNull();
    await waitFor(() => expect(screen.getByTestId("finish-validation").dataset.clean).toBe("true"));
    await waitFor(() => expect(screen.queryByTestId("copy-missing-step")).toBeNull());
  });

  it("does not offer to copy missing objects while the run is running here", async () => {
    mockIPC((cmd) => {
      if (cmd === "attach_run")
        return runView({
          live: true,
          sync: sync({ passes: 6, cutOver: { at: "2026-11-30T10:05:00Z", windowTo: "2026-11-30T10:05:00Z", validationClean: false, validationSummary: "x" } }),
        });
      if (cmd === "run_checklist") return [];
      if (cmd === "cutover_state") return null;
      if (cmd === "validation_report") return validation({ traces: ["t-late"] });
      throw new Error(`unexpected ${cmd}`);
    });
    const m = new RunMonitor();
    await m.open("20261125-101500-abc123");
    render(CutoverPanel, { monitor: m });
    const button = (await screen.findByTestId("copy-missing")) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
  });

  it("Finish on a sync not running in this window resumes it to finish, and follows it to the cut-over", async () => {
    const calls: [string, Record<string, unknown>][] = [];
    const stopped = runView({ phase: "cancelled", live: false, sync: sync({ passes: 5, lagSeconds: 1, recent: follow }) });
    let saved: ValidationView | null = null;
    mockIPC((cmd, args) => {
      calls.push([cmd, args as Record<string, unknown>]);
      if (cmd === "attach_run") return stopped;
      if (cmd === "run_checklist" || cmd === "cutover_state") return cmd === "run_checklist" ? [] : null;
      if (cmd === "validation_report") return saved;
      if (cmd === "finish_stopped_sync") return runView({ phase: "running", live: true, sync: sync({ passes: 5, finishing: true }) });
      throw new Error(`unexpected ${cmd}`);
    });
    const m = new RunMonitor();
    await m.open(stopped.runId);
    render(CutoverPanel, { monitor: m });
    const finish = screen.getByTestId("finish") as HTMLButtonElement;
    expect(finish.disabled).toBe(false);
    await fireEvent.click(finish);
    await waitFor(() => expect(calls.map((c) => c[0])).toContain("finish_stopped_sync"));
    expect(calls.find((c) => c[0] === "finish_stopped_sync")![1].runId).toBe("20261125-101500-abc123");
    expect(calls.map((c) => c[0])).not.toContain("finish_sync");
    await waitFor(() => expect(screen.getByTestId("finish").textContent).toBe("Finishing…"));
    m.view = runView({
      phase: "completed",
      live: false,
      sync: sync({
        passes: 6,
        recent: follow,
        cutOver: { at: "2026-11-30T10:05:00Z", windowTo: "2026-11-30T10:05:00Z", validationClean: false, validationSummary: "validation of the whole window found traces: 1 missing" },
      }),
    });
    saved = validation({ traces: ["t-late"] });
    await waitFor(() => expect(screen.getByTestId("finish-validation").dataset.clean).toBe("false"));
    // The finish's validation is read once the sync is cut over: what it found missing is offered.
    expect((await screen.findByTestId("copy-missing")).textContent).toBe("Copy what is missing (1)");
  });
});
