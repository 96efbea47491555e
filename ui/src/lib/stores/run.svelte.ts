// The run the window follows: started here, resumed from Runs, or re-attached after a reload.
// Snapshots arrive on a channel; the last one wins (they carry the whole view).
import { errorMessage, ipc } from "../ipc";
import type { ChecklistItem } from "../bindings/ChecklistItem";
import type { OperatingSettings } from "../bindings/OperatingSettings";
import type { PlanRequest } from "../bindings/PlanRequest";
import type { RunAction } from "../bindings/RunAction";
import type { RunEvent } from "../bindings/RunEvent";
import type { RunView } from "../bindings/RunView";
import type { SyncRequest } from "../bindings/SyncRequest";

export type Api = typeof ipc;

export class RunMonitor {
  view = $state<RunView | null>(null);
  loading = $state(false);
  error = $state<string | null>(null);
  actionError = $state<string | null>(null);
  checklist = $state<ChecklistItem[]>([]);
  checklistError = $state<string | null>(null);

  constructor(private readonly api: Api = ipc) {}

  private onEvent = (message: RunEvent<RunView>) => {
    const next = message.event;
    // Snapshots of another run (an older channel) never replace the one shown.
    if (this.view && this.view.runId && next.runId && next.runId !== this.view.runId) return;
    const wasFinal = this.view ? isFinal(this.view.phase) : false;
    this.view = next;
    if (isFinal(next.phase) && !wasFinal) void this.loadChecklist();
  };

  async start(
    request: PlanRequest,
    dryRun: boolean,
    expected: Record<string, number>,
    llmKeys: Record<string, string> = {},
  ): Promise<boolean> {
    return this.begin(() => this.api.startRun(request, dryRun, expected, this.onEvent, llmKeys));
  }

  async startSync(
    request: PlanRequest,
    sync: SyncRequest,
    expected: Record<string, number>,
    llmKeys: Record<string, string> = {},
  ): Promise<boolean> {
    return this.begin(() => this.api.startSync(request, sync, expected, this.onEvent, llmKeys));
  }

  /** Starts the copy-back of a sync run (a run of its own) and follows it. */
  async copyBack(syncRunId: string): Promise<boolean> {
    return this.begin(() => this.api.startCopyBack(syncRunId, this.onEvent));
  }

  /** Finishes a sync that is not running here: it is resumed for its last pass, validation and cut-over, and followed. */
  async finishStopped(runId: string): Promise<boolean> {
    return this.begin(() => this.api.finishStoppedSync(runId, this.onEvent));
  }

  async resume(runId: string, settings: OperatingSettings | null = null): Promise<boolean> {
    return this.begin(() => this.api.resumeRun(runId, settings, this.onEvent));
  }

  /** Shows a run: live ones keep streaming, finished ones come from their journal. */
  async open(runId: string): Promise<boolean> {
    return this.begin(() => this.api.attachRun(runId, this.onEvent));
  }

  /**
   * Reads a run that is not running here again from its journal, keeping the view on screen
   * meanwhile (an action on a stopped run, such as copying what is missing, changes its record).
   */
  async refresh(): Promise<void> {
    const id = this.view?.runId;
    if (!id || this.view?.live) return;
    try {
      const view = await this.api.attachRun(id, this.onEvent);
      if (this.view?.runId === view.runId) this.view = view;
    } catch (e) {
      this.error = errorMessage(e);
    }
  }

  private async begin(call: () => Promise<RunView>): Promise<boolean> {
    this.loading = true;
    this.error = null;
    this.actionError = null;
    this.view = null;
    this.checklist = [];
    try {
      const view = await call();
      // A snapshot may have arrived first; keep the newer one.
      const current = this.view as RunView | null;
      if (!current || current.runId !== view.runId) this.view = view;
      await this.loadChecklist();
      return true;
    } catch (e) {
      this.error = errorMessage(e);
      return false;
    } finally {
      this.loading = false;
    }
  }

  async control(action: RunAction): Promise<void> {
    if (!this.view) return;
    this.actionError = null;
    try {
      const view = await this.api.controlRun(this.view.runId, action);
      if (this.view?.runId === view.runId && !isFinal(this.view.phase)) this.view = view;
    } catch (e) {
      this.actionError = errorMessage(e);
    }
  }

  async loadChecklist(): Promise<void> {
    if (!this.view?.runId) return;
    this.checklistError = null;
    try {
      this.checklist = await this.api.runChecklist(this.view.runId);
    } catch (e) {
      this.checklistError = errorMessage(e);
    }
  }

  async tick(key: string, done: boolean): Promise<void> {
    if (!this.view) return;
    this.checklistError = null;
    try {
      this.checklist = await this.api.setChecklistStep(this.view.runId, key, done);
    } catch (e) {
      this.checklistError = errorMessage(e);
    }
  }

  /** Asks where to save and writes every failed object of the run as CSV. */
  async exportFailures(): Promise<string | null> {
    if (!this.view) return null;
    this.actionError = null;
    try {
      const path = await this.api.chooseSavePath("Export failed objects", `failures-${this.view.runId}.csv`, "csv");
      if (!path) return null;
      const n = await this.api.exportFailures(this.view.runId, path);
      return `Exported ${n} failed object${n === 1 ? "" : "s"} to ${path}.`;
    } catch (e) {
      this.actionError = errorMessage(e);
      return null;
    }
  }

  clear(): void {
    this.view = null;
    this.error = null;
  }
}

export function isFinal(phase: RunView["phase"]): boolean {
  return !["starting", "running", "paused", "runningElsewhere"].includes(phase);
}

export function canResume(phase: RunView["phase"]): boolean {
  return ["cancelled", "failed", "interrupted"].includes(phase);
}

export const phaseLabels: Record<RunView["phase"], string> = {
  starting: "Starting",
  running: "Running",
  paused: "Paused",
  completed: "Completed",
  completedWithFailures: "Completed with failures",
  cancelled: "Cancelled",
  failed: "Failed",
  dryRun: "Dry run finished",
  interrupted: "Interrupted",
  runningElsewhere: "Running in another window or process",
};

/** The one run the window follows, shared by New migration and Runs. */
export const monitor = new RunMonitor();
