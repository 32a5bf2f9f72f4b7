/**
 * A stream that lives but brings nothing for the turn (heartbeats only), against the loopback
 * stand-in: the turn's progress is watched, not the socket's, and the server is asked.
 */
import { describe, expect, it, vi } from "vitest";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { Reply } from "../../src/contract/replies.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode, type Step } from "../../testkit/fake-opencode.js";
import { closedAfterEach } from "../../testkit/closing.js";

const { open, fake } = closedAfterEach();

function adapterFor(server: FakeOpencode, config: Record<string, unknown> = {}) {
  const replies: Reply[] = [];
  const adapter = new OpenCodeAdapter(
    { baseUrl: server.url, password: server.password, connectTimeoutMs: 300, heartbeatTimeoutMs: 400, ...config },
    (reply) => void replies.push(Reply.parse(reply)),
    { logger: { warn: () => undefined } },
  );
  open.push(adapter);
  return { adapter, replies };
}

/** A live stream with nothing for any session: a heartbeat every 50 ms, for up to `count` beats. */
const heartbeats = (count: number): Step[] => Array.from({ length: count }, () => [{ wait: 50 }, E.heartbeat()]).flat();

/** What opencode stores for a finished one-step text answer. */
function storedAnswer(sessionID: string, userId: string, text: string): unknown[] {
  const assistantId = `msg_a_${userId}`;
  return [
    { info: { id: userId, sessionID, role: "user" }, parts: [{ id: "prt_u", sessionID, messageID: userId, type: "text", text: "hi" }] },
    {
      info: { id: assistantId, sessionID, role: "assistant", parentID: userId, time: { created: 2, completed: 5 } },
      parts: [{ id: "prt_t", sessionID, messageID: assistantId, type: "text", text, time: { start: 3, end: 4 } }],
    },
  ];
}

const statusChecks = (server: FakeOpencode) => server.requests.filter((r) => r.url.startsWith("/session/status")).length;
const messageReads = (server: FakeOpencode) => server.requests.filter((r) => /\/session\/[^/]+\/message/.test(r.url)).length;

describe("a stream alive with heartbeats only", () => {
  it("ends the turn with the answer opencode stored, once the session shows idle", async () => {
    let stored: unknown[] = [];
    const server = await fake({
      // opencode ran the turn and stored it, but its stream sent none of it: heartbeats only.
      onPrompt: (p) => {
        stored = storedAnswer(p.sessionId, p.body.messageID, "Stored answer.");
        return heartbeats(200);
      },
      store: () => ({ messages: stored, idle: true }),
    });
    const { adapter, replies } = adapterFor(server);
    const result = await adapter.prompt("hi", "t");
    expect(result).toMatchObject({ outcome: "final", content: "Stored answer." });
    expect(replies.map((r) => r.kind)).toEqual(["delta", "final"]);
    expect(statusChecks(server)).toBeGreaterThanOrEqual(1);
  });

  it("keeps a turn opencode still runs (a long silent tool): the server says busy, and the answer comes", async () => {
    let busy = true;
    const server = await fake({
      onPrompt: (p) => [
        E.userMessage(p.sessionId, p.body.messageID),
        E.busy(p.sessionId),
        // A tool that prints nothing for well over the heartbeat timeout, several checks' worth.
        ...heartbeats(30),
        ...E.textTurn(p.sessionId, p.body.messageID, "msg_a", ["Done", " at last."]).slice(3),
      ],
      store: () => ({ messages: [], idle: !busy }),
    });
    const { adapter } = adapterFor(server);
    const result = await adapter.prompt("hi", "t");
    busy = false;
    expect(result).toMatchObject({ outcome: "final", content: "Done at last." });
    expect(statusChecks(server)).toBeGreaterThanOrEqual(2);
    // Never taken for a gap: nothing stored was read.
    expect(messageReads(server)).toBe(0);
  });
});

describe("a prompt accepted (204) on which nothing runs", () => {
  it("ends with a clear error, and opencode is asked to abort what it may have queued", async () => {
    const server = await fake({ onPrompt: () => heartbeats(200), store: () => ({ messages: [], idle: true }) });
    const { adapter, replies } = adapterFor(server);
    const result = await adapter.prompt("hi", "t");
    expect(result).toMatchObject({ outcome: "error", code: "internal", error: expect.stringContaining("accepted the prompt but did not run it") });
    expect(replies.map((r) => r.kind)).toEqual(["error"]);
    await vi.waitFor(() => expect(server.aborts).toHaveLength(1), { timeout: 10_000 });
  });

  it("is not concluded while the user message is still on its way", async () => {
    // The snapshot is read before opencode stored the user message; it arrives within the grace.
    const server = await fake({
      onPrompt: (p) => [...heartbeats(12), ...E.textTurn(p.sessionId, p.body.messageID, "msg_a", ["Late", " start."])],
      store: () => ({ messages: [], idle: true }),
    });
    const { adapter } = adapterFor(server, { connectTimeoutMs: 2000 });
    const result = await adapter.prompt("hi", "t");
    expect(result).toMatchObject({ outcome: "final", content: "Late start." });
    expect(server.aborts).toHaveLength(0);
  });
});
