import { describe, expect, it } from "vitest";
import { answeredAsk } from "../../src/codec/asks.js";
import { failTurn, promptSent, stopTurn } from "../../src/codec/ending.js";
import { mapOpencodeEvents } from "../../src/codec/map.js";
import { reconcile, type StoredSession, streamGap } from "../../src/codec/reconcile.js";
import { initialTurnState, type TurnState } from "../../src/codec/state.js";
import { Reply } from "../../src/contract/replies.js";
import * as E from "../../testkit/events.js";
import { loadRecording, recordingNames, userMessageId } from "../../testkit/recordings.js";

const S = "ses_ours";
const U = "msg_user";
const A = "msg_assistant";

function start(overrides: Partial<Parameters<typeof initialTurnState>[0]> = {}): TurnState {
  return initialTurnState({ traceId: "trace-1", sessionId: S, messageId: U, maxProviderRetries: 3, ...overrides });
}

function feed(events: unknown[], state = start()): { state: TurnState; replies: readonly Reply[] } {
  return mapOpencodeEvents(events, state);
}

/** A compact, exact rendering of a reply sequence. */
function show(replies: readonly Reply[]): string[] {
  return replies.map((r) => {
    switch (r.kind) {
      case "delta":
      case "reasoning":
      case "final":
        return `${r.kind}:${r.content}`;
      case "tool_call":
        return `tool_call:${r.tool}:${r.call_id}:${JSON.stringify(r.args)}`;
      case "tool_result":
        return `tool_result:${r.tool}:${r.call_id}:${r.success}:${JSON.stringify(r.result)}`;
      case "error":
        return `error:${r.code}:${r.error}`;
      default:
        return r.kind;
    }
  });
}

const words = (...w: string[]) => w.map((x) => `delta:${x}`);

function replay(name: string, sessionIndex = 0, maxProviderRetries = 3) {
  const recording = loadRecording(name);
  const sessionId = recording.sessionIDs[sessionIndex]!;
  const result = feed(recording.events, start({ sessionId, messageId: userMessageId(recording, sessionId), maxProviderRetries }));
  for (const reply of result.replies) Reply.parse(reply);
  return result;
}

describe("replaying every recording of opencode 1.18.33", () => {
  const hello = [...words("Hello", " from", " the", " scripted", " model."), "final:Hello from the scripted model."];

  it("covers every capture in the fixtures", () => {
    expect(recordingNames()).toEqual([
      "abort-midstream",
      "client-message-id",
      "long-2000-deltas",
      "model-switch",
      "permission-reject",
      "provider-error-retry-then-abort",
      "reasoning-tool-permission-once",
      "text",
      "two-sessions-interleaved",
    ]);
  });

  it.each(["text", "client-message-id", "model-switch"])("%s: five deltas, then the final text", (name) => {
    const { replies, state } = replay(name);
    expect(show(replies)).toEqual(hello);
    expect(state.unusable).toBe(0);
    expect(state.usage).toEqual({ tokens: { input: 5, output: 5, reasoning: 0, cache: { read: 0, write: 0 } }, cost: 0 });
  });

  it("reasoning-tool-permission-once: reasoning, one call and result with the real input, reasoning again, text", () => {
    expect(show(replay("reasoning-tool-permission-once").replies)).toEqual([
      "reasoning:Let",
      "reasoning: me",
      "reasoning: think.",
      'tool_call:bash:call_12:{"command":"echo hi","description":"say hi"}',
      'tool_result:bash:call_12:true:"hi\\n"',
      "reasoning:Let",
      "reasoning: me",
      "reasoning: think.",
      ...hello,
    ]);
  });

  it("reasoning-tool-permission-once: the ask waits in the state until the machine answers it", () => {
    const recording = loadRecording("reasoning-tool-permission-once");
    const sessionId = recording.sessionIDs[0]!;
    const upToAsk = recording.events.slice(0, recording.events.findIndex((e) => e.type === "permission.asked") + 1);
    const { state } = feed(upToAsk, start({ sessionId, messageId: userMessageId(recording, sessionId) }));
    expect(state.asks).toHaveLength(1);
    expect(state.asks[0]).toMatchObject({ kind: "permission", request: { id: "per_2177825c8001ibjm7pc7jvnQ2f", permission: "bash" } });
    expect(answeredAsk(state).asks).toEqual([]);
  });

  it("permission-reject: the rejected call fails with the feedback, and the model goes on", () => {
    expect(show(replay("permission-reject").replies)).toEqual([
      'tool_call:bash:call_14:{"command":"echo hi","description":"say hi"}',
      'tool_result:bash:call_14:false:"The user rejected permission to use this specific tool call with the following feedback: denied by host policy"',
      ...hello,
    ]);
  });

  it("abort-midstream: the deltas so far, then one aborted error; the late part update adds nothing", () => {
    expect(show(replay("abort-midstream").replies)).toEqual([
      ...words("Hello", " from", " the", " scripted"),
      "error:aborted:The turn was aborted: Aborted",
    ]);
  });

  it("provider-error-retry-then-abort: past maxProviderRetries the turn is stopped as a provider error", () => {
    const { replies, state } = replay("provider-error-retry-then-abort", 0, 1);
    expect(state.stopReason?.code).toBe("provider_error");
    expect(show(replies)).toEqual([
      "error:provider_error:The model provider failed 2 times in a row, so the turn was stopped: scripted upstream failure",
    ]);
  });

  it("provider-error-retry-then-abort: stopped by someone else during the retries, it is still a provider error", () => {
    expect(show(replay("provider-error-retry-then-abort", 0, 3).replies)).toEqual([
      "error:provider_error:The turn ended while the model provider was failing: scripted upstream failure",
    ]);
  });

  it("long-2000-deltas: 2000 deltas and a final that is exactly their concatenation", () => {
    const { replies } = replay("long-2000-deltas");
    const deltas = replies.filter((r) => r.kind === "delta");
    expect(deltas).toHaveLength(2000);
    expect(replies).toHaveLength(2001);
    expect(replies.at(-1)).toEqual({ kind: "final", trace_id: "trace-1", content: deltas.map((d) => d.content).join("") });
  });

  it("two-sessions-interleaved: each session gets only its own replies", () => {
    expect(show(replay("two-sessions-interleaved", 0).replies)).toEqual(hello);
    expect(show(replay("two-sessions-interleaved", 1).replies)).toEqual(["reasoning:Let", "reasoning: me", "reasoning: think.", ...hello]);
  });
});

describe("rule 1: reasoning is classified by its part type, never by the delta's field", () => {
  it("a delta on a reasoning part is reasoning and stays out of final", () => {
    const { replies } = feed([
      E.userMessage(S, U),
      E.assistantMessage(S, A, U),
      E.partOpened(S, A, "p_r", "reasoning"),
      E.delta(S, A, "p_r", "hmm"),
      E.partOpened(S, A, "p_t", "text"),
      E.delta(S, A, "p_t", "answer"),
      E.assistantDone(S, A, U),
      ...E.idleEnd(S),
    ]);
    expect(show(replies)).toEqual(["reasoning:hmm", "delta:answer", "final:answer"]);
  });

  it("a delta before its part's first update is held until the type is known", () => {
    const { replies } = feed([
      E.userMessage(S, U),
      E.assistantMessage(S, A, U),
      E.delta(S, A, "p_r", "early "),
      E.delta(S, A, "p_t", "text "),
      E.delta(S, A, "p_r", "thought"),
      E.partOpened(S, A, "p_r", "reasoning"),
      E.partOpened(S, A, "p_t", "text"),
      E.delta(S, A, "p_t", "more"),
      E.assistantDone(S, A, U),
      ...E.idleEnd(S),
    ]);
    expect(show(replies)).toEqual(["reasoning:early ", "reasoning:thought", "delta:text ", "delta:more", "final:text more"]);
  });

  it("holding an early delta copies nothing already held: each keeps the list before it as its tail (linear, not quadratic)", () => {
    let state = feed([E.userMessage(S, U), E.assistantMessage(S, A, U)]).state;
    const words = Array.from({ length: 5_000 }, (_, i) => `w${i} `);
    for (const word of words) {
      const before = state.earlyDeltas.get("p_late");
      state = feed([E.delta(S, A, "p_late", word)], state).state;
      const held = state.earlyDeltas.get("p_late")!;
      // The new delta is one node in front of the old list, which is the very same object.
      expect(held.before).toBe(before);
      expect(held.delta).toBe(word);
    }
    const { replies } = feed([E.partOpened(S, A, "p_late", "text"), E.assistantDone(S, A, U), ...E.idleEnd(S)], state);
    expect(replies).toHaveLength(words.length + 1);
    expect(replies.slice(0, 3).map((r) => r.kind === "delta" && r.content)).toEqual(["w0 ", "w1 ", "w2 "]);
    expect(replies.at(-1)).toEqual({ kind: "final", trace_id: "trace-1", content: words.join("") });
  });

  it("a closed part brings the text its deltas missed, once", () => {
    const { replies } = feed([
      E.userMessage(S, U),
      E.assistantMessage(S, A, U),
      E.partOpened(S, A, "p_t", "text"),
      E.delta(S, A, "p_t", "Hel"),
      E.partClosed(S, A, "p_t", "text", "Hello!"),
      E.partClosed(S, A, "p_t", "text", "Hello!"),
      E.assistantDone(S, A, U),
      ...E.idleEnd(S),
    ]);
    expect(show(replies)).toEqual(["delta:Hel", "delta:lo!", "final:Hello!"]);
  });
});

describe("rule 2: tool calls", () => {
  const pre = [E.userMessage(S, U), E.assistantMessage(S, A, U)];

  it("args come from state.input; one call at the first running, one result at completed", () => {
    const input = { command: "ls", description: "list" };
    const { replies } = feed([
      ...pre,
      E.toolPart(S, A, "p1", "c1", "bash", { status: "pending", input: {} }),
      E.toolPart(S, A, "p1", "c1", "bash", { status: "running", input }),
      E.toolPart(S, A, "p1", "c1", "bash", { status: "running", input, metadata: { output: "a" } }),
      E.toolPart(S, A, "p1", "c1", "bash", { status: "completed", input, output: "a\nb\n" }),
      E.toolPart(S, A, "p1", "c1", "bash", { status: "completed", input, output: "a\nb\n" }),
    ]);
    expect(show(replies)).toEqual(['tool_call:bash:c1:{"command":"ls","description":"list"}', 'tool_result:bash:c1:true:"a\\nb\\n"']);
  });

  it("a call whose input is not an object still gets its call and result, with no arguments", () => {
    const { replies } = feed([...pre, E.toolPart(S, A, "p1", "c1", "bash", { status: "completed", input: "ls", output: "ok" })]);
    expect(show(replies)).toEqual(["tool_call:bash:c1:{}", 'tool_result:bash:c1:true:"ok"']);
  });

  it("a call seen only at error still gets its call, then a failed result with the error text", () => {
    const { replies } = feed([...pre, E.toolPart(S, A, "p1", "c1", "read", { status: "error", input: { path: "x" }, error: "no such file" })]);
    expect(show(replies)).toEqual(['tool_call:read:c1:{"path":"x"}', 'tool_result:read:c1:false:"no such file"']);
  });

  it("a name that only arrives after the call went out does not change it: call and result agree", () => {
    const { replies } = feed([
      ...pre,
      E.toolPart(S, A, "p1", "c1", undefined, { status: "running", input: {} }),
      E.toolPart(S, A, "p1", "c1", "bash", { status: "completed", input: {}, output: "ok" }),
    ]);
    expect(show(replies)).toEqual(["tool_call:unknown:c1:{}", 'tool_result:unknown:c1:true:"ok"']);
  });

  it('a missing name is "unknown"; a name that changes to "invalid" is still one call under the first name', () => {
    const unnamed = feed([...pre, E.toolPart(S, A, "p1", "c1", undefined, { status: "completed", input: {}, output: "ok" })]);
    expect(show(unnamed.replies)).toEqual(["tool_call:unknown:c1:{}", 'tool_result:unknown:c1:true:"ok"']);

    const renamed = feed([
      ...pre,
      E.toolPart(S, A, "p1", "c1", "no_such_tool", { status: "pending", input: {} }),
      E.toolPart(S, A, "p1", "c1", "invalid", { status: "running", input: { tool: "no_such_tool" } }),
      E.toolPart(S, A, "p1", "c1", "invalid", { status: "completed", input: { tool: "no_such_tool" }, output: "bad tool" }),
    ]);
    expect(show(renamed.replies)).toEqual(['tool_call:no_such_tool:c1:{"tool":"no_such_tool"}', 'tool_result:no_such_tool:c1:true:"bad tool"']);
  });

  it("two calls in one step are two of each, keyed by call id", () => {
    const { replies } = feed([
      ...pre,
      E.toolPart(S, A, "p1", "c1", "bash", { status: "running", input: { command: "echo one" } }),
      E.toolPart(S, A, "p2", "c2", "bash", { status: "running", input: { command: "echo two" } }),
      E.toolPart(S, A, "p2", "c2", "bash", { status: "completed", input: { command: "echo two" }, output: "two" }),
      E.toolPart(S, A, "p1", "c1", "bash", { status: "completed", input: { command: "echo one" }, output: "one" }),
    ]);
    expect(show(replies)).toEqual([
      'tool_call:bash:c1:{"command":"echo one"}',
      'tool_call:bash:c2:{"command":"echo two"}',
      'tool_result:bash:c2:true:"two"',
      'tool_result:bash:c1:true:"one"',
    ]);
  });
});

describe("rule 3: the user's own text is never output", () => {
  it("the user's text part and its message produce nothing", () => {
    const { replies } = feed([E.userMessage(S, U), E.userText(S, U, "say hello"), E.delta(S, U, `prt_user_${U}`, "say hello"), E.assistantDone(S, A, U), ...E.idleEnd(S)]);
    expect(show(replies)).toEqual(["final:"]);
  });
});

describe("rule 4: session errors", () => {
  const pre = [E.userMessage(S, U), E.assistantMessage(S, A, U)];
  it.each([
    ["APIError", "provider_error"],
    ["UnknownError", "provider_error"],
    ["ProviderAuthError", "unauthorized"],
    ["MessageAbortedError", "aborted"],
    ["MessageOutputLengthError", "provider_error"],
    ["SomethingNew", "internal"],
  ])("%s → %s, carrying the server's message", (name, code) => {
    const { replies } = feed([...pre, E.sessionError(S, name, "upstream said no")]);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ kind: "error", code });
    expect((replies[0] as { error: string }).error).toContain("upstream said no");
  });

  it("an error or idle after the terminal reply, or a duplicate, adds nothing", () => {
    const { replies } = feed([...pre, E.sessionError(S, "APIError", "a"), ...E.idleEnd(S), E.sessionError(S, "APIError", "a"), ...E.idleEnd(S)]);
    expect(show(replies)).toEqual(["error:provider_error:The model provider failed: a"]);
    const done = feed([...E.textTurn(S, U, A, ["x"]), E.sessionError(S, "APIError", "late"), ...E.idleEnd(S)]);
    expect(show(done.replies)).toEqual(["delta:x", "final:x"]);
  });

  it("the machine's own failures end the turn once, through the same rule", () => {
    const failed = failTurn(start(), { code: "stream_lost", error: "gone" });
    expect(show([...failed.replies])).toEqual(["error:stream_lost:gone"]);
    expect(failTurn(failed.state, { code: "timeout", error: "late" }).replies).toEqual([]);
  });
});

describe("rule 5: the turn is known by its own messageID", () => {
  it("stale idles and errors before this turn's user message do not end it", () => {
    const { replies } = feed([
      // An aborted turn's ends, as opencode sends them: the error, then two idle pairs.
      E.sessionError(S, "MessageAbortedError", "Aborted"),
      ...E.idleEnd(S),
      ...E.idleEnd(S),
      ...E.textTurn(S, U, A, ["whole ", "answer"]),
    ]);
    expect(show(replies)).toEqual(["delta:whole ", "delta:answer", "final:whole answer"]);
  });

  it("parts of an assistant message answering another user message are not this turn's", () => {
    const { replies } = feed([
      E.assistantMessage(S, "msg_old_a", "msg_old_u"),
      E.partOpened(S, "msg_old_a", "p_old", "text"),
      E.delta(S, "msg_old_a", "p_old", "stale"),
      E.partClosed(S, "msg_old_a", "p_old", "text", "stale text"),
      ...E.textTurn(S, U, A, ["fresh"]),
    ]);
    expect(show(replies)).toEqual(["delta:fresh", "final:fresh"]);
  });
});

describe("rule 5b: opencode refusing the prompt (no user message ever comes)", () => {
  const sent = () => promptSent(start());

  it("an error after the prompt was sent, then an idle, ends the turn as bad_request with the server's message", () => {
    const { replies } = feed([E.sessionError(S, "UnknownError", "Agent not found: nope"), E.sessionError(S, "UnknownError", "second"), ...E.idleEnd(S)], sent());
    expect(show(replies)).toEqual(["error:bad_request:opencode did not start the turn: Agent not found: nope"]);
  });

  it("before the prompt was sent, errors and idles are an earlier turn's", () => {
    const { replies, state } = feed([E.sessionError(S, "UnknownError", "old"), ...E.idleEnd(S)]);
    expect(replies).toEqual([]);
    expect(state.refusal).toBeUndefined();
  });

  it("an abort error is an earlier turn's even after the prompt was sent", () => {
    expect(feed([E.sessionError(S, "MessageAbortedError", "Aborted"), ...E.idleEnd(S), ...E.idleEnd(S)], sent()).replies).toEqual([]);
  });

  it("a stale error is forgotten once the turn's own user message arrives", () => {
    const { replies } = feed([E.sessionError(S, "UnknownError", "stale"), ...E.textTurn(S, U, A, ["fine"])], sent());
    expect(show(replies)).toEqual(["delta:fine", "final:fine"]);
  });
});

describe("provider retries", () => {
  it("a retry that goes ahead (busy again) is not a failure", () => {
    const { replies } = feed([E.userMessage(S, U), E.retry(S, 1, "flaky"), E.busy(S), ...E.textTurn(S, U, A, ["ok"]).slice(1)]);
    expect(show(replies)).toEqual(["delta:ok", "final:ok"]);
  });
});

describe("rule 6: session membership", () => {
  it("asks from a child session whose parentID is ours count; other sessions' asks do not", () => {
    const { state } = feed([
      E.userMessage(S, U),
      E.permissionAsked("ses_stranger", "per_1"),
      E.sessionCreated("ses_child", S),
      E.permissionAsked("ses_child", "per_2"),
      E.sessionCreated("ses_grandchild", "ses_child"),
      E.questionAsked("ses_grandchild", "que_3"),
    ]);
    expect(state.asks.map((a) => `${a.kind}:${a.request.id}`)).toEqual(["permission:per_2", "question:que_3"]);
  });

  it("child sessions known from earlier turns are members from the start", () => {
    const { state } = feed([E.userMessage(S, U), E.permissionAsked("ses_resumed", "per_r")], initialTurnState({ traceId: "t", sessionId: S, messageId: U, maxProviderRetries: 3, children: ["ses_resumed"] }));
    expect(state.asks.map((a) => a.request.id)).toEqual(["per_r"]);
  });

  it("a child's idle does not end the turn, and another session's text is not ours", () => {
    const { replies } = feed([
      E.userMessage(S, U),
      E.sessionCreated("ses_child", S),
      ...E.idleEnd("ses_child"),
      ...E.textTurn("ses_other", U, A, ["theirs"]),
      E.assistantDone(S, A, U),
      ...E.idleEnd(S),
    ]);
    expect(show(replies)).toEqual(["final:"]);
  });

  it("an ask with nothing but its id and session is still queued (an unanswered ask would hang the turn)", () => {
    const { state } = feed([
      E.userMessage(S, U),
      { type: "permission.asked", properties: { id: "per_bare", sessionID: S, metadata: "odd", patterns: null } },
      { type: "question.asked", properties: { id: "que_bare", sessionID: S, questions: "odd" } },
    ]);
    expect(state.asks).toEqual([
      { kind: "permission", request: { id: "per_bare", sessionID: S, permission: "unknown", patterns: [], metadata: {}, always: [] } },
      { kind: "question", request: { id: "que_bare", sessionID: S, questions: [] } },
    ]);
  });

  it("an ask settled elsewhere leaves the queue; the head leaves when the machine answered it", () => {
    let { state } = feed([E.userMessage(S, U), E.permissionAsked(S, "per_1"), E.permissionAsked(S, "per_2"), E.permissionAsked(S, "per_2")]);
    expect(state.asks.map((a) => a.request.id)).toEqual(["per_1", "per_2"]);
    state = feed([E.permissionReplied(S, "per_2")], state).state;
    expect(state.asks.map((a) => a.request.id)).toEqual(["per_1"]);
    expect(answeredAsk(state).asks).toEqual([]);
  });
});

describe("rule 8: final is exactly the concatenation of the deltas", () => {
  it("holds across several text parts and steps with tools between them", () => {
    const A2 = "msg_assistant_2";
    const { replies } = feed([
      E.userMessage(S, U),
      E.assistantMessage(S, A, U),
      E.partOpened(S, A, "t1", "text"),
      E.delta(S, A, "t1", "Let me check. "),
      E.toolPart(S, A, "p1", "c1", "bash", { status: "completed", input: {}, output: "ok" }),
      E.assistantMessage(S, A2, U),
      E.partOpened(S, A2, "t2", "text"),
      E.delta(S, A2, "t2", "Done: "),
      E.delta(S, A2, "t2", "ok"),
      E.assistantDone(S, A2, U),
      ...E.idleEnd(S),
    ]);
    const deltas = replies.filter((r) => r.kind === "delta").map((r) => (r as { content: string }).content);
    expect(replies.at(-1)).toEqual({ kind: "final", trace_id: "trace-1", content: deltas.join("") });
    expect(deltas.join("")).toBe("Let me check. Done: ok");
  });
});

describe("rule 9: what cannot be used is skipped and counted, never thrown", () => {
  it.each([
    ["null", null],
    ["a string", "data: nonsense"],
    ["a number", 42],
    ["no type", { properties: {} }],
    ["an unknown type", { type: "brand.new.event", properties: { sessionID: S } }],
    ["a delta without fields", { type: "message.part.delta", properties: { sessionID: S } }],
    ["a part without an id", { type: "message.part.updated", properties: { part: { type: "text" } } }],
    ["a message without info", { type: "message.updated", properties: {} }],
    ["an idle without a session", { type: "session.status", properties: { status: { type: "idle" } } }],
    ["an ask with a bad shape", { type: "permission.asked", properties: { sessionID: S, id: 3 } }],
  ])("%s", (_label, event) => {
    const before = start();
    const { state, replies } = feed([event], before);
    expect(replies).toEqual([]);
    expect(state.unusable).toBe(1);
  });

  it("events opencode sends that a turn does not need are ignored without counting", () => {
    const { state } = feed([E.connected(), E.heartbeat(), { type: "session.diff", properties: { sessionID: S, diff: [] } }]);
    expect(state.unusable).toBe(0);
  });
});

describe("a gap in the stream, then reconciling with the stored messages", () => {
  const stored = (id: string, role: string, parts: unknown[], extra: Record<string, unknown> = {}) => ({
    info: { id, sessionID: S, role, ...(role === "assistant" ? { parentID: U } : {}), ...extra },
    parts,
  });
  const snap = (messages: unknown[], sessionIdle: boolean, more: Partial<StoredSession> = {}): StoredSession => ({
    children: [],
    permissions: [],
    questions: [],
    messages,
    sessionIdle,
    ...more,
  });
  /** What opencode stores on an assistant message it finished. */
  const completed = { time: { created: 1, completed: 2 }, finish: "stop" };
  const textPart = (id: string, text: string, ended: boolean) => ({ id, sessionID: S, messageID: A, type: "text", text, time: ended ? { start: 1, end: 2 } : { start: 1 } });
  const streaming = () =>
    feed([E.userMessage(S, U), E.assistantMessage(S, A, U), E.partOpened(S, A, "t1", "text"), E.delta(S, A, "t1", "Hello "), E.delta(S, A, "t1", "wide ")]).state;

  it("a part streaming across the gap is held: later deltas are not sent, its closing update brings the rest", () => {
    let state = streamGap(streaming());
    const after = feed([E.delta(S, A, "t1", "world"), E.partClosed(S, A, "t1", "text", "Hello wide wonderful world"), E.assistantDone(S, A, U), ...E.idleEnd(S)], state);
    expect(show(after.replies)).toEqual(["delta:wonderful world", "final:Hello wide wonderful world"]);
    state = after.state;
    expect(state.content).toBe("Hello wide wonderful world");
  });

  it("a step that finished before the gap is counted once: the stored step-finish the reconcile replays adds nothing", () => {
    const finish = { id: "sf1", sessionID: S, messageID: A, type: "step-finish", reason: "stop", cost: 0.5, tokens: { input: 10, output: 4, reasoning: 0, cache: { read: 0, write: 0 } } };
    const live = feed([E.stepFinish(S, A, "sf1", 10, 4, 0.5)], streaming()).state;
    const { state } = reconcile(streamGap(live), snap([stored(U, "user", []), stored(A, "assistant", [textPart("t1", "Hello wide world!", true), finish], completed)], true));
    expect(state.usage).toEqual({ tokens: { input: 10, output: 4, reasoning: 0, cache: { read: 0, write: 0 } }, cost: 0.5 });
  });

  it("a turn that ended while the stream was away ends from the stored messages: the missing text, then final", () => {
    const { replies } = reconcile(streamGap(streaming()), snap([stored(U, "user", []), stored(A, "assistant", [textPart("t1", "Hello wide world!", true)], completed)], true));
    expect(show([...replies])).toEqual(["delta:world!", "final:Hello wide world!"]);
  });

  it("still running: what the store has is sent, a part begun during the gap is held until it closes", () => {
    const snapshot = [stored(U, "user", []), stored(A, "assistant", [textPart("t1", "Hello wide one.", true), textPart("t2", "", false)])];
    const mid = reconcile(streamGap(streaming()), snap(snapshot, false));
    expect(show([...mid.replies])).toEqual(["delta:one."]);
    // t2 began during the gap: its live deltas are mid-text, so only its closing update counts.
    const rest = feed([E.delta(S, A, "t2", "tail"), E.partClosed(S, A, "t2", "text", " Two, tail"), E.assistantDone(S, A, U), ...E.idleEnd(S)], mid.state);
    expect(show(rest.replies)).toEqual(["delta: Two, tail", "final:Hello wide one. Two, tail"]);
  });

  it("deltas of a part not yet announced when the gap came are dropped; the part is held", () => {
    const before = feed([E.userMessage(S, U), E.assistantMessage(S, A, U), E.delta(S, A, "t9", "early")]).state;
    const { replies } = feed([E.partOpened(S, A, "t9", "text"), E.delta(S, A, "t9", " late"), E.partClosed(S, A, "t9", "text", "early middle late"), E.assistantDone(S, A, U), ...E.idleEnd(S)], streamGap(before));
    expect(show(replies)).toEqual(["delta:early middle late", "final:early middle late"]);
  });

  it("an error stored on the turn's assistant message ends it; other sessions and turns in the store do not count", () => {
    const snapshot = [
      stored("msg_old", "user", []),
      { info: { id: "msg_old_a", sessionID: S, role: "assistant", parentID: "msg_old", error: { name: "APIError", data: { message: "old" } } }, parts: [] },
      stored(U, "user", []),
      stored(A, "assistant", [textPart("t1", "Hello wide", true)], { error: { name: "MessageAbortedError", data: { message: "Aborted" } } }),
      "garbage",
    ];
    const { replies } = reconcile(streamGap(streaming()), snap(snapshot, false));
    expect(show([...replies])).toEqual(["error:aborted:The turn was aborted: Aborted"]);
  });

  it("events of the new stream that came while the store was read are applied after it, in the answer's order", () => {
    const A2 = "msg_assistant_2";
    const queued = [E.assistantMessage(S, A2, U), E.partOpened(S, A2, "t2", "text"), E.delta(S, A2, "t2", "Next."), E.partClosed(S, A2, "t2", "text", "Next."), E.assistantDone(S, A2, U), ...E.idleEnd(S)];
    const { replies } = reconcile(streamGap(streaming()), snap([stored(U, "user", []), stored(A, "assistant", [textPart("t1", "Hello wide world. ", true)])], false), queued);
    expect(show([...replies])).toEqual(["delta:world. ", "delta:Next.", "final:Hello wide world. Next."]);
  });

  it("asks waiting on the server, also from children made during the gap, are queued to be answered", () => {
    const ask = (id: string, sessionID: string) => ({ id, sessionID, permission: "bash", patterns: [], metadata: {}, always: [] });
    const question = { id: "que_1", sessionID: S, questions: [{ question: "Go?", options: [{ label: "yes" }] }] };
    const { state } = reconcile(
      streamGap(streaming()),
      snap([], false, { children: ["ses_kid"], permissions: [ask("per_kid", "ses_kid"), ask("per_other", "ses_other")], questions: [question] }),
    );
    expect(state.asks.map((a) => `${a.kind}:${a.request.id}`)).toEqual(["permission:per_kid", "question:que_1"]);
    expect(state.family.has("ses_kid")).toBe(true);
  });

  it("tool calls in the store are sent once, like live ones", () => {
    const tool = { id: "p1", sessionID: S, messageID: A, type: "tool", callID: "c1", tool: "bash", state: { status: "completed", input: { command: "ls" }, output: "x" } };
    const live = feed([E.toolPart(S, A, "p1", "c1", "bash", { status: "running", input: { command: "ls" } })], streaming());
    const { replies } = reconcile(streamGap(live.state), snap([stored(U, "user", []), stored(A, "assistant", [tool])], false));
    expect(show([...replies])).toEqual(['tool_result:bash:c1:true:"x"']);
  });
});

describe("an idle ends the turn well only once its answer was finished", () => {
  const A2 = "msg_assistant_2";
  const cutOff = (characters: number, what = "before the answer was finished (its last message was never completed)") =>
    `error:internal:The answer was cut off: opencode went idle ${what}, as when opencode stops or restarts mid-answer; ${characters} characters of it had arrived.`;
  const answering = [E.userMessage(S, U), E.assistantMessage(S, A, U), E.partOpened(S, A, "t1", "text"), E.delta(S, A, "t1", "Half an ")];

  it("an idle after an assistant message opencode never completed is an error, not final", () => {
    const { replies, state } = feed([...answering, ...E.idleEnd(S)]);
    expect(show(replies)).toEqual(["delta:Half an ", cutOff(8)]);
    expect(state.outcome).toMatchObject({ kind: "error", code: "internal" });
  });

  it("an idle after the completed assistant message is final", () => {
    const { replies } = feed([...answering, E.partClosed(S, A, "t1", "text", "Half an answer."), E.assistantDone(S, A, U), ...E.idleEnd(S)]);
    expect(show(replies)).toEqual(["delta:Half an ", "delta:answer.", "final:Half an answer."]);
  });

  it("the newest step decides: a completed tool step followed by an unfinished one is cut off", () => {
    const steps = [
      ...answering,
      E.toolPart(S, A, "p1", "c1", "bash", { status: "completed", input: {}, output: "ok" }),
      E.assistantDone(S, A, U, "tool-calls"),
      E.assistantMessage(S, A2, U),
      E.partOpened(S, A2, "t2", "text"),
      E.delta(S, A2, "t2", "then"),
    ];
    expect(show(feed([...steps, ...E.idleEnd(S)]).replies).at(-1)).toBe(cutOff(12));
    expect(show(feed([...steps, E.assistantDone(S, A2, U), ...E.idleEnd(S)]).replies).at(-1)).toBe("final:Half an then");
    // A late update of the older step does not stand for the newest one.
    expect(show(feed([...steps, E.assistantDone(S, A, U, "tool-calls"), ...E.idleEnd(S)]).replies).at(-1)).toBe(cutOff(12));
  });

  it("a step that ends on tool calls is a whole answer: opencode stops there after a rejected call", () => {
    const rejected = E.toolPart(S, A, "p1", "c1", "bash", { status: "error", input: {}, error: "The user rejected permission" });
    const { replies } = feed([E.userMessage(S, U), E.assistantMessage(S, A, U), rejected, E.assistantDone(S, A, U, "tool-calls"), ...E.idleEnd(S)]);
    expect(show(replies).at(-1)).toBe("final:");
  });

  it("an idle after this turn's user message but before any answer is cut off too", () => {
    expect(show(feed([E.userMessage(S, U), ...E.idleEnd(S)]).replies)).toEqual([cutOff(0, "before the model answered")]);
  });

  it("reconciling with a store whose answer was never completed (opencode restarted mid-answer) is an error", () => {
    const unfinished = {
      info: { id: A, sessionID: S, role: "assistant", parentID: U, time: { created: 1 } },
      parts: [{ id: "t1", sessionID: S, messageID: A, type: "text", text: "Half an ", time: { start: 1 } }],
    };
    const snapshot: StoredSession = { children: [], permissions: [], questions: [], messages: [{ info: { id: U, sessionID: S, role: "user" }, parts: [] }, unfinished], sessionIdle: true };
    const { replies } = reconcile(streamGap(feed(answering).state), snapshot);
    expect(show([...replies])).toEqual([cutOff(8)]);
    const done = { ...unfinished, info: { ...unfinished.info, time: { created: 1, completed: 2 }, finish: "stop" } };
    expect(show([...reconcile(streamGap(feed(answering).state), { ...snapshot, messages: [snapshot.messages[0], done] }).replies])).toEqual(["final:Half an "]);
  });

  it("a stop or a failing provider still says why, not that the answer was cut off", () => {
    expect(show(feed(E.idleEnd(S), stopTurn(feed(answering).state, { code: "timeout", error: "late" })).replies)).toEqual(["error:timeout:late"]);
    const { replies } = feed([...answering, E.retry(S, 1, "503"), ...E.idleEnd(S)]);
    expect(show(replies).at(-1)).toBe("error:provider_error:The turn ended while the model provider was failing: 503");
  });
});

describe("stopping a turn", () => {
  it("the idle after an abort ends the turn with the stopping reason, not as aborted", () => {
    let state = feed([E.userMessage(S, U), E.assistantMessage(S, A, U), E.partOpened(S, A, "t", "text"), E.delta(S, A, "t", "partial")]).state;
    state = stopTurn(state, { code: "timeout", error: "The turn ran past its deadline" });
    const { replies } = feed([E.sessionError(S, "MessageAbortedError", "Aborted"), ...E.idleEnd(S)], state);
    expect(show(replies)).toEqual(["error:timeout:The turn ran past its deadline"]);
  });
});
