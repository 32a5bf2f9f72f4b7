import { describe, expect, it } from "vitest";
import { childSessionsOf, replayHistory } from "../../src/codec/history.js";

const S = "ses_h";
const user = (id: string, text: string, extra: Record<string, unknown> = {}) => ({
  info: { id, sessionID: S, role: "user" },
  parts: [{ id: `prt_${id}`, sessionID: S, messageID: id, type: "text", text, ...extra }],
});
const assistant = (id: string, parentID: string, parts: Array<Record<string, unknown>>, info: Record<string, unknown> = {}, sessionID = S) => ({
  info: { id, sessionID, role: "assistant", parentID, time: { created: 1, completed: 2 }, ...info },
  parts: parts.map((part, i) => ({ id: `prt_${id}_${i}`, sessionID, messageID: id, ...part })),
});
const text = (t: string) => ({ type: "text", text: t, time: { start: 1, end: 2 } });
const finish = { type: "step-finish", tokens: { input: 1, output: 1, reasoning: 0, cache: { read: 0, write: 0 } }, cost: 0 };

describe("a session's history replayed through the codec", () => {
  it("gives each user message's turn its replies, as a live turn would, keyed by the message", () => {
    const messages = [
      user("msg_1", "hello"),
      assistant("msg_2", "msg_1", [{ type: "step-start" }, { type: "reasoning", text: "hmm", time: { start: 1, end: 2 } }, text("Hi there."), finish]),
      user("msg_3", "use a tool"),
      assistant("msg_4", "msg_3", [{ type: "tool", callID: "call_1", tool: "bash", state: { status: "completed", input: { command: "ls" }, output: "a\n" } }, finish], { finish: "tool-calls" }),
      assistant("msg_5", "msg_3", [text("Done.")]),
      user("msg_6", "fail"),
      assistant("msg_7", "msg_6", [], { error: { name: "APIError", data: { message: "bad key" } } }),
    ];
    const turns = replayHistory(S, messages, true);
    expect(turns.map((t) => [t.messageId, t.text])).toEqual([["msg_1", "hello"], ["msg_3", "use a tool"], ["msg_6", "fail"]]);
    expect(turns[0]!.replies).toEqual([
      { kind: "reasoning", trace_id: "msg_1", content: "hmm" },
      { kind: "delta", trace_id: "msg_1", content: "Hi there." },
      { kind: "final", trace_id: "msg_1", content: "Hi there." },
    ]);
    expect(turns[1]!.replies).toEqual([
      { kind: "tool_call", trace_id: "msg_3", tool: "bash", args: { command: "ls" }, call_id: "call_1" },
      { kind: "tool_result", trace_id: "msg_3", tool: "bash", result: "a\n", success: true, call_id: "call_1" },
      { kind: "delta", trace_id: "msg_3", content: "Done." },
      { kind: "final", trace_id: "msg_3", content: "Done." },
    ]);
    expect(turns[2]!.replies).toEqual([{ kind: "error", trace_id: "msg_6", error: "The model provider failed: bad key", code: "provider_error" }]);
  });

  it("leaves the newest turn of a busy session without a terminal reply, and skips opencode's own continue messages", () => {
    const messages = [
      user("msg_1", "first"),
      assistant("msg_2", "msg_1", [text("One.")]),
      user("msg_3", "Continue if you have next steps", { synthetic: true }),
      user("msg_4", "second"),
      assistant("msg_5", "msg_4", [{ type: "text", text: "Partly", time: { start: 1 } }], { time: { created: 1 } }),
    ];
    const turns = replayHistory(S, messages, false);
    expect(turns.map((t) => t.messageId)).toEqual(["msg_1", "msg_4"]);
    expect(turns[0]!.replies.at(-1)).toEqual({ kind: "final", trace_id: "msg_1", content: "One." });
    expect(turns[1]!.replies.map((r) => r.kind)).toEqual([]);
  });

  it("in the full vocabulary, a turn also carries its steps, which sum to what its core replay does not show", () => {
    const messages = [user("msg_1", "hello"), assistant("msg_2", "msg_1", [{ type: "step-start" }, text("Hi."), { ...finish, reason: "stop" }])];
    const [core] = replayHistory(S, messages, true);
    const [full] = replayHistory(S, messages, true, "full");
    expect(core!.replies.map((r) => r.kind)).toEqual(["delta", "final"]);
    expect(full!.replies.map((r) => r.kind)).toEqual(["delta", "step", "final"]);
    expect(full!.replies[1]).toMatchObject({ kind: "step", index: 0, finish_reason: "stop", tokens: { input: 1, output: 1 } });
  });

  it("ignores what is not a message of this session", () => {
    expect(replayHistory(S, [null, { info: { id: "msg_x", sessionID: "ses_other", role: "user" }, parts: [] }, "junk"], true)).toEqual([]);
  });

  it("in the full vocabulary, a todowrite call's stored list is the todo it sent, before the call, as live; the core has none", () => {
    const todos = [{ content: "Plan", status: "in_progress", priority: "high" }];
    const todowrite = { type: "tool", callID: "call_t", tool: "todowrite", state: { status: "completed", input: { todos }, output: "[]", title: "1 todo", metadata: { todos } } };
    const messages = [user("msg_1", "plan"), assistant("msg_2", "msg_1", [todowrite, finish], { finish: "tool-calls" }), assistant("msg_3", "msg_1", [text("Done.")]), user("msg_4", "later"), assistant("msg_5", "msg_4", [text("Ok.")])];
    const [full, later] = replayHistory(S, messages, true, "full");
    expect(full!.replies.map((r) => r.kind)).toEqual(["todo", "tool_call", "tool_result", "step", "delta", "final"]);
    expect(full!.replies[0]).toEqual({ kind: "todo", trace_id: "msg_1", todos });
    // A turn's todos are its own: the next turn does not repeat them.
    expect(later!.replies.map((r) => r.kind)).toEqual(["delta", "final"]);
    expect(replayHistory(S, messages, true)[0]!.replies.map((r) => r.kind)).toEqual(["tool_call", "tool_result", "delta", "final"]);
  });

  it("in the full vocabulary, a task call's child session is replayed nested under the call, between its call and its result", () => {
    const C = "ses_child";
    const task = { type: "tool", callID: "call_k", tool: "task", state: { status: "completed", input: { prompt: "go" }, output: "child said", title: "Job", metadata: { sessionId: C } } };
    const messages = [user("msg_1", "delegate"), assistant("msg_2", "msg_1", [task], { finish: "tool-calls" }), assistant("msg_3", "msg_1", [text("Parent.")])];
    const child = [
      { info: { id: "msg_c1", sessionID: C, role: "user" }, parts: [{ id: "prt_c1", sessionID: C, messageID: "msg_c1", type: "text", text: "go" }] },
      assistant("msg_c2", "msg_c1", [{ type: "tool", callID: "call_b", tool: "bash", state: { status: "completed", input: { command: "ls" }, output: "a\n" } }], { finish: "tool-calls" }, C),
      assistant("msg_c3", "msg_c1", [text("Child.")], {}, C),
    ];
    expect(childSessionsOf(messages)).toEqual([C]);
    const [turn] = replayHistory(S, messages, true, "full", new Map([[C, child]]));
    const shown = turn!.replies.map((r) => (r.kind === "subagent" ? `${r.call_id}:${r.session_id}:${r.reply.kind}` : r.kind));
    expect(shown).toEqual(["tool_call", "tool_update", `call_k:${C}:tool_call`, `call_k:${C}:tool_result`, `call_k:${C}:delta`, `call_k:${C}:final`, "tool_result", "delta", "final"]);
    expect(turn!.replies.at(-1)).toEqual({ kind: "final", trace_id: "msg_1", content: "Parent." });
    expect(turn!.replies.find((r) => r.kind === "subagent" && r.reply.kind === "final")).toMatchObject({ reply: { kind: "final", trace_id: "msg_1", content: "Child." } });
    // Without the child's messages (opencode no longer has it), the call is replayed as the core has it.
    expect(replayHistory(S, messages, true, "full")[0]!.replies.map((r) => r.kind)).toEqual(["tool_call", "tool_result", "delta", "final"]);
  });

  it("in the full vocabulary, a compaction turn says compaction after its summary, before its final, as live", () => {
    const compaction = { info: { id: "msg_1", sessionID: S, role: "user" }, parts: [{ id: "prt_c", sessionID: S, messageID: "msg_1", type: "compaction", auto: false }] };
    const messages = [compaction, assistant("msg_2", "msg_1", [text("SUMMARY."), finish], { summary: true }), user("msg_3", "next"), assistant("msg_4", "msg_3", [text("Ok.")])];
    const [summary, next] = replayHistory(S, messages, true, "full");
    expect(summary!.replies.map((r) => r.kind)).toEqual(["delta", "step", "compaction", "final"]);
    expect(next!.replies.map((r) => r.kind)).toEqual(["delta", "final"]);
    expect(replayHistory(S, messages, true)[0]!.replies.map((r) => r.kind)).toEqual(["delta", "final"]);
  });
});
