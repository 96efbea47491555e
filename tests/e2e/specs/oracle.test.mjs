// The e2e tests' exact-copy check itself: two sandboxes with the same generated data agree, and
// a target that has the right counts but a swapped id or a changed field does not.
import assert from "node:assert/strict";
import { test } from "node:test";

import { startSandbox } from "../lib/app.mjs";
import { assertSameObjects, sandboxKeys } from "../lib/steps.mjs";

const kinds = ["observations", "traces", "scores", "prompts", "dataset_items", "comments"];

async function patch(sandbox, entity, id, body) {
  const r = await fetch(`${sandbox.url}/_sandbox/objects/${entity}/${encodeURIComponent(id)}`, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.ok(r.ok, `patching ${entity} ${id}: ${r.status} ${await r.text()}`);
}

test("the exact-copy check compares ids and fields, not counts", async () => {
  const args = [...sandboxKeys, "--traces", "40", "--observations-per-trace", "3"];
  const [source, target] = await Promise.all([startSandbox(args), startSandbox(args)]);
  try {
    await assertSameObjects(assert, source, target, kinds);

    // Same count, one observation with another field value.
    const [observation] = (await target.dump()).observations;
    await patch(target, "observations", observation.id, { name: "renamed by the test" });
    assert.deepEqual(await target.counts(), await source.counts());
    await assert.rejects(assertSameObjects(assert, source, target, kinds, { sample: 1_000 }), /observations .*name differs/);
    await patch(target, "observations", observation.id, { name: observation.name });
    await assertSameObjects(assert, source, target, kinds);

    // Same count, one score under another id.
    const [score] = (await target.dump()).scores;
    const del = await fetch(`${target.url}/_sandbox/objects/scores/${encodeURIComponent(score.id)}`, { method: "DELETE" });
    assert.ok(del.ok);
    const ins = await fetch(`${target.url}/_sandbox/objects/scores`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...score, id: `${score.id}-other` }),
    });
    assert.ok(ins.ok, await ins.text());
    assert.deepEqual(await target.counts(), await source.counts());
    await assert.rejects(assertSameObjects(assert, source, target, kinds), /scores: the target's keys differ/);
  } finally {
    await Promise.all([source.stop(), target.stop()]);
  }
});
