// LangSmith → Langfuse in the real window, with no account: "Try with sample data" starts a
// sample LangSmith server next to the sample Langfuse ones. The connection check lists its
// projects, the mapping preview shows one of its traces before and after, and the run copies the
// chosen project into the sample Langfuse.
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

import { AppSession } from "../lib/app.mjs";
import { cell, rowCells, sampleUrls, trySampleData, waitForPhase } from "../lib/steps.mjs";

const get = async (url) => {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
};

async function attributes(b, selector, name) {
  const out = [];
  for (const el of await b.$$(selector)) out.push(await el.getAttribute(name));
  return out;
}

test("sample LangSmith → sample Langfuse: projects from the connection check, a mapping preview of one trace, the whole trees copied, a clean validation and a verified rollback", async () => {
  const configDir = await mkdtemp(path.join(tmpdir(), "lfm-e2e-ls-"));
  const app = await AppSession.start({ configDir });
  try {
    const b = app.browser;
    await trySampleData(b);

    await b.$('[data-scenario="langsmith"]').$("button=Choose").click();
    await b.$('[data-testid="pick-source"]').waitForDisplayed();
    assert.equal(await b.$('[data-testid="pick-source"]').getValue(), "sample-langsmith");
    await b.$('[data-testid="pick-target"]').selectByAttribute("value", "sample-target");

    // The connection check names the projects with their run counts and the v2 queries.
    await b.$('[data-testid="test-source"]').click();
    const check = b.$('[data-testid="check-source"]');
    await b.waitUntil(async () => /Connected to LangSmith/.test(await check.getText()), {
      timeout: 30_000,
      timeoutMsg: `no LangSmith connection: ${await check.getText()}`,
    });
    assert.match(await check.getText(), /has v2 run queries/);
    const projects = b.$('[data-testid="langsmith-projects"]');
    await projects.$('input[data-project="support-bot"]').waitForDisplayed({ timeout: 10_000 });
    assert.match(await projects.getText(), /support-bot\s+\d+ runs/);
    assert.match(await projects.getText(), /research-agent/);
    await projects.$('input[data-project="support-bot"]').click();

    // "What to move" offers only what a LangSmith workspace yields.
    assert.equal(await b.$('input[data-entity="llm_connections"]').isExisting(), false);
    assert.equal(await b.$('input[data-entity="media"]').isExisting(), false);
    assert.equal(await b.$('input[data-entity="observations"]').isExisting(), true);
    assert.match(await b.$('[data-testid="langsmith-not-offered"]').getText(), /not offered/);

    // The mapping preview: one trace of the ticked project as the sample LangSmith holds it (read
    // from its admin dump) and the Langfuse trace it becomes.
    await b.$('[data-testid="show-mapping-preview"]').click();
    const preview = b.$('[data-testid="mapping-preview"]');
    await b.waitUntil(async () => await b.$('[data-testid="preview-langsmith"]').isDisplayed(), {
      timeout: 60_000,
      timeoutMsg: `no mapping preview: ${await preview.getText()}`,
    });
    const runIds = await attributes(b, '[data-testid="preview-langsmith"] li[data-run]', "data-run");
    const runDepths = await attributes(b, '[data-testid="preview-langsmith"] li[data-run]', "data-depth");
    const held = await get(`${(await sampleUrls(b)).langsmith}/_sandbox/dump`);
    const root = held.runs.find((r) => r.id === runIds[0]);
    assert.ok(root, `the first node ${runIds[0]} is a run the sample holds`);
    assert.equal(root.parent_run_id, null, "the tree starts at its root");
    const supportBot = held.projects.find((p) => p.name === "support-bot");
    assert.equal(root.session_id, supportBot.id, "the trace is from the ticked project");
    const trace = held.runs.filter((r) => r.trace_id === root.id);
    assert.deepEqual([...runIds].sort(), trace.map((r) => r.id).sort(), "every run of the trace is shown");
    assert.ok(runDepths.some((d) => Number(d) >= 1), "a trace with nested runs");
    const types = await attributes(b, '[data-testid="preview-langfuse"] li[data-observation]', "data-type");
    assert.equal(types.length, trace.length, "one observation per run");
    assert.equal(
      types.filter((t) => t === "GENERATION").length,
      trace.filter((r) => r.run_type === "llm").length,
      "each llm run becomes a generation",
    );
    assert.ok(types.includes("GENERATION"), "the preview prefers a trace with a model call");
    assert.match(await b.$('[data-testid="preview-langfuse"]').getText(), new RegExp(root.id.replaceAll("-", "")));
    await preview.scrollIntoView();
    await app.screenshot("langsmith-00-mapping-preview");

    await b.$('[data-testid="run-preflight"]').click();
    const preflight = b.$('[data-testid="preflight"]');
    await preflight.waitForDisplayed({ timeout: 60_000 });
    assert.match(await preflight.getText(), /LangSmith/);
    // The source's own counts: the ticked project's traces and runs (the least time its limits
    // allow is said for LangSmith Cloud only, which the sample server is not).
    const notes = await b.$('[data-testid="preflight-source-notes"]').getText();
    assert.match(notes, /support-bot: \d+ traces, \d+ runs in the window/);
    await app.screenshot("langsmith-01-plan");

    await b.$('[data-testid="start-run"]').click();
    await b.$('[data-testid="run-progress"]').waitForDisplayed({ timeout: 30_000 });
    const phase = await waitForPhase(b, ["completed", "completedWithFailures", "failed"], 180_000);
    assert.equal(phase, "completed", await b.$('[data-testid="run-progress"]').getText());
    const traces = await cell(b, "traces", "written");
    const observations = await cell(b, "observations", "written");
    assert.ok(traces > 0, "traces were written");
    // Every run becomes an observation, the root included: a tree has more than its root.
    assert.ok(observations > traces, `${observations} observations for ${traces} traces`);
    assert.equal(await cell(b, "traces", "failed"), 0);
    await app.screenshot("langsmith-02-run-finished");

    // Validation reconciles the LangSmith side with the Langfuse side: clean.
    await b.$('[data-testid="validate"]').click();
    const verdict = b.$('[data-testid="validation-verdict"]');
    await verdict.waitForDisplayed({ timeout: 180_000 });
    assert.equal(await verdict.getAttribute("data-clean"), "true", await b.$('[data-testid="validation"]').getText());
    const tracesRow = b.$('[data-testid="validation"] tr[data-entity="traces"]');
    const [source, target, , missing, extra, differing] = await rowCells(tracesRow);
    assert.equal(source, String(traces));
    assert.equal(target, String(traces));
    assert.deepEqual([missing, extra, differing], ["0", "0", "0"]);
    await app.screenshot("langsmith-03-validation-clean");

    // Rollback removes what the run wrote, verified.
    await b.$('[data-testid="rollback-preview"]').click();
    const plan = b.$('[data-testid="rollback-plan"]');
    await plan.waitForDisplayed({ timeout: 60_000 });
    assert.match(await plan.getText(), new RegExp(`Will delete:.*${traces} traces`, "s"));
    await b.$('[data-testid="rollback-confirm"]').setValue("Sample target project");
    await b.$('[data-testid="rollback-run"]').click();
    const result = b.$('[data-testid="rollback-result"]');
    await result.waitForDisplayed({ timeout: 180_000 });
    assert.equal(await result.getAttribute("data-state"), "completed", await result.getText());
    assert.match(await result.getText(), /every removed object verified gone/);
  } finally {
    await app.stop();
  }
});
