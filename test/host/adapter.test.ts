import { createServer } from "node:net";
import { inspect } from "node:util";
import { describe, expect, it, vi } from "vitest";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { MAX_RECONNECTS } from "../../src/engine/turn-actors.js";
import { TurnError } from "../../src/contract/turn-error.js";
import { Reply, TurnResult } from "../../src/contract/replies.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode, type ReceivedPrompt, type Step } from "../../testkit/fake-opencode.js";
import { closedAfterEach } from "../../testkit/closing.js";
import { joinedDeltas } from "../../testkit/replies.js";

const { open, fake } = closedAfterEach();

function adapterFor(server: FakeOpencode, config: Record<string, unknown> = {}, sink?: (r: Reply) => unknown) {
  const replies: Reply[] = [];
  const warnings: string[] = [];
  const adapter = new OpenCodeAdapter(
    { baseUrl: server.url, password: server.password, connectTimeoutMs: 2000, ...config },
    async (reply) => {
      replies.push(Reply.parse(reply));
      await sink?.(reply);
    },
    { logger: { warn: (message: string) => warnings.push(message) } },
  );
  open.push(adapter);
  return { adapter, replies, warnings };
}

/** A text turn for the prompt that was just received, with `words` as its deltas. */
function answer(prompt: ReceivedPrompt, words: string[]): Step[] {
  return E.textTurn(prompt.sessionId, prompt.body.messageID, `msg_a_${prompt.body.messageID}`, words);
}

function textOf(prompt: ReceivedPrompt): string {
  return String(prompt.body.parts[0]?.text);
}

function kinds(replies: Reply[]): string[] {
  return replies.map((r) => r.kind);
}

describe("OpenCodeAdapter against a loopback opencode stand-in", () => {
  it("runs a turn: creates the session, streams before prompting, delivers deltas then final, resolves a TurnResult", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["Hello", " there"]) });
    const { adapter, replies } = adapterFor(server);
    const result = await adapter.prompt("hi", "trace-42");

    expect(joinedDeltas(replies)).toEqual([
      { kind: "delta", trace_id: "trace-42", content: "Hello there" },
      { kind: "final", trace_id: "trace-42", content: "Hello there" },
    ]);
    expect(TurnResult.parse(result)).toMatchObject({ trace_id: "trace-42", outcome: "final", content: "Hello there", session_id: "ses_fake1" });
    expect(result.usage).toEqual({ tokens: { input: 5, output: 5, reasoning: 0, cache: { read: 0, write: 0 } }, cost: 0 });
    expect(adapter.sessionId).toBe("ses_fake1");

    const prompt = server.prompts[0]!;
    expect(prompt.body.messageID).toMatch(/^msg_[0-9a-f]{12}[0-9A-Za-z]{14}$/);
    expect(prompt.body.parts).toEqual([{ type: "text", text: "hi" }]);
    // The stream was open before the prompt was posted, and every request carried the credentials.
    const order = server.requests.map((r) => `${r.method} ${r.url.split("?")[0]}`);
    expect(order.indexOf("GET /event")).toBeLessThan(order.indexOf("POST /session/ses_fake1/prompt_async"));
    expect(server.requests.every((r) => r.authorization?.startsWith("Basic "))).toBe(true);
  });

  it("hands XState's inspection events of every turn actor to the `inspect` observer", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["Hi"]) });
    const seen: Array<{ type: string; event?: { type: string } }> = [];
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, () => undefined, {
      inspect: (inspection) => seen.push({ type: inspection.type, ...("event" in inspection ? { event: inspection.event } : {}) }),
    });
    open.push(adapter);
    await adapter.prompt("one");
    await adapter.prompt("two");
    const starts = seen.filter((s) => s.type === "@xstate.event" && s.event?.type === "START");
    expect(starts).toHaveLength(2);
    expect(seen.some((s) => s.type === "@xstate.event" && s.event?.type === "EVENTS")).toBe(true);
  });

  it("generates a trace id when none is given and uses it on every reply", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["a", "b"]) });
    const { adapter, replies } = adapterFor(server);
    const result = await adapter.prompt("hi");
    expect(result.trace_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(replies.map((r) => r.trace_id))).toEqual(new Set([result.trace_id]));
  });

  it("sends the directory, model, agent and system it was configured with", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["ok"]) });
    const { adapter } = adapterFor(server, { directory: "/srv/work dir", providerID: "p", modelID: "m", agent: "plan", system: "be brief" });
    await adapter.prompt("hi");
    expect(server.prompts[0]!.body).toMatchObject({ model: { providerID: "p", modelID: "m" }, agent: "plan", system: "be brief" });
    expect(server.requests.every((r) => r.url.includes("directory=%2Fsrv%2Fwork%20dir"))).toBe(true);
  });

  it("a wrong password is `unauthorized`, says what to check, and never shows the password", async () => {
    const server = await fake();
    const { adapter, replies } = adapterFor(server, { password: "not-the-password" });
    const result = await adapter.prompt("hi", "t");
    expect(result).toMatchObject({ outcome: "error", code: "unauthorized" });
    expect(replies).toEqual([{ kind: "error", trace_id: "t", code: "unauthorized", error: expect.stringContaining("check the server password") }]);
    expect(JSON.stringify(replies)).not.toContain("not-the-password");
  });

  it("a 401 on /event itself is `unauthorized`, before anything is prompted", async () => {
    const server = await fake({ eventStatus: 401 });
    const { adapter } = adapterFor(server);
    const result = await adapter.prompt("hi");
    expect(result).toMatchObject({ outcome: "error", code: "unauthorized" });
    expect(server.prompts).toHaveLength(0);
  });

  it("any other refusal of /event is `unreachable` with the status, not a hang", async () => {
    const server = await fake({ eventStatus: 503 });
    const { adapter } = adapterFor(server);
    const result = await adapter.prompt("hi");
    expect(result).toMatchObject({ outcome: "error", code: "unreachable", error: expect.stringContaining("HTTP 503") });
  });

  it("an unknown configured session is `session_not_found`", async () => {
    const server = await fake();
    const { adapter, replies } = adapterFor(server, { sessionId: "ses_missing" });
    const result = await adapter.prompt("hi");
    expect(result).toMatchObject({ outcome: "error", code: "session_not_found" });
    expect(replies[0]).toMatchObject({ kind: "error", error: expect.stringContaining("ses_missing") });
  });

  it("nothing listening is `unreachable`, within the connect timeout", async () => {
    const port = await closedPort();
    const replies: Reply[] = [];
    const adapter = new OpenCodeAdapter({ baseUrl: `http://127.0.0.1:${port}`, connectTimeoutMs: 1000 }, (r) => void replies.push(r));
    open.push(adapter);
    const started = Date.now();
    const result = await adapter.prompt("hi");
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result).toMatchObject({ outcome: "error", code: "unreachable", error: expect.stringContaining(`127.0.0.1:${port}`) });
    expect(kinds(replies)).toEqual(["error"]);
  });

  it("a server that accepts connections but never answers is `unreachable` after the connect timeout", async () => {
    const sockets = new Set<import("node:net").Socket>();
    const mute = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => mute.listen(0, "127.0.0.1", resolve));
    open.push({ close: () => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), mute.close(() => resolve()))) });
    const replies: Reply[] = [];
    const adapter = new OpenCodeAdapter({ baseUrl: `http://127.0.0.1:${(mute.address() as { port: number }).port}`, connectTimeoutMs: 300 }, (r) => void replies.push(r));
    open.push(adapter);
    const started = Date.now();
    const result = await adapter.prompt("hi");
    expect(result).toMatchObject({ outcome: "error", code: "unreachable", error: expect.stringContaining("did not answer within 300 ms") });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(kinds(replies)).toEqual(["error"]);
  });

  it("a server that accepts but never sends server.connected is `unreachable` after the connect timeout", async () => {
    const server = await fake({ silentEventStream: true });
    const { adapter } = adapterFor(server, { connectTimeoutMs: 300 });
    const started = Date.now();
    const result = await adapter.prompt("hi");
    expect(result).toMatchObject({ outcome: "error", code: "unreachable" });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("a 4xx on prompt_async is `bad_request` with the server's message", async () => {
    const server = await fake({ promptStatus: { status: 400, body: JSON.stringify({ data: { message: "parts.1.url: Invalid" } }) } });
    const { adapter } = adapterFor(server);
    const result = await adapter.prompt("hi");
    expect(result).toMatchObject({ outcome: "error", code: "bad_request", error: expect.stringContaining("parts.1.url: Invalid") });
  });

  /** A turn whose stream closes after "Hel"; what follows is up to the test. */
  const cutAfterHel = (p: ReceivedPrompt, rest: Step[] = []): Step[] => [
    E.userMessage(p.sessionId, p.body.messageID),
    E.assistantMessage(p.sessionId, "msg_a", p.body.messageID),
    E.partOpened(p.sessionId, "msg_a", "t", "text"),
    E.delta(p.sessionId, "msg_a", "t", "Hel"),
    { closeStreams: true },
    ...rest,
  ];
  const storedTurn = (sessionId: string, messageId: string, text: string, ended: boolean) => [
    { info: { id: messageId, sessionID: sessionId, role: "user" }, parts: [] },
    {
      info: { id: "msg_a", sessionID: sessionId, role: "assistant", parentID: messageId, ...(ended ? { time: { created: 1, completed: 3 }, finish: "stop" } : {}) },
      parts: [{ id: "t", sessionID: sessionId, messageID: "msg_a", type: "text", text, time: ended ? { start: 1, end: 2 } : { start: 1 } }],
    },
  ];

  it("a stream that closes and cannot be reopened is `stream_lost`, after the deltas that did arrive", async () => {
    // opencode itself answers with an error (not a proxy saying it is down): three tries.
    const server = await fake({ onPrompt: (p) => cutAfterHel(p), eventStatus: 500, eventStatusFrom: 1 });
    const { adapter, replies } = adapterFor(server);
    const result = await adapter.prompt("hi");
    expect(kinds(replies)).toEqual(["delta", "error"]);
    expect(result).toMatchObject({ outcome: "error", code: "stream_lost", error: expect.stringContaining("could not be reopened") });
    expect(server.eventConnections).toBe(4);
  });

  it("a proxy that answers 503 while opencode restarts is retried past three tries, and the turn goes on once it is back", async () => {
    const server = await fake({
      onPrompt: (p) => cutAfterHel(p, [{ hold: true }, E.partClosed(p.sessionId, "msg_a", "t", "text", "Hello world"), E.assistantDone(p.sessionId, "msg_a", p.body.messageID), ...E.idleEnd(p.sessionId)]),
      store: (sessionId) => ({ messages: storedTurn(sessionId, server.prompts[0]!.body.messageID, "", false), idle: false }),
      // The first stream, then four refusals by the proxy (more than the three an answering server gets), then opencode.
      eventStatus: 503,
      eventStatusFrom: 1,
      eventStatusUntil: 5,
    });
    const { adapter, replies } = adapterFor(server);
    const turn = adapter.prompt("hi");
    await vi.waitFor(() => expect(server.eventConnections).toBe(6), { timeout: 5_000 });
    await vi.waitFor(() => expect(server.requests.some((r) => r.url.startsWith("/session/status"))).toBe(true));
    server.release();
    expect(await turn).toMatchObject({ outcome: "final", content: "Hello world" });
    expect(replies.at(-1)).toMatchObject({ kind: "final", content: "Hello world" });
  });

  it("a lost stream is reopened and the turn caught up: the part cut by the gap comes whole from its closing update", async () => {
    const server = await fake({
      onPrompt: (p) => cutAfterHel(p, [{ hold: true }, E.delta(p.sessionId, "msg_a", "t", " (missed middle)"), E.partClosed(p.sessionId, "msg_a", "t", "text", "Hello world"), E.assistantDone(p.sessionId, "msg_a", p.body.messageID), ...E.idleEnd(p.sessionId)]),
      store: (sessionId) => ({ messages: storedTurn(sessionId, server.prompts[0]!.body.messageID, "", false), idle: false }),
    });
    const { adapter, replies } = adapterFor(server);
    const turn = adapter.prompt("hi");
    await vi.waitFor(() => expect(server.eventConnections).toBe(2));
    await vi.waitFor(() => expect(server.requests.some((r) => r.url.startsWith("/session/status"))).toBe(true));
    server.release();
    expect(await turn).toMatchObject({ outcome: "final", content: "Hello world" });
    expect(replies.map((r) => (r.kind === "delta" || r.kind === "final" ? `${r.kind}:${r.content}` : r.kind))).toEqual(["delta:Hel", "delta:lo world", "final:Hello world"]);
  });

  it("a turn that ended while the stream was away ends from the stored messages", async () => {
    const server = await fake({
      onPrompt: (p) => cutAfterHel(p),
      store: (sessionId) => ({ messages: storedTurn(sessionId, server.prompts[0]!.body.messageID, "Hello there", true), idle: true }),
    });
    const { adapter, replies } = adapterFor(server);
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "final", content: "Hello there" });
    expect(replies.map((r) => (r.kind === "delta" || r.kind === "final" ? `${r.kind}:${r.content}` : r.kind))).toEqual(["delta:Hel", "delta:lo there", "final:Hello there"]);
  });

  it("a stream that keeps going silent (no heartbeat) is cut by the watchdog, reopened a few times, then `stream_lost`", async () => {
    const server = await fake({
      onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), { hold: true }],
      store: (sessionId) => ({ messages: [{ info: { id: server.prompts[0]!.body.messageID, sessionID: sessionId, role: "user" }, parts: [] }], idle: false }),
    });
    const { adapter } = adapterFor(server, { heartbeatTimeoutMs: 300 });
    const result = await adapter.prompt("hi");
    expect(result).toMatchObject({ outcome: "error", code: "stream_lost", error: expect.stringContaining("heartbeat") });
    expect(server.eventConnections).toBe(1 + MAX_RECONNECTS);
  });

  it("adapters sharing a server share one stream, watched with the shortest heartbeat timeout any of them asked for", async () => {
    const server = await fake({
      onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), { hold: true }],
      store: () => ({ messages: [], idle: false }),
    });
    const patient = adapterFor(server, { heartbeatTimeoutMs: 60_000 });
    adapterFor(server, { heartbeatTimeoutMs: 300 });
    const started = Date.now();
    const result = await patient.adapter.prompt("hi");
    expect(result).toMatchObject({ outcome: "error", code: "stream_lost", error: expect.stringContaining("300 ms") });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("skips garbage on the stream and still completes the turn", async () => {
    const server = await fake({
      onPrompt: (p) => {
        const turn = answer(p, ["one", "two"]);
        return [
          { raw: "data: {not json\n\n" },
          { raw: ": a comment line\n\n" },
          { raw: "data: 42\n\n" },
          { raw: `data: ${JSON.stringify({ type: "brand.new", properties: { sessionID: p.sessionId } })}\n\n` },
          { raw: "event: odd\nid: 7\nretry: 5\ndata: null\n\n" },
          ...turn.slice(0, 6),
          { raw: `data: ${JSON.stringify({ type: "message.part.delta", properties: { sessionID: p.sessionId } })}\n\n` },
          ...turn.slice(6),
        ];
      },
    });
    const { adapter, replies } = adapterFor(server);
    const result = await adapter.prompt("hi");
    expect(result).toMatchObject({ outcome: "final", content: "onetwo" });
    expect(kinds(replies)).toEqual(["delta", "delta", "final"]);
    // The frame that is not JSON, the event of an unknown type and the delta with missing fields were counted.
    expect(adapter.stats).toEqual({ framesMalformed: 1, eventsSkipped: 2 });
  });

  it("five concurrent prompts run one after another, in call order, their replies never interleaved", async () => {
    const server = await fake({ onPrompt: (p) => [{ wait: 5 }, ...answer(p, [`${textOf(p)}-a `, `${textOf(p)}-b`])] });
    const { adapter, replies } = adapterFor(server);
    const results = await Promise.all([0, 1, 2, 3, 4].map((i) => adapter.prompt(`p${i}`, `t${i}`)));
    expect(results.map((r) => (r.outcome === "final" ? r.content : r.error))).toEqual([0, 1, 2, 3, 4].map((i) => `p${i}-a p${i}-b`));
    expect(joinedDeltas(replies).map((r) => r.trace_id)).toEqual([0, 1, 2, 3, 4].flatMap((i) => [`t${i}`, `t${i}`]));
    expect(server.prompts.map(textOf)).toEqual(["p0", "p1", "p2", "p3", "p4"]);
    // One session, one event connection for all five turns.
    expect(server.sessions.size).toBe(1);
    expect(server.eventConnections).toBe(1);
  });

  it("two adapters on one server share one event connection and get only their own session's replies", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, [textOf(p)]) });
    const a = adapterFor(server);
    const b = adapterFor(server);
    const [ra, rb] = await Promise.all([a.adapter.prompt("from-a"), b.adapter.prompt("from-b")]);
    expect([ra.outcome === "final" && ra.content, rb.outcome === "final" && rb.content]).toEqual(["from-a", "from-b"]);
    expect(a.replies.map((r) => r.kind)).toEqual(["delta", "final"]);
    expect(b.replies.map((r) => r.kind)).toEqual(["delta", "final"]);
    expect(server.eventConnections).toBe(1);
  });

  it("a sink that throws is logged and the turn goes on", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["x", "y"]) });
    const { adapter, replies, warnings } = adapterFor(server, {}, (reply) => {
      if (reply.kind === "delta") throw new Error("host bug");
    });
    const result = await adapter.prompt("hi");
    expect(result).toMatchObject({ outcome: "final", content: "xy" });
    expect(kinds(joinedDeltas(replies))).toEqual(["delta", "final"]);
    expect(warnings).toHaveLength(replies.length - 1);
    expect(warnings[0]).toContain("host bug");
  });

  it("a slow async sink gets the replies one at a time, in order", async () => {
    // Apart, so that (mostly) each delta is a reply of its own and the sink is still busy with the one before.
    const server = await fake({ onPrompt: (p) => answer(p, ["1", "2", "3", "4"]).flatMap((step) => [step, { wait: 2 }]) });
    let inFlight = 0;
    let maxInFlight = 0;
    const { adapter, replies } = adapterFor(server, {}, async () => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
    });
    await adapter.prompt("hi");
    expect(maxInFlight).toBe(1);
    expect(joinedDeltas(replies).map((r) => (r.kind === "delta" || r.kind === "final" ? r.content : r.kind))).toEqual(["1234", "1234"]);
  });

  it("permission asks are answered by policy: the default rejects with a message so the model continues", async () => {
    const server = await fake({
      onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), E.permissionAsked(p.sessionId, "per_1"), { hold: true }, ...answer(p, ["done"]).slice(1)],
    });
    const { adapter } = adapterFor(server);
    const turn = adapter.prompt("hi");
    await vi.waitFor(() => expect(server.permissionReplies).toHaveLength(1));
    expect(server.permissionReplies[0]).toEqual({ id: "per_1", body: { reply: "reject", message: expect.stringContaining("not allowed") } });
    server.release();
    expect(await turn).toMatchObject({ outcome: "final", content: "done" });
  });

  it("a permission callback receives the request and its answer is applied", async () => {
    const server = await fake({
      onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), E.permissionAsked(p.sessionId, "per_9", "call_7"), { hold: true }, ...answer(p, ["ok"]).slice(1)],
    });
    const seen: unknown[] = [];
    const { adapter } = adapterFor(server, {
      permissions: async (request: unknown) => {
        seen.push(request);
        return "always" as const;
      },
    });
    const turn = adapter.prompt("hi");
    await vi.waitFor(() => expect(server.permissionReplies).toHaveLength(1));
    server.release();
    await turn;
    expect(seen[0]).toMatchObject({ id: "per_9", permission: "bash", patterns: ["echo hi"], tool: { callID: "call_7" } });
    expect(server.permissionReplies[0]).toEqual({ id: "per_9", body: { reply: "always" } });
  });

  it("question asks are answered by the callback, or rejected by default", async () => {
    const script = (p: ReceivedPrompt): Step[] => [E.userMessage(p.sessionId, p.body.messageID), E.questionAsked(p.sessionId, "que_1"), { hold: true }, ...answer(p, ["ok"]).slice(1)];
    const server = await fake({ onPrompt: script });
    const answering = adapterFor(server, { questions: async () => [["yes"]] });
    const first = answering.adapter.prompt("hi");
    await vi.waitFor(() => expect(server.questionReplies).toHaveLength(1));
    server.release();
    await first;
    const rejecting = adapterFor(server);
    const second = rejecting.adapter.prompt("hi");
    await vi.waitFor(() => expect(server.questionReplies).toHaveLength(2));
    server.release();
    await second;
    expect(server.questionReplies).toEqual([
      { id: "que_1", body: { answers: [["yes"]] }, rejected: false },
      { id: "que_1", body: {}, rejected: true },
    ]);
  });

  it("cancel() posts the abort and ends the turn with `aborted`", async () => {
    const server = await fake({
      onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), E.assistantMessage(p.sessionId, "msg_a", p.body.messageID), E.partOpened(p.sessionId, "msg_a", "t", "text"), E.delta(p.sessionId, "msg_a", "t", "slow"), { hold: true }],
    });
    const { adapter, replies } = adapterFor(server);
    const turn = adapter.prompt("hi");
    await vi.waitFor(() => expect(replies).toHaveLength(1));
    await adapter.cancel();
    expect(await turn).toMatchObject({ outcome: "error", code: "aborted" });
    expect(server.aborts).toEqual(["ses_fake1"]);
    expect(kinds(replies)).toEqual(["delta", "error"]);
  });

  it("an AbortSignal cancels its turn; an already aborted one ends it before it starts", async () => {
    const server = await fake({ onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), { hold: true }] });
    const { adapter } = adapterFor(server);
    const controller = new AbortController();
    const turn = adapter.prompt("hi", undefined, { signal: controller.signal });
    await vi.waitFor(() => expect(server.prompts).toHaveLength(1));
    controller.abort();
    expect(await turn).toMatchObject({ outcome: "error", code: "aborted" });
    expect(await adapter.prompt("again", undefined, { signal: AbortSignal.abort() })).toMatchObject({ outcome: "error", code: "aborted" });
    expect(server.prompts).toHaveLength(1);
  });

  it("a queued turn whose signal fires ends when its turn comes, after the running turn's replies", async () => {
    const server = await fake({ onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), { hold: true }, ...answer(p, ["first"]).slice(1)] });
    const { adapter, replies } = adapterFor(server);
    const running = adapter.prompt("one", "t1");
    const controller = new AbortController();
    const queued = adapter.prompt("two", "t2", { signal: controller.signal });
    await vi.waitFor(() => expect(server.prompts).toHaveLength(1));
    controller.abort();
    server.release();
    expect(await running).toMatchObject({ outcome: "final", content: "first" });
    expect(await queued).toMatchObject({ outcome: "error", code: "aborted" });
    expect(replies.map((r) => `${r.trace_id}:${r.kind}`)).toEqual(["t1:delta", "t1:final", "t2:error"]);
    expect(server.prompts).toHaveLength(1);
  });

  it("takes the password from OPENCODE_SERVER_PASSWORD and names a new session with sessionTitle", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["ok"]) });
    const saved = process.env.OPENCODE_SERVER_PASSWORD;
    process.env.OPENCODE_SERVER_PASSWORD = server.password;
    try {
      const adapter = new OpenCodeAdapter({ baseUrl: server.url, sessionTitle: "taOS chat 7" }, () => undefined);
      open.push(adapter);
      expect(await adapter.prompt("hi")).toMatchObject({ outcome: "final", content: "ok" });
      expect(server.sessionTitles).toEqual(["taOS chat 7"]);
    } finally {
      if (saved === undefined) delete process.env.OPENCODE_SERVER_PASSWORD;
      else process.env.OPENCODE_SERVER_PASSWORD = saved;
    }
  });

  it("the stale idles of an aborted turn do not end the next one", async () => {
    let turns = 0;
    const server = await fake({
      onPrompt: (p) => {
        turns++;
        if (turns === 1) return [E.userMessage(p.sessionId, p.body.messageID), { hold: true }];
        // The first turn's abort tail is still arriving when the second prompt lands.
        return [...E.idleEnd(p.sessionId), ...E.idleEnd(p.sessionId), ...answer(p, ["whole ", "second ", "answer"])];
      },
      onAbort: (sessionId) => [E.sessionError(sessionId, "MessageAbortedError", "Aborted"), ...E.idleEnd(sessionId)],
    });
    const { adapter } = adapterFor(server);
    const first = adapter.prompt("one");
    await vi.waitFor(() => expect(server.prompts).toHaveLength(1));
    const second = adapter.prompt("two");
    await adapter.cancel();
    expect(await first).toMatchObject({ outcome: "error", code: "aborted" });
    expect(await second).toMatchObject({ outcome: "final", content: "whole second answer" });
  });

  it("a turn's session.idle echo that comes after the next prompt's user message does not end that turn", async () => {
    // As opencode 1.18 sent it live: the first turn ends at its session.status idle, and its
    // session.idle follows the second prompt's user message.
    let turns = 0;
    const server = await fake({
      onPrompt: (p) => {
        const [user, text, ...rest] = answer(p, turns === 0 ? ["first"] : ["second"]);
        return turns++ === 0 ? [user!, text!, ...rest.slice(0, -1)] : [user!, text!, E.idle(p.sessionId), ...rest];
      },
    });
    const { adapter } = adapterFor(server);
    expect(await adapter.prompt("one")).toMatchObject({ outcome: "final", content: "first" });
    expect(await adapter.prompt("two")).toMatchObject({ outcome: "final", content: "second" });
  });

  it("a turn past its deadline is aborted and ends with `timeout`", async () => {
    const server = await fake({ onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), { hold: true }] });
    const { adapter } = adapterFor(server, { turnTimeoutMs: 200 });
    const result = await adapter.prompt("hi");
    expect(result).toMatchObject({ outcome: "error", code: "timeout", error: expect.stringContaining("200 ms") });
    expect(server.aborts).toHaveLength(1);
  });

  it("provider retries past maxProviderRetries abort the turn with `provider_error`", async () => {
    const server = await fake({
      onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), E.retry(p.sessionId, 1, "rate limited"), E.retry(p.sessionId, 2, "rate limited"), { hold: true }],
      onAbort: (sessionId) => E.idleEnd(sessionId),
    });
    const { adapter } = adapterFor(server, { maxProviderRetries: 1 });
    const result = await adapter.prompt("hi");
    expect(result).toMatchObject({ outcome: "error", code: "provider_error", error: expect.stringContaining("rate limited") });
    expect(server.aborts).toHaveLength(1);
  });

  it("an abort opencode never confirms still ends the turn within the grace period", async () => {
    const server = await fake({ onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), { hold: true }], onAbort: () => [] });
    const { adapter } = adapterFor(server, { connectTimeoutMs: 300 });
    const turn = adapter.prompt("hi");
    await vi.waitFor(() => expect(server.prompts).toHaveLength(1));
    await adapter.cancel();
    expect(await turn).toMatchObject({ outcome: "error", code: "aborted" });
  });

  it("attachments become opencode file parts; invalid ones are a `bad_request` before anything is sent", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["seen"]) });
    const { adapter } = adapterFor(server, { attachmentSchemes: ["data", "https"] });
    const data = Buffer.from("hello file").toString("base64");
    await adapter.prompt("read this", undefined, { attachments: [{ mime: "text/plain", data, filename: "note.txt" }, { mime: "image/png", url: "https://example.com/a.png" }] });
    expect(server.prompts[0]!.body.parts).toEqual([
      { type: "text", text: "read this" },
      { type: "file", mime: "text/plain", url: `data:text/plain;base64,${data}`, filename: "note.txt" },
      { type: "file", mime: "image/png", url: "https://example.com/a.png" },
    ]);
    const bad = await adapter.prompt("x", undefined, { attachments: [{ media_type: "text/plain", data } as never] });
    expect(bad).toMatchObject({ outcome: "error", code: "bad_request" });
    expect(server.prompts).toHaveLength(1);
  });

  it("model changes are kept on the adapter and reported with the turn that follows them", async () => {
    const server = await fake({
      onPrompt: (p, s) => [...(s.prompts.length === 1 ? [E.sessionUpdated(p.sessionId, { id: "m1", providerID: "p" }, 1)] : []), ...answer(p, ["ok"])],
    });
    const { adapter } = adapterFor(server);
    const first = await adapter.prompt("one");
    expect(first.model_changes).toEqual([]);
    await server.play([E.modelSwitched("ses_fake1", { id: "m2", providerID: "p" }, "2026-01-02T03:04:05.000Z")]);
    await vi.waitFor(() => expect(adapter.modelChanges).toHaveLength(1));
    const second = await adapter.prompt("two");
    const change = { providerID: "p", modelID: "m2", source: "model.switched", at: Date.parse("2026-01-02T03:04:05.000Z") };
    expect(second.model_changes).toEqual([change]);
    expect(adapter.modelChanges).toEqual([change]);
  });

  it("between turns a lost stream is reopened, so a model switch made then is still seen", async () => {
    const server = await fake({ onPrompt: (p, s) => [...(s.prompts.length === 1 ? [E.sessionUpdated(p.sessionId, { id: "m1", providerID: "p" }, 1)] : []), ...answer(p, ["ok"])] });
    const { adapter } = adapterFor(server);
    await adapter.prompt("one");
    server.closeStreams();
    await vi.waitFor(() => expect(server.eventConnections).toBe(2));
    await vi.waitFor(() => expect((server as unknown as { streams: Set<unknown> }).streams.size).toBe(1));
    await server.play([E.modelSwitched("ses_fake1", { id: "m2", providerID: "p" }, 5)]);
    await vi.waitFor(() => expect(adapter.modelChanges).toEqual([{ providerID: "p", modelID: "m2", source: "model.switched", at: 5 }]));
  });

  it("close() ends the running turn with `closed`; later prompts end in a `closed` error", async () => {
    const server = await fake({ onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), { hold: true }] });
    const { adapter, replies } = adapterFor(server);
    const turn = adapter.prompt("hi");
    await vi.waitFor(() => expect(server.prompts).toHaveLength(1));
    await adapter.close();
    expect(await turn).toMatchObject({ outcome: "error", code: "closed" });
    expect(await adapter.prompt("after", "t-after")).toMatchObject({ outcome: "error", code: "closed" });
    expect(replies.at(-1)).toMatchObject({ kind: "error", code: "closed", trace_id: "t-after" });
  });

  it("the password does not show when the adapter is inspected or serialized", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["ok"]) });
    const { adapter } = adapterFor(server, { password: server.password });
    await adapter.prompt("hi");
    const token = Buffer.from(`opencode:${server.password}`).toString("base64");
    // Our own objects, several levels deep (undici keeps the headers of requests on its sockets, deeper down).
    for (const text of [inspect(adapter), inspect(adapter, { depth: 4 }), JSON.stringify(adapter)]) {
      expect(text).not.toContain(server.password);
      expect(text).not.toContain(token);
    }
  });

  it("a sink may close the adapter: no deadlock, the turn resolves, later prompts end `closed`", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["a", "b"]) });
    let closing: Promise<void> | undefined;
    const { adapter, replies } = adapterFor(server, {}, async (reply) => {
      if (reply.kind === "final") await (closing = adapter.close());
    });
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "final", content: "ab" });
    await closing;
    expect(await adapter.prompt("again")).toMatchObject({ outcome: "error", code: "closed" });
    // After close() results do not wait for the sink: the reply follows once the sink's call returns.
    await vi.waitFor(() => expect(kinds(joinedDeltas(replies))).toEqual(["delta", "final", "error"]));
  });

  it("close() called twice resolves both only once everything is released", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["ok"]) });
    const { adapter } = adapterFor(server);
    await adapter.prompt("hi");
    await Promise.all([adapter.close(), adapter.close()]);
    // The shared stream was released with the last user: the server sees its connection end.
    await vi.waitFor(() => expect((server as unknown as { streams: Set<unknown> }).streams.size).toBe(0));
  });

  it("a stream lost for good abandons the server's turn: the abort is sent, so the next prompt is not folded into it", async () => {
    let turns = 0;
    const server = await fake({
      onPrompt: (p) => (++turns === 1 ? [E.userMessage(p.sessionId, p.body.messageID), { closeStreams: true }] : answer(p, ["next"])),
      // The three attempts to reopen are refused; the next turn's connection is let through.
      eventStatus: 500,
      eventStatusFrom: 1,
      eventStatusUntil: 4,
    });
    const { adapter } = adapterFor(server);
    expect(await adapter.prompt("one")).toMatchObject({ outcome: "error", code: "stream_lost" });
    await vi.waitFor(() => expect(server.aborts).toEqual(["ses_fake1"]));
    expect(await adapter.prompt("two")).toMatchObject({ outcome: "final", content: "next" });
    // The first stream, three refused attempts to reopen it, and the next turn's stream.
    expect(server.eventConnections).toBe(5);
  });

  it("a child session from an earlier turn (a resumed subagent) still has its asks answered", async () => {
    let turns = 0;
    const server = await fake({
      onPrompt: (p) => {
        turns++;
        const opening = [E.userMessage(p.sessionId, p.body.messageID)];
        if (turns === 1) return [...opening, E.sessionCreated("ses_child", p.sessionId), ...answer(p, ["first"]).slice(1)];
        return [...opening, E.permissionAsked("ses_child", "per_child"), { hold: true }, ...answer(p, ["second"]).slice(1)];
      },
    });
    const { adapter } = adapterFor(server, { permissions: "once" });
    await adapter.prompt("one");
    const second = adapter.prompt("two");
    await vi.waitFor(() => expect(server.permissionReplies).toEqual([{ id: "per_child", body: { reply: "once" } }]));
    server.release();
    expect(await second).toMatchObject({ outcome: "final", content: "second" });
  });
});

describe("OpenCodeAdapter.ensureSession against the loopback stand-in", () => {
  const sessionRequests = (server: FakeOpencode) =>
    server.requests.map((r) => `${r.method} ${r.url.split("?")[0]}`).filter((route) => /^(POST \/session|GET \/session\/ses[^/]*)$/.test(route));

  it("creates the session once, with the configured title, and the turns after it use it without checking it again", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["ok"]) });
    const { adapter } = adapterFor(server, { sessionTitle: "From the host" });
    expect(await adapter.ensureSession()).toBe("ses_fake1");
    expect(adapter.sessionId).toBe("ses_fake1");
    expect(await adapter.ensureSession()).toBe("ses_fake1");
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "final", session_id: "ses_fake1" });
    expect(server.sessionTitles).toEqual(["From the host"]);
    expect(sessionRequests(server)).toEqual(["POST /session"]);
  });

  it("the session it created is watched like a turn's: a model switch before any turn is kept and reported", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["ok"]) });
    const { adapter } = adapterFor(server, { providerID: "p", modelID: "m1" });
    const sessionId = await adapter.ensureSession();
    await server.play([E.modelSwitched(sessionId, { id: "m2", providerID: "p" }, 5)]);
    const change = { providerID: "p", modelID: "m2", source: "model.switched", at: 5 };
    await vi.waitFor(() => expect(adapter.modelChanges).toEqual([change]));
    expect((await adapter.prompt("hi")).model_changes).toEqual([change]);
  });

  it("checks a configured session once; one that does not exist is `session_not_found`, named, and the adapter goes on", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["ok"]) });
    server.sessions.add("ses_known");
    const { adapter: known } = adapterFor(server, { sessionId: "ses_known" });
    expect(await known.ensureSession()).toBe("ses_known");
    expect(await known.prompt("hi")).toMatchObject({ outcome: "final", session_id: "ses_known" });
    expect(sessionRequests(server)).toEqual(["GET /session/ses_known"]);

    const { adapter: missing } = adapterFor(server, { sessionId: "ses_missing" });
    const failure = await missing.ensureSession().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TurnError);
    expect(failure).toMatchObject({ code: "session_not_found", message: expect.stringContaining("ses_missing") });
    expect(await missing.prompt("hi")).toMatchObject({ outcome: "error", code: "session_not_found" });
  });

  it("its errors carry the contract's code and never the password", async () => {
    const server = await fake({
      intercept: (route, res, _body, req) => {
        if (route !== "POST /session") return false;
        res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ data: { message: `bad auth ${req.headers.authorization}` } }));
        return true;
      },
    });
    const { adapter } = adapterFor(server);
    const failure = (await adapter.ensureSession().catch((error: unknown) => error)) as TurnError;
    expect(failure).toBeInstanceOf(TurnError);
    expect(failure.message).toContain("[redacted]");
    expect(failure.message).not.toContain(server.password);
    expect(failure.message).not.toContain(Buffer.from(`opencode:${server.password}`).toString("base64"));
  });

  it("waits for the running turn, and answers the session that turn created", async () => {
    const server = await fake({ onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), { hold: true }, ...answer(p, ["done"]).slice(1)] });
    const { adapter } = adapterFor(server);
    const order: string[] = [];
    const turn = adapter.prompt("hi").then((result) => (order.push("turn"), result));
    await vi.waitFor(() => expect(server.prompts).toHaveLength(1));
    const session = adapter.ensureSession().then((id) => (order.push("session"), id));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(order).toEqual([]);
    server.release();
    expect(await session).toBe((await turn).session_id);
    expect(order).toEqual(["turn", "session"]);
    expect(sessionRequests(server)).toEqual(["POST /session"]);
  });

  it("after close() it fails with `closed`, also when close() comes while the server has not answered", async () => {
    const server = await fake({ intercept: (route) => route === "POST /session" });
    const { adapter } = adapterFor(server);
    const pending = adapter.ensureSession().catch((error: unknown) => error);
    await vi.waitFor(() => expect(sessionRequests(server)).toEqual(["POST /session"]));
    await adapter.close();
    expect(await pending).toMatchObject({ code: "closed" });
    expect(await adapter.ensureSession().catch((error: unknown) => error)).toMatchObject({ code: "closed" });
  });

  it("from inside the sink it is refused with `bad_request` instead of waiting for itself", async () => {
    let inside: unknown;
    const server = await fake({ onPrompt: (p) => answer(p, ["ok"]) });
    const { adapter } = adapterFor(server, {}, async (reply) => {
      if (reply.kind === "final") inside = await adapter.ensureSession().catch((error: unknown) => error);
    });
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "final" });
    expect(inside).toMatchObject({ code: "bad_request" });
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
