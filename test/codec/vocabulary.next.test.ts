import { afterEach, describe, expect, it } from "vitest";
import { mapOpencodeEvents } from "../../src/codec/map.js";
import { initialTurnState } from "../../src/codec/state.js";
import { Reply, type Vocabulary } from "../../src/contract/replies.js";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode } from "../../testkit/fake-opencode.js";

// The session.next.* family, with shapes from opencode 1.18.33's /doc schema
// (EventSessionNextPrompted, ...StepStarted, ...TextDelta, ...ToolCalled, ...ToolSuccess, ...StepEnded, ...Retried).

const A = "msg_next_a";
let seq = 0;
const next = (type: string, sessionID: string, properties: Record<string, unknown>): E.OpencodeEvent =>
  ({ id: `evt_n${++seq}`, type: `session.next.${type}`, properties: { timestamp: 1796215000000, sessionID, ...properties } }) as E.OpencodeEvent;
const tokens = { input: 7, output: 3, reasoning: 1, cache: { read: 2, write: 0 } };

/** A turn as a server sending only session.next.* content would send it: a tool step, then a text step. */
function nextTurn(sessionID: string, userId: string, words: string[]): E.OpencodeEvent[] {
  const B = `${A}_2`;
  return [
    next("prompted", sessionID, { messageID: userId, prompt: { text: "hi" }, delivery: "queue" }),
    E.busy(sessionID),
    next("step.started", sessionID, { assistantMessageID: A, agent: "build", model: { id: "m", providerID: "p" } }),
    next("reasoning.started", sessionID, { assistantMessageID: A, reasoningID: "prt_r" }),
    next("reasoning.delta", sessionID, { assistantMessageID: A, reasoningID: "prt_r", delta: "hmm" }),
    next("reasoning.ended", sessionID, { assistantMessageID: A, reasoningID: "prt_r", text: "hmm" }),
    next("tool.called", sessionID, { assistantMessageID: A, callID: "call_n", tool: "bash", input: { command: "echo x" }, provider: { executed: false } }),
    next("tool.progress", sessionID, { assistantMessageID: A, callID: "call_n", structured: {}, content: [{ type: "text", text: "x" }] }),
    next("tool.success", sessionID, { assistantMessageID: A, callID: "call_n", structured: {}, content: [{ type: "text", text: "x\n" }], provider: { executed: false } }),
    next("step.ended", sessionID, { assistantMessageID: A, finish: "tool-calls", cost: 0.5, tokens }),
    next("retried", sessionID, { attempt: 1, error: { message: "rate limited", isRetryable: true } }),
    // opencode is busy again once the retry goes ahead.
    E.busy(sessionID),
    next("step.started", sessionID, { assistantMessageID: B, agent: "build", model: { id: "m", providerID: "p" } }),
    next("text.started", sessionID, { assistantMessageID: B, textID: "prt_t" }),
    ...words.map((delta) => next("text.delta", sessionID, { assistantMessageID: B, textID: "prt_t", delta })),
    next("text.ended", sessionID, { assistantMessageID: B, textID: "prt_t", text: words.join("") }),
    next("step.ended", sessionID, { assistantMessageID: B, finish: "stop", cost: 0.5, tokens }),
    E.statusIdle(sessionID),
    E.idle(sessionID),
  ];
}

const S = "ses_n";
const U = "msg_n_user";
const start = (vocabulary: Vocabulary) => initialTurnState({ traceId: "trace-n", sessionId: S, messageId: U, maxProviderRetries: 3, vocabulary });
const kinds = (replies: readonly Reply[]) => replies.map((r) => r.kind);

describe("session.next.* content", () => {
  it("a turn told only in the v2 family gives the replies the v1 one would", () => {
    const core = mapOpencodeEvents(nextTurn(S, U, ["Hel", "lo."]), start("core"));
    expect(core.replies).toEqual([
      { kind: "reasoning", trace_id: "trace-n", content: "hmm" },
      { kind: "tool_call", trace_id: "trace-n", tool: "bash", args: { command: "echo x" }, call_id: "call_n" },
      { kind: "tool_result", trace_id: "trace-n", tool: "bash", result: "x\n", success: true, call_id: "call_n" },
      { kind: "delta", trace_id: "trace-n", content: "Hel" },
      { kind: "delta", trace_id: "trace-n", content: "lo." },
      { kind: "final", trace_id: "trace-n", content: "Hello." },
    ]);
    expect(core.state.usage).toEqual({ tokens: { input: 14, output: 6, reasoning: 2, cache: { read: 4, write: 0 } }, cost: 1 });
    expect(core.state.unusable).toBe(0);
    const full = mapOpencodeEvents(nextTurn(S, U, ["Hel", "lo."]), start("full"));
    expect(kinds(full.replies)).toEqual(["reasoning", "tool_call", "tool_update", "tool_result", "step", "retry", "delta", "delta", "step", "final"]);
  });

  it("where both families come, nothing is counted twice: v1 first is read as v1, v2 first as v2", () => {
    const v1 = E.textTurn(S, U, A, ["Hel", "lo."]);
    const v2 = nextTurn(S, U, ["Hel", "lo."]).filter((e) => e.type.startsWith("session.next."));
    const alone = mapOpencodeEvents(v1, start("full")).replies;
    // Each v1 event followed by the v2 ones, in the two orders a dual-writing server could use.
    const v1First = [...v1.slice(0, -2).flatMap((e, i) => (i === 3 ? [e, ...v2] : [e])), ...v1.slice(-2)];
    expect(mapOpencodeEvents(v1First, start("full")).replies).toEqual(alone);
    const v2First = [...v2, ...v1];
    const fromNext = mapOpencodeEvents(v2First, start("core"));
    expect(fromNext.replies.filter((r) => r.kind === "final")).toEqual([{ kind: "final", trace_id: "trace-n", content: "Hello." }]);
    expect(kinds(fromNext.replies).filter((k) => k === "delta")).toHaveLength(2);
  });
});

describe("session.next.* against the stand-in server", () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const thing of open.splice(0).reverse()) await thing.close();
  });

  it("a server that sends the v2 family instead of v1 runs the turn to its final, in either vocabulary", async () => {
    const server = await FakeOpencode.start({ onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), ...nextTurn(p.sessionId, p.body.messageID, ["Hi", " there."])] });
    open.push(server);
    for (const vocabulary of ["core", "full"] as const) {
      const replies: Reply[] = [];
      const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, vocabulary }, (reply) => void replies.push(Reply.parse(reply)));
      open.push(adapter);
      const result = await adapter.prompt("hi");
      expect(result).toMatchObject({ outcome: "final", content: "Hi there." });
      expect(kinds(replies).filter((k) => k === "step")).toHaveLength(vocabulary === "full" ? 2 : 0);
      expect(replies.at(-1)).toMatchObject({ kind: "final", content: "Hi there." });
    }
  });
});
