// Steps the workflow specs share: reading the progress table, waiting for a run's phase,
// creating connections and choosing a scenario through the real window.
import { startSandbox } from "./app.mjs";

/** The number in a progress-table cell; throws while the cell is not there. */
export async function cell(browser, entity, column) {
  const text = await browser.$(`[data-testid="run-progress"] tr[data-entity="${entity}"] td[data-col="${column}"]`).getText();
  const digits = text.replace(/[^\d]/g, "");
  if (digits === "") throw new Error(`the ${column} cell of ${entity} holds no number: "${text}"`);
  return Number(digits);
}

/** The texts of a table row's data cells. */
export async function rowCells(row) {
  const out = [];
  // Thousands separators depend on the window's locale.
  for (const td of await row.$$("td")) out.push((await td.getText()).trim().replace(/(\d)[,.\u00a0\u202f](?=\d{3}\b)/g, "$1"));
  return out;
}

export async function waitForPhase(browser, phases, timeout) {
  const progress = browser.$('[data-testid="run-progress"]');
  await browser.waitUntil(async () => phases.includes(await progress.getAttribute("data-phase")), {
    timeout,
    timeoutMsg: `the run did not reach ${phases.join("/")} in ${timeout / 1000} s`,
  });
  return progress.getAttribute("data-phase");
}

export async function selectByValue(browser, selector, value) {
  await browser.$(selector).selectByAttribute("value", value);
}

/** Creates a self-hosted Langfuse connection through the Connections screen. */
export async function createConnection(b, { name, url, publicKey, secret }) {
  await b.$('button[data-screen="connections"]').click();
  await b.$("button=New connection").click();
  await b.$("#profile-name").setValue(name);
  await selectByValue(b, "#langfuse-host-preset", "custom");
  await b.$("#langfuse-host").setValue(url);
  await b.$("#public-key").setValue(publicKey);
  await b.$("#secret").setValue(secret);
  await b.$("button=Save connection").click();
  await b.$(`//tr[th[normalize-space()="${name}"]]`).waitForDisplayed({ timeout: 15_000 });
}

export async function chooseScenario(b, id) {
  await b.$('button[data-screen="newMigration"]').click();
  const card = b.$(`[data-scenario="${id}"]`);
  await card.waitForDisplayed({ timeout: 15_000 });
  await card.$("button=Choose").click();
  await b.$('[data-testid="pick-source"]').waitForDisplayed();
}

/** The made-up keys every test sandbox pair shares. */
export const sandboxKeys = ["--public-key", "pk-lf-e2e", "--secret-key", "sk-lf-e2e-secret", "--visibility-delay-ms", "0"];

/**
 * Saves two sandboxes as connections "Old server" and "New server" and plans a server move
 * between them (or the scenario `scenario`), up to a shown pre-flight.
 */
export async function planServerMove(b, source, target, scenario = "self-hosted-to-self-hosted") {
  await createConnection(b, { name: "Old server", url: source.url, publicKey: "pk-lf-e2e", secret: "sk-lf-e2e-secret" });
  await createConnection(b, { name: "New server", url: target.url, publicKey: "pk-lf-e2e", secret: "sk-lf-e2e-secret" });
  await chooseScenario(b, scenario);
  await b.$('[data-testid="pick-source"]').selectByVisibleText("Old server");
  await b.$('[data-testid="pick-target"]').selectByVisibleText("New server");
  // A v4 target takes dataset run items only as experiment attributes on a trace's root span,
  // one item per trace; the sample data links several items to one trace, which v4 cannot hold.
  await b.$('input[data-entity="dataset_run_items"]').click();
  await b.$('[data-testid="run-preflight"]').click();
  await b.$('[data-testid="preflight"]').waitForDisplayed({ timeout: 120_000 });
}

export { startSandbox };

/**
 * What a copied object must keep, per kind, written down here independently of the engine: its
 * key (the id, or what identifies an object whose id the server assigns) and the fields a user
 * relies on. `metadata` is compared without the run tag the copy adds.
 */
const copyRules = {
  traces: { key: (r) => r.id, fields: ["name", "timestamp", "input", "output", "metadata", "userId", "sessionId", "tags", "environment"] },
  observations: {
    key: (r) => r.id,
    fields: ["traceId", "type", "name", "startTime", "endTime", "input", "output", "metadata", "level", "parentObservationId", "model", "usageDetails", "environment"],
  },
  scores: { key: (r) => r.id, fields: ["traceId", "observationId", "name", "value", "stringValue", "dataType", "comment"] },
  dataset_items: { key: (r) => r.id, fields: ["input", "expectedOutput", "metadata", "status"] },
  // Prompt versions and comments get their ids from the server that stores them; a comment on
  // a prompt names the prompt's id on its own side, so it is keyed by the prompt's name and version.
  prompts: { key: (r) => `${r.name} v${r.version}`, fields: ["prompt", "type", "config", "labels"] },
  comments: {
    key: (r, side) => `${r.objectType} ${r.objectType === "PROMPT" ? (side.promptKeys.get(r.objectId) ?? r.objectId) : r.objectId} ${r.content}`,
    fields: ["objectType", "content"],
  },
};

/** A dump with what keys need from the rest of it (prompt ids → "name vN"). */
function side(dump) {
  return { ...dump, promptKeys: new Map((dump.prompts ?? []).map((p) => [p.id, `${p.name} v${p.version}`])) };
}

const RUN_TAG = "langfuse_migrator_run";

/**
 * Labels and tags as sets; metadata without what the copy adds by design: the run tag, and the OTLP envelope
 * (`resourceAttributes`, `scope`) a Langfuse v4 server files into the metadata of every span it
 * receives over OTLP.
 */
function comparable(field, value) {
  // Labels and tags are sets: their order carries nothing.
  if ((field === "labels" || field === "tags") && Array.isArray(value)) return [...value].sort();
  if (field !== "metadata" || value === null || typeof value !== "object") return value ?? null;
  const { [RUN_TAG]: _tag, resourceAttributes: _resource, scope: _scope, ...rest } = value;
  return rest;
}

/**
 * Asserts that the target holds exactly the source's objects of each kind in `entities`: the
 * same keys, each once (a second copy shows as a second row), and for a sample of about
 * `sample` objects per kind spread over the key range, the same fields. Reads both sandboxes'
 * raw `/_sandbox/dump`.
 */
export async function assertSameObjects(assert, source, target, entities, { sample = 25 } = {}) {
  const [want, got] = [side(await source.dump()), side(await target.dump())];
  for (const entity of entities) {
    const { key: keyOf, fields } = copyRules[entity];
    const wanted = want[entity] ?? [];
    const held = got[entity] ?? [];
    // Multisets of keys, compared without a line diff (tens of thousands of keys).
    const sourceKey = (r) => keyOf(r, want);
    const targetKey = (r) => keyOf(r, got);
    const tally = (rows, key) => rows.reduce((m, r) => m.set(key(r), (m.get(key(r)) ?? 0) + 1), new Map());
    const [inSource, inTarget] = [tally(wanted, sourceKey), tally(held, targetKey)];
    const missing = [...inSource.keys()].filter((k) => !inTarget.has(k));
    const extra = [...inTarget.keys()].filter((k) => !inSource.has(k));
    const twice = [...inTarget].filter(([k, n]) => inSource.has(k) && n !== inSource.get(k)).map(([k]) => k);
    assert.ok(
      missing.length + extra.length + twice.length === 0,
      `${entity}: the target's keys differ from the source's: ${missing.length} missing (${missing.slice(0, 3).join(", ")}), ` +
        `${extra.length} extra (${extra.slice(0, 3).join(", ")}), ${twice.length} held another number of times (${twice.slice(0, 3).join(", ")})`,
    );
    const byKey = new Map(held.map((r) => [targetKey(r), r]));
    const step = Math.max(1, Math.floor(wanted.length / sample));
    const seen = new Set();
    for (let i = 0; i < wanted.length; i += step) {
      const s = wanted[i];
      const t = byKey.get(sourceKey(s));
      for (const f of fields) {
        if (s[f] !== undefined) seen.add(f);
        assert.deepEqual(comparable(f, t[f]), comparable(f, s[f]), `${entity} ${sourceKey(s)}: ${f} differs`);
      }
    }
    // A field no sampled row has would compare nothing: the rule, not the copy, is wrong then.
    if (wanted.length > 0) {
      const unseen = fields.filter((f) => !seen.has(f));
      assert.deepEqual(unseen, [], `${entity}: the sample never holds ${unseen.join(", ")}`);
    }
  }
}

/** Types a made-up key for every LLM connection the pre-flight asks about; returns them by provider. */
export async function typeLlmKeys(b, prefix = "sk-e2e-llm") {
  const typed = {};
  for (const row of await b.$$('[data-testid="llm-keys"] tr[data-provider]')) {
    const provider = await row.getAttribute("data-provider");
    typed[provider] = `${prefix}-${provider}-${Math.random().toString(36).slice(2, 10)}`;
    await row.$('[data-testid="llm-key"]').setValue(typed[provider]);
  }
  return typed;
}

/** Takes the first-start offer "Try with sample data"; returns the offer once the data is ready. */
export async function trySampleData(b) {
  const offer = b.$('[data-testid="first-start-offer"]');
  await offer.waitForDisplayed({ timeout: 15_000 });
  await offer.$("button=Try with sample data").click();
  const ready = b.$('[data-testid="sample-offer"]');
  await ready.waitForDisplayed();
  await b.waitUntil(async () => (await ready.getText()).includes("Sample data is ready"), { timeout: 60_000 });
  return ready;
}

/** The sample servers' URLs, as the app itself reports them. */
export async function sampleUrls(b) {
  const info = await b.executeAsync((done) => {
    window.__TAURI_INTERNALS__.invoke("sample_data").then(done, (e) => done({ error: String(e) }));
  });
  if (!info || info.error) throw new Error(`no sample data: ${info?.error}`);
  return {
    source: info.source.connection.host,
    target: info.target.connection.host,
    langsmith: info.langsmithSource.connection.endpoint,
  };
}
