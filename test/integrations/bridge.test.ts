import { PassThrough } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { BridgeOutput, runBridge, type BridgeOptions } from "../../src/integrations/bridge.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode, type ReceivedPrompt, type Step } from "../../testkit/fake-opencode.js";
import { closedAfterEach } from "../../testkit/closing.js";

const { open, fake } = closedAfterEach();

/** The bridge over in-memory streams: `send` a request, `next` waits for an output line. */
function bridge(server: FakeOpencode, options: Partial<BridgeOptions> = {}, output = new PassThrough()) {
  const input = new PassThrough();
  const lines: BridgeOutput[] = [];
  const warnings: string[] = [];
  const waiting: Array<() => void> = [];
  let partial = "";
  output.on("data", (chunk: Buffer) => {
    partial += chunk.toString("utf8");
    const complete = partial.split("\n");
    partial = complete.pop()!;
    for (const line of complete) lines.push(BridgeOutput.parse(JSON.parse(line)));
    for (const wake of waiting.splice(0)) wake();
  });
  const done = runBridge({
    input,
    output,
    config: { baseUrl: server.url, password: server.password, connectTimeoutMs: 2000 },
    logger: { warn: (message: string) => warnings.push(message) },
    ...options,
  });
  open.push({ close: async () => void (input.end(), await done) });
  return {
    lines,
    warnings,
    done,
    input,
    output,
    send: (request: object) => input.write(`${JSON.stringify(request)}\n`),
    end: () => input.end(),
    async next(match: (line: Record<string, any>) => boolean): Promise<Record<string, any>> {
      for (;;) {
        const found = lines.find(match);
        if (found) return found;
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
    },
  };
}

const answer = (prompt: ReceivedPrompt, words: string[]): Step[] =>
  E.textTurn(prompt.sessionId, prompt.body.messageID, `msg_a_${prompt.body.messageID}`, words);

describe("the bridge core over in-memory streams", () => {
  it("an ask nobody answers is rejected after the ask timeout, and the turn goes on", async () => {
    const server = await fake({
      onPrompt: (p) => [E.permissionAsked(p.sessionId, "per_1"), { hold: true }, ...answer(p, ["done"])],
    });
    const b = bridge(server, { permissions: "ask", askTimeoutMs: 50 });
    b.send({ id: "p", op: "prompt", text: "hi" });
    const ask = await b.next((line) => "ask" in line);
    expect(ask).toMatchObject({ id: "p", ask: { kind: "permission", request: { id: "per_1", permission: "bash" } } });
    await new Promise<void>((resolve) => {
      const check = () => (server.permissionReplies.length > 0 ? resolve() : setTimeout(check, 10));
      check();
    });
    expect(server.permissionReplies[0]).toMatchObject({ id: "per_1", body: { reply: "reject" } });
    expect(b.warnings.join("")).toMatch(/had no answer within 50 ms/);
    server.release();
    expect((await b.next((line) => "result" in line)).result).toMatchObject({ outcome: "final", content: "done" });
  });

  it("a question ask is answered by the host with labels", async () => {
    const server = await fake({
      onPrompt: (p) => [E.questionAsked(p.sessionId, "que_1"), { hold: true }, ...answer(p, ["ok"])],
    });
    const b = bridge(server, { questions: "ask" });
    b.send({ id: "q", op: "prompt", text: "hi" });
    const ask = await b.next((line) => "ask" in line);
    expect(ask.ask).toMatchObject({ kind: "question", request: { questions: [{ question: "Proceed?" }] } });
    b.send({ op: "answer", ask_id: ask.ask.ask_id, decision: "always" });
    await b.next((line) => line.ask_id === ask.ask.ask_id);
    b.send({ op: "answer", ask_id: ask.ask.ask_id, decision: [["yes"]] });
    await new Promise<void>((resolve) => {
      const check = () => (server.questionReplies.length > 0 ? resolve() : setTimeout(check, 10));
      check();
    });
    expect(server.questionReplies[0]).toMatchObject({ id: "que_1", rejected: false, body: { answers: [["yes"]] } });
    server.release();
    await b.next((line) => "result" in line);
  });

  it("refuses a second prompt with an id still in flight; the first goes on", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["one"]) });
    const b = bridge(server);
    b.send({ id: "same", op: "prompt", text: "a" });
    b.send({ id: "same", op: "prompt", text: "b" });
    expect(await b.next((line) => "error" in line)).toEqual({ id: "same", error: expect.stringContaining("still in flight") });
    expect((await b.next((line) => "result" in line)).result).toMatchObject({ outcome: "final", content: "one" });
    expect(server.prompts).toHaveLength(1);
  });

  it("session: binds a key to an existing session, refuses an unknown one with its code, creates one otherwise", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["hi"]) });
    const b = bridge(server);
    b.send({ id: "new", op: "session", session: "a" });
    const created = (await b.next((line) => line.id === "new")).session_id as string;
    expect(server.sessions.has(created)).toBe(true);
    b.send({ id: "unknown", op: "session", session: "b", session_id: "ses_missing" });
    expect(await b.next((line) => line.id === "unknown")).toMatchObject({ error: expect.stringContaining("ses_missing"), code: "session_not_found" });
    b.send({ id: "bind", op: "session", session: "b", session_id: created });
    expect(await b.next((line) => line.id === "bind")).toEqual({ id: "bind", session_id: created });
    b.send({ id: "p", op: "prompt", text: "x", session: "b" });
    expect((await b.next((line) => line.id === "p" && "result" in line)).result).toMatchObject({ session_id: created });
    expect(server.prompts.map((p) => p.sessionId)).toEqual([created]);
  });

  it("session: the key's own adapter makes the session, so its prompts run there; a failed bind leaves the key on it", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["hi"]) });
    const b = bridge(server, { config: { baseUrl: server.url, password: server.password, connectTimeoutMs: 2000, sessionTitle: "bridged" } });
    b.send({ id: "s", op: "session", session: "a" });
    const created = (await b.next((line) => line.id === "s")).session_id as string;
    b.send({ id: "p1", op: "prompt", text: "x", session: "a" });
    b.send({ id: "bad", op: "session", session: "a", session_id: "ses_missing" });
    b.send({ id: "p2", op: "prompt", text: "y", session: "a" });
    expect((await b.next((line) => line.id === "p1" && "result" in line)).result).toMatchObject({ session_id: created });
    expect(await b.next((line) => line.id === "bad")).toMatchObject({ code: "session_not_found" });
    expect((await b.next((line) => line.id === "p2" && "result" in line)).result).toMatchObject({ session_id: created });
    expect(server.sessionTitles).toEqual(["bridged"]);
    expect(server.prompts.map((p) => p.sessionId)).toEqual([created, created]);
  });

  it("input ending with nothing in flight resolves; a bad config throws before reading", async () => {
    const server = await fake();
    const b = bridge(server);
    b.end();
    await b.done;
    expect(b.lines).toEqual([]);
    await expect(runBridge({ input: new PassThrough(), output: new PassThrough(), config: { baseUrl: "nope" } })).rejects.toThrow(/baseUrl/);
  });

  it("input ending lets the turns asked for finish, as a filter does, then resolves", async () => {
    const server = await fake({ onPrompt: (p) => [{ hold: true }, ...answer(p, ["the", " answer"])] });
    const b = bridge(server);
    b.send({ id: "one", op: "prompt", text: "a" });
    b.send({ id: "two", op: "prompt", text: "b" });
    b.end();
    await eventually(() => server.prompts.length === 1);
    server.release();
    await eventually(() => server.prompts.length === 2);
    server.release();
    await b.done;
    expect(b.lines.filter((line) => "result" in line).map((line) => ("result" in line ? line.result : undefined))).toMatchObject([
      { outcome: "final", content: "the answer" },
      { outcome: "final", content: "the answer" },
    ]);
    expect(server.aborts).toEqual([]);
  });

  it("after input ends an ask is rejected at once: nobody is left to answer it", async () => {
    const server = await fake({ onPrompt: (p) => [{ hold: true }, E.permissionAsked(p.sessionId, "per_1"), { hold: true }, ...answer(p, ["done"])] });
    const b = bridge(server, { permissions: "ask" });
    b.send({ id: "p", op: "prompt", text: "hi" });
    await eventually(() => server.prompts.length === 1);
    b.end();
    server.release();
    await eventually(() => server.permissionReplies.length > 0);
    expect(server.permissionReplies[0]).toMatchObject({ id: "per_1", body: { reply: "reject" } });
    server.release();
    await b.done;
    expect(b.lines.some((line) => "ask" in line)).toBe(false);
    expect(b.lines.at(-1)).toMatchObject({ id: "p", result: { outcome: "final" } });
  });

  it("close, the signal, and an output that is gone each end a running turn at once", async () => {
    for (const how of ["close", "signal", "output gone"] as const) {
      // The turn is busy, then waits: it ends only if the bridge ends it.
      const server = await fake({ onPrompt: (p) => [...answer(p, ["late"]).slice(0, 3), { hold: true }, ...answer(p, ["late"]).slice(3)] });
      const stop = new AbortController();
      const b = bridge(server, { signal: stop.signal });
      b.send({ id: "p", op: "prompt", text: "hi" });
      await eventually(() => server.prompts.length === 1);
      if (how === "close") b.send({ id: "bye", op: "close" });
      else if (how === "signal") stop.abort();
      else b.output.destroy();
      await b.done;
      if (how !== "output gone") {
        expect(b.lines.find((line) => "result" in line), how).toMatchObject({ result: { outcome: "error", code: "closed" } });
      }
      expect(server.aborts, how).toHaveLength(1);
      if (how === "close") expect(b.lines.at(-1)).toEqual({ id: "bye", closed: true });
    }
  });

  it("a line that is not valid UTF-8 is refused with an error line; a character split across chunks is not", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["ok"]) });
    const b = bridge(server);
    b.input.write(Buffer.concat([Buffer.from('{"id":"bad","op":"prompt","text":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]));
    const euro = Buffer.from('{"id":"good","op":"prompt","text":"€"}\r\n');
    b.input.write(euro.subarray(0, 35));
    b.input.write(euro.subarray(35));
    await b.next((line) => "result" in line);
    b.end();
    await b.done;
    expect(b.lines[0]).toEqual({ error: "The line is not valid UTF-8." });
    expect(server.prompts.map((p) => p.body.parts[0]?.text)).toEqual(["€"]);
  });

  it("release forgets a key once its turn ends: the next prompt with it gets a new session", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["hi"]) });
    const b = bridge(server);
    b.send({ id: "p1", op: "prompt", text: "x", session: "k" });
    b.send({ id: "r", op: "release", session: "k" });
    b.send({ id: "p2", op: "prompt", text: "y", session: "k" });
    await b.next((line) => line.id === "p2" && "result" in line);
    expect(await b.next((line) => line.id === "r")).toEqual({ id: "r", released: true });
    const [first, second] = server.prompts.map((p) => p.sessionId);
    expect(first).not.toBe(second);
  });

  it("a key idle for idleKeyMs has its adapter closed, and keeps its opencode session", async () => {
    const closed = vi.spyOn(OpenCodeAdapter.prototype, "close");
    try {
      const server = await fake({ onPrompt: (p) => answer(p, ["hi"]) });
      const b = bridge(server, { idleKeyMs: 20 });
      b.send({ id: "p1", op: "prompt", text: "x", session: "k" });
      await b.next((line) => line.id === "p1" && "result" in line);
      await eventually(() => closed.mock.calls.length === 1);
      b.send({ id: "p2", op: "prompt", text: "y", session: "k" });
      await b.next((line) => line.id === "p2" && "result" in line);
      const [first, second] = server.prompts.map((p) => p.sessionId);
      expect(second).toBe(first);
    } finally {
      closed.mockRestore();
    }
  });

  it("a host that stops reading holds the answer's text, not a line per reply; nothing is lost", async () => {
    const words = Array.from({ length: 2000 }, (_, i) => `w${i} `);
    const server = await fake({ onPrompt: (p) => answer(p, words) });
    // Nobody reads this stream until the turn has ended: after 64 bytes every write is asked to wait.
    const output = new PassThrough({ highWaterMark: 64 });
    output.pause();
    let final: string | undefined;
    const b = bridge(server, { sink: (reply) => void (reply.kind === "final" && (final = reply.content)) }, output);
    b.send({ id: "long", op: "prompt", text: "x" });
    await eventually(() => final !== undefined);
    b.end();
    output.resume();
    await b.done;
    const deltas = b.lines.flatMap((line) => ("reply" in line && line.reply.kind === "delta" ? [line.reply.content] : []));
    expect(deltas.join("")).toBe(words.join(""));
    expect(deltas.length).toBeLessThan(20);
    expect(b.lines.at(-1)).toMatchObject({ id: "long", result: { outcome: "final", content: words.join("") } });
  });
});

async function eventually(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}
