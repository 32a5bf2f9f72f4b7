/**
 * The built `opencode-turns` CLI, spawned as a user runs it, against real opencode 1.18.33 (one
 * server for the file, its bash tool behind a permission ask) and the scripted model; and the
 * embedded server it starts without --url.
 */
import { spawn } from "node:child_process";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Reply } from "../../src/contract/replies.js";
import { alive, CLI, cliEnv, eventually, runCli, spawnCli } from "../../testkit/cli.js";
import { freePort, opencodeBinary, scriptedConfig, startTestOpencode, type OpencodeServer } from "../../testkit/opencode-server.js";
import { startScriptedModel, type ScriptedModel } from "../../testkit/scripted-model.js";

/** stdout of --json as replies, each checked against the contract's schema. */
function replies(stdout: string): Reply[] {
  expect(stdout.endsWith("\n")).toBe(true);
  return stdout
    .slice(0, -1)
    .split("\n")
    .map((line) => Reply.parse(JSON.parse(line)));
}

const ESCAPE = "\u001b";

describe("opencode-turns run against a running opencode (--url)", () => {
  let model: ScriptedModel;
  let server: OpencodeServer;
  let scratch: string;
  const connection = () => ["--url", server.url, "--password", server.password];

  beforeAll(async () => {
    model = await startScriptedModel();
    server = await startTestOpencode({ modelUrl: model.url, permission: { bash: "ask" } });
    scratch = await mkdtemp(path.join(os.tmpdir(), "cli-test-"));
  });

  afterAll(async () => {
    await server?.stop();
    await model?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("--json: one reply per line on stdout, each valid against the reply schema, final last", async () => {
    const run = await runCli(["run", ...connection(), "--json", "--permissions", "once", "--trace-id", "cli-json", "please use a tool"]);
    expect(run.code).toBe(0);
    const list = replies(run.stdout);
    expect(list.every((reply) => reply.trace_id === "cli-json")).toBe(true);
    expect(list.filter((reply) => reply.kind === "final" || reply.kind === "error")).toEqual([list.at(-1)]);
    const call = list.find((reply) => reply.kind === "tool_call");
    expect(call).toMatchObject({ tool: "bash", args: { command: "echo hi-from-tool" } });
    const result = list.find((reply) => reply.kind === "tool_result");
    expect(result).toMatchObject({ tool: "bash", success: true, result: expect.stringContaining("hi-from-tool") });
    const final = list.at(-1)!;
    expect(final.kind).toBe("final");
    const deltas = list.flatMap((reply) => (reply.kind === "delta" ? [reply.content] : []));
    expect(final.kind === "final" && final.content).toBe(deltas.join(""));
    expect(deltas.join("")).toContain("Tool said: hi-from-tool");
  });

  it("human output without a terminal: the streamed answer, one line per tool call, a closing line, no escape codes", async () => {
    const run = await runCli(["run", ...connection(), "--permissions", "once", "please use a tool"]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain(ESCAPE);
    expect(run.stderr).not.toContain(ESCAPE);
    expect(run.stdout).toMatch(/^✓ bash echo hi-from-tool → hi-from-tool$/m);
    expect(run.stdout).toContain("Tool said: hi-from-tool");
    expect(run.stdout).toMatch(/^— \d+ in, \d+ out tokens · \$\d+\.\d{4} · \d+\.\d s · session ses\w+\n$/m);
  });

  it("reasoning is shown apart from the answer, and NO_COLOR output has no escape codes either", async () => {
    const run = await runCli(["run", ...connection(), "think about it"], { env: { NO_COLOR: "1" } });
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain(ESCAPE);
    expect(run.stdout).toMatch(/^Thinking: Let me think\.\nThought it through\.\n/);
  });

  it("reads the prompt from stdin when it is not a terminal", async () => {
    const run = await runCli(["run", ...connection(), "--json"], { input: "say hello [id:from-stdin]\n" });
    expect(run.code).toBe(0);
    const final = replies(run.stdout).at(-1);
    expect(final).toMatchObject({ kind: "final", content: expect.stringContaining("[id:from-stdin]") });
    expect(model.log.at(-1)?.lastUserText).toContain("say hello [id:from-stdin]");
  });

  it("--attach sends the file, its type from the extension", async () => {
    const file = path.join(scratch, "notes.txt");
    await writeFile(file, "attached-marker-7f3a\n");
    const run = await runCli(["run", ...connection(), "--json", "--attach", file, "say hello"]);
    expect(run.code).toBe(0);
    expect(JSON.stringify(model.log.at(-1)?.body)).toContain("attached-marker-7f3a");
  });

  it("--permissions ask with no terminal rejects, and the turn goes on", async () => {
    const run = await runCli(["run", ...connection(), "--json", "--permissions", "ask", "please use a tool"]);
    expect(run.code).toBe(0);
    const list = replies(run.stdout);
    expect(list.find((reply) => reply.kind === "tool_result")).toMatchObject({ tool: "bash", success: false });
    expect(list.at(-1)?.kind).toBe("final");
  });

  it("on a terminal: colour, the tool line after its spinner, and --permissions ask asks there", async () => {
    // util-linux `script` runs the CLI on a pseudo-terminal; the answer is typed once the question shows.
    const command = [process.execPath, CLI, "run", ...connection(), "--permissions", "ask", "please use a tool"]
      .map((word) => `'${word.replace(/'/g, "'\\''")}'`)
      .join(" ");
    // CI=1 as on a CI machine: a terminal is live there too (the CLI decides that, not the environment's CI).
    const terminal = spawn("script", ["-qfec", command, "/dev/null"], { env: cliEnv({ TERM: "xterm-256color", CI: "1" }), stdio: ["pipe", "pipe", "inherit"] });
    let screen = "";
    terminal.stdout!.on("data", (chunk: Buffer) => (screen += chunk.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => terminal.once("close", resolve));
    await eventually(() => screen.includes("Allow [o]nce, [a]lways, or [r]eject?"), "the permission question");
    expect(screen).toContain("opencode asks to use bash: echo hi-from-tool");
    terminal.stdin!.write("o\r");
    expect(await exited).toBe(0);
    const plain = stripVTControlCharacters(screen);
    expect(plain).toMatch(/✓ bash echo hi-from-tool → hi-from-tool/);
    expect(plain).toContain("Tool said: hi-from-tool");
    expect(screen).toContain(`${ESCAPE}[32m✓`);
    // The spinner hid the cursor while the tool ran, and showed it again.
    expect(screen).toContain(`${ESCAPE}[?25l`);
    expect(screen).toContain(`${ESCAPE}[?25h`);
  });

  it("exits 1 on an error reply, and says what went wrong and what to do", async () => {
    const human = await runCli(["run", ...connection(), "fail401 now"]);
    expect(human.code).toBe(1);
    expect(human.stderr).toContain("Error: ");
    expect(human.stderr).toContain("scripted invalid api key");
    expect(human.stderr).toContain("check its API key");
    expect(human.stderr).not.toContain(ESCAPE);

    const json = await runCli(["run", ...connection(), "--json", "fail401 now"]);
    expect(json.code).toBe(1);
    expect(replies(json.stdout).at(-1)).toMatchObject({ kind: "error", code: "provider_error" });
  });

  it("exits 1 with unauthorized and advice on a wrong password", async () => {
    const run = await runCli(["run", "--url", server.url, "--password", "wrong", "say hello"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("Check the password");
  });

  it("Ctrl-C cancels the turn on the server and exits 130", async () => {
    const created = await fetch(`${server.url}/session`, {
      method: "POST",
      headers: { ...server.headers, "content-type": "application/json" },
      body: "{}",
    });
    const session = ((await created.json()) as { id: string }).id;
    const cli = spawnCli(["run", ...connection(), "--json", "--session", session, "slow answer please"]);
    await eventually(() => cli.stdout().includes('"kind":"delta"'), "the first delta");
    cli.child.kill("SIGINT");
    const run = await cli.exited;
    expect(run.code).toBe(130);
    expect(replies(run.stdout).at(-1)).toMatchObject({ kind: "error", code: "aborted" });
    expect(run.stderr).toContain("Cancelling the turn");

    const stored = await fetch(`${server.url}/session/${session}/message`, { headers: server.headers });
    const messages = (await stored.json()) as { info: { role: string; error?: { name: string } } }[];
    expect(messages.findLast((message) => message.info.role === "assistant")?.info.error?.name).toBe("MessageAbortedError");
    await eventually(() => model.streaming === 0, "the model's stream to be cut");
  });
});

describe("opencode-turns run usage", () => {
  it.each([
    [["run", "--frobnicate", "hello"], "Unknown option --frobnicate."],
    [["run", "--url"], "--url needs a value."],
    [["run", "--demo=yes", "hi"], "--demo takes no value."],
    [["run"], "Give a prompt"],
    [["run", "--model", "no-slash", "hello"], "PROVIDER/MODEL"],
    [["run", "--timeout", "soon", "hello"], "--timeout soon"],
    [["run", "--permissions", "maybe", "hello"], "once, always, reject, ask"],
    [["run", "--session", "abc", "hello"], "ses"],
    [["run", "--demo", "--url", "http://127.0.0.1:9", "hello"], "--demo"],
    [["run", "--attach", "/no/such/file", "hello"], "--attach /no/such/file"],
    [["run", "--url", "localhost:4096", "hello"], "--url (or OPENCODE_URL): expected an http(s) URL"],
    [["run", "--tool", "bash", "hello"], "--tool bash: give it as NAME=on or NAME=off"],
    [["run", "--tool", "bash=maybe", "hello"], "--tool bash=maybe: give it as NAME=on or NAME=off"],
    [["run", "--variant=", "hello"], "--variant needs a name."],
    [["run", "--format", "/no/such/schema.json", "hello"], "--format /no/such/schema.json: cannot read it (ENOENT)"],
    [["run", "--format", "{not json", "hello"], "--format: not JSON"],
    [["run", "--format", "[1]", "hello"], "--format: a JSON Schema is an object"],
  ])("%j exits 2 with the problem and one line pointing at --help on stderr, nothing on stdout", async (args, problem) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    // What a 40-row terminal keeps in view: the problem, then where the options are; no usage text, no parser advice.
    expect(run.stderr.split("\n")[0]).toContain(problem);
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(2);
    expect(run.stderr.trimEnd().split("\n").at(-1)).toBe("Run `opencode-turns run --help` for its options.");
    expect(run.stderr).not.toContain("Usage:");
    expect(run.stderr).not.toContain("'--");
  });

  it("a --format file that is not JSON exits 2 and names the file", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "cli-format-"));
    try {
      const file = path.join(dir, "schema.json");
      await writeFile(file, "type: object\n");
      const run = await runCli(["run", "--format", file, "hello"]);
      expect(run.code).toBe(2);
      expect(run.stderr.split("\n")[0]).toContain(`--format ${file}: not JSON`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [["command"], "Give the session (ses...) and the command's name"],
    [["command", "ses_x"], "Give the session (ses...) and the command's name"],
    [["command", "--tool", "bash=off", "ses_x", "greet"], "Unknown option --tool."],
    [["command", "--session", "ses_y", "ses_x", "greet"], "leave out --session"],
    [["summarize", "--session", "ses_y", "--model", "p/m", "ses_x"], "leave out --session"],
    // The commands that run no turn take the server's options only.
    [["fork", "--session", "ses_y", "ses_x"], "Unknown option --session."],
    [["sessions", "--model", "p/m"], "Unknown option --model."],
    [["history", "--permissions", "once", "ses_x"], "Unknown option --permissions."],
    [["summarize"], "Give one session id"],
    [["summarize", "ses_x"], "Give --model PROVIDER/MODEL"],
    [["sessions", "extra"], 'Unexpected argument "extra"'],
    [["history"], "Give one session id"],
    [["fork"], "Give one session id"],
    [["fork", "--message"], "--message needs a value."],
    [["revert", "ses_x"], "Give the session (ses...) and the message"],
    [["unrevert"], "Give one session id"],
  ])("%j exits 2 with the problem and where that command's options are", async (args, problem) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.split("\n")[0]).toContain(problem);
    expect(run.stderr.trimEnd().split("\n").at(-1)).toBe(`Run \`opencode-turns ${args[0]} --help\` for its options.`);
  });

  it("an unknown command exits 2 and points at the list of commands", async () => {
    const run = await runCli(["walk"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("Unknown command: walk.\nRun `opencode-turns --help` for the commands.\n");
  });

  it.each([["run"], ["bridge"], ["replay"], ["command"], ["summarize"], ["sessions"], ["history"], ["fork"], ["revert"], ["unrevert"]])("%s --help: -h and --version are under General, the last group", async (command) => {
    const help = await runCli([command, "--help"]);
    expect(help.code).toBe(0);
    const groups = help.stdout.split(/\n(?=[A-Z][a-z]+:\n)/);
    const general = groups.find((group) => group.startsWith("General:"));
    expect(general, help.stdout).toMatch(/^General:\n {2}-h, --help {16}this text\n {2}--version/);
    for (const group of groups.filter((group) => group !== general)) expect(group).not.toMatch(/^ {2}-h, --help/m);
  });

  it("--help and --version", async () => {
    const help = await runCli(["run", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--permissions MODE");
    const listed = await runCli(["--help"]);
    for (const command of ["run", "command", "summarize", "sessions", "history", "fork", "revert", "unrevert"]) expect(listed.stdout).toMatch(new RegExp(`^  ${command} +\\S`, "m"));
    const version = await runCli(["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

// These runs start opencode with a user's HOME and so its whole model catalog: start and first turn
// cost 5 to 9 s of CPU by machine, and in a CI run beside the soak a run once took longer than 20 s to its
// first delta. The waits and the tests allow for that.
const USER_START_MS = 60_000;

describe("opencode-turns run starting opencode itself (no --url)", { timeout: 3 * USER_START_MS }, () => {
  let model: ScriptedModel;
  let home: string;
  /** An environment where the user's opencode is configured with the scripted model. */
  let env: Record<string, string>;

  beforeAll(async () => {
    model = await startScriptedModel();
    home = await mkdtemp(path.join(os.tmpdir(), "cli-home-"));
    env = {
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, ".config"),
      XDG_DATA_HOME: path.join(home, ".local/share"),
      XDG_CACHE_HOME: path.join(home, ".cache"),
      XDG_STATE_HOME: path.join(home, ".local/state"),
      OPENCODE_CONFIG_CONTENT: JSON.stringify(scriptedConfig({ modelUrl: model.url })),
      OPENCODE_BIN: opencodeBinary("1.18.33"),
    };
  });

  afterAll(async () => {
    await model?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const pidOf = (stderr: string) => Number(/listening on \S+ \(pid (\d+)\)/.exec(stderr)?.[1]);

  it("runs the turn on an opencode it starts, and stops it", async () => {
    const run = await runCli(["run", "--verbose", "--json", "say hello"], { env, cwd: home });
    expect(run.code).toBe(0);
    expect(replies(run.stdout).at(-1)).toMatchObject({ kind: "final", content: "Hello from the scripted model." });
    const pid = pidOf(run.stderr);
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(false);
  });

  it("Ctrl-C cancels, stops the server and exits 130; a second Ctrl-C exits at once and still leaves no server", async () => {
    const once = spawnCli(["run", "--verbose", "--json", "slow answer please"], { env, cwd: home });
    await eventually(() => once.stdout().includes('"kind":"delta"'), "the first delta", USER_START_MS);
    once.child.kill("SIGINT");
    const first = await once.exited;
    expect(first.code).toBe(130);
    expect(replies(first.stdout).at(-1)).toMatchObject({ kind: "error", code: "aborted" });
    expect(alive(pidOf(first.stderr))).toBe(false);

    const twice = spawnCli(["run", "--verbose", "--json", "slow answer please"], { env, cwd: home });
    await eventually(() => twice.stdout().includes('"kind":"delta"'), "the first delta", USER_START_MS);
    twice.child.kill("SIGINT");
    await eventually(() => twice.stderr().includes("Cancelling"), "the first interrupt to be seen");
    twice.child.kill("SIGINT");
    const second = await twice.exited;
    expect(second.code).toBe(130);
    const pid = pidOf(second.stderr);
    await eventually(() => !alive(pid), "the embedded opencode to be gone");
  });

  it("says how to install opencode when there is none", async () => {
    const run = await runCli(["run", "say hello"], { env: { ...env, OPENCODE_BIN: "/no/such/opencode" } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("/no/such/opencode does not exist");
  });
});

describe("opencode-turns run --demo", () => {
  it("runs a whole turn offline: reasoning, a tool call that really runs in a temporary directory, streamed text", async () => {
    const run = await runCli(["run", "--demo", "--json", "Explain this repository"]);
    expect(run.code).toBe(0);
    const list = replies(run.stdout);
    const kinds = list.map((reply) => reply.kind);
    expect(new Set(kinds)).toEqual(new Set(["reasoning", "tool_call", "tool_result", "delta", "final"]));
    expect(kinds.at(-1)).toBe("final");
    const result = list.find((reply) => reply.kind === "tool_result");
    expect(result).toMatchObject({ tool: "bash", success: true });
    const [directory, listing] = String(result?.kind === "tool_result" && result.result).split("\n");
    expect(directory).toMatch(new RegExp(`^${os.tmpdir()}/opencode-turns-\\w+/work$`));
    expect(listing).toBe("NOTES.md");
    // The text came as deltas that make the final exactly. How many depends on the machine: the hub
    // joins deltas that arrive together, and on a loaded machine the demo's whole paced answer
    // (its model runs in the CLI's own process) once arrived at once. Streaming while the turn runs
    // is proven with a slower model (test/e2e/scenarios.ts, 7a and 7b).
    const deltas = list.flatMap((reply) => (reply.kind === "delta" ? [reply.content] : []));
    expect(deltas.join("")).toContain("This is the offline demo of opencode-turns");
    expect(list.at(-1)).toMatchObject({ content: deltas.join("") });
    expect(list.at(-1)).toMatchObject({ content: expect.stringContaining(directory!) });
    // The run removed its temporary directory.
    await expect(import("node:fs/promises").then((fs) => fs.stat(directory!))).rejects.toThrow();
  });
});

describe("the built CLI", () => {
  it("is one file: copied alone into an empty directory, it prints its help and runs a turn to its end", async () => {
    const alone = await mkdtemp(path.join(os.tmpdir(), "cli-alone-"));
    try {
      await copyFile(CLI, path.join(alone, "main.js"));
      await writeFile(path.join(alone, "package.json"), '{ "type": "module" }\n');
      const lone = (args: string[]) =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, [path.join(alone, "main.js"), ...args], { cwd: alone, env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] });
          let stdout = "";
          let stderr = "";
          child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
          child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
          child.once("close", (code) => resolve({ code, stdout, stderr }));
        });
      const help = await lone(["--help"]);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/^Usage: opencode-turns <command>/);
      // The whole turn path (undici, XState, zod, the codec) is in the file: a turn against a port
      // nobody listens on ends as the contract says, with no module missing.
      const url = `http://127.0.0.1:${await freePort()}`;
      const turn = await lone(["run", "--url", url, "--json", "say hello"]);
      expect(turn.code, turn.stderr).toBe(1);
      expect(replies(turn.stdout)).toEqual([expect.objectContaining({ kind: "error", code: "unreachable", error: expect.stringContaining(`Cannot reach opencode at ${url}`) })]);
    } finally {
      await rm(alone, { recursive: true, force: true });
    }
  });
});
