import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromPromise } from "xstate";
import type { TurnEvent, TurnInput } from "../../machines/turn.machine.js";
import type { Reply } from "../../src/contract/replies.js";
import { followSession, provideTurnMachine, textCut } from "../../src/engine/turn-actors.js";
import { runTurn } from "../../src/engine/turn-runner.js";
import type { EventHub, HubListener } from "../../src/opencode/event-hub.js";
import * as E from "../../testkit/events.js";

const SESSION = "ses_cut";
const USER = "msg_cut_user";
const INPUT: TurnInput = {
  traceId: "trace-cut",
  prompt: { parts: [{ type: "text", text: "hi" }] },
  sessionId: SESSION,
  sessionVerified: true,
  children: [],
  maxProviderRetries: 1,
  maxReconnects: 1,
  graceMs: 1000,
};

/** What followSession and the machine's other actors need of a hub: its listener is handed out, its stream is open at once. */
function stubHub() {
  const listeners: HubListener[] = [];
  const hub = {
    subscribe: (_sessionId: string, listener: HubListener) => {
      listeners.push(listener);
      return () => void listeners.splice(listeners.indexOf(listener), 1);
    },
    connect: () => Promise.resolve(),
    serverClock: { nextMessageId: () => USER },
    http: {},
  } as unknown as EventHub;
  return { hub, listeners };
}

const typed = (type: string) =>
  type === "message.part.delta"
    ? { type, properties: { sessionID: SESSION, messageID: "msg_a", partID: "prt_a", field: "text", delta: "x" } }
    : { type, properties: {} };

describe("a batch of the hub, sent to the turn machine", () => {
  it("is cut after its last delta when other events follow it, and sent whole otherwise", () => {
    const [d, u] = [typed("message.part.delta"), typed("message.part.updated")];
    expect(textCut([d, d, u, typed("session.idle")])).toBe(2);
    expect(textCut([u, d, u, d, u])).toBe(4);
    expect(textCut([u, d, d])).toBe(0);
    expect(textCut([u, u])).toBe(0);
    expect(textCut([])).toBe(0);
    expect(textCut([null, 3, d, "x"])).toBe(3);
    // A delta the codec would skip (no text) is not text to send ahead.
    expect(textCut([d, { type: "message.part.delta", properties: {} }, u])).toBe(1);
  });

  it("any batch: the two halves make the batch, the first ends with its last delta, the second holds none", () => {
    const kinds = fc.constantFrom("message.part.delta", "message.part.updated", "message.updated", "session.status", "session.idle");
    fc.assert(
      fc.property(fc.array(kinds.map(typed), { maxLength: 12 }), (batch) => {
        const cut = textCut(batch);
        const isDelta = (event: { type: string }) => event.type === "message.part.delta";
        if (cut === 0) {
          expect(batch.length === 0 || isDelta(batch.at(-1)!) || !batch.some(isDelta)).toBe(true);
        } else {
          expect(isDelta(batch[cut - 1]!)).toBe(true);
          expect(cut).toBeLessThan(batch.length);
          expect(batch.slice(cut).some(isDelta)).toBe(false);
        }
      }),
    );
  });

  it("followSession sends the two halves in order, and stops after the first if it ended the follow", () => {
    const { hub, listeners } = stubHub();
    const sent: TurnEvent[] = [];
    const batch = [typed("message.part.delta"), typed("session.idle")];
    const stop = followSession(hub, SESSION, (event) => sent.push(event));
    listeners[0]!.events(batch);
    expect(sent).toEqual([{ type: "EVENTS", events: [batch[0]] }, { type: "EVENTS", events: [batch[1]] }]);

    sent.length = 0;
    const stopping = followSession(hub, SESSION, (event) => {
      sent.push(event);
      stopping();
    });
    listeners.at(-1)!.events(batch);
    expect(sent).toEqual([{ type: "EVENTS", events: [batch[0]] }]);
    stop();
  });

  it("a whole turn in one batch: its text reaches the host in a batch of replies of its own, before the turn's end is read", async () => {
    const { hub, listeners } = stubHub();
    const machine = provideTurnMachine({ hub, decidePermission: async () => ({ reply: "reject" }), decideQuestion: async () => "reject" }).provide({
      actors: {
        // The prompt lands; the whole turn then comes as one batch, as chunks that arrive together do.
        sendPrompt: fromPromise(async () => {
          setImmediate(() => listeners[0]!.events(E.textTurn(SESSION, USER, "msg_cut_assistant", ["Hello", " there"])));
        }),
      },
    });
    const batches: Reply["kind"][][] = [];
    const { output } = await runTurn(machine, { input: INPUT, onReplies: (replies) => batches.push(replies.map((reply) => reply.kind)) });
    expect(output?.outcome.kind).toBe("final");
    expect(batches).toEqual([["delta", "delta"], ["final"]]);
  });
});
