/**
 * `startOpencode`, the library's embedded opencode (real 1.18.33): it listens on a loopback port we
 * chose, with the generated credentials, and leaves no process behind: after `stop()`, when its
 * host exits without stopping it, and when its host is killed outright. Isolated (1.18.33 and
 * 1.15.13), it fetches nothing from npm.
 */
import { spawn } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { findOpencode, OpencodeStartError, startOpencode } from "../../src/embedded/server.js";
import { alive, eventually } from "../../testkit/cli.js";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { basicAuthHeaders, OPENCODE_VERSIONS, opencodeBinary, startTestOpencode } from "../../testkit/opencode-server.js";
import { startScriptedModel } from "../../testkit/scripted-model.js";

const bin = opencodeBinary("1.18.33");
const serverModule = fileURLToPath(new URL("../../src/embedded/server.ts", import.meta.url));

const gone = async (path: string) => stat(path).then(() => false, () => true);

/** A host process that starts an isolated opencode, prints `{pid, directory}` and then does `then`. */
function host(then: "wait" | "exit") {
  const code = `
    import { startOpencode } from ${JSON.stringify(serverModule)};
    const server = await startOpencode({ bin: ${JSON.stringify(bin)}, isolated: true });
    console.log(JSON.stringify({ pid: server.pid, directory: server.directory }));
    ${then === "exit" ? "process.exit(0);" : "setInterval(() => {}, 1000);"}
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  const started = new Promise<{ pid: number; directory: string }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", (line) => resolve(JSON.parse(line)));
    child.once("exit", (exitCode) => reject(new Error(`host exited with ${exitCode} before starting opencode`)));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, started, exited };
}

/** The ids of the providers opencode knows of (`GET /provider`'s `all`: its catalog's and the config's). */
async function providers(server: { url: string }, password: string, username?: string): Promise<string[]> {
  const response = await fetch(`${server.url}/provider`, { headers: basicAuthHeaders(password, username) });
  expect(response.status).toBe(200);
  return ((await response.json()) as { all: { id: string }[] }).all.map((provider) => provider.id);
}

describe("startOpencode", () => {
  it("finds the binary: the one given, OPENCODE_BIN, then the installed opencode-ai package", () => {
    expect(findOpencode(bin, {})).toBe(bin);
    expect(findOpencode(undefined, { OPENCODE_BIN: bin })).toBe(bin);
    expect(findOpencode(undefined, { PATH: "" })).toBe(fileURLToPath(new URL("../../node_modules/opencode-ai/bin/opencode.exe", import.meta.url)));
    expect(() => findOpencode("/no/such/opencode", {})).toThrow(OpencodeStartError);
    expect(() => findOpencode("/no/such/opencode", {})).toThrow("/no/such/opencode does not exist");
  });

  it("listens on a loopback port of ours with the generated password and the given user, and stop() leaves nothing", async () => {
    const [first, second] = await Promise.all([
      startOpencode({ bin, isolated: true, username: "turns" }),
      startOpencode({ bin, isolated: true, emptyModelCatalog: true }),
    ]);
    try {
      expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(first.url).not.toBe(second.url);
      expect(first.password).toMatch(/^[0-9a-f]{32}$/);
      expect(first.password).not.toBe(second.password);
      const health = (server: typeof first, password: string, username?: string) =>
        fetch(`${server.url}/global/health`, { headers: basicAuthHeaders(password, username) }).then((response) => response.status);
      expect(await health(first, first.password, "turns")).toBe(200);
      expect(await health(first, first.password, "opencode")).toBe(401);
      expect(await health(second, first.password)).toBe(401);
      // The bundled models.dev catalog, or with emptyModelCatalog none: no config, so no provider at all.
      expect((await providers(first, first.password, "turns")).length).toBeGreaterThan(50);
      expect(await providers(second, second.password)).toEqual([]);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
    expect(alive(first.pid)).toBe(false);
    expect(alive(second.pid)).toBe(false);
    expect(await gone(first.directory)).toBe(true);
    await first.stop();
  });

  it("refuses emptyModelCatalog for a server that is not isolated: the catalog file would have no home", async () => {
    await expect(startOpencode({ bin, emptyModelCatalog: true })).rejects.toThrow("emptyModelCatalog is for an isolated server: give isolated: true as well");
  });

  it("rejects with the server's output when opencode exits before it listens", async () => {
    const failing = startOpencode({ bin: process.execPath, isolated: true });
    await expect(failing).rejects.toMatchObject({ name: "OpencodeStartError", reason: "exited" });
  });

  it("rejects a directory that does not exist, and creates nothing", async () => {
    await expect(startOpencode({ bin, directory: "/no/such/project" })).rejects.toMatchObject({
      reason: "not_found",
      message: "The directory /no/such/project does not exist.",
    });
  });

  it("a host that exits without stopping it leaves no opencode behind", async () => {
    const run = host("exit");
    const { pid } = await run.started;
    await run.exited;
    await eventually(() => !alive(pid), "opencode to be gone");
  });

  it("a host that is killed outright (SIGKILL) leaves no opencode and no temp dir behind", async () => {
    const run = host("wait");
    const { pid, directory } = await run.started;
    expect(alive(pid)).toBe(true);
    run.child.kill("SIGKILL");
    await run.exited;
    await eventually(() => !alive(pid), "opencode to be gone");
    const removed = { done: false };
    await eventually(() => {
      void gone(directory).then((yes) => (removed.done = yes));
      return removed.done;
    }, "its temp dir to be removed");
  });

  it.each(OPENCODE_VERSIONS)("an isolated %s installs nothing from npm into its config dir: its first turn reaches no registry", async (version) => {
    const model = await startScriptedModel();
    const server = await startTestOpencode({ version, modelUrl: model.url });
    try {
      const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, () => undefined);
      expect((await adapter.prompt("say hello")).outcome).toBe("final");
      await adapter.close();
      // opencode starts the install when it loads its config; npm keeps what it fetched under HOME.
      const root = path.dirname(server.directory);
      expect(await gone(path.join(root, "home", ".npm"))).toBe(true);
      expect(await readdir(path.join(root, "xdg-config", "opencode", "node_modules"))).toEqual([]);
      // The test servers' catalog is empty: opencode knows the scripted provider only.
      expect(await providers(server, server.password)).toEqual(["scripted"]);
    } finally {
      await server.stop();
      await model.close();
    }
  });
});
