/**
 * An opencode with no model provider at all (an isolated HOME, and OpenCode Zen's built-in free
 * provider disabled): the CLI says so, with what to do, before it sends a prompt, and the library's
 * turn ends `provider_error` with the same sentence instead of opencode's stack trace.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NO_PROVIDER } from "../../src/contract/turn-error.js";
import { providerProblem } from "../../src/embedded/providers.js";
import { isolatedDirs } from "../../src/embedded/isolated-home.js";
import { startOpencode, type OpencodeProcess } from "../../src/embedded/server.js";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { runCli } from "../../testkit/cli.js";
import { opencodeBinary, type OpencodeVersion } from "../../testkit/opencode-server.js";

const NO_PROVIDERS = { autoupdate: false, share: "disabled", disabled_providers: ["opencode"] };

describe.each(["1.18.33", "1.15.13"] as OpencodeVersion[])("opencode %s with no provider", (version) => {
  let server: OpencodeProcess;
  let home: string;
  beforeAll(async () => {
    server = await startOpencode({ bin: opencodeBinary(version), isolated: true, config: NO_PROVIDERS });
    home = await mkdtemp(path.join(os.tmpdir(), "opencode-turns-no-provider-"));
  });
  afterAll(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const sessions = async () => {
    const auth = `Basic ${Buffer.from(`${server.username}:${server.password}`).toString("base64")}`;
    return (await (await fetch(`${server.url}/session`, { headers: { authorization: auth } })).json()) as unknown[];
  };

  it("`run --url` says so and what to do, exit 1, before any prompt (no session made)", async () => {
    const started = Date.now();
    const result = await runCli(["run", "--url", server.url, "--password", server.password, "hello"]);
    console.log(`opencode ${version}: run --url said "no provider" after ${Date.now() - started} ms`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Error: ${NO_PROVIDER}`);
    expect(result.stdout).toBe("");
    expect(await sessions()).toEqual([]);
  });

  it("`run --json` ends in a provider_error reply", async () => {
    const result = await runCli(["run", "--json", "--url", server.url, "--password", server.password, "hello"]);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout.trim().split("\n").at(-1)!)).toMatchObject({ kind: "error", code: "provider_error", error: NO_PROVIDER });
  });

  it("`run` starting its own opencode (a HOME with no provider) says so and stops that opencode", async () => {
    const dirs = isolatedDirs(home);
    await Promise.all([...Object.values(dirs), path.join(home, "work")].map((dir) => mkdir(dir, { recursive: true })));
    const started = Date.now();
    const result = await runCli(["run", "hello"], {
      cwd: path.join(home, "work"),
      env: { ...dirs, OPENCODE_BIN: opencodeBinary(version), OPENCODE_CONFIG_CONTENT: JSON.stringify(NO_PROVIDERS), OPENCODE_DISABLE_MODELS_FETCH: "1" },
    });
    console.log(`opencode ${version}: run (starting opencode) said "no provider" after ${Date.now() - started} ms`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Error: ${NO_PROVIDER}`);
  }, 120_000);

  it("the library: providerProblem() says so, and a prompt's turn ends provider_error with the same sentence", async () => {
    const config = { baseUrl: server.url, username: server.username, password: server.password };
    await expect(providerProblem(config)).resolves.toMatchObject({ code: "provider_error", message: NO_PROVIDER });
    const adapter = new OpenCodeAdapter(config, () => {});
    try {
      const result = await adapter.prompt("hello", "no-provider");
      expect(result).toMatchObject({ outcome: "error", code: "provider_error", error: NO_PROVIDER });
    } finally {
      await adapter.close();
    }
  });
});

describe("a model opencode does not have", () => {
  let server: OpencodeProcess;
  beforeAll(async () => {
    server = await startOpencode({ bin: opencodeBinary("1.18.33"), isolated: true, config: { autoupdate: false, share: "disabled" } });
  });
  afterAll(() => server?.stop());

  it("`run --model` names it and what there is, before any prompt", async () => {
    const result = await runCli(["run", "--url", server.url, "--password", server.password, "--model", "nosuch/model", "hello"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Error: opencode has no provider nosuch \(it has opencode\): configure it, or choose another model\.$/m);
    const problem = await providerProblem({ baseUrl: server.url, password: server.password, providerID: "opencode", modelID: "nosuch" });
    expect(problem?.message).toMatch(/^opencode's provider opencode has no model nosuch: choose one of [a-z]/);
  });
});
