// Run views for UI unit tests, shaped by the generated bindings.
import type { RunView } from "../bindings/RunView";

export function runView(overrides: Partial<RunView> = {}): RunView {
  return {
    runId: "20261125-101500-abc123",
    phase: "running",
    dryRun: false,
    source: "Langfuse at http://127.0.0.1:3001",
    target: "Langfuse at http://127.0.0.1:3002",
    createdAt: null,
    entities: [
      { entity: "traces", expected: 200, read: 120, written: 100, skipped: 0, failed: 0, conflicts: 0, perSecond: 50, etaSeconds: 2, wouldWrite: null },
    ],
    retries: 0,
    rateLimitWaits: 0,
    throughput: [10, 40, 50],
    warnings: [],
    failures: [],
    failureCount: 0,
    conflicts: [],
    message: null,
    live: true,
    sample: false,
    cutoverApplies: true,
    seconds: 0,
    validation: null,
    rollback: null,
    sync: null,
    ...overrides,
  };
}
