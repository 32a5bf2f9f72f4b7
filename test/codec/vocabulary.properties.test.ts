import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mapOpencodeEvents } from "../../src/codec/map.js";
import { initialTurnState } from "../../src/codec/state.js";
import { Reply } from "../../src/contract/replies.js";
import * as E from "../../testkit/events.js";
import { asCore, summedSteps } from "../../testkit/vocabulary.js";

// The full vocabulary's invariants over random turns: the parent's text, tools with live output,
// todos, retries, asks, and a subagent doing its own work, among another session's events.

const S = "ses_ours";
const U = "msg_user";
const C = "ses_child";
const piece = fc.string({ minLength: 1, maxLength: 5, unit: fc.constantFrom("a", "b", " ", "é", "🎉", "\n") });

type Segment =
  | { kind: "text" | "reasoning"; deltas: string[] }
  | { kind: "tool"; outputs: string[]; outcome: "completed" | "error"; title: string | undefined }
  | { kind: "todo"; todos: string[] }
  | { kind: "retry"; attempts: number }
  | { kind: "ask"; answer: "once" | "always" | "reject" };

const segment: fc.Arbitrary<Segment> = fc.oneof(
  fc.record({ kind: fc.constantFrom("text" as const, "reasoning" as const), deltas: fc.array(piece, { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant("tool" as const), outputs: fc.array(piece, { maxLength: 3 }), outcome: fc.constantFrom("completed" as const, "error" as const), title: fc.option(piece, { nil: undefined }) }),
  fc.record({ kind: fc.constant("todo" as const), todos: fc.array(piece, { maxLength: 3 }) }),
  fc.record({ kind: fc.constant("retry" as const), attempts: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant("ask" as const), answer: fc.constantFrom("once" as const, "always" as const, "reject" as const) }),
);

let n = 0;
/** The events of one session's steps; `parent` is the user message the assistant messages answer. */
function stepsEvents(session: string, user: string, steps: Segment[][], tag: string): E.OpencodeEvent[] {
  const events: E.OpencodeEvent[] = [];
  steps.forEach((step, i) => {
    const message = `msg_${tag}${i}`;
    events.push(E.assistantMessage(session, message, user));
    for (const s of step) {
      const id = `prt_${tag}${++n}`;
      if (s.kind === "text" || s.kind === "reasoning") {
        events.push(E.partOpened(session, message, id, s.kind), ...s.deltas.map((d) => E.delta(session, message, id, `${tag}${d}`)));
        events.push(E.partClosed(session, message, id, s.kind, s.deltas.map((d) => `${tag}${d}`).join("")));
      } else if (s.kind === "tool") {
        const call = `call_${tag}${n}`;
        let so = "";
        events.push(E.toolPart(session, message, id, call, "bash", { status: "running", input: { command: "x" } }));
        for (const o of s.outputs) events.push(E.toolPart(session, message, id, call, "bash", { status: "running", input: { command: "x" }, metadata: { output: (so += o) } }));
        const end = s.outcome === "completed" ? { output: so, metadata: { output: so, exit: 0 }, ...(s.title === undefined ? {} : { title: s.title }) } : { error: "failed" };
        events.push(E.toolPart(session, message, id, call, "bash", { status: s.outcome, input: { command: "x" }, ...end }));
      } else if (s.kind === "todo") {
        events.push({ type: "todo.updated", properties: { sessionID: session, todos: s.todos.map((content) => ({ content, status: "pending", priority: "high" })) } });
      } else if (s.kind === "retry") {
        for (let a = 1; a <= s.attempts; a++) events.push(E.retry(session, a, `down ${a}`), E.busy(session));
      } else {
        events.push(E.permissionAsked(session, `per_${id}`), E.permissionReplied(session, `per_${id}`, (s as Extract<Segment, { kind: "ask" }>).answer));
      }
    }
    events.push(E.stepFinish(session, message, `prt_${tag}finish${++n}`, 3, 4, 0.25), E.assistantDone(session, message, user, i < steps.length - 1 ? "tool-calls" : "stop"));
  });
  return events;
}

const steps = fc.array(fc.array(segment, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 });

const scenario = fc.record({ parent: steps, child: fc.option(steps, { nil: undefined }), noise: fc.array(piece, { maxLength: 3 }), order: fc.array(fc.boolean(), { minLength: 1, maxLength: 32 }) }).map(({ parent, child, noise, order }) => {
  const events: E.OpencodeEvent[] = [E.userMessage(S, U), E.userText(S, U, "the user's words"), E.busy(S)];
  const body = stepsEvents(S, U, parent, "P");
  if (child !== undefined) {
    // The parent's first step delegates: a task call whose child runs a turn of its own.
    const task = (status: string, extra: object = {}) => E.toolPart(S, "msg_P0", "prt_task", "call_task", "task", { status, input: { prompt: "go" }, metadata: { sessionId: C }, ...extra });
    const childTurn = [E.userMessage(C, "msg_cu"), ...stepsEvents(C, "msg_cu", child, "C"), E.statusIdle(C), E.idle(C)];
    body.splice(1, 0, E.sessionCreated(C, S), task("running", { title: "job" }), ...childTurn, task("completed", { output: "child said", title: "job" }));
  }
  const other = E.textTurn("ses_other", "msg_ou", "msg_oa", noise.map((w) => `OTHER${w}`));
  const merged: E.OpencodeEvent[] = [];
  let [i, j, k] = [0, 0, 0];
  while (i < body.length || j < other.length) merged.push(j >= other.length || (i < body.length && order[k++ % order.length]) ? body[i++]! : other[j++]!);
  events.push(...merged, E.statusIdle(S), E.idle(S));
  return { parent, child, events };
});

const text = (steps: Segment[][], tag: string, kind: "text" | "reasoning") =>
  steps.flat().flatMap((s) => (s.kind === kind ? s.deltas.map((d) => `${tag}${d}`) : [])).join("");

/** One call and one result per call id, the call first, its updates between them. */
function expectCalls(replies: readonly Reply[]): void {
  const calls = replies.flatMap((r) => (r.kind === "tool_call" ? [r.call_id] : []));
  expect(new Set(calls).size).toBe(calls.length);
  for (const id of calls) {
    const call = replies.findIndex((r) => r.kind === "tool_call" && r.call_id === id);
    const results = replies.flatMap((r, i) => (r.kind === "tool_result" && r.call_id === id ? [i] : []));
    expect(results).toHaveLength(1);
    replies.forEach((r, i) => {
      if (r.kind === "tool_update" && r.call_id === id) expect(call < i && i < results[0]!).toBe(true);
    });
  }
}

describe("full vocabulary properties", () => {
  it("keep every invariant: one terminal last, final = the parent's deltas, the core replies unchanged, calls whole, steps sum to usage, subagent work nested", () => {
    fc.assert(
      fc.property(scenario, ({ parent, child, events }) => {
        const identity = { traceId: "trace-f", sessionId: S, messageId: U, maxProviderRetries: 99 };
        const full = mapOpencodeEvents(events, initialTurnState({ ...identity, vocabulary: "full" }));
        const core = mapOpencodeEvents(events, initialTurnState(identity));
        const replies = full.replies;
        for (const reply of replies) Reply.parse(reply);
        expect(replies.every((r) => r.trace_id === "trace-f")).toBe(true);
        expect(replies.filter((r) => r.kind === "final" || r.kind === "error")).toHaveLength(1);
        const deltas = replies.flatMap((r) => (r.kind === "delta" ? [r.content] : [])).join("");
        expect(replies.at(-1)).toEqual({ kind: "final", trace_id: "trace-f", content: deltas });
        expect(deltas).toBe(text(parent, "P", "text"));
        expect(JSON.stringify(replies)).not.toContain("OTHER");
        expect(JSON.stringify(asCore(replies))).toBe(JSON.stringify(core.replies));
        expectCalls(replies);
        expect(summedSteps(replies)).toEqual(full.state.usage);

        // Live output is the whole output so far; only a change is sent.
        const updates = replies.filter((r): r is Extract<Reply, { kind: "tool_update" }> => r.kind === "tool_update" && r.tool === "bash");
        for (const [a, b] of updates.slice(1).map((u, i) => [updates[i]!, u] as const)) {
          if (a.call_id === b.call_id) expect(b.output!.startsWith(a.output!) && b.output !== a.output).toBe(true);
        }
        // Every answered ask, the child's too, is reported once, at the top (the host answered it).
        const asks = [...parent.flat(), ...(child ?? []).flat()].flatMap((s) => (s.kind === "ask" ? [(s as Extract<Segment, { kind: "ask" }>).answer as string] : []));
        expect(replies.flatMap((r) => (r.kind === "ask" ? [r.decision as string] : [])).sort()).toEqual(asks.sort());
        const retries = parent.flat().flatMap((s) => (s.kind === "retry" ? Array.from({ length: s.attempts }, (_, a) => a + 1) : []));
        expect(replies.flatMap((r) => (r.kind === "retry" ? [r.attempt] : []))).toEqual(retries);

        const nested = replies.flatMap((r) => (r.kind === "subagent" ? [r] : []));
        if (child === undefined) return void expect(nested).toEqual([]);
        expect(nested.every((r) => r.call_id === "call_task" && r.session_id === C)).toBe(true);
        const inner = nested.map((r) => r.reply);
        const childDeltas = inner.flatMap((r) => (r.kind === "delta" ? [r.content] : [])).join("");
        expect(childDeltas).toBe(text(child, "C", "text"));
        expect(inner.at(-1)).toEqual({ kind: "final", trace_id: "trace-f", content: childDeltas });
        expect(inner.filter((r) => r.kind === "final" || r.kind === "error")).toHaveLength(1);
        expectCalls(inner);
        // The child's work sits inside the task call, before its result.
        const result = replies.findIndex((r) => r.kind === "tool_result" && r.call_id === "call_task");
        expect(replies.findLastIndex((r) => r.kind === "subagent")).toBeLessThan(result);
      }),
      { numRuns: 300 },
    );
  });
});
