// The "SDK version upgrade" scenario in the real window: a fixture application's folder typed
// in (WebDriver cannot drive the native folder dialog), the report grouped by severity with
// file and line, "Check again" against another target, and no secret from the app's .env on
// screen. scripts/test.sh runs this under Xvfb.
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

import { AppSession, repoRoot } from "../lib/app.mjs";

const fixture = (name) => path.join(repoRoot, "tests/fixtures/apps", name);

async function places(b, severity) {
  const out = [];
  for (const li of await b.$$(`[data-testid="findings-${severity}"] [data-testid="finding"]`)) {
    out.push(await li.getAttribute("data-place"));
  }
  return out.sort();
}

test("SDK version upgrade: a JS v3 app is blocked on Langfuse v4 with each finding's file, line and guide; checked again for v2 it is ready", async () => {
  const configDir = await mkdtemp(path.join(tmpdir(), "lfm-e2e-"));
  const app = await AppSession.start({ configDir });
  try {
    const b = app.browser;
    await b.$('button[data-screen="newMigration"]').click();
    const card = b.$('[data-scenario="sdk-upgrade"]');
    await card.waitForDisplayed({ timeout: 15_000 });
    await card.$("button=Choose").click();
    await b.$('[data-testid="app-check"]').waitForDisplayed();
    await b.$('[data-testid="app-path"]').setValue(fixture("js-v3-trace"));
    const version = b.$('[data-testid="target-version"]');
    await version.clearValue();
    await version.setValue("4.59.0");
    await b.$('[data-testid="run-check"]').click();

    const verdict = b.$('[data-testid="app-verdict"]');
    await verdict.waitForDisplayed({ timeout: 30_000 });
    assert.equal(await verdict.getAttribute("data-verdict"), "blocked");
    assert.deepEqual(await places(b, "blocker"), ["index.ts:1", "index.ts:3", "index.ts:6", "package.json:6"]);
    assert.deepEqual(await places(b, "warning"), [".env:1", "index.ts:9"]);
    const trace = b.$('[data-testid="finding"][data-place="index.ts:6"]');
    assert.match(await trace.getText(), /startActiveObservation/);
    assert.equal(
      await trace.$("a").getAttribute("href"),
      "https://langfuse.com/docs/observability/sdk/upgrade-path/js-v3-to-v4",
    );
    assert.match(await b.$('[data-testid="app-sdks"]').getText(), /langfuse 3\.38\.4 \(package\.json, locked in package-lock\.json\)/);
    await app.screenshot("readiness-10-blocked");
    assert.equal((await b.getPageSource()).includes("FIXTURE-SECRET"), false, "a secret from .env is on screen");

    // The user picks another target and checks again.
    await version.clearValue();
    await version.setValue("v2");
    const again = b.$('[data-testid="run-check"]');
    assert.equal(await again.getText(), "Check again");
    await again.click();
    await b.waitUntil(async () => (await verdict.getAttribute("data-verdict")) === "ready", {
      timeout: 30_000,
      timeoutMsg: "the second check did not report ready for v2",
    });
    assert.deepEqual(await places(b, "blocker"), []);

    // A folder that does not exist: one plain sentence.
    await b.$('[data-testid="app-path"]').setValue("/no/such/app");
    await again.click();
    const error = b.$('[data-testid="app-check-error"]');
    await error.waitForDisplayed({ timeout: 15_000 });
    assert.equal(await error.getText(), "the folder /no/such/app does not exist");
    await app.screenshot("readiness-20-missing-folder");
  } finally {
    await app.stop();
  }
});
