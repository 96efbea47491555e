// The New migration wizard: scenario, connections, what to move, pre-flight. The window names
// profiles and Rust looks up their keys; the one secret typed here is an LLM connection's key
// (Langfuse never returns it), held only until the run starts.
import { errorMessage, ipc } from "../ipc";
import type { ConnectionCheck } from "../bindings/ConnectionCheck";
import type { ExistingPolicy } from "../bindings/ExistingPolicy";
import type { MigrationProfile } from "../bindings/MigrationProfile";
import type { PlanRequest } from "../bindings/PlanRequest";
import type { PreflightView } from "../bindings/PreflightView";
import type { SampleInfo } from "../bindings/SampleInfo";
import type { CloudPlan } from "../bindings/CloudPlan";
import type { MappingPreview } from "../bindings/MappingPreview";
import { entities, fits, isCloud, langsmithEntities, type Scenario } from "../scenarios";

export type Api = typeof ipc;

export type Check = { state: "idle" } | { state: "checking" } | { state: "done"; result: ConnectionCheck };

function splitList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function sameRequest(a: PlanRequest, b: PlanRequest): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class PlanStore {
  profiles = $state<MigrationProfile[]>([]);
  loading = $state(true);
  loadError = $state<string | null>(null);
  sample = $state<SampleInfo | null>(null);
  startingSample = $state(false);
  sampleError = $state<string | null>(null);

  scenario = $state<Scenario | null>(null);
  sourceId = $state<string>("");
  targetId = $state<string>("");
  selected = $state<string[]>(entities.map((e) => e.key));
  fromDay = $state("");
  toDay = $state("");
  environments = $state("");
  traceNames = $state("");
  tags = $state("");
  onExisting = $state<ExistingPolicy>("skip");
  /** Each Cloud side's plan: preset from its connection when picked, editable in the plan. */
  sourceCloudPlan = $state<CloudPlan>("none");
  targetCloudPlan = $state<CloudPlan>("none");
  runTag = $state(true);
  /** LangSmith sources: the projects to move (names); empty = every project. */
  projects = $state<string[]>([]);

  sourceCheck = $state<Check>({ state: "idle" });
  targetCheck = $state<Check>({ state: "idle" });
  preflight = $state<PreflightView | null>(null);
  preflightRunning = $state(false);
  preflightError = $state<string | null>(null);
  /** Keys typed for the source's LLM connections, by provider; handed over at start, then cleared. */
  llmKeys = $state<Record<string, string>>({});
  /** LLM connections the user chose to add in Langfuse later. */
  llmSkipped = $state<Record<string, boolean>>({});
  /** The mapping preview of a LangSmith source, and what it previewed (source, projects, days). */
  preview = $state<MappingPreview | null>(null);
  previewRunning = $state(false);
  previewError = $state<string | null>(null);
  private previewed = $state<string | null>(null);
  /** The request the shown pre-flight counted; a run starts with exactly this one. */
  private counted = $state<PlanRequest | null>(null);
  /**
   * "Up to now" pinned to the moment the plan was made (its pre-flight), so the pre-flight, the
   * run and its validation all cover one fixed window.
   */
  private windowEnd = $state<string | null>(null);

  constructor(private readonly api: Api = ipc) {}

  async load(): Promise<void> {
    this.loading = true;
    this.loadError = null;
    try {
      this.sample = await this.api.sampleData();
      this.profiles = await this.api.migrationProfiles();
    } catch (e) {
      this.loadError = errorMessage(e);
    } finally {
      this.loading = false;
    }
  }

  /** Starts the sample servers and picks them as source and target. */
  async useSampleData(): Promise<void> {
    this.startingSample = true;
    this.sampleError = null;
    try {
      this.sample = await this.api.startSampleData();
      this.profiles = await this.api.migrationProfiles();
      // Preselected for whichever Langfuse scenario the user picks (samples fit them all);
      // the LangSmith scenario gets the sample LangSmith workspace.
      this.setSource(this.scenario?.source === "langSmith" ? this.sample.langsmithSource.id : this.sample.source.id);
      this.setTarget(this.sample.target.id);
    } catch (e) {
      this.sampleError = errorMessage(e);
    } finally {
      this.startingSample = false;
    }
  }

  pick(scenario: Scenario): void {
    if (!scenario.available) return;
    this.scenario = scenario;
    // With the sample servers running, the LangSmith scenario starts from the sample workspace.
    if (scenario.source === "langSmith" && this.sample && !this.sourceOptions.some((p) => p.profile.id === this.sourceId))
      this.setSource(this.sample.langsmithSource.id);
    if (!this.sourceOptions.some((p) => p.profile.id === this.sourceId)) this.setSource("");
    if (!this.targetOptions.some((p) => p.profile.id === this.targetId)) this.setTarget("");
    const only = (side: "source" | "target") => {
      const options = side === "source" ? this.sourceOptions : this.targetOptions;
      return options.length === 1 ? (options[0]?.profile.id ?? "") : "";
    };
    if (!this.sourceId) this.setSource(only("source"));
    if (!this.targetId) this.setTarget(only("target"));
  }

  back(): void {
    this.scenario = null;
    this.clearPreflight();
  }

  clearPreflight(): void {
    this.preflight = null;
    this.counted = null;
  }

  get sourceOptions(): MigrationProfile[] {
    const s = this.scenario;
    return s ? this.profiles.filter((p) => fits(p, s.source)) : [];
  }

  get targetOptions(): MigrationProfile[] {
    const s = this.scenario;
    return s ? this.profiles.filter((p) => fits(p, s.target) && p.profile.id !== this.sourceId) : [];
  }

  /** The picked connection on a side when it is a Langfuse Cloud project, else null. */
  cloudProfile(side: "source" | "target"): MigrationProfile | null {
    const id = side === "source" ? this.sourceId : this.targetId;
    const p = this.profiles.find((x) => x.profile.id === id);
    const c = p?.profile.connection;
    return p && !p.sample && c?.kind === "langfuse" && isCloud(c.host) ? p : null;
  }

  private savedPlan(id: string): CloudPlan {
    const c = this.profiles.find((x) => x.profile.id === id)?.profile.connection;
    return c?.kind === "langfuse" ? (c.cloudPlan ?? "none") : "none";
  }

  /** The source is a LangSmith workspace (projects to pick, no Langfuse filters). */
  get langsmithSource(): boolean {
    return this.profiles.find((x) => x.profile.id === this.sourceId)?.profile.connection.kind === "langSmith";
  }

  /** The projects the source's connection check found, when it is LangSmith. */
  get langsmithProjects(): { name: string; runCount: number | null; experiment: boolean }[] {
    const c = this.sourceCheck;
    return c.state === "done" && c.result.status === "langsmith" ? c.result.projects : [];
  }

  /** The kinds of object "What to move" offers: a LangSmith source yields only some. */
  get offeredEntities(): { key: string; label: string }[] {
    return this.langsmithSource ? entities.filter((e) => langsmithEntities.includes(e.key)) : entities;
  }

  /** What a mapping preview depends on: the source, its projects and the window. */
  private get previewKey(): string {
    return JSON.stringify([this.sourceId, this.projects, this.fromDay, this.toDay]);
  }

  /** The mapping preview, only while it still shows the source, projects and window on screen. */
  get currentPreview(): MappingPreview | null {
    return this.preview && this.previewed === this.previewKey ? this.preview : null;
  }

  /** The preview's error, only while it is about the plan on screen. */
  get currentPreviewError(): string | null {
    return this.previewError && this.previewed === this.previewKey ? this.previewError : null;
  }

  async showPreview(): Promise<void> {
    if (!this.langsmithSource) return;
    this.previewRunning = true;
    this.preview = null;
    this.previewError = null;
    const key = this.previewKey;
    try {
      this.preview = await this.api.mappingPreview({ ...this.request, windowEnd: null });
    } catch (e) {
      this.previewError = errorMessage(e);
    } finally {
      this.previewed = key;
      this.previewRunning = false;
    }
  }

  toggleProject(name: string, on: boolean): void {
    this.projects = on ? [...this.projects.filter((n) => n !== name), name] : this.projects.filter((n) => n !== name);
  }

  setSource(id: string): void {
    this.sourceId = id;
    this.projects = [];
    this.sourceCloudPlan = this.savedPlan(id);
    this.sourceCheck = { state: "idle" };
    if (id && id === this.targetId) this.setTarget("");
  }

  setTarget(id: string): void {
    this.targetId = id;
    this.targetCloudPlan = this.savedPlan(id);
    this.targetCheck = { state: "idle" };
  }

  /** After a connection was created inline: reload and select it (names are unique) on that side. */
  async created(side: "source" | "target", name: string): Promise<void> {
    try {
      this.profiles = await this.api.migrationProfiles();
    } catch (e) {
      this.loadError = errorMessage(e);
      return;
    }
    const id = this.profiles.find((p) => !p.sample && p.profile.name === name)?.profile.id ?? "";
    if (side === "source") this.setSource(id);
    else this.setTarget(id);
  }

  async test(side: "source" | "target"): Promise<void> {
    const id = side === "source" ? this.sourceId : this.targetId;
    if (!id) return;
    const set = (c: Check) => (side === "source" ? (this.sourceCheck = c) : (this.targetCheck = c));
    set({ state: "checking" });
    try {
      set({ state: "done", result: await this.api.testConnection(id) });
    } catch (e) {
      set({ state: "done", result: { status: "failed", message: errorMessage(e) } });
    }
  }

  toggle(key: string, on: boolean): void {
    this.selected = on ? [...this.selected.filter((k) => k !== key), key] : this.selected.filter((k) => k !== key);
  }

  get request(): PlanRequest {
    return {
      sourceId: this.sourceId,
      targetId: this.targetId,
      entities: this.offeredEntities.map((e) => e.key).filter((k) => this.selected.includes(k)),
      fromDay: this.fromDay || null,
      toDay: this.toDay || null,
      environments: splitList(this.environments),
      traceNames: splitList(this.traceNames),
      tags: splitList(this.tags),
      onExisting: this.onExisting,
      runTag: this.runTag,
      windowEnd: this.toDay ? null : this.windowEnd,
      sourceCloudPlan: this.cloudProfile("source") ? this.sourceCloudPlan : null,
      targetCloudPlan: this.cloudProfile("target") ? this.targetCloudPlan : null,
      ...(this.langsmithSource ? { projects: [...this.projects] } : {}),
    };
  }

  /**
   * The pre-flight, only while it still describes the plan on screen: any change to the plan
   * (sides, kinds of object, days, filters, policy, run tag) makes it stale.
   */
  get currentPreflight(): PreflightView | null {
    if (!this.preflight || !this.counted) return null;
    return sameRequest(this.counted, this.request) ? this.preflight : null;
  }

  /** A pre-flight exists but the plan changed since. */
  get preflightStale(): boolean {
    return this.preflight !== null && this.currentPreflight === null;
  }

  /** The plan a Start runs: the one the current pre-flight counted, or none. */
  get startRequest(): PlanRequest | null {
    return this.currentPreflight ? this.counted : null;
  }

  /** What stops a pre-flight from running, in words; null when it can run. */
  get blocker(): string | null {
    if (!this.sourceId) return "Pick a source.";
    if (!this.targetId) return "Pick a target.";
    if (!this.offeredEntities.some((e) => this.selected.includes(e.key))) return "Pick at least one kind of object to migrate.";
    if (this.fromDay && this.toDay && this.fromDay > this.toDay) return "The first day is after the last day.";
    return null;
  }

  async runPreflight(): Promise<void> {
    if (this.blocker) return;
    this.preflightRunning = true;
    this.preflightError = null;
    this.clearPreflight();
    this.windowEnd = new Date().toISOString();
    const request = this.request;
    try {
      this.preflight = await this.api.preflight(request);
      this.counted = request;
    } catch (e) {
      this.preflightError = errorMessage(e);
    } finally {
      this.preflightRunning = false;
    }
  }

  /** The pre-flight's LLM connections still needing a key or a "skip" before a real run. */
  get llmUndecided(): string[] {
    return (this.currentPreflight?.llmConnections ?? [])
      .filter((c) => !c.hasKey && !this.llmSkipped[c.provider] && !(this.llmKeys[c.provider] ?? "").trim())
      .map((c) => c.provider);
  }

  /** The typed keys of the connections not skipped; clears them from the window. */
  takeLlmKeys(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const c of this.currentPreflight?.llmConnections ?? []) {
      const key = (this.llmKeys[c.provider] ?? "").trim();
      if (key && !this.llmSkipped[c.provider]) out[c.provider] = key;
    }
    this.llmKeys = {};
    return out;
  }

  /** Pre-flight counts per entity, so progress bars have a total from the start. */
  get expected(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.currentPreflight?.entities ?? []) if (e.count !== null) out[e.entity] = e.count;
    return out;
  }
}
