/**
 * What a new user does, on a fresh clone of this repository's committed HEAD: the README's first
 * commands (`npm ci`, the demo, `npm test`), and `npm pack` into a clean consumer project (ESM
 * TypeScript, strict, NodeNext) that typechecks, runs a turn, and can `require()` the package.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { opencodeBinary } from "../../testkit/opencode-server.js";
import { DEFAULT_TEXT, startScriptedModel, type ScriptedModel } from "../../testkit/scripted-model.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const MINUTES = 60_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A new user's environment: none of this run's npm, vitest or opencode variables. */
function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(npm_|VITEST|OPENCODE|NODE_OPTIONS$|NO_COLOR$|FORCE_COLOR$)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

function sh(command: string, args: string[], cwd: string, env: Record<string, string> = userEnv()): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The run's output when it failed, so the failure says why. */
const tail = (run: Run) => `exit ${run.code}\n${run.stdout.slice(-4000)}\n${run.stderr.slice(-4000)}`;

describe("a new user on a fresh clone", () => {
  let work: string;
  let clone: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "new-user-"));
    clone = path.join(work, "opencode-turns");
    const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
    execFileSync("git", ["clone", "--quiet", root, clone]);
    execFileSync("git", ["checkout", "--quiet", head], { cwd: clone });
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("npm ci installs and builds, and only the opencode builds this platform runs", { timeout: 10 * MINUTES }, async () => {
    const install = await sh("npm", ["ci"], clone);
    expect(install.code, tail(install)).toBe(0);
    expect(await readFile(path.join(clone, "dist/src/cli/main.js"), "utf8")).toMatch(/^#!\/usr\/bin\/env node/);
    const installed = await import("node:fs/promises").then((fs) => fs.readdir(path.join(clone, "node_modules")));
    expect(installed.filter((name) => name.startsWith("opencode-") && name.endsWith("-musl"))).toEqual([]);
  });

  it('npx opencode-turns run --demo "Explain this repository" streams a whole turn offline', { timeout: 3 * MINUTES }, async () => {
    const demo = await sh("npx", ["opencode-turns", "run", "--demo", "Explain this repository"], clone);
    expect(demo.code, tail(demo)).toBe(0);
    expect(demo.stdout).toContain("Thinking: ");
    expect(demo.stdout).toMatch(/^✓ bash pwd && ls -A → .*opencode-turns-\w+\/work$/m);
    expect(demo.stdout).toContain('This is the offline demo of opencode-turns, answering "Explain this repository".');
    expect(demo.stdout).not.toContain("\u001b");
  });

  it("npm test passes", { timeout: 20 * MINUTES }, async () => {
    const test = await sh("npm", ["test"], clone, userEnv({ OPENCODE_TURNS_NESTED_TEST: "1" }));
    expect(test.code, tail(test)).toBe(0);
    expect(stripVTControlCharacters(test.stdout)).toMatch(/Tests +\d+ passed \(\d+\)/);
  });

  describe("npm pack, installed into a clean consumer project", () => {
    let model: ScriptedModel;
    let consumer: string;
    let files: string[];

    beforeAll(async () => {
      model = await startScriptedModel();
      const pack = await sh("npm", ["pack", "--pack-destination", work], clone);
      expect(pack.code, tail(pack)).toBe(0);
      const tarball = path.join(work, pack.stdout.trim().split("\n").at(-1)!);
      files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).trim().split("\n").map((file) => file.replace(/^package\//, ""));

      consumer = path.join(work, "consumer");
      await mkdir(consumer);
      await writeFile(path.join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
      await writeFile(
        path.join(consumer, "tsconfig.json"),
        JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, types: ["node"], outDir: "out" } }),
      );
      // The library as its README shows it: an embedded opencode (this test's scripted model as the
      // provider), one turn, Ctrl-C wired to cancel, then close and stop.
      await writeFile(
        path.join(consumer, "main.ts"),
        `import { OpenCodeAdapter, startOpencode, type Reply, type TurnResult } from "opencode-turns";

const server = await startOpencode({
  isolated: true,
  config: {
    provider: {
      scripted: {
        npm: "@ai-sdk/openai-compatible",
        options: { baseURL: process.env.MODEL_URL, apiKey: "x" },
        models: { "scripted-model": { tool_call: true } },
      },
    },
    model: "scripted/scripted-model",
    small_model: "scripted/scripted-model",
  },
});
const replies: Reply[] = [];
const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, (reply) => {
  replies.push(reply);
});
process.once("SIGINT", () => void adapter.cancel());
const result: TurnResult = await adapter.prompt("say hello", "consumer-1");
await adapter.close();
await server.stop();
console.log(JSON.stringify({ result, kinds: replies.map((reply) => reply.kind) }));
`,
      );
      await writeFile(
        path.join(consumer, "require.cjs"),
        `const turns = require("opencode-turns");\nconsole.log(typeof turns.OpenCodeAdapter, typeof turns.startOpencode);\n`,
      );
      const install = await sh("npm", ["install", "--no-audit", "--no-fund", tarball, "typescript@~5.9.3", "@types/node@^20.19.0"], consumer);
      expect(install.code, tail(install)).toBe(0);
    }, 5 * MINUTES);

    afterAll(async () => {
      await model?.close();
    });

    it("ships the build, the sources its maps point at, README and LICENSE, and no tests", async () => {
      for (const file of ["dist/index.js", "dist/index.d.ts", "dist/src/cli/main.js", "dist/src/embedded/server.js", "README.md", "LICENSE", "package.json"]) {
        expect(files).toContain(file);
      }
      expect(files.filter((file) => file.startsWith("test/"))).toEqual([]);
      const maps = files.filter((file) => file.endsWith(".map"));
      expect(maps.length).toBeGreaterThan(0);
      for (const map of maps) {
        const { sources } = JSON.parse(await readFile(path.join(consumer, "node_modules/opencode-turns", map), "utf8")) as { sources: string[] };
        for (const source of sources) expect(files, `${map} → ${source}`).toContain(path.posix.join(path.posix.dirname(map), source));
      }
    });

    it("typechecks under strict NodeNext and runs a turn through the library", { timeout: 2 * MINUTES }, async () => {
      const typecheck = await sh("npx", ["tsc", "-p", "."], consumer);
      expect(typecheck.code, tail(typecheck)).toBe(0);
      const run = await sh("node", ["out/main.js"], consumer, userEnv({ MODEL_URL: model.url, OPENCODE_BIN: opencodeBinary("1.18.33") }));
      expect(run.code, tail(run)).toBe(0);
      const { result, kinds } = JSON.parse(run.stdout) as { result: { outcome: string; content: string }; kinds: string[] };
      expect(result).toMatchObject({ outcome: "final", content: DEFAULT_TEXT });
      expect(kinds.at(-1)).toBe("final");
    });

    it("require() loads it (Node 20.19 and later load ES modules from require)", async () => {
      const run = await sh("node", ["require.cjs"], consumer);
      expect(run.code, tail(run)).toBe(0);
      expect(run.stdout.trim()).toBe("function function");
    });

    it("its opencode-turns command runs the demo", { timeout: 2 * MINUTES }, async () => {
      const run = await sh("npx", ["opencode-turns", "run", "--demo", "--json", "hi"], consumer, userEnv({ OPENCODE_BIN: opencodeBinary("1.18.33") }));
      expect(run.code, tail(run)).toBe(0);
      expect(JSON.parse(run.stdout.trim().split("\n").at(-1)!)).toMatchObject({ kind: "final" });
    });

    it("without opencode anywhere, it says how to install it", async () => {
      const bin = path.join(work, "only-node");
      await mkdir(bin, { recursive: true });
      await symlink(process.execPath, path.join(bin, "node")).catch(() => undefined);
      const run = await sh(path.join(consumer, "node_modules/.bin/opencode-turns"), ["run", "hi"], consumer, userEnv({ PATH: bin }));
      expect(run.code, tail(run)).toBe(1);
      expect(run.stderr).toContain("opencode is not installed. Install it next to opencode-turns with `npm install opencode-ai`");
    });
  });
});
