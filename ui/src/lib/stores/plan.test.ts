// The New migration wizard: scenario filters, the sample data, connection tests and pre-flight.
import { afterEach, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { PlanStore } from "./plan.svelte";
import { scenarios } from "../scenarios";
import type { MigrationProfile } from "../bindings/MigrationProfile";
import type { SampleInfo } from "../bindings/SampleInfo";

const cloud: MigrationProfile = {
  profile: { id: "c", name: "Cloud", connection: { kind: "langfuse", host: "https://cloud.langfuse.com", publicKey: "pk-lf-1" } },
  secret: "inKeychain",
  sample: false,
};
const selfHosted: MigrationProfile = {
  profile: { id: "s", name: "Own", connection: { kind: "langfuse", host: "https://langfuse.example.org", publicKey: "pk-lf-2" } },
  secret: "inKeychain",
  sample: false,
};
const archive: MigrationProfile = {
  profile: { id: "f", name: "Folder", connection: { kind: "archive", folder: "/tmp/a" } },
  secret: "notNeeded",
  sample: false,
};
const sample: SampleInfo = {
  source: { id: "sample-source", name: "Sample source (sandbox)", connection: { kind: "langfuse", host: "http://127.0.0.1:4000", publicKey: "pk-lf-sample-1" } },
  target: { id: "sample-target", name: "Sample target (sandbox)", connection: { kind: "langfuse", host: "http://127.0.0.1:4001", publicKey: "pk-lf-sample-2" } },
  langsmithSource: { id: "sample-langsmith", name: "Sample LangSmith (sandbox)", connection: { kind: "langSmith", endpoint: "http://127.0.0.1:4002" } },
  traces: 200,
  observationsPerTrace: 5,
  appFolder: "/home/u/.config/langfuse-migrator/sample-app",
};
const byId = (id: string) => scenarios.find((s) => s.id === id)!;

function backend(extra: Record<string, (a: Record<string, unknown>) => unknown> = {}) {
  let started = false;
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    if (extra[cmd]) return extra[cmd](a);
    if (cmd === "sample_data") return started ? sample : null;
    if (cmd === "start_sample_data") {
      started = true;
      return sample;
    }
    if (cmd === "migration_profiles")
      return [
        ...(started ? [sample.source, sample.target, sample.langsmithSource].map((profile) => ({ profile, secret: "forThisSession", sample: true })) : []),
        cloud,
        selfHosted,
        archive,
      ];
    throw new Error(`unexpected ${cmd}`);
  });
}

describe("PlanStore", () => {
  afterEach(() => clearMocks());

  it("filters each side to the connections that fit the scenario", async () => {
    backend();
    const p = new PlanStore();
    await p.load();
    p.pick(byId("cloud-to-self-hosted"));
    expect(p.sourceOptions.map((o) => o.profile.id)).toEqual(["c"]);
    expect(p.targetOptions.map((o) => o.profile.id)).toEqual(["s"]);
    // A single fitting connection is picked for the user.
    expect([p.sourceId, p.targetId]).toEqual(["c", "s"]);
    p.pick(byId("export-archive"));
    expect(p.targetOptions.map((o) => o.profile.id)).toEqual(["f"]);
    expect(p.targetId).toBe("f");
  });

  it("never picks a scenario that is coming next", async () => {
    backend();
    const p = new PlanStore();
    await p.load();
    p.pick({ ...byId("cloud-to-cloud"), available: false });
    expect(p.scenario).toBeNull();
  });

  it("runs LangSmith → Langfuse from the sample workspace with the projects ticked after its connection check", async () => {
    let sent: Record<string, unknown> | null = null;
    backend({
      test_connection: () => ({
        status: "langsmith",
        url: "http://127.0.0.1:4002",
        serverVersion: "0.10.0",
        v2Queries: true,
        projects: [
          { name: "support-bot", runCount: 120, experiment: false },
          { name: "research-agent", runCount: null, experiment: false },
        ],
      }),
      preflight: (a) => {
        sent = a.request as Record<string, unknown>;
        return { source: "LangSmith", target: "t", entities: [], warnings: [], etaSeconds: null, windowFrom: null, windowEnd: "2026-01-01T00:00:00Z" };
      },
    });
    const p = new PlanStore();
    await p.load();
    p.pick(byId("langsmith"));
    expect(p.scenario?.id).toBe("langsmith");
    // No LangSmith connection yet: nothing fits the source.
    expect(p.sourceOptions).toEqual([]);
    await p.useSampleData();
    expect(p.sourceId).toBe("sample-langsmith");
    expect(p.targetOptions.map((o) => o.profile.id)).toContain("sample-target");
    expect(p.langsmithSource).toBe(true);
    expect(p.langsmithProjects).toEqual([]);
    await p.test("source");
    expect(p.langsmithProjects.map((x) => x.name)).toEqual(["support-bot", "research-agent"]);
    p.toggleProject("support-bot", true);
    await p.runPreflight();
    expect(sent).toMatchObject({ sourceId: "sample-langsmith", targetId: "sample-target", projects: ["support-bot"] });
    // Another source forgets the picked projects, and a Langfuse source sends none.
    p.setSource("c");
    expect(p.projects).toEqual([]);
    expect("projects" in p.request).toBe(false);
  });

  it("starts the sample servers and selects them as source and target", async () => {
    backend();
    const p = new PlanStore();
    await p.load();
    expect(p.sample).toBeNull();
    await p.useSampleData();
    expect(p.sample?.traces).toBe(200);
    expect([p.sourceId, p.targetId]).toEqual(["sample-source", "sample-target"]);
    expect(p.blocker).toBeNull();
  });

  it("shows a failed connection test and a failed pre-flight as plain sentences", async () => {
    const reason = "http://127.0.0.1:9 could not be reached: the connection was refused. Check the URL and that the server is running.";
    backend({
      test_connection: () => ({ status: "failed", message: reason }),
      preflight: () => {
        throw reason;
      },
    });
    const p = new PlanStore();
    await p.load();
    p.pick(byId("cloud-to-self-hosted"));
    await p.test("source");
    expect(p.sourceCheck).toEqual({ state: "done", result: { status: "failed", message: reason } });
    await p.runPreflight();
    expect(p.preflightError).toBe(reason);
    expect(p.preflight).toBeNull();
  });

  it("builds the request from the form and explains what blocks a pre-flight", async () => {
    backend();
    const p = new PlanStore();
    await p.load();
    p.pick(byId("cloud-to-self-hosted"));
    p.selected = [];
    expect(p.blocker).toMatch(/at least one kind/);
    p.toggle("observations", true);
    p.toggle("traces", true);
    p.tags = " a, ,b ";
    p.fromDay = "2026-02-01";
    p.toDay = "2026-01-01";
    expect(p.blocker).toMatch(/first day is after/);
    p.toDay = "2026-03-01";
    // Entities go in the engine's order, whatever order they were ticked in.
    expect(p.request).toMatchObject({ entities: ["traces", "observations"], tags: ["a", "b"], fromDay: "2026-02-01" });
  });

  it("selects a connection created inline on the side it was created for", async () => {
    const created: MigrationProfile = {
      profile: { id: "n", name: "New target", connection: { kind: "langfuse", host: "https://lf.example.org", publicKey: "pk-lf-3" } },
      secret: "inKeychain",
      sample: false,
    };
    let saved = false;
    backend({ migration_profiles: () => [cloud, ...(saved ? [created] : [])] });
    const p = new PlanStore();
    await p.load();
    p.pick(byId("cloud-to-self-hosted"));
    expect(p.targetOptions).toEqual([]);
    saved = true;
    await p.created("target", "New target");
    expect(p.targetId).toBe("n");
    expect(p.sourceId).toBe("c");
  });

  it("any change to the plan clears the pre-flight, so Start never runs a plan under another plan's counts", async () => {
    const counted: unknown[] = [];
    backend({
      preflight: (a) => {
        counted.push(a.request);
        return { source: "s", target: "t", sourceCheck: null, targetCheck: null, entities: [], etaSeconds: null, warnings: [] };
      },
    });
    const p = new PlanStore();
    await p.load();
    p.pick(byId("cloud-to-self-hosted"));
    const changes: [string, () => void][] = [
      ["first day", () => (p.fromDay = "2026-01-01")],
      ["last day", () => (p.toDay = "2026-01-31")],
      ["environments", () => (p.environments = "production")],
      ["trace names", () => (p.traceNames = "checkout")],
      ["tags", () => (p.tags = "beta")],
      ["existing-object policy", () => (p.onExisting = "stop")],
      ["run tag", () => (p.runTag = false)],
      ["kinds of object", () => p.toggle("scores", false)],
      ["source", () => p.setSource("")],
    ];
    for (const [what, change] of changes) {
      if (!p.sourceId) p.setSource("c");
      await p.runPreflight();
      expect(p.currentPreflight, what).not.toBeNull();
      change();
      expect(p.currentPreflight, `after changing the ${what}`).toBeNull();
      expect(p.preflightStale, what).toBe(true);
    }
  });

  it("starts exactly the plan the pre-flight counted, with the open end pinned when the plan was made", async () => {
    const counted: Record<string, unknown>[] = [];
    backend({
      preflight: (a) => {
        counted.push(a.request as Record<string, unknown>);
        return { source: "s", target: "t", sourceCheck: null, targetCheck: null, entities: [], etaSeconds: null, warnings: [] };
      },
    });
    const p = new PlanStore();
    await p.load();
    p.pick(byId("cloud-to-self-hosted"));
    const before = Date.now();
    await p.runPreflight();
    const after = Date.now();
    const end = Date.parse(String(counted[0]?.windowEnd));
    expect(end).toBeGreaterThanOrEqual(before - 1000);
    expect(end).toBeLessThanOrEqual(after + 1000);
    // Later, the run starts with the same window, not a moving one.
    await new Promise((r) => setTimeout(r, 20));
    expect(p.startRequest).toEqual(counted[0]);
    // A fixed last day needs no pinned end.
    p.toDay = "2026-01-31";
    await p.runPreflight();
    expect(counted[1]?.windowEnd).toBeNull();
  });

  it("sends each Cloud side's plan, preset from its connection and changeable in the plan", async () => {
    const onHobby: MigrationProfile = {
      ...cloud,
      profile: { ...cloud.profile, connection: { kind: "langfuse", host: "https://cloud.langfuse.com", publicKey: "pk-lf-1", cloudPlan: "hobby" } },
    };
    backend({
      migration_profiles: () => [onHobby, selfHosted],
      preflight: () => ({ source: "s", target: "t", sourceCheck: null, targetCheck: null, entities: [], etaSeconds: null, warnings: [], windowFrom: null, windowEnd: "x" }),
    });
    const p = new PlanStore();
    await p.load();
    p.pick(byId("cloud-to-self-hosted"));
    expect(p.request).toMatchObject({ sourceCloudPlan: "hobby", targetCloudPlan: null });
    await p.runPreflight();
    p.sourceCloudPlan = "pro";
    // Another plan means other limits: the pre-flight no longer describes it.
    expect(p.currentPreflight).toBeNull();
    expect(p.request.sourceCloudPlan).toBe("pro");
  });
});
