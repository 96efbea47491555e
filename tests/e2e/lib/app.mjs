// Starts the real app binary through tauri-driver (which drives WebKitWebDriver) and gives the
// tests a WebdriverIO browser for its window. Each start launches a fresh app process, so
// stopping and starting again is a real restart.
import { spawn, execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, readlink } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { remote } from "webdriverio";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "../../..");
export const artifactsDir = path.join(repoRoot, "tests/e2e/artifacts");

/** The binary under test: scripts/test.sh passes the one it just built. */
export const appBinary =
  process.env.LANGFUSE_MIGRATOR_BINARY ??
  path.join(process.env.CARGO_TARGET_DIR ?? path.join(repoRoot, "target"), "debug/langfuse-migrator");

// LFM_E2E_PORT: another base port when several e2e runs share a machine.
let nextPort = Number(process.env.LFM_E2E_PORT ?? 4444);

async function waitForDriver(port, driver, log) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (driver.exitCode !== null) throw new Error(`tauri-driver exited early:\n${log()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/status`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`tauri-driver did not start on port ${port}:\n${log()}`);
}

export class AppSession {
  constructor(browser, driver, log) {
    this.browser = browser;
    this.driver = driver;
    this.log = log;
  }

  /**
   * Launches the app with its settings in `configDir`. `env` overrides variables for the app
   * (e.g. a D-Bus address that leads nowhere, to take the keychain away).
   */
  static async start({ configDir, env = {} }) {
    if (!existsSync(appBinary)) {
      throw new Error(`No app binary at ${appBinary}: build it (scripts/test.sh does) or set LANGFUSE_MIGRATOR_BINARY.`);
    }
    const port = nextPort;
    nextPort += 2;
    let output = "";
    // Its own process group, so stopping it also ends WebKitWebDriver and the app.
    const driver = spawn("tauri-driver", ["--port", String(port), "--native-port", String(port + 1)], {
      env: { ...process.env, LANGFUSE_MIGRATOR_CONFIG_DIR: configDir, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    driver.stdout.on("data", (d) => (output += d));
    driver.stderr.on("data", (d) => (output += d));
    const log = () => output;
    try {
      await waitForDriver(port, driver, log);
      const browser = await remote({
        hostname: "127.0.0.1",
        port,
        logLevel: "warn",
        connectionRetryCount: 1,
        connectionRetryTimeout: 60_000,
        capabilities: {
          // WebKitWebDriver speaks classic WebDriver only, not BiDi.
          "wdio:enforceWebDriverClassic": true,
          "tauri:options": { application: appBinary },
        },
      });
      const session = new AppSession(browser, driver, log);
      await session.browser.$("h1").waitForDisplayed({ timeout: 30_000 });
      return session;
    } catch (e) {
      await endProcessGroup(driver);
      throw new Error(`The app did not start: ${e.message}\n--- tauri-driver output ---\n${log()}`);
    }
  }

  /** Saves a screenshot of the window as a test artifact (not committed). */
  async screenshot(name) {
    await mkdir(artifactsDir, { recursive: true });
    // Let the window paint the current state first: a snapshot requested before the first
    // frame of a freshly started WebKit view can wait indefinitely.
    await this.browser.executeAsync((done) =>
      requestAnimationFrame(() => requestAnimationFrame(() => done())),
    );
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`screenshot "${name}" did not finish in 30 s (WebKit did not paint)`)),
        30_000,
      );
    });
    try {
      await Promise.race([this.browser.saveScreenshot(path.join(artifactsDir, `${name}.png`)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the window and ends the app process. */
  async stop() {
    try {
      await this.browser.deleteSession();
    } finally {
      await endProcessGroup(this.driver);
    }
  }
}

/** Ends tauri-driver with everything it started, and stops listening to its output. */
async function endProcessGroup(driver) {
  if (driver.exitCode === null && driver.signalCode === null) {
    const exited = new Promise((r) => driver.once("exit", r));
    try {
      process.kill(-driver.pid, "SIGTERM");
    } catch {
      driver.kill("SIGTERM");
    }
    await exited;
  }
  try {
    process.kill(-driver.pid, "SIGKILL"); // stragglers such as an app that ignored SIGTERM
  } catch {
    // the group is already gone
  }
  driver.stdout.destroy();
  driver.stderr.destroy();
}

const execFileAsync = promisify(execFile);

/** The secret stored for a profile in the Secret Service, or null when there is none. */
export async function keychainSecret(profileId) {
  try {
    const { stdout } = await execFileAsync("secret-tool", [
      "lookup",
      "service",
      "langfuse-migrator",
      "username",
      profileId,
    ]);
    return stdout;
  } catch (e) {
    if (e.code === 1) return null; // secret-tool's "not found"
    throw e;
  }
}

/** Every file under `dir` (recursively) whose bytes contain `needle`. */
export async function filesContaining(dir, needle) {
  const hits = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    if ((await readFile(file)).includes(needle)) hits.push(file);
  }
  return hits;
}

export async function savedProfiles(configDir) {
  const json = JSON.parse(await readFile(path.join(configDir, "profiles.json"), "utf8"));
  return json.profiles;
}

/** The sandbox server binary, built next to the app by `cargo test --workspace`. */
export const sandboxBinary = path.join(path.dirname(appBinary), "langfuse-sandbox");

/**
 * Starts a Langfuse sandbox server process on loopback (`args` are its command-line flags) and
 * resolves with its URL and a stop function.
 */
export async function startSandbox(args) {
  if (!existsSync(sandboxBinary)) throw new Error(`No sandbox binary at ${sandboxBinary}: cargo test --workspace builds it.`);
  const child = spawn(sandboxBinary, ["--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`sandbox did not start: ${err}`)), 120_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once("exit", (code) => reject(new Error(`sandbox exited with ${code}: ${err}`)));
  });
  return {
    url,
    /** Rows per entity, from the sandbox's admin surface. */
    counts: async () => (await fetch(`${url}/_sandbox/counts`)).json(),
    /** Every stored row per entity, raw, from the sandbox's admin surface. */
    dump: async () => {
      const r = await fetch(`${url}/_sandbox/dump`);
      if (!r.ok) throw new Error(`reading the sandbox dump failed: ${r.status}`);
      return r.json();
    },
    /** Replaces the sandbox's fault injection (e.g. a delay on every request). */
    setFaults: async (faults) => {
      const r = await fetch(`${url}/_sandbox/faults`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(faults),
      });
      if (!r.ok) throw new Error(`setting faults failed: ${r.status} ${await r.text()}`);
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/**
 * SIGKILLs the app process of a session (found by the config dir it was started with), as a
 * crash would end it (not a power cut: the OS still writes what the app had handed it), then
 * ends the driver.
 */
export async function killApp(session, configDir) {
  const killed = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const exe = await readlink(`/proc/${pid}/exe`);
      if (path.resolve(exe) !== path.resolve(appBinary)) continue;
      const environ = await readFile(`/proc/${pid}/environ`, "utf8");
      if (!environ.split("\0").includes(`LANGFUSE_MIGRATOR_CONFIG_DIR=${configDir}`)) continue;
      process.kill(Number(pid), "SIGKILL");
      killed.push(pid);
    } catch {
      // gone already, or not ours to read
    }
  }
  if (killed.length === 0) throw new Error("no app process found to kill");
  // The WebDriver session died with the app; end the driver without asking it to close.
  if (session.driver.exitCode === null) {
    const exited = new Promise((r) => session.driver.once("exit", r));
    session.driver.kill("SIGTERM");
    await exited;
  }
}
