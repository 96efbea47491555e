// The Connections screen rendered in jsdom with Tauri's IPC mocked: the states a user sees.
import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import Connections from "./Connections.svelte";
import { presets, savedLangfuse } from "../lib/testing/fixtures";
import type { KeychainStatus } from "../lib/bindings/KeychainStatus";
import type { ProfileView } from "../lib/bindings/ProfileView";

const saved = savedLangfuse();

function backend(keychain: KeychainStatus, profiles: ProfileView[]) {
  const calls: string[] = [];
  mockIPC((cmd) => {
    calls.push(cmd);
    if (cmd === "connection_presets") return presets;
    if (cmd === "keychain_status") return keychain;
    if (cmd === "list_profiles") return profiles;
    if (cmd === "use_session_secrets") return { state: "sessionOnly", reason: "no bus" };
    if (cmd === "validate_profile") return { issues: [] };
    throw new Error(`unexpected ${cmd}`);
  });
  return calls;
}

describe("Connections screen", () => {
  afterEach(() => {
    cleanup();
    clearMocks();
  });

  it("says plainly that there is no keychain and switches to session-only on request", async () => {
    const calls = backend({ state: "unavailable", reason: "no Secret Service on D-Bus" }, []);
    render(Connections);
    expect(await screen.findByText("No system keychain is available")).toBeTruthy();
    expect(screen.getByText(/no Secret Service on D-Bus/)).toBeTruthy();
    expect(screen.getByText("No connections yet")).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "Keep secrets for this session only" }));
    expect(await screen.findByText(/Secrets are kept for this session only/)).toBeTruthy();
    expect(calls).toContain("use_session_secrets");
  });

  it("shows a saved secret masked, with no field holding it, until the user replaces it", async () => {
    backend({ state: "available" }, [saved]);
    const { container } = render(Connections);
    expect(await screen.findByText("Key in keychain")).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "Edit Prod" }));
    expect(screen.getByTestId("masked-secret").textContent).toMatch(/saved in the system keychain/);
    expect(container.querySelector('input[type="password"]')).toBeNull();
    await fireEvent.click(screen.getByRole("button", { name: "Replace" }));
    const input = container.querySelector<HTMLInputElement>('input[type="password"]');
    expect(input?.value).toBe("");
    await fireEvent.click(screen.getByRole("button", { name: "Keep saved key" }));
    expect(container.querySelector('input[type="password"]')).toBeNull();
  });

  it("asks to confirm plain http to another computer and sends the chosen CA file with the draft", async () => {
    const selfHosted = savedLangfuse({}, "http://langfuse.internal:3000");
    const saves: { draft: { connection: unknown } }[] = [];
    const missing = "There is no file at /etc/ssl/corp-ca.pem. Choose the CA file (a .pem or .crt file) again.";
    mockIPC((cmd, args) => {
      if (cmd === "connection_presets") return presets;
      if (cmd === "keychain_status") return { state: "available" };
      if (cmd === "list_profiles") return [selfHosted];
      if (cmd === "validate_profile") return { issues: [] };
      if (cmd === "plugin:dialog|open") return "/etc/ssl/corp-ca.pem";
      if (cmd === "save_profile") {
        saves.push(args as (typeof saves)[number]);
        return { saved: null, report: { issues: [{ field: "caFile", severity: "error", message: missing }] } };
      }
      throw new Error(`unexpected ${cmd}`);
    });
    render(Connections);
    await fireEvent.click(await screen.findByRole("button", { name: "Edit Prod" }));
    const confirm = screen.getByLabelText(/keys travel unencrypted/) as HTMLInputElement;
    expect(confirm.checked).toBe(false);
    await fireEvent.click(confirm);
    await fireEvent.click(screen.getByRole("button", { name: "Browse…" }));
    const caFile = screen.getByLabelText("CA file (optional)") as HTMLInputElement;
    await waitFor(() => expect(caFile.value).toBe("/etc/ssl/corp-ca.pem"));
    await fireEvent.click(screen.getByRole("button", { name: "Save connection" }));
    await waitFor(() => expect(saves).toHaveLength(1));
    expect(saves[0]?.draft.connection).toMatchObject({
      host: "http://langfuse.internal:3000",
      caFile: "/etc/ssl/corp-ca.pem",
      allowPlainHttp: true,
    });
    // The Rust side's sentence for the file shows next to it.
    expect(await screen.findByText(missing)).toBeTruthy();
  });
});
