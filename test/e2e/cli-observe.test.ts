/**
 * The built CLI's watching options against real opencode 1.18.33 and the scripted model: `run --record`
 * then `replay` (offline, the same replies), `--inspect-log`, and `--inspect` with a stand-in for the
 * browser page.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { Reply } from "../../src/contract/replies.js";
import { eventually, runCli, spawnCli } from "../../testkit/cli.js";
import { startTestOpencode, type OpencodeServer } from "../../testkit/opencode-server.js";
import { startScriptedModel, type ScriptedModel } from "../../testkit/scripted-model.js";

const ESCAPE = "\u001b";
const lines = (text: string) => text.trimEnd().split("\n").map((line) => JSON.parse(line));

describe("opencode-turns run --record / --inspect / --inspect-log, and replay", () => {
  let model: ScriptedModel;
  let server: OpencodeServer;
  let scratch: string;
  const connection = () => ["--url", server.url, "--password", server.password];

  beforeAll(async () => {
    model = await startScriptedModel();
    server = await startTestOpencode({ modelUrl: model.url, permission: { bash: "ask" } });
    scratch = await mkdtemp(path.join(os.tmpdir(), "cli-observe-"));
  });

  afterAll(async () => {
    await server?.stop();
    await model?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("--record, then replay: the same replies offline, as JSON or for people; a changed recording is reported", async () => {
    const file = path.join(scratch, "turn.jsonl");
    const live = await runCli(["run", ...connection(), "--json", "--permissions", "once", "--record", file, "please use a tool"]);
    expect(live.code).toBe(0);
    const liveReplies = lines(live.stdout).map((r) => Reply.parse(r));
    expect(liveReplies.map((r) => r.kind)).toEqual(expect.arrayContaining(["tool_call", "tool_result", "delta", "final"]));
    const recording = await readFile(file, "utf8");
    expect(lines(recording)[0]).toMatchObject({ format: "opencode-turns-recording", version: 1 });
    expect(recording).not.toContain(server.password);

    // The server is not asked: replay is offline.
    const replayed = await runCli(["replay", "--json", file], { env: { OPENCODE_URL: "http://127.0.0.1:9" } });
    expect(replayed).toMatchObject({ code: 0, stderr: "" });
    expect(lines(replayed.stdout)).toEqual(liveReplies);

    const human = await runCli(["replay", file]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("Tool said: hi-from-tool");
    expect(human.stdout).not.toContain(ESCAPE);
    expect(human.stderr).toContain(`replayed ${liveReplies.length} replies, the same as recorded`);

    const changed = path.join(scratch, "changed.jsonl");
    await writeFile(changed, recording.replace(/"kind":"final","trace_id":"([^"]+)","content":"/, '"kind":"final","trace_id":"$1","content":"not what was said '));
    const differs = await runCli(["replay", "--json", changed]);
    expect(differs.code).toBe(1);
    expect(differs.stderr).toContain(`differs from the recording at reply ${liveReplies.length}`);
    // Both sides of the difference are shown.
    expect(differs.stderr).toMatch(/\n {2}recorded: \{"kind":"final".*"content":"not what was said /);
    expect(differs.stderr).toMatch(/\n {2}replayed: \{"kind":"final"/);
  });

  it("replay: a file that is missing, or is not a recording, exits 1 (as its help says) and says so", async () => {
    const missing = await runCli(["replay", path.join(scratch, "nope.jsonl")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("cannot read it (ENOENT)");
    const notRecording = path.join(scratch, "not-a-recording.jsonl");
    await writeFile(notRecording, '{"hello":"world"}\n');
    const wrong = await runCli(["replay", notRecording]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("not an opencode-turns recording");
  });

  it("--inspect-log: XState's inspection events of the turn as JSON lines, without the password", async () => {
    const file = path.join(scratch, "inspection.jsonl");
    const run = await runCli(["run", ...connection(), "--json", "--inspect-log", file, "say hello"]);
    expect(run.code).toBe(0);
    const text = await readFile(file, "utf8");
    expect(text).not.toContain(server.password);
    const records = lines(text);
    expect(records.some((r) => r.type === "@xstate.event" && r.event.type === "EVENTS")).toBe(true);
    expect(records.filter((r) => r.type === "@xstate.snapshot" && r.actor === r.rootId).at(-1).snapshot).toMatchObject({ status: "done", value: "done" });
  });

  it("--record to a file that cannot be written is a usage error before anything runs", async () => {
    const run = await runCli(["run", ...connection(), "--record", path.join(scratch, "no-such-dir", "x.jsonl"), "say hello"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--record");
    expect(run.stderr).toContain("ENOENT");
  });

  it("--inspect: prints the inspector's local address on stderr, starts the turn when a page connects, and streams it there", async () => {
    const cli = spawnCli(["run", ...connection(), "--json", "--inspect", "say hello"]);
    await eventually(() => /open (http:\/\/127\.0\.0\.1:\d+\/)/.test(cli.stderr()), "the inspector's address");
    const url = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(cli.stderr())![1]!;
    expect(cli.stdout()).toBe("");
    const page = new WebSocket(url.replace("http", "ws"));
    const messages: Array<Record<string, any>> = [];
    page.on("message", (data) => messages.push(JSON.parse(String(data))));
    const done = await cli.exited;
    expect(done.code).toBe(0);
    expect(lines(done.stdout).at(-1)).toMatchObject({ kind: "final" });
    expect(messages.find((m) => m.type === "@xstate.actor" && m.name === "turn")).toBeDefined();
    expect(messages.some((m) => m.type === "@xstate.event" && m.event.type === "EVENTS")).toBe(true);
    expect(JSON.stringify(messages)).not.toContain(server.password);
  });

  it("--inspect: Ctrl-C while waiting for the page gives up before anything runs (130)", async () => {
    const sessions = async () => ((await (await fetch(`${server.url}/session`, { headers: server.headers })).json()) as unknown[]).length;
    const before = await sessions();
    const cli = spawnCli(["run", ...connection(), "--inspect", "say hello"]);
    await eventually(() => cli.stderr().includes("Stately inspector: open"), "the inspector's address");
    cli.child.kill("SIGINT");
    const done = await cli.exited;
    expect(done.code).toBe(130);
    expect(await sessions()).toBe(before);
  });
});
