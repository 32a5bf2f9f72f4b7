/**
 * The Python adapter over the built CLI's bridge: `python3 -m unittest` on
 * python/test_opencode_turns.py against one real opencode 1.18.33 and the scripted model, called
 * as taOS's `drive_turn` calls its adapter.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliEnv } from "../../testkit/cli.js";
import { MODEL_ID, PROVIDER_ID, startTestOpencode, type OpencodeServer } from "../../testkit/opencode-server.js";
import { startScriptedModel, type ScriptedModel } from "../../testkit/scripted-model.js";

const PYTHON_DIR = fileURLToPath(new URL("../../python/", import.meta.url));
/** The test methods of python/test_opencode_turns.py: each must run and pass, none be skipped. */
const PYTHON_TESTS = 37;
/** Its test classes, read off the file, so a class added there runs here too. */
const CLASSES = [...readFileSync(`${PYTHON_DIR}test_opencode_turns.py`, "utf8").matchAll(/^class (\w+)\(unittest\.\w*TestCase\)/gm)].map((m) => m[1]!);
// Each class is independent of the others (its own adapters, sessions, temp dirs): they run as
// separate unittest processes, this many at a time, so the suite waits for the slowest class, not
// the sum of them. The fresh-venv installs and the drop-in's turns are the long ones: they start first.
const AT_ONCE = 3;
const LONGEST_FIRST = ["Installing", "DropIn"];

interface Run {
  name: string;
  code: number | null;
  output: string;
}

describe("the Python adapter against a running opencode", () => {
  let model: ScriptedModel;
  let server: OpencodeServer;

  beforeAll(async () => {
    model = await startScriptedModel();
    server = await startTestOpencode({ modelUrl: model.url, permission: { bash: "ask" } });
  });

  afterAll(async () => {
    await server?.stop();
    await model?.close();
  });

  function unittest(name: string): Promise<Run> {
    const child = spawn("python3", ["-m", "unittest", "-v", `test_opencode_turns.${name}`], {
      cwd: PYTHON_DIR,
      env: cliEnv({
        OPENCODE_TURNS_TEST_URL: server.url,
        OPENCODE_TURNS_TEST_PASSWORD: server.password,
        OPENCODE_TURNS_TEST_PROVIDER: PROVIDER_ID,
        OPENCODE_TURNS_TEST_MODEL: MODEL_ID,
        PYTHONDONTWRITEBYTECODE: "1",
        // Dev mode reports what a host would not see: unclosed transports, tasks never awaited.
        PYTHONDEVMODE: "1",
      }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    return new Promise((resolve) => child.once("close", (code) => resolve({ name, code, output })));
  }

  it("python3 -m unittest python/test_opencode_turns.py passes, every class, called as taOS calls it", async () => {
    expect(CLASSES).toEqual(expect.arrayContaining(LONGEST_FIRST));
    const queue = [...LONGEST_FIRST, ...CLASSES.filter((name) => !LONGEST_FIRST.includes(name))];
    const runs: Run[] = [];
    await Promise.all(
      Array.from({ length: AT_ONCE }, async () => {
        for (let name = queue.shift(); name !== undefined; name = queue.shift()) runs.push(await unittest(name));
      }),
    );
    let ran = 0;
    for (const { name, code, output } of runs) {
      const count = /^Ran (\d+) tests? in /m.exec(output);
      expect(count, `${name}\n${output}`).not.toBeNull();
      ran += Number(count![1]);
      expect(output, `${name}\n${output}`).toMatch(/^OK$/m);
      expect(output, name).not.toMatch(/skipped/);
      expect(output, name).not.toMatch(/ResourceWarning|never awaited|Task was destroyed|Exception ignored/);
      expect(code, `${name}\n${output}`).toBe(0);
    }
    expect(runs.map((run) => run.name).sort()).toEqual([...CLASSES].sort());
    expect(ran).toBe(PYTHON_TESTS);
    // Idle: 50 s three at a time, 82 s one class after another; under a load of 20 it took minutes.
  }, 600_000);
});
