/**
 * What a new user does, on a fresh clone of this repository's committed HEAD: the README's first
 * commands (`npm ci`, the demo), and `npm pack` into a clean consumer project (ESM TypeScript,
 * strict, NodeNext, a tsconfig with nothing else in it) that typechecks on the TypeScript pinned
 * here and on the one `npm install typescript` gives today, runs turns, and can `require()` the
 * package. The whole suite on a fresh clone is CI's job (`npm test` there), not repeated here.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
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

interface Packed {
  pack: Run;
  tarball: string;
  /** The tarball's file list, without its `package/` prefix. */
  files: string[];
}

interface Consumer {
  dir: string;
  install: Run;
  /** Started together once the install is done: today's TypeScript (no emit) and the pinned one (emits out/). */
  typecheckLatest: Promise<Run>;
  typecheckPinned: Promise<Run>;
}

async function packed(clone: string, work: string): Promise<Packed> {
  const pack = await sh("npm", ["pack", "--pack-destination", work], clone);
  if (pack.code !== 0) return { pack, tarball: "", files: [] };
  const tarball = path.join(work, pack.stdout.trim().split("\n").at(-1)!);
  const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).trim().split("\n").map((file) => file.replace(/^package\//, ""));
  return { pack, tarball, files };
}

/** A clean consumer project with the tarball installed, and its two typechecks under way. */
async function consumerOf(tarball: string, work: string): Promise<Consumer> {
  const consumer = path.join(work, "consumer");
  await mkdir(consumer);
  await writeFile(path.join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  await writeFile(
    path.join(consumer, "tsconfig.json"),
    // What `tsc --init` would leave of it for an ESM project: no "types", no skipLibCheck.
    JSON.stringify({ compilerOptions: { module: "NodeNext", target: "ES2022", strict: true, outDir: "out" } }),
  );
  // The library as its README shows it: an embedded opencode (this test's scripted model as the
  // provider), one turn, Ctrl-C wired to cancel, then close and stop.
  await writeFile(
    path.join(consumer, "main.ts"),
    `import { OpenCodeAdapter, startDemo, startOpencode, type Reply, type TurnResult } from "opencode-turns";

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

// The offline demo, with a policy written as people write one: its string widened by async.
const demo = await startDemo({ bash: "ask" });
let asked = 0;
const offline = new OpenCodeAdapter(
  { baseUrl: demo.url, password: demo.password, providerID: demo.providerID, modelID: demo.modelID, permissions: async () => (asked++, "once") },
  () => {},
);
const demoResult = await offline.prompt("Explain this repository");
await offline.close();
await demo.stop();
console.log(JSON.stringify({ result, kinds: replies.map((reply) => reply.kind), demo: demoResult.outcome, asked }));
`,
  );
  await writeFile(
    path.join(consumer, "require.cjs"),
    `const turns = require("opencode-turns");\nconsole.log(typeof turns.OpenCodeAdapter, typeof turns.startOpencode);\n`,
  );
  // The pinned TypeScript as `typescript`, and whatever `npm install typescript` gives today beside it.
  const install = await sh(
    "npm",
    ["install", "--no-audit", "--no-fund", tarball, "typescript@~5.9.3", "typescript-latest@npm:typescript@latest", "@types/node@^20.19.0"],
    consumer,
  );
  const installed = install.code === 0;
  return {
    dir: consumer,
    install,
    typecheckLatest: installed ? sh("node", ["node_modules/typescript-latest/bin/tsc", "-p", ".", "--noEmit"], consumer) : Promise.resolve(install),
    typecheckPinned: installed ? sh("npx", ["tsc", "-p", "."], consumer) : Promise.resolve(install),
  };
}

describe("a new user on a fresh clone", () => {
  let work: string;
  let clone: string;
  // Each step starts once what it needs is done, so steps that need different things overlap: npm ci;
  // then npm pack (its prepack builds dist/); then the demo (whose build removes and makes dist/
  // again) beside the consumer's install and its two typechecks. The tests check each in turn.
  let installing: Promise<Run>;
  let packing: Promise<Packed>;
  let demoing: Promise<Run>;
  let consuming: Promise<Consumer>;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "new-user-"));
    clone = path.join(work, "opencode-turns");
    const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
    execFileSync("git", ["clone", "--quiet", root, clone]);
    execFileSync("git", ["checkout", "--quiet", head], { cwd: clone });
    installing = sh("npm", ["ci"], clone);
    packing = installing.then((install) => (install.code === 0 ? packed(clone, work) : { pack: install, tarball: "", files: [] }));
    demoing = packing.then(() => sh("npm", ["run", "--silent", "demo"], clone));
    consuming = packing.then(({ pack, tarball }) => (pack.code === 0 ? consumerOf(tarball, work) : Promise.reject(new Error(tail(pack)))));
    // A step that fails is reported by the test that checks it, not as an unhandled rejection.
    consuming.catch(() => undefined);
  });

  afterAll(async () => {
    // Every process this file started has ended before its folder goes.
    const typechecks = consuming?.then((project) => Promise.allSettled([project.typecheckLatest, project.typecheckPinned]));
    await Promise.allSettled([installing, packing, demoing, typechecks]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("npm ci installs only the opencode builds this platform runs", { timeout: 10 * MINUTES }, async () => {
    const install = await installing;
    expect(install.code, tail(install)).toBe(0);
    const installed = await import("node:fs/promises").then((fs) => fs.readdir(path.join(clone, "node_modules")));
    expect(installed.filter((name) => name.startsWith("opencode-") && name.endsWith("-musl"))).toEqual([]);
  });

  it("npm run demo, the README's second command, builds and streams a whole turn offline", { timeout: 10 * MINUTES }, async () => {
    const demo = await demoing;
    expect(demo.code, tail(demo)).toBe(0);
    expect(await readFile(path.join(clone, "dist/src/cli/main.js"), "utf8")).toMatch(/^#!\/usr\/bin\/env node/);
    expect(demo.stdout).toContain("Thinking: ");
    expect(demo.stdout).toMatch(/^✓ bash pwd && ls -A → .*opencode-turns-\w+\/work$/m);
    expect(demo.stdout).toContain('This is the offline demo of opencode-turns, answering "Explain this repository".');
    expect(demo.stdout).not.toContain("\u001b");
  });

  describe("npm pack, installed into a clean consumer project", () => {
    let model: ScriptedModel;
    let consumer: string;
    let files: string[];
    let installWarnings = "";
    let typecheckLatest: Promise<Run>;
    let typecheckPinned: Promise<Run>;

    beforeAll(async () => {
      model = await startScriptedModel();
      const { pack } = await packing;
      expect(pack.code, tail(pack)).toBe(0);
      files = (await packing).files;
      const project = await consuming;
      expect(project.install.code, tail(project.install)).toBe(0);
      ({ dir: consumer, typecheckLatest, typecheckPinned } = project);
      installWarnings = project.install.stderr;
    }, 10 * MINUTES);

    afterAll(async () => {
      await model?.close();
    });

    it("installs without a word about its scripts", () => {
      expect(installWarnings).not.toMatch(/prepare|script/i);
    });

    it("ships the build, the bundled CLI's licenses, the sources its maps point at, README, LICENSE and the README's pictures, and no tests", async () => {
      const pictures = [...(await readFile(path.join(clone, "README.md"), "utf8")).matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((match) => match[1]!);
      expect(pictures.length).toBeGreaterThan(0);
      for (const file of [...pictures, "dist/index.js", "dist/index.d.ts", "dist/src/cli/main.js", "dist/src/cli/THIRD-PARTY-LICENSES.txt", "dist/src/embedded/server.js", "README.md", "LICENSE", "package.json"]) {
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

    it("typechecks on today's TypeScript (npm's latest) with the plain tsconfig", { timeout: 2 * MINUTES }, async () => {
      const typecheck = await typecheckLatest;
      expect(typecheck.code, tail(typecheck)).toBe(0);
      const version = await sh("node", ["node_modules/typescript-latest/bin/tsc", "--version"], consumer);
      expect(version.stdout).not.toMatch(/Version 5\.9\./);
    });

    it("typechecks on the pinned TypeScript with the plain tsconfig, and runs turns through the library (and its offline demo)", { timeout: 6 * MINUTES }, async () => {
      const typecheck = await typecheckPinned;
      expect(typecheck.code, tail(typecheck)).toBe(0);
      const run = await sh("node", ["out/main.js"], consumer, userEnv({ MODEL_URL: model.url, OPENCODE_BIN: opencodeBinary("1.18.33") }));
      expect(run.code, tail(run)).toBe(0);
      const { result, kinds, demo, asked } = JSON.parse(run.stdout) as { result: { outcome: string; content: string }; kinds: string[]; demo: string; asked: number };
      expect(result).toMatchObject({ outcome: "final", content: DEFAULT_TEXT });
      expect(kinds.at(-1)).toBe("final");
      expect({ demo, asked }).toEqual({ demo: "final", asked: 1 });
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
