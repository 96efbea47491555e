// The "Zero-downtime cutover" card: the sync's timing before it starts (the source generation's
// defaults, changeable), then switching the application (its folder, the readiness check against
// the target, the .env cutover), finishing (the sync stops after its pass, the window is
// validated) and rolling the switch back (the .env restored).
import { errorMessage, ipc } from "../ipc";
import type { AppReport } from "../bindings/AppReport";
import type { CopyMissingView } from "../bindings/CopyMissingView";
import type { CutoverView } from "../bindings/CutoverView";
import type { SyncRequest } from "../bindings/SyncRequest";
import type { SyncTimingView } from "../bindings/SyncTimingView";
import type { ValidationView } from "../bindings/ValidationView";
import { isFinal, RunMonitor } from "./run.svelte";
import { standing } from "../sync";
import { missingCount } from "../copyMissing";

export type Api = typeof ipc;

/** Joins a folder and `.env` with the folder's own separator. */
export function envFileIn(folder: string): string {
  const f = folder.trim().replace(/[\\/]+$/, "");
  return `${f}${f.includes("\\") && !f.includes("/") ? "\\" : "/"}.env`;
}

/**
 * The sample servers run in this process and show what they receive within a second (see
 * `sample.rs`), so a short poll and settle follow them safely and a newcomer sees the sync in
 * step in seconds rather than the minute a real v3 server's defaults take.
 */
export const SAMPLE_TIMING: SyncTimingView = { pollSecs: 2, settleSecs: 3, lookbackSecs: 120 };

export class SyncSettingsStore {
  /** The generation the defaults are for (`v2`, `v3`, `v4`), from the source's connection check. */
  generation = $state<string | null>(null);
  defaults = $state<SyncTimingView | null>(null);
  poll = $state<number | null>(null);
  settle = $state<number | null>(null);
  lookback = $state<number | null>(null);
  sharePercent = $state(50);
  /** Seconds of quiet at the source after the switch before the sync finishes by itself; null: only with Finish. */
  drain = $state<number | null>(null);
  error = $state<string | null>(null);

  constructor(private readonly api: Api = ipc) {}

  /** The defaults are the sample servers' (see `SAMPLE_TIMING`). */
  sample = $state(false);

  /** Loads the defaults for a source generation; fields the user changed keep their values. */
  async loadDefaults(generation: string | null, sample = false): Promise<void> {
    this.error = null;
    try {
      const d = sample ? SAMPLE_TIMING : await this.api.syncDefaults(generation);
      this.generation = generation;
      this.sample = sample;
      this.defaults = d;
    } catch (e) {
      this.error = errorMessage(e);
    }
  }

  get timing(): SyncTimingView | null {
    const d = this.defaults;
    if (!d) return null;
    const pick = (v: number | null, def: number) => (v !== null && Number.isFinite(v) && v >= 0 ? v : def);
    return { pollSecs: pick(this.poll, d.pollSecs), settleSecs: pick(this.settle, d.settleSecs), lookbackSecs: pick(this.lookback, d.lookbackSecs) };
  }

  get request(): SyncRequest | null {
    const timing = this.timing;
    if (!timing) return null;
    const drain = this.drain !== null && Number.isFinite(this.drain) && this.drain > 0 ? this.drain : null;
    return { timing, drainSecs: drain, rateSharePercent: Math.min(100, Math.max(1, Math.round(this.sharePercent))) };
  }
}

export type SwitchStep = "choose" | "checked" | "switched" | "restored";

export class CutoverStore {
  folder = $state("");
  /** In sample mode: the sample application's folder (its .env points at the sample source). */
  sampleAppFolder = $state<string | null>(null);
  report = $state<AppReport | null>(null);
  checking = $state(false);
  /** A blocked verdict needs the user's explicit word before the switch. */
  acceptBlocked = $state(false);
  switching = $state(false);
  cutover = $state<CutoverView | null>(null);
  finishing = $state(false);
  finishStep = $state<string | null>(null);
  validation = $state<ValidationView | null>(null);
  restoring = $state(false);
  copyingMissing = $state(false);
  copyMissingStep = $state<string | null>(null);
  copiedMissing = $state<CopyMissingView | null>(null);
  /** The copy-back started by rolling back the switch: a run of its own. */
  readonly copyBack: RunMonitor;
  error = $state<string | null>(null);
  notice = $state<string | null>(null);

  constructor(
    private readonly monitor: RunMonitor,
    private readonly api: Api = ipc,
  ) {
    this.copyBack = new RunMonitor(api);
  }

  private get runId(): string | null {
    return this.monitor.view?.runId || null;
  }

  /** Whether the application's .env points at the target now (applied and not restored). */
  get switched(): boolean {
    // The .env record, once read or written here, is newer than the sync's last journaled standing.
    if (this.cutover) return this.cutover.restoredAt === null;
    return !!this.monitor.view?.sync?.switchedAt;
  }

  /** The folder chosen is the sample application's (sample mode). */
  get isSampleApp(): boolean {
    return !!this.sampleAppFolder && this.folder.trim().replace(/[\\/]+$/, "") === this.sampleAppFolder;
  }

  get inSync(): boolean {
    const s = this.monitor.view?.sync;
    return !!s && standing(s).kind === "inSync";
  }

  get canSwitch(): boolean {
    return (
      this.report !== null &&
      (this.report.verdict !== "blocked" || this.acceptBlocked) &&
      !this.switched &&
      !this.switching &&
      this.inSync &&
      !!this.monitor.view?.live
    );
  }

  /** Reads what the journal knows of the run's .env cutover (after a reload or from Runs). */
  async load(): Promise<void> {
    const id = this.runId;
    if (!id) return;
    try {
      this.cutover = await this.api.cutoverState(id);
      if (this.cutover) this.folder = this.cutover.envPath.replace(/[\\/]\.env$/, "");
      // A sample sync from the sample Langfuse source can switch only the sample application
      // (which writes to that source): its folder is offered.
      if (this.monitor.view?.sample && !this.monitor.view.sync?.langsmithSource) {
        this.sampleAppFolder = (await this.api.sampleData())?.appFolder ?? null;
        if (!this.folder && this.sampleAppFolder) this.folder = this.sampleAppFolder;
      }
      this.validation = await this.api.validationReport(id);
    } catch (e) {
      this.error = errorMessage(e);
    }
  }

  /** Reads the run's last validation again (the finish's, once the sync is cut over). */
  async loadValidation(): Promise<void> {
    const id = this.runId;
    if (!id) return;
    try {
      this.validation = await this.api.validationReport(id);
    } catch (e) {
      this.error = errorMessage(e);
    }
  }

  async chooseFolder(): Promise<void> {
    const picked = await this.api.chooseFolder("The application's folder (the one holding its .env)");
    if (picked) {
      this.folder = picked;
      this.report = null;
    }
  }

  /** Checks the application in the folder against the sync's target server. */
  async check(): Promise<void> {
    const url = this.monitor.view?.sync?.targetUrl;
    if (!this.folder.trim() || !url) return;
    this.checking = true;
    this.error = null;
    this.acceptBlocked = false;
    try {
      this.report = await this.api.checkApp(this.folder.trim(), { kind: "url", url });
    } catch (e) {
      this.report = null;
      this.error = errorMessage(e);
    } finally {
      this.checking = false;
    }
  }

  /** Points the application's .env at the target (a backup is kept next to it). */
  async switchApplication(): Promise<void> {
    const id = this.runId;
    if (!id || !this.canSwitch) return;
    this.switching = true;
    this.error = null;
    try {
      this.cutover = await this.api.cutoverApply(id, envFileIn(this.folder));
      this.notice = this.isSampleApp
        ? `The sample application's .env now points at the target (backup: ${this.cutover.backupPath}); it sends its next traces there. The sync keeps copying what it sent to the source before.`
        : `The application's .env now points at the target (backup: ${this.cutover.backupPath}). Restart the application; the sync keeps copying what instances still on the old settings write.`;
    } catch (e) {
      this.error = errorMessage(e);
    } finally {
      this.switching = false;
    }
  }

  /**
   * Finish: the engine ends the pass under way, runs one last pass up to now, validates the
   * whole window and marks the run cut over; the view follows until the sync has stopped.
   */
  async finish(): Promise<void> {
    const id = this.runId;
    if (!id) return;
    this.finishing = true;
    this.error = null;
    try {
      this.finishStep = "Last pass, then validation of the whole window…";
      if (this.monitor.view?.live) {
        await this.api.finishSync(id);
      } else if (!(await this.monitor.finishStopped(id))) {
        // Not running here (the app was restarted, or the sync stopped): resumed to finish.
        throw new Error(this.monitor.error ?? "The sync could not be resumed to finish.");
      }
      await this.untilStopped();
      this.validation = await this.api.validationReport(id);
      await this.monitor.loadChecklist();
    } catch (e) {
      this.error = errorMessage(e);
    } finally {
      this.finishing = false;
      this.finishStep = null;
    }
  }

  /** Missing objects the last validation of the run named (what "Copy what is missing" copies). */
  get missingCount(): number {
    return missingCount(this.validation);
  }

  /** Copies what the last validation found missing through the run's journal, then validates again. */
  async copyMissing(): Promise<void> {
    const id = this.runId;
    if (!id || this.copyingMissing) return;
    this.copyingMissing = true;
    this.error = null;
    this.copyMissingStep = "Copying what is missing…";
    try {
      const r = await this.api.copyMissing(id, (e) => (this.copyMissingStep = e.event.message));
      this.copiedMissing = r;
      this.validation = r.validation;
      // The run's cut-over record now carries the validation after the copy.
      await this.monitor.refresh();
      await this.monitor.loadChecklist();
    } catch (e) {
      this.error = errorMessage(e);
    } finally {
      this.copyingMissing = false;
      this.copyMissingStep = null;
    }
  }

  private async untilStopped(timeoutMs = 1_800_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.monitor.view && !isFinal(this.monitor.view.phase)) {
      if (Date.now() > until) throw new Error("The sync has not finished yet; it goes on in the background. Open it again from Runs.");
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Puts the application's .env back byte for byte, then copies what the application wrote to
   * the target since the switch back to the source (a run of its own).
   */
  async rollBackSwitch(): Promise<void> {
    const id = this.runId;
    if (!id) return;
    this.restoring = true;
    this.error = null;
    try {
      this.cutover = await this.api.cutoverRestore(id);
      this.notice = this.isSampleApp
        ? "The sample application's .env is back as it was; it sends to the source again. What it wrote to the target since the switch is copied back to the source."
        : "The application's .env is back as it was; restart the application. What it wrote to the target since the switch is copied back to the source.";
      if (!(await this.copyBack.copyBack(id))) this.error = this.copyBack.error;
    } catch (e) {
      this.error = errorMessage(e);
    } finally {
      this.restoring = false;
    }
  }
}
