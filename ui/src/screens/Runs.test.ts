// The Runs screen in jsdom with Tauri's IPC mocked: empty, failed to load, and a history with an
// interrupted run to resume and a validated one.
import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import Runs from "./Runs.svelte";
import { runView } from "../lib/testing/runs";

const noop = () => {};

describe("Runs screen", () => {
  afterEach(() => {
    cleanup();
    clearMocks();
  });

  it("has an empty state that leads to a new migration", async () => {
    mockIPC((cmd) => {
      if (cmd === "list_runs") return [];
      throw new Error(`unexpected ${cmd}`);
    });
    render(Runs, { onStartMigration: noop });
    expect(await screen.findByText("No runs yet")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Start a migration" })).toBeTruthy();
  });

  it("says why the history could not be read and offers to try again", async () => {
    let calls = 0;
    mockIPC((cmd) => {
      if (cmd !== "list_runs") throw new Error(`unexpected ${cmd}`);
      calls += 1;
      if (calls === 1) throw "The run journal could not be used: database is locked";
      return [];
    });
    render(Runs, { onStartMigration: noop });
    expect(await screen.findByText(/database is locked/)).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("No runs yet")).toBeTruthy();
  });

  it("lists state, counts and validation, and resumes an interrupted run", async () => {
    const resumed: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "list_runs")
        return [
          runView({ runId: "r2", phase: "interrupted", live: false }),
          runView({ runId: "r1", phase: "completed", live: false, validation: { clean: false, discrepancies: 3, generatedAt: "x" } }),
          runView({ runId: "r0", phase: "cancelled", live: false, rollback: { state: "completed", resumeAfter: null } }),
          runView({ runId: "r-1", phase: "completed", live: false, rollback: { state: "waitingForBudget", resumeAfter: "2026-11-26T00:00:00Z" } }),
        ];
      if (cmd === "resume_run") {
        resumed.push((args as Record<string, unknown>).runId);
        return runView({ runId: "r2" });
      }
      if (cmd === "run_checklist") return [];
      throw new Error(`unexpected ${cmd}`);
    });
    render(Runs, { onStartMigration: noop });
    const interrupted = (await screen.findByText("r2")).closest("tr")!;
    expect(within(interrupted as HTMLElement).getByText("Interrupted")).toBeTruthy();
    const done = screen.getByText("r1").closest("tr")!;
    expect(within(done as HTMLElement).getByText("3 discrepancies")).toBeTruthy();
    // Which runs were rolled back, and which rollback still waits for tomorrow's delete budget.
    const rolledBack = screen.getByText("r0").closest("tr")!;
    expect(within(rolledBack as HTMLElement).getByText("rolled back")).toBeTruthy();
    const waiting = screen.getByText("r-1").closest("tr")!;
    expect(within(waiting as HTMLElement).getByText(/waiting for the delete budget \(after 2026-11-26T00:00:00Z\)/)).toBeTruthy();
    expect(within(done as HTMLElement).queryByText("rolled back")).toBeNull();
    expect(within(done as HTMLElement).queryByRole("button", { name: /Resume/ })).toBeNull();
    await fireEvent.click(within(interrupted as HTMLElement).getByRole("button", { name: "Resume run r2" }));
    expect(resumed).toEqual(["r2"]);
    expect(await screen.findByTestId("run-progress")).toBeTruthy();
  });

  it("follows runs as they change state while the list is on screen", async () => {
    let phase: "running" | "completed" = "running";
    mockIPC((cmd) => {
      if (cmd === "list_runs") return [runView({ runId: "r1", phase, live: phase === "running" })];
      throw new Error(`unexpected ${cmd}`);
    });
    render(Runs, { onStartMigration: noop });
    const row = (await screen.findByText("r1")).closest("tr")!;
    expect(row.getAttribute("data-phase")).toBe("running");
    phase = "completed";
    // No click: the list refreshes itself within a few seconds.
    await waitFor(() => expect(screen.getByText("r1").closest("tr")!.getAttribute("data-phase")).toBe("completed"), {
      timeout: 5_000,
    });
  });

  it("shows a run another window or process drives, and offers no Resume for it", async () => {
    mockIPC((cmd) => {
      if (cmd === "list_runs") return [runView({ runId: "r9", phase: "runningElsewhere", live: false })];
      throw new Error(`unexpected ${cmd}`);
    });
    render(Runs, { onStartMigration: noop });
    const row = (await screen.findByText("r9")).closest("tr")! as HTMLElement;
    expect(within(row).getByText("Running in another window or process")).toBeTruthy();
    expect(within(row).queryByRole("button", { name: /Resume/ })).toBeNull();
  });
});
