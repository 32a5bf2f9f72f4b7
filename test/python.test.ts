/**
 * The Python adapter (`python/opencode_turns.py`), run by `python3` the way taOS runs it, against
 * real opencode 1.18.33 (bash behind a permission ask) and the scripted model. The adapter starts
 * the built CLI's bridge (`dist/src/cli.js`, built by `test/global-setup.ts`).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliEnv } from "./fixtures/cli.js";
import { MODEL_ID, PROVIDER_ID, startOpencode, type OpencodeServer } from "./fixtures/opencode-server.js";
import { startScriptedModel, type ScriptedModel } from "./fixtures/scripted-model.js";

const PYTHON_DIR = fileURLToPath(new URL("../python/", import.meta.url));
/** The test methods of python/test_opencode_turns.py: each must run and pass, none be skipped. */
const EXPECTED_TESTS = 14;

describe("the Python adapter against real opencode", () => {
  let model: ScriptedModel;
  let server: OpencodeServer;

  beforeAll(async () => {
    model = await startScriptedModel();
    server = await startOpencode({ modelUrl: model.url, permission: { bash: "ask" } });
  });

  afterAll(async () => {
    await server?.stop();
    await model?.close();
  });

  it("python3 -m unittest: every test passes", async () => {
    const child = spawn("python3", ["-m", "unittest", "-v", "test_opencode_turns"], {
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
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(output, output).toMatch(new RegExp(`^Ran ${EXPECTED_TESTS} tests? in `, "m"));
    expect(output, output).toMatch(/^OK$/m);
    expect(output).not.toMatch(/skipped/);
    expect(output).not.toMatch(/ResourceWarning|never awaited|Task was destroyed|Exception ignored/);
    expect(code, output).toBe(0);
  }, 240_000);
});
