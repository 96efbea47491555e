// What the cutover card says about a live sync: in step or behind, objects per minute, the last
// pass, what waits to settle and the share of a Cloud plan's rate limit the sync takes. Pure
// functions of the run's view, so each state is tested without a window.
import type { ConnectionCheck } from "./bindings/ConnectionCheck";
import type { RateShareView } from "./bindings/RateShareView";
import type { SenderView } from "./bindings/SenderView";
import type { SyncPassView } from "./bindings/SyncPassView";
import type { SyncView } from "./bindings/SyncView";

export type Standing =
  | { kind: "cutOver"; text: string }
  | { kind: "backfill"; text: string }
  | { kind: "inSync"; text: string }
  | { kind: "behind"; text: string; objects: number; seconds: number };

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Seconds as the card shows them: "4 s", "3 min 10 s", "2 h 5 min". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return s % 60 === 0 ? `${s / 60} min` : `${Math.floor(s / 60)} min ${s % 60} s`;
  const m = Math.round(s / 60);
  return m % 60 === 0 ? `${m / 60} h` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * In step once the history is copied (the first pass) and the newest copied moment is less than
 * settle + 2 × poll behind: an object needs `settle` to rest and at most two polls to be read.
 */
export function standing(sync: SyncView): Standing {
  if (sync.cutOver) return { kind: "cutOver", text: "Cut over: the sync has finished" };
  if (sync.passes === 0 || !sync.timing) return { kind: "backfill", text: "Copying the history (first pass)…" };
  const lag = sync.lagSeconds ?? 0;
  const allowed = sync.timing.settleSecs + 2 * sync.timing.pollSecs;
  if (sync.passes >= 2 && lag <= allowed) return { kind: "inSync", text: "In sync" };
  return {
    kind: "behind",
    objects: sync.waiting,
    seconds: lag,
    text: `Behind by ${plural(sync.waiting, "object")} / ${duration(lag)}`,
  };
}

/** Objects copied per minute over the recent follow passes (the backfill's burst left out). */
export function objectsPerMinute(recent: SyncPassView[]): number | null {
  const follow = recent.filter((p) => p.pass > 1 && p.endedAt);
  const first = follow[0];
  const last = follow[follow.length - 1];
  if (!first || !last?.endedAt) return null;
  const from = Date.parse(first.startedAt);
  const to = Date.parse(last.endedAt);
  const minutes = (to - from) / 60_000;
  if (!(minutes > 0)) return null;
  const copied = follow.reduce((n, p) => n + p.copied, 0);
  return copied / minutes;
}

/** What waits: objects that ended and rest for `settle`, and objects still open. */
export function waitingText(sync: SyncView): string {
  if (sync.waiting === 0) return "Nothing is waiting to settle.";
  const open = sync.waitingOpen;
  const resting = sync.waiting - open;
  const parts = [];
  if (resting > 0) parts.push(`${plural(resting, "object")} resting for ${duration(sync.timing?.settleSecs ?? 0)} before the copy`);
  if (open > 0) parts.push(`${plural(open, "object")} still open (not ended yet)`);
  return `Waiting to settle: ${parts.join("; ")}.`;
}

const planNames: Record<RateShareView["plan"], string> = { none: "", hobby: "Hobby", core: "Core", pro: "Pro" };

/** The rate-limit share the sync takes on each Cloud side, or why there is none. */
export function shareText(sync: SyncView): string {
  const sides: [string, RateShareView | null][] = [
    ["source", sync.sourceShare],
    ["target", sync.targetShare],
  ];
  const lines = sides
    .filter((s): s is [string, RateShareView] => s[1] !== null)
    .map(
      ([side, s]) =>
        `On the ${side} (Langfuse Cloud, ${planNames[s.plan]} plan) the sync takes at most ${s.percent}% of each of the plan's request limits (${s.requestsPerMinute} of ${s.planLimit} requests a minute where the limit is lowest), leaving the rest of each to your application.`,
    );
  const ls = sync.langsmithShare;
  if (ls)
    lines.unshift(
      `On the source (LangSmith Cloud) the sync takes at most ${ls.runQueriesPer10s} of the ${ls.runQueryLimit} run queries an API key may send per 10 s (${ls.percent}%), and the same share of LangSmith's other limits, leaving the rest to whatever else uses the key.`,
    );
  if (lines.length > 0) return lines.join(" ");
  return "No side is on a Langfuse Cloud plan: the sync has no request budget of its own and slows down only when a server answers 429.";
}

/** A sender still writing to the source, by what its objects carry: SDK, service, release, environment. */
export function senderLabel(s: SenderView): string {
  const sdk = s.sdk ? `${s.sdk}${s.sdkVersion ? ` ${s.sdkVersion}` : ""}` : "an SDK the source did not record";
  const where = [s.service, s.release ? `release ${s.release}` : null, s.environment ? `environment ${s.environment}` : null].filter(Boolean);
  return `${sdk}${where.length > 0 ? ` (${where.join(", ")})` : ""}: ${s.objects} object${s.objects === 1 ? "" : "s"}, last at ${s.lastSeen}`;
}

/** The source kind the sync's default timing follows, from the pre-flight's connection check of the source. */
export function syncGeneration(check: ConnectionCheck | null | undefined): string | null {
  if (check?.status === "ok") return check.generation;
  if (check?.status === "langsmith") return "langsmith";
  return null;
}

/** What Switch does to an application traced with the LangSmith SDK (null for a Langfuse source). */
export function langsmithSwitchNote(sync: SyncView): string | null {
  if (!sync.langsmithSource) return null;
  return "The source is LangSmith: Switch writes the target's LANGFUSE_HOST, LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY into the .env and leaves its LANGSMITH_* lines as they are, so an application traced with the LangSmith SDK keeps sending to LangSmith until it is changed to send to Langfuse.";
}
