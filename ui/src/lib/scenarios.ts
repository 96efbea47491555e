// The scenario cards (the seed's table: what moves, complexity, downtime, risk) and which
// connections fit each side of a scenario.
import type { CloudPlan } from "./bindings/CloudPlan";
import type { MigrationProfile } from "./bindings/MigrationProfile";

export type Side = "cloud" | "selfHosted" | "langfuse" | "archive" | "langSmith" | "followable";

export interface Scenario {
  id: string;
  title: string;
  moves: string;
  complexity: "Low" | "Medium" | "High";
  downtime: string;
  risk: string;
  source: Side;
  target: Side;
  /** false: shown as "coming next", cannot be picked. */
  available: boolean;
}

const everything = "Traces, observations, scores, sessions, datasets with items and runs, prompts with every version, score configs, models, comments";

export const scenarios: Scenario[] = [
  { id: "cloud-to-self-hosted", title: "Langfuse Cloud → self-hosted", moves: everything, complexity: "Medium", downtime: "Minutes", risk: "Low", source: "cloud", target: "selfHosted", available: true },
  { id: "self-hosted-to-cloud", title: "Self-hosted → Langfuse Cloud", moves: everything, complexity: "Medium", downtime: "Minutes", risk: "Low", source: "selfHosted", target: "cloud", available: true },
  { id: "cloud-to-cloud", title: "Cloud → Cloud (project or region move)", moves: everything, complexity: "Low", downtime: "None", risk: "Low (the source is only read)", source: "cloud", target: "cloud", available: true },
  { id: "self-hosted-to-self-hosted", title: "Self-hosted → self-hosted (server move or upgrade)", moves: everything, complexity: "Medium", downtime: "Minutes", risk: "Low", source: "selfHosted", target: "selfHosted", available: true },
  { id: "export-archive", title: "Export to an archive folder", moves: "Everything, as JSONL files with a checksummed manifest, for offline transfer or safekeeping", complexity: "Low", downtime: "None", risk: "None for your projects (the source is only read)", source: "langfuse", target: "archive", available: true },
  { id: "import-archive", title: "Import from an archive folder", moves: "Everything the archive holds, ids and trees intact", complexity: "Medium", downtime: "Minutes", risk: "Low", source: "archive", target: "langfuse", available: true },
  { id: "sdk-upgrade", title: "SDK version upgrade", moves: "Nothing: checks an application's SDK versions, changed API calls and settings against the target server, and writes a dual-export configuration", complexity: "Low", downtime: "None", risk: "None (read only)", source: "langfuse", target: "langfuse", available: true },
  { id: "langsmith", title: "LangSmith → Langfuse", moves: "Runs as traces and observations (whole trees), feedback as scores, datasets with examples, experiments, prompts", complexity: "High", downtime: "Hours", risk: "Medium", source: "langSmith", target: "langfuse", available: true },
  { id: "zero-downtime", title: "Zero-downtime cutover", moves: "The history, then whatever the application keeps sending, copied live until the application's .env is switched to the target and the source is quiet", complexity: "Medium", downtime: "None", risk: "Low (the .env switch can be rolled back)", source: "followable", target: "langfuse", available: true },
];

/** Whether a host is Langfuse Cloud (any region). */
export function isCloud(host: string): boolean {
  try {
    const h = new URL(host).hostname;
    return h === "langfuse.com" || h.endsWith(".langfuse.com");
  } catch {
    return false;
  }
}

/** Whether a connection fits one side of a scenario. Sample connections stand in for any Langfuse. */
export function fits(p: MigrationProfile, side: Side): boolean {
  const c = p.profile.connection;
  switch (side) {
    case "archive":
      return c.kind === "archive";
    case "langSmith":
      return c.kind === "langSmith";
    case "langfuse":
      return c.kind === "langfuse";
    case "followable":
      // A live sync follows a Langfuse project or a LangSmith workspace's API.
      return c.kind === "langfuse" || c.kind === "langSmith";
    case "cloud":
      return c.kind === "langfuse" && (p.sample || isCloud(c.host));
    case "selfHosted":
      return c.kind === "langfuse" && (p.sample || !isCloud(c.host));
  }
}

export const sideLabels: Record<Side, string> = {
  cloud: "a Langfuse Cloud project",
  selfHosted: "a self-hosted Langfuse",
  langfuse: "a Langfuse project",
  archive: "an archive folder",
  langSmith: "a LangSmith workspace",
  followable: "a Langfuse project or a LangSmith workspace",
};

/** Langfuse Cloud plans with what they mean for a migration (the engine holds the figures). */
export const cloudPlans: { value: CloudPlan; label: string }[] = [
  { value: "none", label: "Not set: no request budget (the server's 429 answers still slow the run down)" },
  { value: "hobby", label: "Hobby" },
  { value: "core", label: "Core" },
  { value: "pro", label: "Pro" },
];

/** What can be migrated, in the order the engine copies it, with plain labels. */
export const entities: { key: string; label: string }[] = [
  { key: "llm_connections", label: "LLM connections (Langfuse never hands out their secret keys: after the pre-flight, type each key or skip it and add it in Langfuse later)" },
  { key: "score_configs", label: "Score configs" },
  { key: "annotation_queues", label: "Annotation queues (reviewers are assigned again by hand: the API does not tell who they are)" },
  { key: "models", label: "Custom models" },
  { key: "datasets", label: "Datasets" },
  { key: "prompts", label: "Prompts (all versions and labels)" },
  { key: "evaluators", label: "LLM-as-judge evaluators (latest version; they judge with the target's LLM connection of the same provider)" },
  { key: "evaluation_rules", label: "Evaluation rules (filters, sampling, variable mappings)" },
  { key: "dashboard_widgets", label: "Dashboard widgets (their query and chart)" },
  { key: "dashboards", label: "Dashboards (filters and layout; an API Langfuse marks unstable)" },
  { key: "traces", label: "Traces" },
  { key: "observations", label: "Observations" },
  { key: "dataset_items", label: "Dataset items" },
  { key: "media", label: "Media attachments (images, audio, files in traces and dataset items)" },
  { key: "scores", label: "Scores" },
  { key: "dataset_run_items", label: "Dataset runs and run items" },
  { key: "comments", label: "Comments" },
  { key: "annotation_queue_items", label: "Annotation queue items (with their status)" },
];

/**
 * What a LangSmith source yields (the engine's `LangSmith::ENTITIES`): runs as traces and
 * observations, feedback as scores, feedback configs, datasets with examples, experiments,
 * prompts. The other kinds are not offered for it.
 */
export const langsmithEntities: readonly string[] = [
  "score_configs",
  "datasets",
  "prompts",
  "traces",
  "observations",
  "dataset_items",
  "scores",
  "dataset_run_items",
];

export function entityLabel(key: string): string {
  return entities.find((e) => e.key === key)?.label ?? key.replaceAll("_", " ");
}
