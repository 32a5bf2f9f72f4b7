import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { mapOpencodeEvent, mapOpencodeEvents } from "../../src/codec/map.js";
import { initialTurnState } from "../../src/codec/state.js";
import { PartDelta } from "../../src/opencode/events.js";
import { isPartDelta } from "../../src/opencode/quick-events.js";
import { Reply } from "../../src/contract/replies.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode, type Step } from "../../testkit/fake-opencode.js";

const S = "ses_ours";
const U = "msg_user";

type Segment =
  | { kind: "text" | "reasoning"; id: string; deltas: string[]; early: number }
  | { kind: "tool"; id: string; callId: string; tool: string | undefined; input: Record<string, string>; outcome: "completed" | "error"; running: boolean };

const piece = fc.string({ minLength: 1, maxLength: 6, unit: fc.constantFrom("a", "b", " ", "é", "你", "🎉", "\n") });

const segment: fc.Arbitrary<Omit<Segment, "id" | "callId">> = fc.oneof(
  fc.record({ kind: fc.constantFrom("text" as const, "reasoning" as const), deltas: fc.array(piece, { minLength: 1, maxLength: 6 }), early: fc.nat(2) }),
  fc.record({
    kind: fc.constant("tool" as const),
    tool: fc.option(fc.constantFrom("bash", "read", "question"), { nil: undefined }),
    input: fc.dictionary(fc.constantFrom("command", "path", "x"), fc.string({ maxLength: 5 })),
    outcome: fc.constantFrom("completed" as const, "error" as const),
    running: fc.boolean(),
  }),
);

/** Our turn: steps (assistant messages) of segments, as the events opencode would send. */
const turn = fc.array(fc.array(segment, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }).map((steps) => {
  let n = 0;
  const segments: Segment[][] = steps.map((step) => step.map((s) => ({ ...s, id: `prt_${++n}`, callId: `call_${n}` }) as Segment));
  const events: E.OpencodeEvent[] = [E.userMessage(S, U), E.userText(S, U, "the user's words"), E.busy(S)];
  segments.forEach((step, i) => {
    const message = `msg_a${i}`;
    events.push(E.assistantMessage(S, message, U));
    for (const s of step) {
      if (s.kind === "tool") {
        events.push(E.toolPart(S, message, s.id, s.callId, s.tool, { status: "pending", input: {} }));
        if (s.running) events.push(E.toolPart(S, message, s.id, s.callId, s.tool, { status: "running", input: s.input }));
        const end = s.outcome === "completed" ? { output: `out ${s.callId}` } : { error: `failed ${s.callId}` };
        events.push(E.toolPart(S, message, s.id, s.callId, s.tool, { status: s.outcome, input: s.input, ...end }));
        continue;
      }
      // Some deltas arrive before the part's first update, as opencode sometimes sends them.
      const early = Math.min(s.early, s.deltas.length);
      for (const d of s.deltas.slice(0, early)) events.push(E.delta(S, message, s.id, d));
      events.push(E.partOpened(S, message, s.id, s.kind));
      for (const d of s.deltas.slice(early)) events.push(E.delta(S, message, s.id, d));
      events.push(E.partClosed(S, message, s.id, s.kind, s.deltas.join("")));
    }
    events.push(E.stepFinish(S, message, `prt_finish_${i}`, 3, 4, 0.5));
    events.push(E.assistantDone(S, message, U, i < segments.length - 1 ? "tool-calls" : "stop"));
  });
  events.push(E.statusIdle(S), E.idle(S));
  return { segments: segments.flat(), events };
});

/**
 * Another session's turn, and the tail of an earlier (aborted) turn of ours: neither may leak in; and
 * earlier turns' `session.idle` echoes, which opencode 1.18 can send anywhere in the next turn.
 */
const noise = fc.record({
  echoes: fc.array(fc.constant(E.idle(S)), { minLength: 1, maxLength: 3 }),
  other: fc.array(piece, { minLength: 1, maxLength: 4 }).map((w) => E.textTurn("ses_other", "msg_other_u", "msg_other_a", w.map((x) => `OTHER${x}`))),
  stale: fc.subarray([E.sessionError(S, "MessageAbortedError", "Aborted"), E.statusIdle(S), E.idle(S), E.idle(S)]),
  late: fc.subarray([E.sessionError(S, "APIError", "late"), E.idle(S), E.partClosed(S, "msg_a0", "prt_1", "text", "LATE")]),
  echoAt: fc.array(fc.boolean(), { minLength: 1, maxLength: 64 }),
});

type Noise = typeof noise extends fc.Arbitrary<infer N> ? N : never;

/** The turn's events among the noise: the stale tail first, the other turn and the echoes merged in, the late events last. */
function noisy(events: E.OpencodeEvent[], { other, stale, late, echoes, echoAt }: Noise, choices: boolean[]): E.OpencodeEvent[] {
  return [...stale, ...interleave(interleave(events, other, choices), echoes, echoAt), ...late];
}

/** A random merge of two sequences that keeps the order within each. */
function interleave<T>(a: T[], b: T[], choices: boolean[]): T[] {
  const out: T[] = [];
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length || j < b.length) {
    const takeA = j >= b.length || (i < a.length && (choices[k++ % Math.max(choices.length, 1)] ?? true));
    out.push(takeA ? a[i++]! : b[j++]!);
  }
  return out;
}


/** Every invariant of the contract for one turn's replies, given what the turn really said. */
function expectContract(replies: readonly Reply[], traceId: string, segments: Segment[]): void {
  for (const reply of replies) Reply.parse(reply);
  // Exactly one terminal reply, last; every reply carries the trace id.
  expect(replies.filter((r) => r.kind === "final" || r.kind === "error")).toHaveLength(1);
  expect(replies.at(-1)?.kind).toBe("final");
  expect(replies.every((r) => r.trace_id === traceId)).toBe(true);

  // final is exactly the deltas, which are exactly our text parts; reasoning is never in it.
  const deltas = replies.filter((r) => r.kind === "delta").map((r) => (r as { content: string }).content).join("");
  const text = segments.flatMap((s) => (s.kind === "text" ? s.deltas : [])).join("");
  const reasoning = segments.flatMap((s) => (s.kind === "reasoning" ? s.deltas : [])).join("");
  expect(replies.at(-1)).toEqual({ kind: "final", trace_id: traceId, content: deltas });
  expect(deltas).toBe(text);
  expect(replies.filter((r) => r.kind === "reasoning").map((r) => (r as { content: string }).content).join("")).toBe(reasoning);
  expect(JSON.stringify(replies)).not.toContain("OTHER");
  expect(JSON.stringify(replies)).not.toContain("the user's words");

  // One call and one result per call id, the call first, the tool never empty.
  const tools = segments.filter((s): s is Extract<Segment, { kind: "tool" }> => s.kind === "tool");
  for (const kind of ["tool_call", "tool_result"] as const) {
    const ids = replies.flatMap((r) => (r.kind === kind ? [r.call_id] : []));
    expect([...ids].sort()).toEqual(tools.map((t) => t.callId).sort());
  }
  for (const t of tools) {
    const call = replies.findIndex((r) => r.kind === "tool_call" && r.call_id === t.callId);
    const result = replies.find((r) => r.kind === "tool_result" && r.call_id === t.callId) as Extract<Reply, { kind: "tool_result" }>;
    expect(call).toBeLessThan(replies.indexOf(result));
    expect(result.tool).toBe(t.tool ?? "unknown");
    expect(result.success).toBe(t.outcome === "completed");
    if (t.running) expect((replies[call] as Extract<Reply, { kind: "tool_call" }>).args).toEqual(t.input);
  }
}

describe("codec properties: random valid turns among other sessions' and stale events", () => {
  it("keep every invariant of the contract", () => {
    fc.assert(
      fc.property(turn, noise, fc.array(fc.boolean(), { minLength: 1, maxLength: 64 }), ({ segments, events }, around, choices) => {
        const stream = noisy(events, around, choices);
        let state = initialTurnState({ traceId: "trace-p", sessionId: S, messageId: U, maxProviderRetries: 3 });
        const { state: ended, replies } = mapOpencodeEvents(stream, state);
        state = ended;
        expectContract(replies, "trace-p", segments);
        expect(state.usage?.cost).toBeCloseTo(0.5 * new Set(events.filter((e) => e.type === "message.part.updated" && (e.properties.part as { type: string }).type === "step-finish")).size);
      }),
      { numRuns: 300 },
    );
  });

  it("never end final when the newest step was never completed (opencode died writing it): the same replies, then an error", () => {
    fc.assert(
      fc.property(turn, ({ events }) => {
        const done = events.findLastIndex((e) => e.type === "message.updated" && (e.properties.info as { time?: { completed?: number } }).time?.completed !== undefined);
        const start = initialTurnState({ traceId: "trace-p", sessionId: S, messageId: U, maxProviderRetries: 3 });
        const whole = mapOpencodeEvents(events, start).replies;
        const cut = mapOpencodeEvents(events.filter((_, i) => i !== done), start).replies;
        expect(cut.slice(0, -1)).toEqual(whole.slice(0, -1));
        expect(cut.at(-1)).toMatchObject({ kind: "error", code: "internal", error: expect.stringContaining("The answer was cut off") });
      }),
      { numRuns: 300 },
    );
  });

  it("never throw on arbitrary JSON, and skip it", () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 20 }), (values) => {
        let state = initialTurnState({ traceId: "t", sessionId: S, messageId: U, maxProviderRetries: 3 });
        for (const value of values) state = mapOpencodeEvent(value, state).state;
        expect(state.outcome).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});

describe("pipeline properties: the same random turns through the adapter (hub, machine, codec, sink)", () => {
  let server: FakeOpencode;
  let script: (sessionId: string, messageId: string) => Step[] = () => [];
  beforeAll(async () => {
    server = await FakeOpencode.start({ onPrompt: (p) => script(p.sessionId, p.body.messageID) });
  });
  afterAll(() => server.close());

  it("keep every invariant, however the stream is cut into chunks", async () => {
    await fc.assert(
      fc.asyncProperty(turn, noise, fc.array(fc.boolean(), { minLength: 1, maxLength: 64 }), fc.array(fc.nat(), { maxLength: 12 }), async ({ segments, events }, around, choices, cuts) => {
        script = (sessionId, messageId) => {
          // The generated turn, with the ids this prompt really has, as bytes cut at random places
          // (also inside a character, as a network does).
          const wire = Buffer.from(
            noisy(events, around, choices)
              .map((event) => `data: ${JSON.stringify(event).replaceAll(S, sessionId).replaceAll(U, messageId)}\n\n`)
              .join(""),
          );
          const at = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
          return [0, ...at].map((from, i) => ({ raw: wire.subarray(from, [...at, wire.length][i]) })).filter((step) => step.raw.length > 0);
        };
        const replies: Reply[] = [];
        const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, async (reply) => {
          if (replies.length % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
          replies.push(reply);
        });
        try {
          const result = await adapter.prompt("go", "trace-a");
          expectContract(replies, "trace-a", segments);
          expect(result).toMatchObject({ outcome: "final", content: (replies.at(-1) as { content: string }).content });
        } finally {
          await adapter.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe("the hand-written delta guard", () => {
  const field = fc.oneof(fc.string({ maxLength: 3 }), fc.constant(""), fc.integer(), fc.constant(null), fc.constant(undefined), fc.array(fc.string(), { maxLength: 1 }));
  const nearDelta = fc.record(
    {
      type: fc.oneof(fc.constant("message.part.delta"), fc.string({ maxLength: 3 })),
      properties: fc.oneof(
        fc.record({ sessionID: field, messageID: field, partID: field, field, delta: field, extra: field }, { requiredKeys: [] }),
        fc.constant(null),
        fc.array(fc.string(), { maxLength: 2 }),
        fc.string({ maxLength: 2 }),
      ),
      id: field,
    },
    { requiredKeys: [] },
  );

  // Every key present, each maybe empty: about a third of these are valid deltas.
  const text = fc.string({ maxLength: 2 });
  const validish = fc.record({
    type: fc.constant("message.part.delta"),
    properties: fc.record({ sessionID: text, messageID: text, partID: text, field: text, delta: text }),
  });

  it("accepts exactly what the PartDelta schema accepts", () => {
    let valid = 0;
    fc.assert(
      fc.property(fc.oneof(validish, nearDelta, fc.jsonValue()), (value) => {
        const accepted = isPartDelta(value);
        expect(accepted).toBe(PartDelta.safeParse(value).success);
        if (accepted) valid++;
      }),
      { numRuns: 2000 },
    );
    expect(valid).toBeGreaterThan(100);
  });
});
