// The Connections screen in the real window, with the real Secret Service. scripts/test.sh runs
// this inside dbus-run-session with an unlocked gnome-keyring, under Xvfb.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

import { AppSession, filesContaining, keychainSecret, savedProfiles } from "../lib/app.mjs";

async function newConfigDir() {
  return mkdtemp(path.join(tmpdir(), "lfm-e2e-"));
}

async function row(browser, name) {
  return browser.$(`//tr[th[normalize-space()="${name}"]]`);
}

async function createLangfuseProfile(browser, { name, publicKey, secret }) {
  await browser.$("button=New connection").click();
  await browser.$("#profile-name").setValue(name);
  // EU Cloud is the default preset.
  assert.equal(await browser.$("#langfuse-host-preset").getValue(), "eu");
  await browser.$("#public-key").setValue(publicKey);
  await browser.$("#secret").setValue(secret);
  await browser.$("button=Save connection").click();
  await (await row(browser, name)).waitForDisplayed({ timeout: 15_000 });
}

test("a Langfuse profile's secret lives in the keychain only, survives a restart masked, and goes with the profile", async () => {
  const configDir = await newConfigDir();
  const name = "EU production";
  const secret = `sk-lf-e2e-${randomUUID()}`;
  const replacement = `sk-lf-e2e-replaced-${randomUUID()}`;

  let app = await AppSession.start({ configDir });
  try {
    const b = app.browser;
    await b.$("h2=No connections yet").waitForDisplayed({ timeout: 15_000 });
    assert.equal(await b.$('[data-testid="keychain-unavailable"]').isExisting(), false);
    await app.screenshot("01-connections-empty");

    await b.$("button=New connection").click();
    await b.$("#profile-name").setValue(name);
    await b.$("#public-key").setValue("pk-lf-e2e-public");
    await b.$("#secret").setValue(secret);
    await app.screenshot("02-connection-form");
    await b.$("button=Save connection").click();
    const saved = await row(b, name);
    await saved.waitForDisplayed({ timeout: 15_000 });
    assert.equal(await saved.$('[data-testid="secret-status"]').getText(), "Key in keychain");
    await app.screenshot("03-connections-saved");

    await b.$('button[data-screen="newMigration"]').click();
    await b.$('[data-testid="screen-new-migration"]').waitForDisplayed();
    await app.screenshot("04-new-migration");
    await b.$('button[data-screen="runs"]').click();
    await b.$('[data-testid="screen-runs"]').waitForDisplayed();
    await app.screenshot("05-runs");
  } finally {
    await app.stop();
  }

  // The secret is in the Secret Service under the profile's id, and in no file of ours.
  const [profile] = await savedProfiles(configDir);
  assert.equal(profile.name, name);
  assert.equal(await keychainSecret(profile.id), secret);
  assert.deepEqual(await filesContaining(configDir, secret), []);

  app = await AppSession.start({ configDir });
  try {
    const b = app.browser;
    const restored = await row(b, name);
    await restored.waitForDisplayed({ timeout: 15_000 });
    assert.equal(await restored.$('[data-testid="secret-status"]').getText(), "Key in keychain");
    await restored.$("button=Edit").click();
    const masked = b.$('[data-testid="masked-secret"]');
    await masked.waitForDisplayed();
    assert.match(await masked.getText(), /saved in the system keychain/);
    assert.equal(await b.$("#secret").isExisting(), false, "no secret input until Replace");
    assert.equal((await b.getPageSource()).includes(secret), false, "the secret never reaches the window");
    await app.screenshot("06-connection-edit-masked");
    await b.$("button=Replace").click();
    assert.equal(await b.$("#secret").getValue(), "", "Replace starts from an empty field");
    await b.$("#secret").setValue(replacement);
    await b.$("button=Save connection").click();
    await (await row(b, name)).waitForDisplayed({ timeout: 15_000 });
    assert.equal(await keychainSecret(profile.id), replacement, "Replace overwrites the keychain entry");
    assert.deepEqual(await filesContaining(configDir, replacement), []);

    await (await row(b, name)).$("button=Delete").click();
    const dialog = b.$("dialog");
    await dialog.waitForDisplayed();
    await app.screenshot("07-delete-confirm");
    await dialog.$("button=Delete connection").click();
    await b.$("h2=No connections yet").waitForDisplayed({ timeout: 15_000 });
    await app.screenshot("08-connections-after-delete");
  } finally {
    await app.stop();
  }

  assert.equal(await keychainSecret(profile.id), null, "deleting the profile removes its keychain entry");
  assert.deepEqual(await savedProfiles(configDir), []);
});

test("validation messages appear in the form and a duplicate name is refused", async () => {
  const configDir = await newConfigDir();
  const app = await AppSession.start({ configDir });
  try {
    const b = app.browser;
    await createLangfuseProfile(b, {
      name: "Staging",
      publicKey: "pk-lf-1",
      secret: `sk-lf-${randomUUID()}`,
    });

    await b.$("button=New connection").click();
    await b.$("#profile-name").setValue("staging");
    await b.$("#langfuse-host-preset").selectByAttribute("value", "custom");
    await b.$("#langfuse-host").setValue("langfuse.example.com");
    await b.$("#public-key").setValue("sk-lf-wrong-field");
    await b.$("button=Save connection").click();
    await b.$("#profile-name-issues").waitForDisplayed({ timeout: 15_000 });
    assert.match(await b.$("#profile-name-issues").getText(), /already called/);
    assert.match(await b.$("#langfuse-host-issues").getText(), /not a valid URL/);
    assert.match(await b.$("#public-key-issues").getText(), /looks like a secret key/);
    assert.match(await b.$("#secret-issues").getText(), /Enter the secret key/);
    await app.screenshot("09-validation");
    await b.$("button=Cancel").click();
    assert.equal((await savedProfiles(configDir)).length, 1);
  } finally {
    await app.stop();
  }
  const [profile] = await savedProfiles(configDir);
  assert.notEqual(await keychainSecret(profile.id), null);
});

test("without a keychain the app says so, stores nothing, and keeps secrets for this session only when asked", async () => {
  const configDir = await newConfigDir();
  const secret = `sk-lf-${randomUUID()}`;
  // A D-Bus address that leads nowhere: no Secret Service for this app process.
  const app = await AppSession.start({
    configDir,
    env: { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/lfm-no-bus" },
  });
  try {
    const b = app.browser;
    const banner = b.$('[data-testid="keychain-unavailable"]');
    await banner.waitForDisplayed({ timeout: 30_000 });
    assert.match(await banner.getText(), /No system keychain is available/);
    await app.screenshot("10-no-keychain");

    // "Check again" runs the probe and streams its steps into the window as they happen.
    await b.$("button=Check again").click();
    const probe = b.$('[data-testid="keychain-probe"]');
    await probe.waitForDisplayed({ timeout: 15_000 });
    await b.waitUntil(async () => /Save a test entry: failed/.test(await probe.getText()), {
      timeout: 15_000,
      timeoutMsg: "the failed probe step was not shown",
    });

    // Saving a secret before opting in is refused with a plain explanation.
    await b.$("button=New connection").click();
    await b.$("#profile-name").setValue("No keychain");
    await b.$("#public-key").setValue("pk-lf-1");
    await b.$("#secret").setValue(secret);
    await b.$("button=Save connection").click();
    const refusal = b.$("form p.error");
    await refusal.waitForDisplayed({ timeout: 15_000 });
    assert.match(await refusal.getText(), /No system keychain is available/);
    await b.$("button=Cancel").click();

    await b.$("button=Keep secrets for this session only").click();
    await b.$('[data-testid="keychain-session-only"]').waitForDisplayed();
    await createLangfuseProfile(b, { name: "Session only", publicKey: "pk-lf-1", secret });
    const saved = await row(b, "Session only");
    assert.equal(await saved.$('[data-testid="secret-status"]').getText(), "Key for this session");
    await app.screenshot("11-session-only");
  } finally {
    await app.stop();
  }
  const [profile] = await savedProfiles(configDir);
  assert.equal(profile.name, "Session only");
  assert.deepEqual(await filesContaining(configDir, secret), []);
  assert.equal(await keychainSecret(profile.id), null, "session-only secrets never reach the keychain");
});
