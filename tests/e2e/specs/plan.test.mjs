// The plan and the screens around a run tell the truth: a pre-flight counts the plan that will
// run (any change clears it), an open end of the window is pinned when the plan is made, the
// `.env` cutover is offered only where it applies, the Runs list follows runs as they go, and a
// Langfuse Cloud side says which plan it is on.
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

import { AppSession, savedProfiles, startSandbox } from "../lib/app.mjs";
import { chooseScenario, createConnection, planServerMove, sandboxKeys, typeLlmKeys, waitForPhase } from "../lib/steps.mjs";

const newConfigDir = () => mkdtemp(path.join(tmpdir(), "lfm-e2e-"));

/** Sets an input's value the way typing does (date inputs take no keystrokes in WebKitGTK). */
async function setInput(b, selector, value) {
  await b.execute(
    (sel, v) => {
      const el = document.querySelector(sel);
      el.value = v;
      el.dispatchEvent(new Event("input", { bubbles: true }));
      el.dispatchEvent(new Event("change", { bubbles: true }));
    },
    selector,
    value,
  );
}

async function preflightShown(b) {
  await b.$('[data-testid="run-preflight"]').click();
  await b.$('[data-testid="preflight"]').waitForDisplayed({ timeout: 60_000 });
}

test("every change to the plan clears the pre-flight; an open window ends when the plan is made; no .env cutover for sample data", async () => {
  const configDir = await newConfigDir();
  const app = await AppSession.start({ configDir });
  try {
    const b = app.browser;
    await b.$('[data-testid="first-start-offer"]').waitForDisplayed({ timeout: 15_000 });
    await b.$('[data-testid="first-start-offer"]').$("button=Try with sample data").click();
    const ready = b.$('[data-testid="sample-offer"]');
    await b.waitUntil(async () => (await ready.getText()).includes("Sample data is ready"), { timeout: 60_000 });
    await b.$('[data-scenario="cloud-to-self-hosted"]').$("button=Choose").click();
    await b.$('[data-testid="pick-source"]').waitForDisplayed();

    // Each change, made after a pre-flight, must take that pre-flight (and Start) away.
    const changes = [
      ["first day", () => setInput(b, "#from-day", "2020-01-01")],
      ["last day", () => setInput(b, "#to-day", "2030-12-31")],
      ["last day emptied again", () => setInput(b, "#to-day", "")],
      ["environments", () => b.$("#environments").setValue("production")],
      ["trace names", () => b.$("#trace-names").setValue("checkout")],
      ["tags", () => b.$("#tags").setValue("beta")],
      ["existing-object policy", () => b.$('input[name="existing"][value="stop"]').click()],
      ["run tag", () => b.$('[data-testid="run-tag"]').click()],
      ["kinds of object", () => b.$('input[data-entity="scores"]').click()],
    ];
    for (const [what, change] of changes) {
      await preflightShown(b);
      await change();
      await b.waitUntil(async () => !(await b.$('[data-testid="start-run"]').isExisting()), {
        timeout: 5_000,
        timeoutMsg: `after changing the ${what}, Start still offers the old pre-flight`,
      });
      assert.equal(await b.$('[data-testid="dry-run"]').isExisting(), false, `dry run after changing the ${what}`);
      assert.equal(await b.$('[data-testid="preflight"]').isExisting(), false, `old counts shown after changing the ${what}`);
      assert.match(await b.$('[data-testid="preflight-stale"]').getText(), /changed/, what);
    }

    // Back to the whole window with an open end: the pre-flight names the moment it ends.
    await setInput(b, "#from-day", "");
    await setInput(b, "#environments", "");
    await setInput(b, "#trace-names", "");
    await setInput(b, "#tags", "");
    await b.$('input[name="existing"][value="skip"]').click();
    const before = Date.now();
    await preflightShown(b);
    const after = Date.now();
    const end = await b.$('[data-testid="preflight-window-end"]').getAttribute("datetime");
    const pinned = Date.parse(end);
    assert.ok(pinned >= before - 60_000 && pinned <= after + 60_000, `the window ends at ${end}, not when the plan was made`);
    await app.screenshot("plan-01-preflight-window");

    await typeLlmKeys(b);
    await b.$('[data-testid="start-run"]').click();
    await b.$('[data-testid="run-progress"]').waitForDisplayed({ timeout: 30_000 });
    assert.equal(await waitForPhase(b, ["completed", "completedWithFailures", "failed"], 120_000), "completed");
    // The validation section is there (the run is finished) ...
    await b.$('[data-testid="validation"]').waitForDisplayed({ timeout: 15_000 });
    // ... but no .env switch: the servers' keys are made up for this session, and the one
    // application that may point at them, the sample application, is switched from a live sync's card.
    assert.equal(await b.$('[data-testid="cutover"]').isExisting(), false, "the .env cutover is offered for a sample run");
    await app.screenshot("plan-02-sample-run-no-cutover");
  } finally {
    await app.stop();
  }
});

test("with no request limit the pre-flight makes up no speed, and the Runs list follows a run from running to completed without a click", async () => {
  const source = await startSandbox([...sandboxKeys, "--traces", "2000", "--observations-per-trace", "2"]);
  const target = await startSandbox(sandboxKeys);
  const configDir = await newConfigDir();
  try {
    const app = await AppSession.start({ configDir });
    try {
      const b = app.browser;
      await planServerMove(b, source, target);
      // No Cloud plan on either side: no request limit to estimate from, and no made-up speed.
      assert.match(await b.$('[data-testid="preflight"]').getText(), /depends on how fast the servers answer/);
      // Slow enough that the run is still going when the list first shows it.
      await target.setFaults({ rate: 1.0, kinds: ["slow"], slow_ms: 1500 });
      await b.$('[data-testid="start-run"]').click();
      await b.$('[data-testid="run-progress"]').waitForDisplayed({ timeout: 30_000 });
      const runId = await b.$('[data-testid="run-progress"] h2 code').getText();

      await b.$('button[data-screen="runs"]').click();
      const row = b.$(`[data-testid="runs-table"] tr[data-run-id="${runId}"]`);
      await row.waitForDisplayed({ timeout: 15_000 });
      assert.ok(["starting", "running"].includes(await row.getAttribute("data-phase")), await row.getText());
      await app.screenshot("plan-03-runs-running");

      await target.setFaults({ rate: 0 });
      await b.waitUntil(async () => (await row.getAttribute("data-phase")) === "completed", {
        timeout: 120_000,
        timeoutMsg: "the Runs list still shows the run as running after it finished",
      });
      await app.screenshot("plan-04-runs-completed");
    } finally {
      await app.stop();
    }
  } finally {
    await Promise.all([source.stop(), target.stop()]);
  }
});

test("a Cloud connection's plan is saved with it and preselected for its side of a plan, where it can be changed", async () => {
  const configDir = await newConfigDir();
  const app = await AppSession.start({ configDir });
  try {
    const b = app.browser;
    await b.$('button[data-screen="connections"]').click();
    await b.$("button=New connection").click();
    await b.$("#profile-name").setValue("Cloud EU");
    // EU Cloud is the default preset: the plan can be given.
    await b.$("#cloud-plan").selectByAttribute("value", "core");
    await b.$("#public-key").setValue("pk-lf-e2e-public");
    await b.$("#secret").setValue("sk-lf-e2e-secret");
    await app.screenshot("plan-05-cloud-plan-in-connection");
    await b.$("button=Save connection").click();
    await b.$('//tr[th[normalize-space()="Cloud EU"]]').waitForDisplayed({ timeout: 15_000 });
    const [saved] = await savedProfiles(configDir);
    assert.equal(saved.connection.cloudPlan, "core");

    await createConnection(b, { name: "Own server", url: "http://127.0.0.1:9", publicKey: "pk-lf-e2e", secret: "sk-lf-e2e-secret" });
    await chooseScenario(b, "cloud-to-self-hosted");
    await b.$('[data-testid="pick-source"]').selectByVisibleText("Cloud EU");
    await b.$('[data-testid="pick-target"]').selectByVisibleText("Own server");
    const plan = b.$('[data-testid="cloud-plan-source"]');
    await plan.waitForDisplayed({ timeout: 5_000 });
    assert.equal(await plan.getValue(), "core");
    // A self-hosted side has no Cloud plan to give.
    assert.equal(await b.$('[data-testid="cloud-plan-target"]').isExisting(), false);
    await plan.selectByAttribute("value", "pro");
    assert.equal(await plan.getValue(), "pro");
    await app.screenshot("plan-06-cloud-plan-in-plan");
  } finally {
    await app.stop();
  }
});
