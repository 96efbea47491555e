// Sample data with an LLM connection and multimodal traces, in the real window: the key typed in
// the plan creates the connection in the target with that key and appears nowhere after (not in
// the page, not in the run folder); the media arrive, validation shows their row clean, and every
// reference in the target resolves to stored bytes with the source's hashes.
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

import { AppSession, filesContaining } from "../lib/app.mjs";
import { cell, rowCells, sampleUrls, waitForPhase } from "../lib/steps.mjs";

const get = async (url) => {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
};

test("sample data: a typed LLM key creates the connection with it and stays out of page and run folder; media arrive and resolve", async () => {
  const configDir = await mkdtemp(path.join(tmpdir(), "lfm-e2e-"));
  const app = await AppSession.start({ configDir });
  try {
    const b = app.browser;
    await b.$('[data-testid="first-start-offer"]').$("button=Try with sample data").click();
    const ready = b.$('[data-testid="sample-offer"]');
    await b.waitUntil(async () => (await ready.getText()).includes("Sample data is ready"), { timeout: 60_000 });
    await b.$('[data-scenario="cloud-to-self-hosted"]').$("button=Choose").click();
    await b.$('[data-testid="run-preflight"]').waitForDisplayed();
    await b.$('[data-testid="run-preflight"]').click();
    const preflight = b.$('[data-testid="preflight"]');
    await preflight.waitForDisplayed({ timeout: 60_000 });

    // One row per source connection: provider and base URL, a password field or Skip.
    const row = b.$('[data-testid="llm-keys"] tr[data-provider="openai"]');
    await row.waitForDisplayed();
    assert.match(await b.$('[data-testid="llm-keys"]').getText(), /Langfuse never returns these keys/);
    assert.match(await b.$('[data-testid="llm-keys"]').getText(), /memory for this session only/);
    // The row says what happens without a key; no sentence elsewhere claims none was supplied.
    assert.doesNotMatch(await preflight.getText(), /No secret key was supplied/);
    assert.equal(await row.$('[data-testid="llm-key"]').getAttribute("type"), "password");
    // Undecided, a real run cannot start; a dry run can (it writes nothing).
    assert.equal(await b.$('[data-testid="start-run"]').isEnabled(), false);
    assert.match(await b.$('[data-testid="llm-undecided"]').getText(), /openai/);
    const key = `sk-e2e-typed-${Math.random().toString(36).slice(2, 12)}`;
    await row.$('[data-testid="llm-key"]').setValue(key);
    assert.equal(await b.$('[data-testid="start-run"]').isEnabled(), true);
    await app.screenshot("llm-media-01-key-row");

    await b.$('[data-testid="start-run"]').click();
    await b.$('[data-testid="run-progress"]').waitForDisplayed({ timeout: 30_000 });
    const phase = await waitForPhase(b, ["completed", "completedWithFailures", "failed"], 180_000);
    assert.equal(phase, "completed", await b.$('[data-testid="run-progress"]').getText());
    // The progress view shows the media that moved.
    assert.ok((await cell(b, "media", "written")) > 0, "media written");
    assert.equal(await cell(b, "media", "failed"), 0);

    const urls = await sampleUrls(b);
    const target = await get(`${urls.target}/_sandbox/dump`);
    const created = target.llm_connections.map((c) => [c.provider, c.secretKey]);
    assert.deepEqual(created, [["openai", key]], "the target holds the connection with the typed key");

    // Validation: the media row is clean.
    await b.$('[data-testid="validate"]').click();
    const verdict = b.$('[data-testid="validation-verdict"]');
    await verdict.waitForDisplayed({ timeout: 180_000 });
    assert.equal(await verdict.getAttribute("data-clean"), "true", await b.$('[data-testid="validation"]').getText());
    const media = await rowCells(b.$('[data-testid="validation"] tr[data-entity="media"]'));
    // source, target, compared, missing, extra, differing, conflicts
    assert.ok(Number(media[0]) > 0, `media were compared: ${media}`);
    assert.deepEqual(media.slice(3), ["0", "0", "0", "0"], `media row: ${media}`);
    await app.screenshot("llm-media-02-validation");

    // Every media reference in the target resolves to stored bytes, with the source's hashes.
    const sourceMedia = await get(`${urls.source}/_sandbox/media`);
    const targetMedia = await get(`${urls.target}/_sandbox/media`);
    const stored = new Map(targetMedia.filter((m) => m.storedBytes === m.contentLength).map((m) => [m.id, m.sha256]));
    const refs = [...JSON.stringify(target).matchAll(/@@@langfuseMedia:[^@]*?id=([^|@]+)[|@]/g)].map((m) => m[1]);
    assert.ok(refs.length > 0, "the copied traces reference media");
    for (const id of refs) assert.ok(stored.has(id), `media ${id} referenced in the target has no stored bytes there`);
    assert.deepEqual(
      [...new Set(stored.values())].sort(),
      [...new Set(sourceMedia.map((m) => m.sha256))].sort(),
      "the target's media bytes hash as the source's",
    );

    // The key is nowhere in the window or the run folder.
    assert.equal((await b.getPageSource()).includes(key), false, "the key is in the page");
    assert.deepEqual(await filesContaining(configDir, key), []);
  } finally {
    await app.stop();
  }
});
