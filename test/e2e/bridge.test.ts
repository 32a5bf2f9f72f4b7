/**
 * `opencode-turns bridge` and `--sink-url` (the Python adapter over it: python.test.ts): the built CLI
 * spawned as a host runs it, against one real opencode 1.18.33 (bash behind a permission ask) and
 * the scripted model.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BridgeOutput } from "../../src/integrations/bridge.js";
import { Reply, TurnResult } from "../../src/contract/replies.js";
import { alive, CLI, cliEnv, eventually, runCli } from "../../testkit/cli.js";
import { startTestOpencode, type OpencodeServer } from "../../testkit/opencode-server.js";
import { DEFAULT_TEXT, startScriptedModel, type ScriptedModel } from "../../testkit/scripted-model.js";

type Line = Record<string, any>;

interface BridgeProcess {
  child: ChildProcessWithoutNullStreams;
  /** Every stdout line, parsed as JSON. */
  lines: Line[];
  send(request: object | string): void;
  /** The first line (from the start) that `match` accepts, once it has come. */
  next(match: (line: Line) => boolean, what: string, timeoutMs?: number): Promise<Line>;
  /** Lines about one request, in order. */
  about(id: string): Line[];
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

const running = new Set<ChildProcessWithoutNullStreams>();

function startBridge(args: string[]): BridgeProcess {
  const child = spawn(process.execPath, [CLI, "bridge", ...args], { env: cliEnv(), stdio: ["pipe", "pipe", "pipe"] });
  running.add(child);
  const lines: Line[] = [];
  let stdout = "";
  let stderr = "";
  let partial = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    partial += chunk.toString("utf8");
    const complete = partial.split("\n");
    partial = complete.pop()!;
    for (const line of complete) lines.push(JSON.parse(line));
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once("close", (code) => {
      running.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
  return {
    child,
    lines,
    send: (request) => child.stdin.write(`${typeof request === "string" ? request : JSON.stringify(request)}\n`),
    next: async (match, what, timeoutMs = 25_000) => {
      await eventually(() => lines.some(match), what, timeoutMs);
      return lines.find(match)!;
    },
    about: (id) => lines.filter((line) => line.id === id),
    exited,
  };
}

/** Every stdout line is a protocol line: each one valid against the output schema. */
function expectOnlyProtocol(stdout: string): void {
  expect(stdout.endsWith("\n")).toBe(true);
  for (const line of stdout.slice(0, -1).split("\n")) expect(() => BridgeOutput.parse(JSON.parse(line)), line).not.toThrow();
}

/** A prompt's lines: its replies, in the contract's order, then its result, last. */
function turnOf(lines: Line[]): { replies: Reply[]; result: TurnResult } {
  const result = TurnResult.parse(lines.at(-1)?.result);
  const replies = lines.slice(0, -1).filter((line) => "reply" in line).map((line) => Reply.parse(line.reply));
  expect(replies.at(-1)?.kind).toBe(result.outcome);
  expect(new Set(replies.map((reply) => reply.trace_id))).toEqual(new Set([result.trace_id]));
  return { replies, result };
}

/** A reply route that keeps what it is sent. */
async function replyRoute() {
  const received: Array<{ body: Reply; authorization: string | undefined }> = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      received.push({ body: JSON.parse(body), authorization: req.headers.authorization });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/openclaw/sessions/agent-1/reply`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe("opencode-turns bridge against a running opencode", () => {
  let model: ScriptedModel;
  let server: OpencodeServer;
  const connection = () => ["--url", server.url, "--password", server.password];

  beforeAll(async () => {
    model = await startScriptedModel();
    server = await startTestOpencode({ modelUrl: model.url, permission: { bash: "ask" } });
  });

  afterAll(async () => {
    for (const child of running) child.kill("SIGKILL");
    await server?.stop();
    await model?.close();
  });

  it("runs a prompt: its replies in order, then its result; bad lines are answered and the bridge goes on; stdin closing exits 0", async () => {
    const bridge = startBridge(connection());
    bridge.send("this is not json");
    bridge.send({ id: "bad-1", op: "prompt" });
    bridge.send({ op: "cancel", id: "nobody" });
    bridge.send({ id: "p1", op: "prompt", text: "think first", trace_id: "trace-p1" });
    await bridge.next((line) => line.id === "p1" && "result" in line, "the result of p1");
    bridge.child.stdin.end();
    const { code, stdout } = await bridge.exited;

    expect(code).toBe(0);
    expectOnlyProtocol(stdout);
    expect(bridge.lines.slice(0, 3)).toEqual([
      { error: "The line is not JSON." },
      { id: "bad-1", error: expect.stringContaining("text") },
      { id: "nobody", error: "No prompt with this id is in flight." },
    ]);
    const { replies, result } = turnOf(bridge.about("p1"));
    expect(result).toMatchObject({ trace_id: "trace-p1", outcome: "final", content: "Thought it through." });
    expect(replies.map((reply) => reply.kind)).toContain("reasoning");
    expect(result.session_id).toMatch(/^ses/);
  });

  it("serves several sessions over one stream: each key its own opencode session, and `session` answers it", async () => {
    const bridge = startBridge(connection());
    bridge.send({ id: "s-a", op: "session", session: "agent-a" });
    bridge.send({ id: "a1", op: "prompt", text: "say hello [id:a]", session: "agent-a" });
    bridge.send({ id: "b1", op: "prompt", text: "say hello [id:b]", session: "agent-b" });
    bridge.send({ id: "a2", op: "prompt", text: "say hello [id:a2]", session: "agent-a" });
    for (const id of ["a1", "b1", "a2"]) await bridge.next((line) => line.id === id && "result" in line, `the result of ${id}`);
    bridge.child.stdin.end();
    expect((await bridge.exited).code).toBe(0);

    const session = bridge.about("s-a")[0]!.session_id as string;
    const [a1, b1, a2] = ["a1", "b1", "a2"].map((id) => turnOf(bridge.about(id)).result);
    expect(a1).toMatchObject({ outcome: "final", content: `${DEFAULT_TEXT} [id:a]`, session_id: session });
    expect(a2).toMatchObject({ outcome: "final", content: `${DEFAULT_TEXT} [id:a2]`, session_id: session });
    expect(b1).toMatchObject({ outcome: "final", content: `${DEFAULT_TEXT} [id:b]` });
    expect(b1!.session_id).not.toBe(session);
    // Prompts of one session run one after another: a2's lines all come after a1's result.
    const index = (match: (line: Line) => boolean) => bridge.lines.findIndex(match);
    expect(index((line) => line.id === "a2")).toBeGreaterThan(index((line) => line.id === "a1" && "result" in line));
  });

  it("--permissions ask: the ask goes to the host; a bad answer is refused and the ask still waits; the answer decides", async () => {
    const bridge = startBridge([...connection(), "--permissions", "ask"]);
    bridge.send({ id: "tool", op: "prompt", text: "please use a tool" });
    const ask = await bridge.next((line) => line.id === "tool" && "ask" in line, "the permission ask");
    expect(ask.ask).toMatchObject({ kind: "permission", request: { permission: "bash", sessionID: expect.stringMatching(/^ses/) } });
    bridge.send({ op: "answer", ask_id: ask.ask.ask_id, decision: [["yes"]] });
    await bridge.next((line) => line.ask_id === ask.ask.ask_id && "error" in line, "the refusal of a bad answer");
    bridge.send({ op: "answer", ask_id: ask.ask.ask_id, decision: "once" });
    await bridge.next((line) => line.id === "tool" && "result" in line, "the result");
    bridge.send({ op: "answer", ask_id: ask.ask.ask_id, decision: "once" });
    await bridge.next((line) => line.ask_id === ask.ask.ask_id && /No ask/.test(line.error ?? ""), "the refusal of a late answer");
    bridge.child.stdin.end();
    const { code, stdout } = await bridge.exited;
    expect(code).toBe(0);
    expectOnlyProtocol(stdout);
    const { replies, result } = turnOf(bridge.about("tool"));
    expect(replies.find((reply) => reply.kind === "tool_result")).toMatchObject({ success: true, result: "hi-from-tool\n" });
    expect(result).toMatchObject({ outcome: "final", content: "Tool said: hi-from-tool\n" });
  });

  it("cancel: a queued prompt and the running one each end with aborted; close ends the bridge after its turns", async () => {
    const bridge = startBridge(connection());
    bridge.send({ id: "slow", op: "prompt", text: "slow please" });
    bridge.send({ id: "queued", op: "prompt", text: "say hello" });
    bridge.send({ id: "last", op: "prompt", text: "slow please" });
    await bridge.next((line) => line.id === "slow" && line.reply?.kind === "delta", "a delta of the slow turn");
    bridge.send({ op: "cancel", id: "queued" });
    bridge.send({ op: "cancel", id: "slow" });
    await bridge.next((line) => line.id === "last" && line.reply?.kind === "delta", "a delta of the last turn");
    bridge.send({ id: "bye", op: "close" });
    const { code, stdout } = await bridge.exited;
    expect(code).toBe(0);
    expectOnlyProtocol(stdout);
    expect(turnOf(bridge.about("slow")).result).toMatchObject({ outcome: "error", code: "aborted" });
    expect(turnOf(bridge.about("queued"))).toMatchObject({ replies: [{ kind: "error", code: "aborted" }], result: { code: "aborted" } });
    expect(turnOf(bridge.about("last")).result).toMatchObject({ outcome: "error", code: "closed" });
    expect(bridge.lines.at(-1)).toEqual({ id: "bye", closed: true });
  });

  it("stdin ending mid-turn lets the turn finish with its answer, then exits 0, as a filter does", async () => {
    const bridge = startBridge(connection());
    bridge.send({ id: "cut", op: "prompt", text: "slow please" });
    await bridge.next((line) => line.id === "cut" && line.reply?.kind === "delta", "a delta");
    bridge.child.stdin.end();
    const { code, stdout } = await bridge.exited;
    expect(code).toBe(0);
    expectOnlyProtocol(stdout);
    expect(turnOf(bridge.about("cut")).result).toMatchObject({ outcome: "final" });
  });

  it("stdout closing mid-turn (the host is gone) ends the turn at once: opencode stops streaming it", async () => {
    const bridge = startBridge(connection());
    bridge.send({ id: "gone", op: "prompt", text: "slow please" });
    await bridge.next((line) => line.id === "gone" && line.reply?.kind === "delta", "a delta");
    bridge.child.stdout.destroy();
    bridge.child.stdin.end();
    expect((await bridge.exited).code).toBe(0);
    await eventually(() => model.streaming === 0, "the model's stream to be cut");
  });

  it("SIGTERM mid-turn ends the turn at once with closed, and exits 0", async () => {
    const bridge = startBridge(connection());
    bridge.send({ id: "term", op: "prompt", text: "slow please" });
    await bridge.next((line) => line.id === "term" && line.reply?.kind === "delta", "a delta");
    bridge.child.kill("SIGTERM");
    const { code, stdout } = await bridge.exited;
    expect(code).toBe(0);
    expectOnlyProtocol(stdout);
    expect(turnOf(bridge.about("term")).result).toMatchObject({ outcome: "error", code: "closed" });
  });

  it("release: the key is forgotten, and its next prompt runs in a new session", async () => {
    const bridge = startBridge(connection());
    bridge.send({ id: "k1", op: "prompt", text: "say hello", session: "k" });
    bridge.send({ id: "r", op: "release", session: "k" });
    bridge.send({ id: "k2", op: "prompt", text: "say hello", session: "k" });
    await bridge.next((line) => line.id === "k2" && "result" in line, "the second result");
    bridge.child.stdin.end();
    expect((await bridge.exited).code).toBe(0);
    expect(bridge.about("r")).toEqual([{ id: "r", released: true }]);
    expect(turnOf(bridge.about("k2")).result.session_id).not.toBe(turnOf(bridge.about("k1")).result.session_id);
  });

  it("a line that is not UTF-8 is refused with an error line; the bridge goes on", async () => {
    const bridge = startBridge(connection());
    bridge.child.stdin.write(Buffer.concat([Buffer.from('{"id":"x","op":"prompt","text":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]));
    bridge.send({ id: "ok", op: "prompt", text: "say hello" });
    bridge.child.stdin.end();
    const { code, stdout } = await bridge.exited;
    expect(code).toBe(0);
    expectOnlyProtocol(stdout);
    expect(bridge.lines[0]).toEqual({ error: "The line is not valid UTF-8." });
    expect(bridge.about("x")).toEqual([]);
    expect(turnOf(bridge.about("ok")).result).toMatchObject({ outcome: "final" });
  });

  it("--sink-url: the bridge also POSTs every reply, in order, with --sink-header", async () => {
    const route = await replyRoute();
    try {
      const bridge = startBridge([...connection(), "--sink-url", route.url, "--sink-header", "Authorization: Bearer route-token"]);
      bridge.send({ id: "w", op: "prompt", text: "think first" });
      await bridge.next((line) => line.id === "w" && "result" in line, "the result");
      bridge.child.stdin.end();
      expect((await bridge.exited).code).toBe(0);
      const { replies } = turnOf(bridge.about("w"));
      expect(route.received.map((entry) => entry.body)).toEqual(replies);
      expect(new Set(route.received.map((entry) => entry.authorization))).toEqual(new Set(["Bearer route-token"]));
    } finally {
      await route.close();
    }
  });

  it("run --sink-url: the turn's replies reach the route as they reach stdout", async () => {
    const route = await replyRoute();
    try {
      const run = await runCli(["run", ...connection(), "--json", "--sink-url", route.url, "say hello"]);
      expect(run.code).toBe(0);
      const printed = run.stdout.trim().split("\n").map((line) => Reply.parse(JSON.parse(line)));
      expect(route.received.map((entry) => entry.body)).toEqual(printed);
    } finally {
      await route.close();
    }
  });
});

describe("opencode-turns bridge --demo", () => {
  afterAll(() => {
    for (const child of running) child.kill("SIGKILL");
  });

  it("answers a prompt piped in whole (`echo ... | bridge --demo`), exits 0 and leaves no opencode running", async () => {
    const bridge = startBridge(["--demo", "--verbose"]);
    bridge.send({ id: "demo", op: "prompt", text: "Explain this repository" });
    bridge.child.stdin.end();
    const { code, stdout, stderr } = await bridge.exited;

    expect(code, stderr).toBe(0);
    expectOnlyProtocol(stdout);
    const { replies, result } = turnOf(bridge.about("demo"));
    expect(result).toMatchObject({ outcome: "final", content: expect.stringContaining("temporary directory") });
    expect(new Set(replies.map((reply) => reply.kind))).toEqual(new Set(["reasoning", "tool_call", "tool_result", "delta", "final"]));
    // What --verbose says it started: that opencode, whatever it spawned in its process group, and its directory are gone.
    const started = /listening on \S+ \(pid (\d+)\) in (\S+)/.exec(stderr);
    expect(started, stderr).not.toBeNull();
    const pid = Number(started![1]);
    expect(alive(pid)).toBe(false);
    await eventually(() => !alive(-pid), "the demo opencode's process group to be gone", 5_000);
    await expect(stat(started![2]!)).rejects.toThrow();
  }, 60_000);
});

describe("opencode-turns bridge --demo --permissions ask", () => {
  afterAll(() => {
    for (const child of running) child.kill("SIGKILL");
  });

  it("the demo's bash call is asked about; the host's answer decides it", async () => {
    const bridge = startBridge(["--demo", "--permissions", "ask"]);
    bridge.send({ id: "demo", op: "prompt", text: "Explain this repository" });
    // The demo starts its own opencode first: on two busy cores that alone can take half a minute.
    const ask = await bridge.next((line) => line.id === "demo" && "ask" in line, "the permission ask", 60_000);
    expect(ask.ask).toMatchObject({ kind: "permission", request: { permission: "bash" } });
    bridge.send({ op: "answer", ask_id: ask.ask.ask_id, decision: "once" });
    await bridge.next((line) => line.id === "demo" && "result" in line, "the result", 60_000);
    bridge.child.stdin.end();
    expect((await bridge.exited).code).toBe(0);
    const { replies } = turnOf(bridge.about("demo"));
    expect(replies.find((reply) => reply.kind === "tool_result")).toMatchObject({ tool: "bash", success: true });
  }, 150_000);
});

describe("opencode-turns bridge without a server", () => {
  it("--describe prints the protocol as JSON Schema: thirteen requests, twelve outputs", async () => {
    const run = await runCli(["bridge", "--describe"]);
    expect(run.code).toBe(0);
    const schema = JSON.parse(run.stdout) as { requests: { oneOf: Array<{ properties: { op: { const: string } } }> }; outputs: { anyOf: unknown[] } };
    expect(schema.requests.oneOf.map((request) => request.properties.op.const)).toEqual([
      "prompt", "session", "release", "cancel", "answer", "close",
      "command", "summarize", "history", "fork", "revert", "unrevert", "sessions",
    ]);
    expect(schema.outputs.anyOf).toHaveLength(12);
  });

  it("usage errors exit 2: a bad mode, a header without a URL, a bad sink URL", async () => {
    for (const args of [["--permissions", "sometimes"], ["--sink-header", "a: b"], ["--sink-url", "ftp://x/y"], ["--ask-timeout", "0"]]) {
      const run = await runCli(["bridge", "--url", "http://127.0.0.1:9", ...args]);
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stdout).toBe("");
    }
  });
});
