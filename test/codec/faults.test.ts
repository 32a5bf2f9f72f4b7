/**
 * The codec on the faults of opencode 1.18.33 captured from the real server (`captures/`: auto
 * compaction mid-turn and after the answer, the session deleted mid-answer, a subagent's provider
 * retrying, a turn's idle echo arriving after the next prompt), on the v2 asks (shapes from its
 * `/doc`), and on a turn of 100,000 tool calls.
 */
import { readFileSync } from "node:fs";
import { createParser } from "eventsource-parser";
import { describe, expect, it } from "vitest";
import { CallMap } from "../../src/codec/call-map.js";
import { mapOpencodeEvent, mapOpencodeEvents } from "../../src/codec/map.js";
import { promptSent } from "../../src/codec/ending.js";
import { initialTurnState, type TurnState } from "../../src/codec/state.js";
import type { Reply } from "../../src/contract/replies.js";
import * as E from "../../testkit/events.js";

interface Capture {
  events: unknown[];
  sessionID: string;
}

function capture(name: string): Capture {
  const raw = readFileSync(new URL(`./captures/${name}.sse`, import.meta.url), "utf8");
  const meta = JSON.parse(readFileSync(new URL(`./captures/${name}.json`, import.meta.url), "utf8")) as { sessionID: string };
  const events: unknown[] = [];
  createParser({ onEvent: (e) => events.push(JSON.parse(e.data)) }).feed(raw);
  return { events, sessionID: meta.sessionID };
}

/** The id of the session's first user message: the one the turn sent. */
function firstUserId({ events, sessionID }: Capture): string {
  const user = events.find((e: any) => e.type === "message.updated" && e.properties.info.sessionID === sessionID && e.properties.info.role === "user") as any;
  return user.properties.info.id;
}

function turnOver(c: Capture, maxProviderRetries = 3): { state: TurnState; replies: readonly Reply[] } {
  const state = promptSent(initialTurnState({ traceId: "t", sessionId: c.sessionID, messageId: firstUserId(c), maxProviderRetries }));
  return mapOpencodeEvents(c.events, state);
}

const text = (replies: readonly Reply[]) => replies.filter((r) => r.kind === "delta").map((r) => (r as { content: string }).content).join("");

describe("auto-compaction mid-turn (real 1.18.33 capture)", () => {
  it("the answer goes on under opencode's synthetic continue message, and final is all of it, not the summary", () => {
    const { state, replies } = turnOver(capture("auto-compact"));
    const last = replies.at(-1);
    expect(last).toEqual({ kind: "final", trace_id: "t", content: "Continued after compaction." });
    expect(text(replies)).toBe("Continued after compaction.");
    expect(replies.filter((r) => r.kind === "tool_call")).toHaveLength(1);
    expect(JSON.stringify(replies)).not.toContain("SUMMARY");
    expect(state.continuations.size).toBe(1);
  });

  it("compacted after the answer: opencode answers again under the continue message, and both are the turn's", () => {
    const { replies } = turnOver(capture("auto-compact-stop"));
    expect(replies.at(-1)).toEqual({ kind: "final", trace_id: "t", content: "A big answer.Continued." });
    expect(JSON.stringify(replies)).not.toContain("SUMMARY");
  });

  it("a synthetic continue message before this turn's own user message is not adopted", () => {
    const c = capture("auto-compact");
    const state = initialTurnState({ traceId: "t", sessionId: c.sessionID, messageId: "msg_not_sent_yet", maxProviderRetries: 3 });
    expect(mapOpencodeEvents(c.events, state).state.continuations.size).toBe(0);
  });
});

describe("the session deleted mid-answer (real 1.18.33 capture)", () => {
  it("stops the turn at session.deleted with an error that says so, not the provider's", () => {
    const c = capture("delete-midstream");
    let state = promptSent(initialTurnState({ traceId: "t", sessionId: c.sessionID, messageId: firstUserId(c), maxProviderRetries: 3 }));
    const replies: Reply[] = [];
    for (const event of c.events) {
      const step = mapOpencodeEvent(event, state);
      state = step.state;
      replies.push(...step.replies);
      if ((event as { type: string }).type === "session.deleted") break;
    }
    expect(state.stopReason).toMatchObject({ code: "session_not_found", error: expect.stringContaining("was deleted") });
    // The error opencode sends when its write fails ends the turn with the deletion, not "the model provider failed".
    const rest = mapOpencodeEvents(c.events.slice(c.events.findIndex((e: any) => e.type === "session.deleted") + 1), state);
    expect(rest.replies.at(-1)).toMatchObject({ kind: "error", code: "session_not_found" });
  });
});

describe("a turn's session.idle echo after the next prompt's user message (real 1.18.33 capture)", () => {
  const c = capture("idle-echo-after-next-prompt");
  const meta = JSON.parse(readFileSync(new URL("./captures/idle-echo-after-next-prompt.json", import.meta.url), "utf8")) as { userMessageIDs: string[]; texts: string[] };
  const at = (test: (e: any) => boolean, from = 0) => c.events.findIndex((e, i) => i >= from && test(e));
  const isUser = (id: string) => (e: any) => e.type === "message.updated" && e.properties.info.id === id;

  it("the capture holds the race: the first turn's echo comes after the second's user message, before its busy", () => {
    const secondUser = at(isUser(meta.userMessageIDs[1]!));
    const echo = at((e) => e.type === "session.idle");
    expect(at((e) => e.type === "session.status" && e.properties.status.type === "idle")).toBeLessThan(secondUser);
    expect(echo).toBeGreaterThan(secondUser);
    expect(echo).toBeLessThan(at((e) => e.type === "session.status" && e.properties.status.type === "busy", secondUser));
  });

  it("each turn ends at its session.status idle with its whole answer: the echo ends nothing", () => {
    // The turns in sequence, as an adapter runs them: the second starts on the events after the first's end.
    let rest = c.events;
    meta.userMessageIDs.forEach((messageId, i) => {
      let state = promptSent(initialTurnState({ traceId: `t${i}`, sessionId: c.sessionID, messageId, maxProviderRetries: 3 }));
      const replies: Reply[] = [];
      let used = 0;
      while (state.outcome === undefined && used < rest.length) {
        const step = mapOpencodeEvent(rest[used++], state);
        state = step.state;
        replies.push(...step.replies);
      }
      expect(replies.at(-1)).toEqual({ kind: "final", trace_id: `t${i}`, content: meta.texts[i] });
      expect(text(replies)).toBe(meta.texts[i]);
      rest = rest.slice(used);
    });
  });
});

describe("a subagent stuck retrying (real 1.18.33 capture)", () => {
  it("maxProviderRetries counts the child session's retries too: the turn is stopped with provider_error", () => {
    const c = capture("task-child-retry-abort");
    const { state } = turnOver(c, 1);
    expect(state.stopReason).toMatchObject({ code: "provider_error", error: expect.stringContaining("A subagent's model provider") });
    expect(state.stopReason!.error).toContain("child upstream down");
  });

  it("within the cap the child's retries do not stop the turn", () => {
    const { state } = turnOver(capture("task-child-retry-abort"), 3);
    expect(state.stopReason).toBeUndefined();
  });
});

describe("v2 asks (opencode 1.18 /doc shapes)", () => {
  const S = "ses_v2";
  const base = () => ({ ...promptSent(initialTurnState({ traceId: "t", sessionId: S, messageId: "msg_u", maxProviderRetries: 3 })), userSeen: true });
  it("are queued in the v1 shape, marked v2, and settled by their v2 replies", () => {
    const asked = mapOpencodeEvents(
      [
        { type: "permission.v2.asked", properties: { id: "per_1", sessionID: S, action: "edit", resources: ["a.txt"], source: { type: "tool", messageID: "m", callID: "c" } } },
        { type: "question.v2.asked", properties: { id: "que_1", sessionID: S, questions: [{ question: "Q?", header: "H", options: [{ label: "a", description: "" }] }] } },
      ],
      base(),
    ).state;
    expect(asked.asks).toEqual([
      { kind: "permission", request: { id: "per_1", sessionID: S, permission: "edit", patterns: ["a.txt"], metadata: {}, always: [], tool: { messageID: "m", callID: "c" }, api: "v2" } },
      { kind: "question", request: expect.objectContaining({ id: "que_1", api: "v2", questions: [expect.objectContaining({ question: "Q?" })] }) },
    ]);
    expect(asked.unusable).toBe(0);
    const settled = mapOpencodeEvents([{ type: "question.v2.rejected", properties: { sessionID: S, requestID: "que_1" } }], asked).state;
    expect(settled.asks.map((a) => a.request.id)).toEqual(["per_1"]);
  });
});

describe("a turn of 100,000 tool calls", () => {
  it("sends exactly one tool_call and one tool_result per call", () => {
    const S = "ses_t";
    let state = { ...initialTurnState({ traceId: "t", sessionId: S, messageId: "msg_u", maxProviderRetries: 3 }), userSeen: true };
    state = mapOpencodeEvent(E.assistantMessage(S, "msg_a", "msg_u"), state).state;
    let calls = 0;
    let results = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      for (const status of ["pending", "running", "completed", "completed"]) {
        const step = mapOpencodeEvent(E.toolPart(S, "msg_a", `prt_${i}`, `call_${i}`, "bash", { status, input: { i }, output: "ok" }), state);
        state = step.state;
        for (const reply of step.replies) reply.kind === "tool_call" ? calls++ : results++;
      }
    }
    expect([calls, results, state.calls.size]).toEqual([n, n, n]);
    // 400,000 events through the whole codec: about 20 s on two busy cores. Linear; quadratic never ended.
  }, 180_000);

  it("the call map shares all but one path with the map before it (no whole copy per tool event)", () => {
    let map = CallMap.empty<number>();
    for (let i = 0; i < 5000; i++) map = map.set(`call_${i}`, i);
    const next = map.set("call_new", 1);
    const shared = (a: unknown, b: unknown): number => {
      if (a === b) return 1;
      if (!Array.isArray(a) || !Array.isArray(b)) return 0;
      return a.reduce((sum: number, slot, i) => sum + shared(slot, b[i]), 0);
    };
    const rootOf = (m: CallMap<number>) => (m as unknown as { root: unknown }).root;
    // Of the root's 16 slots, 15 are the very same subtrees.
    expect(shared(rootOf(map), rootOf(next))).toBeGreaterThanOrEqual(15);
    expect(next.get("call_new")).toBe(1);
    expect(next.get("call_4999")).toBe(4999);
    expect(map.get("call_new")).toBeUndefined();
    expect([map.size, next.size, next.set("call_new", 2).size]).toEqual([5000, 5001, 5001]);
  });
});
