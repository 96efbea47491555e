// The migration workflow in the real window: sample data from the scenario picker through
// progress; a wrong secret's plain-language error; a run killed with the app and resumed from
// Runs. scripts/test.sh runs this under Xvfb with a real Secret Service.
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

import { AppSession, killApp, startSandbox } from "../lib/app.mjs";
import { assertSameObjects, cell, chooseScenario, createConnection, planServerMove, rowCells, sandboxKeys, trySampleData, typeLlmKeys, waitForPhase } from "../lib/steps.mjs";

const newConfigDir = () => mkdtemp(path.join(tmpdir(), "lfm-e2e-"));

/** Two sandbox processes with the same made-up keys: a large source and an empty target. */
async function largeSandboxPair() {
  const keys = sandboxKeys;
  // v4 on both sides: a re-sent id would show as a second row, so a duplicate cannot hide.
  // Large enough that the run is still going when the test steps in.
  const source = await startSandbox([...keys, "--traces", "20000", "--observations-per-trace", "4"]);
  const target = await startSandbox(keys);
  // Each target request answers 30 ms late, so a fast machine cannot finish the copy before the
  // test reloads, kills or cancels it.
  await target.setFaults({ rate: 1.0, kinds: ["slow"], slow_ms: 30 });
  return { source, target };
}

/** Plans a server move between the two and starts it; returns once objects arrive. */
async function startLargeCopy(b, source, target) {
  await planServerMove(b, source, target);
  await b.$('[data-testid="start-run"]').click();
  await b.$('[data-testid="run-progress"]').waitForDisplayed({ timeout: 30_000 });
  // The cell appears with the first progress; until then reading it throws and waitUntil retries.
  await b.waitUntil(async () => (await cell(b, "observations", "written")) > 0, {
    timeout: 120_000,
    timeoutMsg: "no observation was written",
  });
}

test("sample data: from the first-start offer and the scenario picker through pre-flight and progress to a clean validation and a verified rollback", async () => {
  const configDir = await newConfigDir();
  const app = await AppSession.start({ configDir });
  try {
    const b = app.browser;
    const ready = await trySampleData(b);
    assert.match(await ready.getText(), /not real secrets/);
    await app.screenshot("workflow-10-scenario-picker");

    await b.$('[data-scenario="cloud-to-self-hosted"]').$("button=Choose").click();
    await b.$('[data-testid="pick-source"]').waitForDisplayed();
    assert.equal(await b.$('[data-testid="pick-source"]').getValue(), "sample-source");
    assert.equal(await b.$('[data-testid="pick-target"]').getValue(), "sample-target");

    await b.$('[data-testid="test-source"]').click();
    const check = b.$('[data-testid="check-source"]');
    await b.waitUntil(async () => /Connected/.test(await check.getText()), { timeout: 30_000 });
    assert.match(await check.getText(), /Sample source project.*Langfuse 3\.\d+/s);

    await b.$('[data-testid="run-preflight"]').click();
    const preflight = b.$('[data-testid="preflight"]');
    await preflight.waitForDisplayed({ timeout: 60_000 });
    // 200 traces of 5 observations each and 3 with media (2 observations each); the empty
    // target holds none of them.
    assert.deepEqual(await rowCells(preflight.$('tr[data-entity="traces"]')), ["203", "0"]);
    assert.deepEqual(await rowCells(preflight.$('tr[data-entity="observations"]')), ["1006", "0"]);
    await app.screenshot("workflow-11-plan-preflight");

    // A dry run reads and checks everything and writes nothing.
    await b.$('[data-testid="dry-run"]').click();
    await b.$('[data-testid="run-progress"]').waitForDisplayed({ timeout: 30_000 });
    assert.equal(await waitForPhase(b, ["dryRun", "failed"], 120_000), "dryRun");
    assert.equal(await cell(b, "traces", "written"), 203, "would write");
    await b.$('[data-testid="dry-run-note"]').waitForDisplayed();
    await app.screenshot("workflow-12-dry-run");
    await b.$("button=Plan another migration").click();
    await b.$('[data-testid="run-preflight"]').click();
    await b.$('[data-testid="preflight"]').waitForDisplayed({ timeout: 60_000 });
    // The dry run wrote nothing: the target still holds none of the traces.
    assert.deepEqual(await rowCells(b.$('[data-testid="preflight"] tr[data-entity="traces"]')), ["203", "0"]);

    // The sample's LLM connection needs a key (llm_media.test.mjs follows it into the target).
    await typeLlmKeys(b);
    await b.$('[data-testid="start-run"]').click();
    await b.$('[data-testid="run-progress"]').waitForDisplayed({ timeout: 30_000 });
    await app.screenshot("workflow-12-progress");
    const phase = await waitForPhase(b, ["completed", "completedWithFailures", "failed"], 120_000);
    assert.equal(phase, "completed", await b.$('[data-testid="run-progress"]').getText());
    assert.equal(await cell(b, "traces", "written"), 203);
    assert.equal(await cell(b, "traces", "failed"), 0);
    assert.equal(await cell(b, "observations", "written"), 1006);
    // The app's own steps ticked themselves.
    assert.equal(await b.$('[data-testid="checklist"] input[data-step="import"]').isSelected(), true);
    await b.$('[data-testid="checklist"] input[data-step="notify"]').click();
    await app.screenshot("workflow-13-run-finished");

    // Validation: clean, with the per-entity table.
    await b.$('[data-testid="validate"]').click();
    const verdict = b.$('[data-testid="validation-verdict"]');
    await verdict.waitForDisplayed({ timeout: 180_000 });
    assert.equal(await verdict.getAttribute("data-clean"), "true", await verdict.getText());
    // source, target, compared, missing, extra, differing, conflicts
    const tracesRow = b.$('[data-testid="validation"] tr[data-entity="traces"]');
    assert.deepEqual(await rowCells(tracesRow), ["203", "203", "203", "0", "0", "0", "0"]);
    await b.waitUntil(() => b.$('[data-testid="checklist"] input[data-step="verify-counts"]').isSelected(), { timeout: 10_000 });
    await app.screenshot("workflow-14-validation-clean");

    // Rollback: preview, the typed project name, verification.
    await b.$('[data-testid="rollback-preview"]').click();
    const plan = b.$('[data-testid="rollback-plan"]');
    await plan.waitForDisplayed({ timeout: 60_000 });
    assert.match(await plan.getText(), /Will delete:.*203 traces/s);
    const go = b.$('[data-testid="rollback-run"]');
    await b.$('[data-testid="rollback-confirm"]').setValue("Sample target");
    assert.equal(await go.isEnabled(), false);
    await b.$('[data-testid="rollback-confirm"]').setValue("Sample target project");
    assert.equal(await go.isEnabled(), true);
    await app.screenshot("workflow-15-rollback-preview");
    await go.click();
    const result = b.$('[data-testid="rollback-result"]');
    await result.waitForDisplayed({ timeout: 180_000 });
    assert.equal(await result.getAttribute("data-state"), "completed", await result.getText());
    assert.match(await result.getText(), /every removed object verified gone/);
    await app.screenshot("workflow-16-rollback-verified");

    await b.$('button[data-screen="runs"]').click();
    const row = b.$('[data-testid="runs-table"] tr[data-phase="completed"]');
    await row.waitForDisplayed({ timeout: 15_000 });
    assert.match(await row.getText(), /sample/);
    assert.equal(await row.$('td[data-col="validation"]').getText(), "clean");
    await app.screenshot("workflow-17-runs");
    await row.$("button=Open").click();
    await b.$('[data-testid="run-progress"]').waitForDisplayed();
    // The manual tick was saved with the run.
    await b.waitUntil(() => b.$('[data-testid="checklist"] input[data-step="notify"]').isSelected(), { timeout: 10_000 });

    // The smallest window the app allows still fits without sideways scrolling.
    await b.setWindowSize(1024, 700);
    await b.$('button[data-screen="newMigration"]').click();
    await b.$('[data-scenario="cloud-to-self-hosted"]').waitForDisplayed();
    const overflow = await b.execute(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than a 1024px window`);
    await app.screenshot("workflow-18-new-migration-1024x700");
  } finally {
    await app.stop();
  }

  // After a restart the sample servers and their data are gone: the run stays in the history,
  // and working on it again says why it cannot.
  const again = await AppSession.start({ configDir });
  try {
    const b = again.browser;
    await b.$('button[data-screen="runs"]').click();
    const row = b.$('[data-testid="runs-table"] tr[data-phase="completed"]');
    await row.waitForDisplayed({ timeout: 15_000 });
    await row.$("button=Open").click();
    await b.$('[data-testid="validate"]').click();
    const error = b.$('[data-testid="validation"] [role="alert"]');
    await error.waitForDisplayed({ timeout: 30_000 });
    assert.match(await error.getText(), /sample servers of an earlier session/);
    await again.screenshot("workflow-19-sample-run-after-restart");
  } finally {
    await again.stop();
  }
});

test("a wrong secret shows the plain-language reason, not a code", async () => {
  const source = await startSandbox(["--public-key", "pk-lf-e2e", "--secret-key", "sk-lf-right", "--traces", "5"]);
  const configDir = await newConfigDir();
  const app = await AppSession.start({ configDir });
  try {
    const b = app.browser;
    await createConnection(b, { name: "Wrong key", url: source.url, publicKey: "pk-lf-e2e", secret: "sk-lf-wrong" });
    await chooseScenario(b, "export-archive");
    await b.$('[data-testid="test-source"]').click();
    const error = b.$('[data-testid="check-source"] [data-testid="connection-error"]');
    await error.waitForDisplayed({ timeout: 30_000 });
    const text = await error.getText();
    assert.match(text, /keys were rejected/);
    assert.match(text, /Check the public and secret key/);
    assert.doesNotMatch(text, /sk-lf-wrong/);
    await app.screenshot("workflow-20-wrong-secret");
  } finally {
    await app.stop();
    await source.stop();
  }
});

test("a run killed with the app shows up under Runs as interrupted and resumes to an exact copy", async () => {
  const { source, target } = await largeSandboxPair();
  const configDir = await newConfigDir();
  try {
    let app = await AppSession.start({ configDir });
    try {
      const b = app.browser;
      await startLargeCopy(b, source, target);
      // A reloaded window finds the run again and follows it on.
      const runId = await b.$('[data-testid="run-progress"] h2 code').getText();
      await b.refresh();
      await b.$('[data-testid="run-progress"]').waitForDisplayed({ timeout: 30_000 });
      assert.equal(await b.$('[data-testid="run-progress"] h2 code').getText(), runId);
      let before;
      await b.waitUntil(async () => (before = await cell(b, "observations", "written")) >= 0, {
        timeout: 30_000,
        timeoutMsg: "the reloaded window shows no progress",
      });
      await b.waitUntil(async () => (await cell(b, "observations", "written")) > before, {
        timeout: 60_000,
        timeoutMsg: "the reloaded window did not see the run go on",
      });
      await app.screenshot("workflow-21-before-kill");
    } catch (e) {
      await app.stop();
      throw e;
    }
    await killApp(app, configDir);
    await target.setFaults({ rate: 0 });

    app = await AppSession.start({ configDir });
    try {
      const b = app.browser;
      await b.$('button[data-screen="runs"]').click();
      const row = b.$('[data-testid="runs-table"] tr[data-phase="interrupted"]');
      await row.waitForDisplayed({ timeout: 15_000 });
      await app.screenshot("workflow-22-runs-interrupted");
      await row.$('[data-testid="resume"]').click();
      await b.$('[data-testid="run-progress"]').waitForDisplayed({ timeout: 30_000 });
      const phase = await waitForPhase(b, ["completed", "completedWithFailures", "failed"], 300_000);
      assert.equal(phase, "completed", await b.$('[data-testid="run-progress"]').getText());
      await app.screenshot("workflow-23-resumed-finished");
    } finally {
      await app.stop();
    }
    // Nothing lost, nothing written twice, and a sample of each kind field by field.
    await assertSameObjects(assert, source, target, ["observations", "traces", "scores", "prompts", "dataset_items", "comments"]);
  } finally {
    await Promise.all([source.stop(), target.stop()]);
  }
});

test("a cancelled copy is rolled back: what it wrote so far is deleted and verified gone", async () => {
  const { source, target } = await largeSandboxPair();
  const configDir = await newConfigDir();
  try {
    const app = await AppSession.start({ configDir });
    try {
      const b = app.browser;
      await startLargeCopy(b, source, target);
      await b.$('[data-testid="cancel"]').click();
      assert.equal(await waitForPhase(b, ["cancelled", "completed", "failed"], 120_000), "cancelled");
      const written = await target.counts();
      assert.ok(written.observations > 0, "the cancelled run wrote something to roll back");
      await target.setFaults({ rate: 0 });

      await b.$('[data-testid="rollback-preview"]').click();
      await b.$('[data-testid="rollback-plan"]').waitForDisplayed({ timeout: 60_000 });
      // The sandbox names its project "Sandbox project".
      await b.$('[data-testid="rollback-confirm"]').setValue("Sandbox project");
      await b.$('[data-testid="rollback-run"]').click();
      const result = b.$('[data-testid="rollback-result"]');
      await result.waitForDisplayed({ timeout: 240_000 });
      await app.screenshot("workflow-24-cancelled-rolled-back");
      assert.equal(await result.getAttribute("data-state"), "completed", await result.getText());
      // The runs list says which run was rolled back.
      await b.$('button[data-screen="runs"]').click();
      const cellOf = b.$('[data-testid="runs-table"] tr[data-phase="cancelled"] td[data-col="rollback"]');
      await cellOf.waitForDisplayed({ timeout: 15_000 });
      assert.equal(await cellOf.getAttribute("data-state"), "completed");
      assert.equal(await cellOf.getText(), "rolled back");
    } finally {
      await app.stop();
    }
    const after = await target.counts();
    for (const entity of ["observations", "traces", "scores", "dataset_items"]) {
      assert.equal(after[entity] ?? 0, 0, `${entity} left in the target: ${after[entity]}`);
    }
  } finally {
    await Promise.all([source.stop(), target.stop()]);
  }
});
