// The "SDK version upgrade" scenario with Tauri's IPC mocked: the check's request, the report
// grouped by severity, check again, a refused folder, saving the report and the dual-export
// configuration through the save dialog (and nothing written when the dialog is cancelled).
import { afterEach, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { AppCheckStore } from "./appCheck.svelte";
import type { AppReport } from "../bindings/AppReport";

const report: AppReport = {
  root: "/apps/shop",
  target: { generation: "v4", version: "4.59.0", cloud: false, url: "https://lf.example.com" },
  verdict: "blocked",
  sdks: [
    {
      ecosystem: "javascript",
      package: "langfuse",
      project: ".",
      file: "package.json",
      line: 6,
      declared: "^3.29.0",
      locked: "3.38.4",
      lock_file: "package-lock.json",
      version: "3.38.4",
    },
  ],
  settings: [],
  points_at: [],
  findings: [
    { severity: "info", kind: "config", file: ".env", line: 2, subject: "LANGCHAIN_PROJECT", message: "m", action: "a", guide: null },
    { severity: "blocker", kind: "api", file: "index.ts", line: 6, subject: "langfuse.trace()", message: "m", action: "a", guide: "https://langfuse.com/g" },
    { severity: "blocker", kind: "sdk", file: "package.json", line: 6, subject: "langfuse 3.38.4", message: "m", action: "a", guide: "https://langfuse.com/g" },
  ],
  skipped: [],
  complete: true,
  files_scanned: 12,
  elapsed_ms: 3,
};

type Call = { cmd: string; args: Record<string, unknown> };

function mock(answers: { savePaths?: (string | null)[]; checkError?: string } = {}): Call[] {
  const calls: Call[] = [];
  const savePaths = [...(answers.savePaths ?? [])];
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
    switch (cmd) {
      case "check_app":
        if (answers.checkError) throw answers.checkError;
        return report;
      case "plugin:dialog|save":
        return savePaths.shift() ?? null;
      case "plugin:dialog|open":
        return "/picked/app";
      case "migration_profiles":
        return [];
      default:
        return null;
    }
  });
  return calls;
}

afterEach(() => clearMocks());

describe("AppCheckStore", () => {
  it("checks the typed folder against the typed version and groups the findings, blockers first", async () => {
    const calls = mock();
    const s = new AppCheckStore();
    expect(s.canCheck).toBe(false);
    s.path = "  /apps/shop ";
    s.version = "4.59.0";
    await s.check();
    const check = calls.find((c) => c.cmd === "check_app")!;
    expect(check.args).toEqual({ path: "/apps/shop", target: { kind: "version", version: "4.59.0" } });
    expect(s.groups.map((g) => [g.severity, g.findings.length])).toEqual([
      ["blocker", 2],
      ["info", 1],
    ]);
    expect(s.groups[0]!.title).toMatch(/fix before the switch/);
    // The new side of the dual export defaults to the server the target was read from.
    expect(s.newUrl).toBe("https://lf.example.com");
  });

  it("asks a server for its version when the user chose that, and checks again on request", async () => {
    const calls = mock();
    const s = new AppCheckStore();
    await s.chooseFolder();
    expect(s.path).toBe("/picked/app");
    s.targetMode = "url";
    s.url = "https://lf.example.com/";
    await s.check();
    await s.check();
    const checks = calls.filter((c) => c.cmd === "check_app");
    expect(checks).toHaveLength(2);
    expect(checks[1]!.args.target).toEqual({ kind: "url", url: "https://lf.example.com/" });
  });

  it("shows the engine's sentence and no stale report when the folder cannot be checked", async () => {
    mock({ checkError: "the folder /nope does not exist" });
    const s = new AppCheckStore();
    s.report = report;
    s.path = "/nope";
    await s.check();
    expect(s.error).toBe("the folder /nope does not exist");
    expect(s.report).toBeNull();
    expect(s.checking).toBe(false);
  });

  it("saves the report where the save dialog says, and writes nothing when it is cancelled", async () => {
    const calls = mock({ savePaths: ["/tmp/r.html", null] });
    const s = new AppCheckStore();
    s.path = "/apps/shop";
    await s.check();
    await s.saveReport("html");
    const saved = calls.filter((c) => c.cmd === "save_app_report");
    expect(saved).toHaveLength(1);
    expect(saved[0]!.args).toMatchObject({ path: "/tmp/r.html", format: "html" });
    expect(s.notice).toBe("Saved the report to /tmp/r.html.");
    await s.saveReport("markdown");
    expect(calls.filter((c) => c.cmd === "save_app_report")).toHaveLength(1);
  });

  it("saves the collector config and the env snippet through two save dialogs, with the v4 header for a v4 target", async () => {
    const calls = mock({ savePaths: ["/cfg/otel.yaml", "/cfg/otel.env"] });
    const s = new AppCheckStore();
    s.path = "/apps/shop";
    await s.check();
    s.oldUrl = "https://old.example.com";
    await s.generateDualExport();
    const saved = calls.find((c) => c.cmd === "save_dual_export")!;
    expect(saved.args).toEqual({
      request: {
        old: { kind: "langfuse", url: "https://old.example.com", v4: false },
        new: { kind: "langfuse", url: "https://lf.example.com", v4: true },
      },
      collectorPath: "/cfg/otel.yaml",
      envPath: "/cfg/otel.env",
    });
    expect(s.notice).toContain("/cfg/otel.env");
  });

  it("writes no dual-export file when the second dialog is cancelled", async () => {
    const calls = mock({ savePaths: ["/cfg/otel.yaml", null] });
    const s = new AppCheckStore();
    s.newUrl = "https://cloud.langfuse.com";
    s.oldKind = "langsmith";
    await s.generateDualExport();
    expect(calls.some((c) => c.cmd === "save_dual_export")).toBe(false);
    expect(s.exporting).toBe(false);
  });
});
