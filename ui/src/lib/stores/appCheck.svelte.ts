// The "SDK version upgrade" scenario: an application's folder (native dialog or typed), a
// target (a version, Langfuse Cloud, or a server whose health endpoint says its version), the
// report grouped by severity, saving it, checking again, and the dual-export configuration.
import { errorMessage, ipc } from "../ipc";
import type { AppFinding } from "../bindings/AppFinding";
import type { AppReport } from "../bindings/AppReport";
import type { AppTarget } from "../bindings/AppTarget";
import type { FindingSeverity } from "../bindings/FindingSeverity";
import type { ReportFormat } from "../bindings/ReportFormat";

export type Api = typeof ipc;

export const severityTitles: Record<FindingSeverity, string> = {
  blocker: "Blockers: fix before the switch",
  warning: "Warnings: plan the change",
  info: "For information",
};

export const verdictLabels: Record<AppReport["verdict"], string> = {
  ready: "Ready",
  ready_with_warnings: "Ready with warnings",
  blocked: "Blocked",
};

export type TargetMode = "version" | "url";

export class AppCheckStore {
  path = $state("");
  targetMode = $state<TargetMode>("version");
  /** `cloud`, `v4`, `4.59.0`, … */
  version = $state("cloud");
  url = $state("");
  report = $state<AppReport | null>(null);
  checking = $state(false);
  error = $state<string | null>(null);
  notice = $state<string | null>(null);

  /** Dual export: where the application sends today (old) and after the cutover (new). */
  oldKind = $state<"langfuse" | "langsmith">("langfuse");
  oldUrl = $state("");
  oldV4 = $state(false);
  langsmithProject = $state("");
  newUrl = $state("");
  exporting = $state(false);

  /** Saved Langfuse connections, whose server the check can ask for its version. */
  servers = $state<{ name: string; host: string }[]>([]);

  constructor(private readonly api: Api = ipc) {}

  async load(): Promise<void> {
    try {
      const profiles = await this.api.migrationProfiles();
      this.servers = profiles.flatMap((p) =>
        p.profile.connection.kind === "langfuse" ? [{ name: p.profile.name, host: p.profile.connection.host }] : [],
      );
    } catch {
      this.servers = [];
    }
  }

  get target(): AppTarget {
    return this.targetMode === "url"
      ? { kind: "url", url: this.url.trim() }
      : { kind: "version", version: this.version.trim() };
  }

  get canCheck(): boolean {
    const t = this.targetMode === "url" ? this.url : this.version;
    return this.path.trim() !== "" && t.trim() !== "" && !this.checking;
  }

  /** Findings grouped by severity, blockers first; empty groups left out. */
  get groups(): { severity: FindingSeverity; title: string; findings: AppFinding[] }[] {
    const findings = this.report?.findings ?? [];
    return (["blocker", "warning", "info"] as FindingSeverity[])
      .map((severity) => ({
        severity,
        title: severityTitles[severity],
        findings: findings.filter((f) => f.severity === severity),
      }))
      .filter((g) => g.findings.length > 0);
  }

  async chooseFolder(): Promise<void> {
    const picked = await this.api.chooseFolder("Choose the application's folder");
    if (picked) this.path = picked;
  }

  /** Runs the check; "Check again" calls this after the user changed the code. */
  async check(): Promise<void> {
    if (!this.canCheck) return;
    this.checking = true;
    this.error = null;
    this.notice = null;
    try {
      this.report = await this.api.checkApp(this.path.trim(), this.target);
      this.prefillDualExport();
    } catch (e) {
      this.report = null;
      this.error = errorMessage(e);
    } finally {
      this.checking = false;
    }
  }

  /** The new side of the fan-out is the target when it was read from a server. */
  private prefillDualExport(): void {
    const r = this.report;
    if (!r) return;
    if (!this.newUrl && r.target.url) this.newUrl = r.target.url;
    if (!this.newUrl && r.target.cloud) this.newUrl = "https://cloud.langfuse.com";
    if (r.sdks.some((s) => s.package === "langsmith") && !r.sdks.some((s) => s.package !== "langsmith")) {
      this.oldKind = "langsmith";
    }
  }

  async saveReport(format: ReportFormat): Promise<void> {
    if (!this.report) return;
    this.notice = null;
    this.error = null;
    const ext = format === "html" ? "html" : "md";
    try {
      const path = await this.api.chooseSavePath("Save the readiness report", `app-readiness.${ext}`, ext);
      if (!path) return;
      await this.api.saveAppReport(this.report, path, format);
      this.notice = `Saved the report to ${path}.`;
    } catch (e) {
      this.error = errorMessage(e);
    }
  }

  /** Saves the collector configuration, then the env snippet, each where the user chooses. */
  async generateDualExport(): Promise<void> {
    this.notice = null;
    this.error = null;
    this.exporting = true;
    try {
      const v4 = this.report ? this.report.target.generation === "v4" : true;
      const request = {
        old:
          this.oldKind === "langsmith"
            ? { kind: "langsmith" as const, url: null, project: this.langsmithProject.trim() || null }
            : { kind: "langfuse" as const, url: this.oldUrl.trim(), v4: this.oldV4 },
        new: { kind: "langfuse" as const, url: this.newUrl.trim(), v4 },
      };
      const collectorPath = await this.api.chooseSavePath(
        "Save the OpenTelemetry Collector configuration",
        "otel-collector.yaml",
        "yaml",
      );
      if (!collectorPath) return;
      const envPath = await this.api.chooseSavePath("Save the environment settings", "dual-export.env", "env");
      if (!envPath) return;
      await this.api.saveDualExport(request, collectorPath, envPath);
      this.notice = `Saved the collector configuration to ${collectorPath} and the environment settings to ${envPath}.`;
    } catch (e) {
      this.error = errorMessage(e);
    } finally {
      this.exporting = false;
    }
  }
}
