import { describe, expect, it } from "vitest";
import { askAnswered } from "../../src/codec/answers.js";
import { mapOpencodeEvents } from "../../src/codec/map.js";
import { initialTurnState, type TurnState } from "../../src/codec/state.js";
import { CoreReply, Reply, type Vocabulary } from "../../src/contract/replies.js";
import { redactor, withoutSecrets } from "../../src/contract/redact.js";
import * as E from "../../testkit/events.js";
import { loadRecording, RECORDINGS_DIR, recordingNames, userMessageId, VOCABULARY_RECORDINGS_DIR } from "../../testkit/recordings.js";
import { asCore, summedSteps } from "../../testkit/vocabulary.js";

const S = "ses_ours";
const U = "msg_user";
const A = "msg_a";

function start(vocabulary: Vocabulary = "full", overrides: Partial<Parameters<typeof initialTurnState>[0]> = {}): TurnState {
  return initialTurnState({ traceId: "trace-v", sessionId: S, messageId: U, maxProviderRetries: 3, vocabulary, ...overrides });
}

function replayed(name: string, dir: URL, vocabulary: Vocabulary) {
  const recording = loadRecording(name, dir);
  const sessionId = recording.sessionIDs[0]!;
  return mapOpencodeEvents(recording.events, start(vocabulary, { sessionId, messageId: userMessageId(recording, sessionId), maxProviderRetries: 9 }));
}

const full = (name: string) => replayed(name, VOCABULARY_RECORDINGS_DIR, "full").replies;
type Of<K extends Reply["kind"]> = Extract<Reply, { kind: K }>;
const ofKind = <K extends Reply["kind"]>(replies: readonly Reply[], kind: K) => replies.filter((r): r is Of<K> => r.kind === kind);
const kinds = (replies: readonly Reply[]) => replies.map((r) => (r.kind === "subagent" ? `subagent:${r.reply.kind}` : r.kind));

describe("every recording replays in both vocabularies", () => {
  const all = [
    ...recordingNames().map((name) => [name, RECORDINGS_DIR] as const),
    ...recordingNames(VOCABULARY_RECORDINGS_DIR).map((name) => [name, VOCABULARY_RECORDINGS_DIR] as const),
  ];

  it.each(all)("%s: core is the six kinds; full is the same replies, byte for byte, plus its own kinds", (name, dir) => {
    const core = replayed(name, dir, "core");
    const whole = replayed(name, dir, "full");
    for (const reply of core.replies) CoreReply.parse(reply);
    for (const reply of whole.replies) Reply.parse(reply);
    expect(JSON.stringify(asCore(whole.replies))).toBe(JSON.stringify(core.replies));
    expect(whole.state.usage).toEqual(core.state.usage);
    expect(summedSteps(whole.replies)).toEqual(core.state.usage);
    expect(whole.replies.filter((r) => r.kind === "final" || r.kind === "error")).toHaveLength(core.replies.some((r) => r.kind === "final" || r.kind === "error") ? 1 : 0);
  });

  it("the core vocabulary is the default", () => {
    const recording = loadRecording("task", VOCABULARY_RECORDINGS_DIR);
    const sessionId = recording.sessionIDs[0]!;
    const identity = { traceId: "t", sessionId, messageId: userMessageId(recording, sessionId), maxProviderRetries: 3 };
    expect(mapOpencodeEvents(recording.events, initialTurnState(identity)).replies).toEqual(mapOpencodeEvents(recording.events, initialTurnState({ ...identity, vocabulary: "core" })).replies);
    expect(initialTurnState(identity).full).toBeUndefined();
  });
});

describe("todo", () => {
  it("the whole list each time todowrite changes it, as opencode holds it (no ids, any status)", () => {
    const todos = ofKind(full("todo"), "todo");
    expect(todos.map((t) => t.todos)).toEqual([
      [
        { content: "Write the plan", status: "in_progress", priority: "high" },
        { content: "Run the tests", status: "pending", priority: "medium" },
        { content: "Ship it", status: "completed", priority: "low" },
      ],
      [
        { content: "Write the plan", status: "completed", priority: "high" },
        { content: "Run the tests", status: "cancelled", priority: "medium" },
      ],
    ]);
  });

  it("a list sent again unchanged is not a change; another session's and an earlier turn's lists are not ours", () => {
    const list = [{ content: "a", status: "pending", priority: "high" }];
    const todo = (sessionID: string, todos = list) => ({ type: "todo.updated", properties: { sessionID, todos } });
    const { replies } = mapOpencodeEvents([todo(S), E.userMessage(S, U), todo(S), todo(S), todo("ses_other"), todo(S, [])], start());
    expect(ofKind(replies, "todo").map((t) => t.todos)).toEqual([list, []]);
  });
});

describe("step", () => {
  it("one per step-finish: its index, finish reason, tokens and cost", () => {
    const steps = ofKind(full("todo"), "step");
    expect(steps.map((s) => [s.index, s.finish_reason])).toEqual([
      [0, "tool-calls"],
      [1, "tool-calls"],
      [2, "stop"],
    ]);
    expect(steps[0]).toMatchObject({ tokens: { input: 1000, output: 33, reasoning: 7, cache: { read: 200, write: 0 } }, cost: 0 });
  });
});

describe("tool_update and the full tool_result", () => {
  it("bash: the whole output so far, each time it grows (cumulative, as opencode reports it; the empty one is left out), between call and result", () => {
    const replies = full("bash-stream");
    expect(kinds(replies).slice(0, 6)).toEqual(["tool_call", "tool_update", "tool_update", "tool_update", "tool_result", "step"]);
    expect(ofKind(replies, "tool_update").map((u) => u.output)).toEqual(["1\n2\n", "1\n2\n3\n", "1\n2\n3\nerr\n"]);
    expect(ofKind(replies, "tool_update").every((u) => u.call_id === "call_bash" && u.tool === "bash" && u.title === undefined)).toBe(true);
    const [result] = ofKind(replies, "tool_result");
    expect(result).toMatchObject({ result: "1\n2\n3\nerr\n", title: "for i in 1 2 3; do echo $i; sleep 0.3; done; echo err >&2" });
    expect(result).not.toHaveProperty("files");
  });

  it("an update repeated unchanged is sent once; an update after the result is not sent", () => {
    const running = (output: string) => E.toolPart(S, A, "prt_t", "call_t", "bash", { status: "running", input: { command: "x" }, metadata: { output } });
    const events = [
      E.userMessage(S, U),
      E.assistantMessage(S, A, U),
      running("a"),
      running("a"),
      running("ab"),
      E.toolPart(S, A, "prt_t", "call_t", "bash", { status: "completed", input: { command: "x" }, output: "ab", title: "x", metadata: { output: "ab", exit: 0 } }),
      running("abc"),
    ];
    const replies = mapOpencodeEvents(events, start()).replies;
    expect(ofKind(replies, "tool_update").map((u) => u.output)).toEqual(["a", "ab"]);
    expect(kinds(replies)).toEqual(["tool_call", "tool_update", "tool_update", "tool_result"]);
  });

  it("edit: the file's diff from opencode's filediff; write: a title and no files (opencode gives no diff); a failed edit: neither", () => {
    const results = ofKind(full("write-edit"), "tool_result");
    const [write, edit, overwrite, failed] = results;
    expect(write).toMatchObject({ tool: "write", title: expect.stringMatching(/hello\.txt$/) });
    expect(write).not.toHaveProperty("files");
    expect(overwrite).not.toHaveProperty("files");
    expect(edit?.tool).toBe("edit");
    expect((edit as { files?: unknown }).files).toEqual([
      { path: expect.stringMatching(/\/hello\.txt$/), additions: 2, deletions: 1, patch: expect.stringContaining("-line two\n+line 2 (edited)\n+line 2b\n") },
    ]);
    expect(failed).toMatchObject({ tool: "edit", success: false });
    expect(failed).not.toHaveProperty("files");
    expect(failed).not.toHaveProperty("title");
  });

  it("apply_patch: one entry per file of its metadata.files", () => {
    const files = ofKind(full("apply-patch"), "tool_result").map((r) => (r as { files?: Array<{ path: string; additions: number; deletions: number }> }).files);
    expect(files.map((f) => f?.map(({ path, additions, deletions }) => [path.split("/").at(-1), additions, deletions]))).toEqual([[["p.txt", 2, 0]], [["p.txt", 1, 1]]]);
  });
});

describe("subagent", () => {
  it("task: the child's whole turn nested under the task call, between its update and its result; the child's text is not the parent's", () => {
    const replies = full("task");
    expect(kinds(replies)).toEqual([
      "tool_call",
      "tool_update",
      "subagent:tool_call",
      "subagent:tool_update",
      "subagent:tool_result",
      "subagent:step",
      "subagent:delta",
      "subagent:delta",
      "subagent:step",
      "subagent:final",
      "tool_result",
      "step",
      "delta",
      "delta",
      "step",
      "final",
    ]);
    const nested = ofKind(replies, "subagent");
    expect(new Set(nested.map((r) => `${r.call_id} ${r.session_id}`))).toEqual(new Set(["call_task ses_dc93b51faffe8uJu41BvxFlYwV"]));
    expect(nested.at(-1)?.reply).toEqual({ kind: "final", trace_id: "trace-v", content: "Child done." });
    const final = replies.at(-1) as Of<"final">;
    expect(final.content).toBe(ofKind(replies, "delta").map((d) => d.content).join(""));
    expect(final.content.startsWith("Parent got: ")).toBe(true);
  });

  it("a child whose model fails: its error, nested; the parent's task result is opencode's failure and the parent goes on", () => {
    const replies = full("task-child-fails");
    expect(ofKind(replies, "subagent").map((r) => r.reply)).toEqual([
      { kind: "error", trace_id: "trace-v", error: "The model provider failed: child invalid api key", code: "provider_error" },
    ]);
    expect(replies.at(-1)?.kind).toBe("final");
  });

  it("a child retrying when the parent is aborted: its retries nested, then its end; the parent's one terminal error last", () => {
    const replies = full("task-child-retry-abort");
    expect(kinds(replies)).toEqual(["tool_call", "tool_update", "subagent:retry", "subagent:retry", "subagent:error", "error"]);
  });

  it("a child's replies before its task call names it are held, then sent in order under that call", () => {
    const C = "ses_child";
    const events = [
      E.userMessage(S, U),
      E.assistantMessage(S, A, U),
      E.sessionCreated(C, S),
      E.userMessage(C, "msg_cu"),
      E.assistantMessage(C, "msg_ca", "msg_cu"),
      E.partOpened(C, "msg_ca", "prt_c", "text"),
      E.delta(C, "msg_ca", "prt_c", "early"),
      E.toolPart(S, A, "prt_task", "call_task", "task", { status: "running", input: {}, title: "job", metadata: { sessionId: C } }),
      E.delta(C, "msg_ca", "prt_c", " late"),
    ];
    const replies = mapOpencodeEvents(events, start()).replies;
    expect(replies.map((r) => (r.kind === "subagent" ? `${r.call_id}:${(r.reply as { content: string }).content}` : r.kind))).toEqual(["tool_call", "tool_update", "call_task:early", "call_task: late"]);
  });

  it("a grandchild's replies reach it through its child: nested twice", () => {
    const [C, G] = ["ses_child", "ses_grand"];
    const events = [
      E.userMessage(S, U),
      E.assistantMessage(S, A, U),
      E.sessionCreated(C, S),
      E.toolPart(S, A, "prt_task", "call_task", "task", { status: "running", input: {}, metadata: { sessionId: C } }),
      E.userMessage(C, "msg_cu"),
      E.assistantMessage(C, "msg_ca", "msg_cu"),
      E.sessionCreated(G, C),
      E.toolPart(C, "msg_ca", "prt_ctask", "call_inner", "task", { status: "running", input: {}, metadata: { sessionId: G } }),
      E.userMessage(G, "msg_gu"),
      E.assistantMessage(G, "msg_ga", "msg_gu"),
      E.partOpened(G, "msg_ga", "prt_g", "text"),
      E.delta(G, "msg_ga", "prt_g", "deep"),
    ];
    const last = mapOpencodeEvents(events, start()).replies.at(-1);
    expect(last).toEqual({
      kind: "subagent",
      trace_id: "trace-v",
      call_id: "call_task",
      session_id: C,
      reply: { kind: "subagent", trace_id: "trace-v", call_id: "call_inner", session_id: G, reply: { kind: "delta", trace_id: "trace-v", content: "deep" } },
    });
    expect(Reply.parse(last)).toEqual(last);
  });
});

describe("ask", () => {
  const turnWithAsk = [E.userMessage(S, U), E.assistantMessage(S, A, U), E.permissionAsked(S, "per_1"), E.questionAsked(S, "que_1")];

  it("reported when opencode says it was answered, with the decision; once; an unknown ask is not reported", () => {
    const events = [
      ...turnWithAsk,
      E.permissionReplied(S, "per_1", "always"),
      E.permissionReplied(S, "per_1", "always"),
      E.permissionReplied(S, "per_unknown", "once"),
      { type: "question.replied", properties: { sessionID: S, requestID: "que_1", answers: [["yes"]] } },
    ];
    const asks = ofKind(mapOpencodeEvents(events, start()).replies, "ask");
    expect(asks.map((a) => [a.ask_id, a.type, a.decision])).toEqual([
      ["per_1", "permission", "always"],
      ["que_1", "question", [["yes"]]],
    ]);
    expect(asks[0]?.request).toMatchObject({ id: "per_1", permission: "bash", patterns: ["echo hi"] });
  });

  it("a rejected question is reported as reject; a child's ask is reported at the top, not nested", () => {
    const C = "ses_child";
    const events = [
      ...turnWithAsk,
      { type: "question.rejected", properties: { sessionID: S, requestID: "que_1" } },
      E.sessionCreated(C, S),
      E.permissionAsked(C, "per_child"),
      E.permissionReplied(C, "per_child", "reject"),
    ];
    const replies = mapOpencodeEvents(events, start()).replies;
    expect(replies.map((r) => (r.kind === "ask" ? `${r.ask_id}:${JSON.stringify(r.decision)}` : r.kind))).toEqual(['que_1:"reject"', 'per_child:"reject"']);
  });

  it("askAnswered: the pure rule a host-side answer can use too; nothing in the core vocabulary", () => {
    const state = mapOpencodeEvents(turnWithAsk, start()).state;
    const ask = state.asks[0]!;
    expect(askAnswered(state, ask, "once").replies).toEqual([{ kind: "ask", trace_id: "trace-v", ask_id: "per_1", type: "permission", request: ask.request, decision: "once" }]);
    expect(askAnswered(askAnswered(state, ask, "once").state, ask, "once").replies).toEqual([]);
    const core = mapOpencodeEvents(turnWithAsk, start("core")).state;
    expect(askAnswered(core, core.asks[0]!, "once").replies).toEqual([]);
  });
});

describe("retry and compaction", () => {
  it("one retry per attempt opencode reports, with the provider's message", () => {
    expect(ofKind(full("retry-429"), "retry").map((r) => [r.attempt, r.message])).toEqual([
      [1, "rate limited"],
      [2, "rate limited"],
      [3, "rate limited"],
    ]);
  });

  it("an attempt reported twice is one retry; a new series after the attempt went ahead is reported again", () => {
    const events = [E.userMessage(S, U), E.retry(S, 1), E.retry(S, 1), E.busy(S), E.retry(S, 2), E.busy(S), E.busy(S), E.retry(S, 1)];
    expect(ofKind(mapOpencodeEvents(events, start()).replies, "retry").map((r) => r.attempt)).toEqual([1, 2, 1]);
  });

  it("compaction when opencode compacts the session mid-turn", () => {
    expect(kinds(full("auto-compact"))).toContain("compaction");
    const events = [{ type: "session.compacted", properties: { sessionID: S } }, E.userMessage(S, U), { type: "session.compacted", properties: { sessionID: S } }];
    expect(kinds(mapOpencodeEvents(events, start()).replies)).toEqual(["compaction"]);
  });
});

describe("redaction in the full vocabulary", () => {
  it("titles, live output, diffs, ask requests, retry messages and a subagent's replies lose the password", () => {
    const redact = redactor(["hunter2"]);
    const samples: Reply[] = [
      { kind: "tool_update", trace_id: "t", call_id: "c", tool: "bash", title: "echo hunter2", output: "hunter2\n" },
      { kind: "tool_result", trace_id: "t", tool: "edit", result: "ok", success: true, call_id: "c", title: "hunter2", files: [{ path: "p", additions: 1, deletions: 0, patch: "+hunter2" }] },
      { kind: "ask", trace_id: "t", ask_id: "per", type: "permission", request: { patterns: ["hunter2"] }, decision: "once" },
      { kind: "retry", trace_id: "t", attempt: 1, message: "bad key hunter2" },
      { kind: "subagent", trace_id: "t", call_id: "c", session_id: "s", reply: { kind: "error", trace_id: "t", error: "hunter2", code: "internal" } },
    ];
    for (const reply of samples) {
      const clean = withoutSecrets(reply, redact);
      expect(JSON.stringify(clean)).not.toContain("hunter2");
      expect(Reply.parse(clean).kind).toBe(reply.kind);
    }
  });
});
