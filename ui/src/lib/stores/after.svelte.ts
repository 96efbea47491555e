// After a run: validation report, rollback (preview, typed confirmation, verification) and the
// `.env` cutover. Each part has its own loading and error state.
import { errorMessage, ipc } from "../ipc";
import type { CopyMissingView } from "../bindings/CopyMissingView";
import type { CutoverView } from "../bindings/CutoverView";
import type { EnvChange } from "../bindings/EnvChange";
import type { ReportFormat } from "../bindings/ReportFormat";
import type { RollbackPreviewView } from "../bindings/RollbackPreviewView";
import type { RollbackView } from "../bindings/RollbackView";
import type { ValidationView } from "../bindings/ValidationView";
import { missingCount } from "../copyMissing";

export type Api = typeof ipc;

export class AfterRunStore {
  validation = $state<ValidationView | null>(null);
  validating = $state(false);
  validationStep = $state<string | null>(null);
  validationError = $state<string | null>(null);
  saveNotice = $state<string | null>(null);
  /** The last "Copy what is missing" of this run, with the validation after it. */
  copiedMissing = $state<CopyMissingView | null>(null);

  preview = $state<RollbackPreviewView | null>(null);
  previewing = $state(false);
  confirmation = $state("");
  rollingBack = $state(false);
  rollbackStep = $state<string | null>(null);
  rollbackFraction = $state<number | null>(null);
  rollback = $state<RollbackView | null>(null);
  rollbackError = $state<string | null>(null);

  envPath = $state<string | null>(null);
  envChanges = $state<EnvChange[] | null>(null);
  cutover = $state<CutoverView | null>(null);
  cutoverBusy = $state(false);
  cutoverError = $state<string | null>(null);

  constructor(
    readonly runId: string,
    private readonly api: Api = ipc,
  ) {}

  /** What was already done for this run (a saved validation, a rollback, a cutover). */
  async load(): Promise<void> {
    try {
      [this.validation, this.rollback, this.cutover] = await Promise.all([
        this.api.validationReport(this.runId),
        this.api.rollbackReport(this.runId),
        this.api.cutoverState(this.runId),
      ]);
    } catch (e) {
      this.validationError = errorMessage(e);
    }
  }

  /** Objects the shown validation found missing (what "Copy what is missing" copies). */
  get missingCount(): number {
    return missingCount(this.validation);
  }

  /** Copies what the last validation found missing through the run's journal, then validates again. */
  async copyMissing(): Promise<void> {
    this.validating = true;
    this.validationError = null;
    this.validationStep = "Copying what is missing…";
    try {
      this.copiedMissing = await this.api.copyMissing(this.runId, (m) => (this.validationStep = m.event.message));
      this.validation = this.copiedMissing.validation;
    } catch (e) {
      this.validationError = errorMessage(e);
    } finally {
      this.validating = false;
      this.validationStep = null;
    }
  }

  async validate(): Promise<void> {
    this.validating = true;
    this.validationError = null;
    this.validationStep = "Connecting to both sides…";
    try {
      this.validation = await this.api.validateRun(this.runId, (m) => (this.validationStep = m.event.message));
    } catch (e) {
      this.validationError = errorMessage(e);
    } finally {
      this.validating = false;
      this.validationStep = null;
    }
  }

  async saveReport(format: ReportFormat): Promise<void> {
    this.saveNotice = null;
    this.validationError = null;
    const ext = format === "html" ? "html" : "md";
    try {
      const path = await this.api.chooseSavePath("Save the validation report", `validation-${this.runId}.${ext}`, ext);
      if (!path) return;
      await this.api.saveValidationReport(this.runId, path, format);
      this.saveNotice = `Saved the report to ${path}.`;
    } catch (e) {
      this.validationError = errorMessage(e);
    }
  }

  async loadPreview(): Promise<void> {
    this.previewing = true;
    this.rollbackError = null;
    this.confirmation = "";
    try {
      this.preview = await this.api.rollbackPreview(this.runId);
    } catch (e) {
      this.rollbackError = errorMessage(e);
    } finally {
      this.previewing = false;
    }
  }

  get confirmed(): boolean {
    return !!this.preview && this.confirmation.trim() === this.preview.confirmText;
  }

  async runRollback(): Promise<void> {
    if (!this.confirmed) return;
    this.rollingBack = true;
    this.rollbackError = null;
    this.rollbackStep = "Starting…";
    try {
      this.rollback = await this.api.rollbackRun(this.runId, this.confirmation.trim(), (m) => {
        this.rollbackStep = m.event.message;
        this.rollbackFraction = m.event.fraction;
      });
      this.preview = null;
      this.confirmation = "";
      // The rollback may also have restored the .env cutover.
      this.cutover = await this.api.cutoverState(this.runId).catch(() => this.cutover);
    } catch (e) {
      this.rollbackError = errorMessage(e);
    } finally {
      this.rollingBack = false;
      this.rollbackStep = null;
      this.rollbackFraction = null;
    }
  }

  async pickEnvFile(): Promise<void> {
    this.cutoverError = null;
    try {
      const path = await this.api.chooseFile("Pick the application's .env file");
      if (!path) return;
      this.envPath = path;
      this.envChanges = await this.api.cutoverPreview(this.runId, path);
    } catch (e) {
      this.cutoverError = errorMessage(e);
    }
  }

  async applyCutover(): Promise<void> {
    if (!this.envPath) return;
    await this.cutoverStep(async () => {
      this.cutover = await this.api.cutoverApply(this.runId, this.envPath!);
      this.envChanges = null;
    });
  }

  async restoreCutover(): Promise<void> {
    await this.cutoverStep(async () => {
      this.cutover = await this.api.cutoverRestore(this.runId);
    });
  }

  private async cutoverStep(work: () => Promise<void>): Promise<void> {
    this.cutoverBusy = true;
    this.cutoverError = null;
    try {
      await work();
    } catch (e) {
      this.cutoverError = errorMessage(e);
    } finally {
      this.cutoverBusy = false;
    }
  }
}
