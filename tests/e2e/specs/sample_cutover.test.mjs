// The zero-downtime cutover with "Try with sample data" only, in the real window: no server and
// no application of one's own. The sample application (a folder in the app's data dir whose
// .env points at the sample source, and a writer inside the app that sends a trace every 2 s to
// whatever that .env names) is what gets switched: the sync gets in step, Switch points the
// sample application's .env at the sample target, the source goes quiet, Finish validates clean,
// and rolling the switch back puts the .env back byte for byte and copies what the application
// wrote to the target back to the source, which validates clean too.
// scripts/test.sh runs this under Xvfb with a real Secret Service.
import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

import { AppSession } from "../lib/app.mjs";
import { sampleUrls, trySampleData, typeLlmKeys } from "../lib/steps.mjs";

const t0 = Date.now();
/** Marks the test's progress in its output (a wait that hangs then shows where). */
const step = (what) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);

/** Ids of the traces the sample application wrote to the sample server at `url`. */
async function appTraces(url) {
  const r = await fetch(`${url}/_sandbox/dump`);
  if (!r.ok) throw new Error(`reading the sample server's dump failed: ${r.status}`);
  return (await r.json()).traces
    .filter((t) => t.name === "sample-app request")
    .map((t) => t.id)
    .sort();
}

async function waitInSync(b, timeout, what) {
  const standing = b.$('[data-testid="sync-standing"]');
  await b.waitUntil(async () => (await standing.getAttribute("data-standing")) === "inSync", {
    timeout,
    timeoutMsg: `the sync did not get in step ${what} in ${timeout / 1000} s (it says: ${await standing.getText().catch(() => "nothing")})`,
  });
}

test("sample data only: the sample application's .env is switched by the cutover card, the source goes quiet, Finish validates clean, and rolling the switch back restores the .env byte for byte and copies back what it wrote, validated clean", async () => {
  const configDir = await mkdtemp(path.join(tmpdir(), "lfm-e2e-"));
  const appEnv = path.join(configDir, "sample-app", ".env");
  const app = await AppSession.start({ configDir });
  try {
    const b = app.browser;
    await trySampleData(b);
    const urls = await sampleUrls(b);

    // The sample application's .env points at the sample source.
    const envBefore = await readFile(appEnv);
    assert.match(envBefore.toString(), new RegExp(`^LANGFUSE_HOST=${urls.source}$`, "m"));

    await b.$('[data-scenario="zero-downtime"]').$("button=Choose").click();
    await b.$('[data-testid="pick-source"]').waitForDisplayed();
    assert.equal(await b.$('[data-testid="pick-source"]').getValue(), "sample-source");
    assert.equal(await b.$('[data-testid="pick-target"]').getValue(), "sample-target");
    await b.$('[data-testid="run-preflight"]').click();
    await b.$('[data-testid="preflight"]').waitForDisplayed({ timeout: 120_000 });
    await typeLlmKeys(b);
    await b.$('[data-testid="sync-settings"]').waitForDisplayed({ timeout: 30_000 });
    // The sample servers' own short defaults, not a v3 server's.
    await b.waitUntil(async () => /Defaults: poll 2 s, settle 3 s, lookback 2 min/.test(await b.$('[data-testid="sync-defaults"]').getText()), {
      timeout: 30_000,
      timeoutMsg: "the sample servers' sync defaults were not shown",
    });
    // Short timings keep the test quick.
    await b.$('[data-testid="sync-poll"]').setValue("1");
    await b.$('[data-testid="sync-settle"]').setValue("1");
    await b.$('[data-testid="sync-lookback"]').setValue("120");
    await b.$('[data-testid="start-run"]').click();
    await b.$('[data-testid="sync-cutover"]').waitForDisplayed({ timeout: 60_000 });
    // The sync started the sample application: it writes to the sample source.
    await b.waitUntil(async () => (await appTraces(urls.source)).length > 0, {
      timeout: 30_000,
      timeoutMsg: "the sample application wrote nothing to the sample source",
    });
    step("copying the history");
    await waitInSync(b, 240_000, "after the history");

    // Sample mode offers the sample application's folder and says what it is.
    const folder = b.$('[data-testid="switch-folder"]');
    await b.waitUntil(async () => (await folder.getValue()) === path.dirname(appEnv), {
      timeout: 30_000,
      timeoutMsg: `the card does not offer the sample application's folder (it holds "${await folder.getValue()}")`,
    });
    assert.match(await b.$('[data-testid="sample-app"]').getText(), /the only one a sample run can switch/);
    await b.$('[data-testid="switch-check"]').click();
    const verdict = b.$('[data-testid="switch-verdict"]');
    await verdict.waitForDisplayed({ timeout: 60_000 });
    const v = await verdict.getAttribute("data-verdict");
    assert.ok(["ready", "ready_with_warnings"].includes(v), `verdict ${v}: ${await verdict.getText()}`);
    await app.screenshot("sample-cutover-10-sample-app");
    step("switching the sample application");
    await waitInSync(b, 180_000, "before the switch");
    await b.$('[data-testid="switch-application"]').click();
    await b.$('[data-testid="switched"]').waitForDisplayed({ timeout: 60_000 });
    assert.match(await readFile(appEnv, "utf8"), new RegExp(`^LANGFUSE_HOST=${urls.target}$`, "m"));
    assert.equal(await b.$('[data-testid="cutover-error"]').isExisting(), false);

    // Drain: the application writes to the target now, and the source goes quiet.
    step("drain");
    await b.$('[data-testid="drain"]').waitForDisplayed({ timeout: 30_000 });
    await b.waitUntil(async () => (await appTraces(urls.target)).length >= 2, {
      timeout: 60_000,
      timeoutMsg: "the switched sample application wrote nothing to the target",
    });
    const quietFrom = await appTraces(urls.source);
    await new Promise((r) => setTimeout(r, 5_000));
    assert.deepEqual(await appTraces(urls.source), quietFrom, "the source still receives from the sample application");
    // What the sync saw arrive after the switch is named by what the application sends.
    if (Number(await b.$('[data-testid="drain"]').getAttribute("data-senders")) > 0) {
      assert.match(await b.$('[data-testid="senders"]').getText(), /langfuse-migrator-sample-app .*sample-app, release sample-app-1, environment sample/);
    }
    await app.screenshot("sample-cutover-20-drain");

    step("finish");
    await b.$('[data-testid="finish"]').click();
    const validation = b.$('[data-testid="finish-validation"]');
    await validation.waitForDisplayed({ timeout: 300_000 });
    assert.equal(await validation.getAttribute("data-clean"), "true", await validation.getText());
    assert.equal(await b.$('[data-testid="run-progress"]').getAttribute("data-phase"), "completed");
    await app.screenshot("sample-cutover-30-finished");

    step("rolling back the switch");
    await b.$('[data-testid="roll-back-switch"]').click();
    await b.$('[data-testid="switch-restored"]').waitForDisplayed({ timeout: 60_000 });
    assert.deepEqual(await readFile(appEnv), envBefore, "the .env is not back byte for byte");
    const copyBack = b.$('[data-testid="copy-back"]');
    await b.waitUntil(async () => ["completed", "completedWithFailures", "failed"].includes(await copyBack.getAttribute("data-phase")), {
      timeout: 180_000,
      timeoutMsg: "the copy-back did not finish",
    });
    assert.equal(await copyBack.getAttribute("data-phase"), "completed", await copyBack.getText());
    const copyBackId = await copyBack.getAttribute("data-run-id");
    const inSource = await appTraces(urls.source);
    for (const id of await appTraces(urls.target)) assert.ok(inSource.includes(id), `${id} was not copied back to the source`);
    await app.screenshot("sample-cutover-40-rolled-back");

    // The copy-back is a run of its own: its validation is clean.
    step("validating the copy-back");
    await b.$('button[data-screen="runs"]').click();
    const row = b.$(`[data-testid="runs-table"] tr[data-run-id="${copyBackId}"]`);
    await row.waitForDisplayed({ timeout: 30_000 });
    await row.$("button=Open").click();
    await b.$('[data-testid="validate"]').waitForDisplayed({ timeout: 30_000 });
    await b.$('[data-testid="validate"]').click();
    const copyBackVerdict = b.$('[data-testid="validation-verdict"]');
    await copyBackVerdict.waitForDisplayed({ timeout: 180_000 });
    assert.equal(await copyBackVerdict.getAttribute("data-clean"), "true", await copyBackVerdict.getText());
    await app.screenshot("sample-cutover-50-copy-back-clean");
  } catch (e) {
    console.log(app.log().slice(-8000));
    throw e;
  } finally {
    await app.stop();
  }
});
