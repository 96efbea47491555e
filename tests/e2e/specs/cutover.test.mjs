// The "Zero-downtime cutover" scenario in the real window: a live sync between two sandbox
// servers while a writer keeps adding traces to the source, in step; the readiness check of a
// fixture application's folder (a copy in a temp dir) against the target; the switch of its .env;
// Finish, whose validation names a trace that arrived later than the lookback as missing, and
// "Copy what is missing" that copies it and validates clean; and the switch rolled back (the .env
// back byte for byte).
// scripts/test.sh runs this under Xvfb with a real Secret Service.
import assert from "node:assert/strict";
import { cp, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

import { AppSession, repoRoot, startSandbox } from "../lib/app.mjs";
import { planServerMove, sandboxKeys } from "../lib/steps.mjs";

const auth = "Basic " + Buffer.from("pk-lf-e2e:sk-lf-e2e-secret").toString("base64");

/** Writes one trace with one ended span to a v3 server through the SDK-shaped ingestion endpoint. */
async function writeTrace(url, n, prefix = "cutover-live", now = new Date()) {
  const ended = new Date(now.getTime() + 50);
  const traceId = `${prefix}-${n}`;
  const batch = [
    {
      id: `ev-t-${traceId}`,
      type: "trace-create",
      timestamp: now.toISOString(),
      body: { id: traceId, name: "live", timestamp: now.toISOString(), input: { n }, release: "v41", environment: "production" },
    },
    {
      id: `ev-s-${traceId}`,
      type: "span-create",
      timestamp: now.toISOString(),
      body: { id: `${traceId}-span`, traceId, name: "work", startTime: now.toISOString(), endTime: ended.toISOString(), environment: "production" },
    },
  ];
  const r = await fetch(`${url}/api/public/ingestion`, {
    method: "POST",
    headers: { authorization: auth, "content-type": "application/json" },
    body: JSON.stringify({ batch }),
  });
  if (r.status !== 207 && !r.ok) throw new Error(`the writer's ingestion failed: ${r.status} ${await r.text()}`);
}

const t0 = Date.now();
/** Marks the test's progress in its output (a wait that hangs then shows where). */
const step = (what) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);

async function standing(b) {
  return b.$('[data-testid="sync-standing"]').getAttribute("data-standing");
}

async function waitInSync(b, timeout, what) {
  await b.waitUntil(async () => (await standing(b)) === "inSync", {
    timeout,
    timeoutMsg: `the sync did not get in step ${what} in ${timeout / 1000} s (it says: ${await b.$('[data-testid="sync-standing"]').getText().catch(() => "nothing")})`,
  });
}

test("zero-downtime cutover: the sync gets in step while the source keeps receiving, the application's .env is switched after its readiness verdict, Finish names a trace later than the lookback missing and Copy what is missing makes the validation clean, and the switch rolls back byte for byte", async () => {
  const keys = sandboxKeys;
  // v3 on both sides: the writer uses the ingestion endpoint as the v3 SDKs do.
  const source = await startSandbox([...keys, "--profile", "v3", "--traces", "30", "--observations-per-trace", "3"]);
  const target = await startSandbox([...keys, "--profile", "v3"]);
  const configDir = await mkdtemp(path.join(tmpdir(), "lfm-e2e-"));
  const appDir = await mkdtemp(path.join(tmpdir(), "lfm-e2e-app-"));
  await cp(path.join(repoRoot, "tests/fixtures/apps/js-v3-trace"), appDir, { recursive: true });
  const envBefore = await readFile(path.join(appDir, ".env"));
  const app = await AppSession.start({ configDir });
  let writer;
  let writing = false;
  try {
    const b = app.browser;
    await planServerMove(b, source, target, "zero-downtime");
    const settings = b.$('[data-testid="sync-settings"]');
    await settings.waitForDisplayed();
    // The v3 generation's defaults are shown; short ones keep the test quick.
    await b.waitUntil(async () => /Defaults: poll 30 s, settle 30 s, lookback 15 min/.test(await b.$('[data-testid="sync-defaults"]').getText()), {
      timeout: 15_000,
      timeoutMsg: "the v3 defaults were not shown",
    });
    await b.$('[data-testid="sync-poll"]').setValue("1");
    await b.$('[data-testid="sync-settle"]').setValue("1");
    await b.$('[data-testid="sync-lookback"]').setValue("120");
    await b.$('[data-testid="start-run"]').click();
    await b.$('[data-testid="sync-cutover"]').waitForDisplayed({ timeout: 60_000 });
    assert.match(await b.$('[data-testid="sync-timing"]').getText(), /poll 1 s, settle 1 s, lookback 2 min/);
    step("copying the history");
    assert.match(await b.$('[data-testid="sync-share"]').getText(), /No side is on a Langfuse Cloud plan/);
    await waitInSync(b, 180_000, "after the history");

    // The application keeps writing to the source while the sync follows.
    let n = 0;
    writing = true;
    writer = (async () => {
      while (writing) {
        await writeTrace(source.url, n++);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    await new Promise((r) => setTimeout(r, 4_000));
    await waitInSync(b, 120_000, "while the source receives");
    await app.screenshot("cutover-10-in-sync");

    // Readiness of the application's folder against the target, then the switch.
    await b.$('[data-testid="switch-folder"]').setValue(appDir);
    await b.$('[data-testid="switch-check"]').click();
    const verdict = b.$('[data-testid="switch-verdict"]');
    await verdict.waitForDisplayed({ timeout: 30_000 });
    const v = await verdict.getAttribute("data-verdict");
    assert.ok(["ready", "ready_with_warnings", "blocked"].includes(v), `verdict ${v}`);
    assert.equal((await b.getPageSource()).includes("FIXTURE-SECRET"), false, "a secret from the app's .env is on screen");
    if (v === "blocked") await b.$('[data-testid="accept-blocked"]').click();
    await app.screenshot("cutover-20-verdict");
    step("waiting for the sync to be in step before the switch");
    await waitInSync(b, 120_000, "before the switch");
    step("switching the application");
    await b.$('[data-testid="switch-application"]').click();
    await b.$('[data-testid="switched"]').waitForDisplayed({ timeout: 30_000 });
    const envAfter = await readFile(path.join(appDir, ".env"), "utf8");
    // The JS v3 SDK reads LANGFUSE_BASEURL first: it must name the target too.
    assert.match(envAfter, new RegExp(`^LANGFUSE_BASEURL=${target.url}$`, "m"));
    assert.match(envAfter, /sk-lf-e2e-secret/);

    // Instances still on the old settings keep writing to the source for a while: the drain
    // names them; the application, switched, writes to the target.
    step("drain");
    const drain = b.$('[data-testid="drain"]');
    await b.waitUntil(async () => Number(await drain.getAttribute("data-senders")) >= 1, {
      timeout: 60_000,
      timeoutMsg: "the drain did not show the services still writing to the source",
    });
    // One line per sender, named by what its objects carry (legacy ingestion keeps no SDK name).
    const senders = Number(await drain.getAttribute("data-senders"));
    assert.match(await drain.getText(), new RegExp(`Still receiving from ${senders} services?`));
    const lines = await b.$$('[data-testid="senders"] li');
    assert.equal(lines.length, senders);
    assert.match(await b.$('[data-testid="senders"]').getText(), /release v41, environment production/);
    await writeTrace(target.url, 0, "app-after-switch");
    await writeTrace(target.url, 1, "app-after-switch");
    await app.screenshot("cutover-25-drain");
    writing = false;
    await writer;
    writer = undefined;
    // Written now but dated ten minutes back: far behind the watermark less the 2 min lookback,
    // so no pass reads it; Finish's validation of the whole window names it missing.
    await writeTrace(source.url, 0, "cutover-late", new Date(Date.now() - 600_000));

    // Finish: last pass, validation of the whole window, cut over.
    step("finish");
    await b.$('[data-testid="finish"]').click();
    const validation = b.$('[data-testid="finish-validation"]');
    await validation.waitForDisplayed({ timeout: 300_000 });
    assert.equal(await validation.getAttribute("data-clean"), "false", await validation.getText());
    assert.match(await validation.getText(), /traces: 1 missing/);
    assert.equal(await b.$('[data-testid="run-progress"]').getAttribute("data-phase"), "completed");
    await app.screenshot("cutover-30-finished");
    // The late trace and its span: copied through the run's journal, then validated again.
    step("copy what is missing");
    const copyMissing = b.$('[data-testid="copy-missing"]');
    await copyMissing.waitForDisplayed({ timeout: 30_000 });
    assert.equal(await copyMissing.getText(), "Copy what is missing (2)");
    await copyMissing.click();
    const copied = b.$('[data-testid="copy-missing-result"]');
    const failed = b.$('[data-testid="cutover-error"]');
    await b.waitUntil(async () => (await copied.isExisting()) || (await failed.isExisting()), {
      timeout: 300_000,
      timeoutMsg: `the copy of what is missing did not end (it says: ${await b.$('[data-testid="copy-missing-step"]').getText().catch(() => "nothing")})`,
    });
    assert.equal(await failed.isExisting(), false, await failed.getText().catch(() => ""));
    assert.equal(await copied.getAttribute("data-clean"), "true", await copied.getText());
    assert.equal(await copyMissing.isExisting(), false, "nothing is missing any more");
    await app.screenshot("cutover-35-copied-missing");
    const fromSource = (rows) => rows.filter((r) => !r.id.startsWith("app-after-switch"));
    const sourceDump = await source.dump();
    const targetDump = await target.dump();
    assert.equal(fromSource(targetDump.traces).length, sourceDump.traces.length, "the target holds every source trace");
    assert.equal(targetDump.traces.filter((t) => t.id.startsWith("cutover-live-")).length, n, "every trace the writer sent is in the target once");
    // The checklist ticked itself.
    for (const key of ["export", "import", "update-config", "verify-counts", "monitor"]) {
      // The checklist re-reads the run after the cut-over; on a loaded machine that lands later.
      const box = b.$(`[data-testid="checklist"] input[data-step="${key}"]`);
      await b.waitUntil(() => box.isSelected(), { timeout: 30_000, timeoutMsg: `checklist step ${key} is not ticked` });
    }

    // Roll back the switch: the .env is back byte for byte, and what the application wrote to
    // the target since the switch is copied back to the source by a run of its own.
    step("rolling back the switch");
    await b.$('[data-testid="roll-back-switch"]').click();
    await b.$('[data-testid="switch-restored"]').waitForDisplayed({ timeout: 30_000 });
    assert.deepEqual(await readFile(path.join(appDir, ".env")), envBefore);
    assert.equal(await b.$('[data-testid="switched"]').isExisting(), false, "the card still says the application points at the target");
    const copyBack = b.$('[data-testid="copy-back"]');
    await b.waitUntil(async () => ["completed", "completedWithFailures", "failed"].includes(await copyBack.getAttribute("data-phase")), {
      timeout: 120_000,
      timeoutMsg: "the copy-back did not finish",
    });
    assert.equal(await copyBack.getAttribute("data-phase"), "completed", await copyBack.getText());
    const back = (await source.dump()).traces.filter((t) => t.id.startsWith("app-after-switch")).map((t) => t.id).sort();
    assert.deepEqual(back, ["app-after-switch-0", "app-after-switch-1"]);
    await app.screenshot("cutover-40-rolled-back");
  } catch (e) {
    // What the app said (its log goes through tauri-driver's output) helps more than the wait's message.
    console.log(app.log().slice(-8000));
    throw e;
  } finally {
    writing = false;
    if (writer) await writer.catch(() => {});
    await app.stop();
    await source.stop();
    await target.stop();
  }
});
