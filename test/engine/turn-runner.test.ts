import { describe, expect, it } from "vitest";
import { fromCallback, fromPromise } from "xstate";
import { turnMachine, type SessionRef, type TurnEvent, type TurnInput } from "../../machines/turn.machine.js";
import { runTurn, startTurn } from "../../src/engine/turn-runner.js";
import { TurnError } from "../../src/contract/turn-error.js";
import type { Reply } from "../../src/contract/replies.js";

const INPUT: TurnInput = { traceId: "t", prompt: { parts: [{ type: "text", text: "hi" }] }, sessionId: undefined, children: [], maxProviderRetries: 1, maxReconnects: 1, graceMs: 1000 };

/** A machine whose session is found, whose stream opens at once, and whose prompt fails as given. */
function machine(sendPrompt: () => Promise<void>) {
  return turnMachine.provide({
    actors: {
      ensureSession: fromPromise(async () => "ses_1"),
      eventStream: fromCallback<TurnEvent, SessionRef>(({ sendBack }) => {
        sendBack({ type: "STREAM.READY", messageId: "msg_1" });
        return () => undefined;
      }),
      sendPrompt: fromPromise(sendPrompt),
    },
  });
}

describe("the turn runner", () => {
  it("a turn whose prompt failed after it may have reached opencode is orphaned: onOrphaned gets its session", async () => {
    const orphaned: string[] = [];
    const replies: Reply[] = [];
    const sessions: string[] = [];
    const settled = await runTurn(machine(() => Promise.reject(new TurnError("unreachable", "gone"))), {
      input: INPUT,
      onReplies: (batch) => replies.push(...batch),
      onSession: (id) => sessions.push(id),
      onOrphaned: (id) => orphaned.push(id),
    });
    expect(settled).toEqual({ output: { outcome: { kind: "error", code: "unreachable", error: "gone" }, content: "", usage: undefined, unusable: 0, orphaned: true } });
    expect(replies).toEqual([{ kind: "error", trace_id: "t", code: "unreachable", error: "gone" }]);
    expect(sessions).toEqual(["ses_1"]);
    expect(orphaned).toEqual(["ses_1"]);
  });

  it("a signal aborted before the start cancels the turn, which ends at once, not orphaned", async () => {
    const orphaned: string[] = [];
    const settled = await runTurn(machine(() => new Promise(() => undefined)), { input: INPUT, signal: AbortSignal.abort(), onOrphaned: (id) => orphaned.push(id) });
    expect(settled.output?.outcome).toEqual({ kind: "error", code: "aborted", error: "The turn was cancelled by the host." });
    expect(orphaned).toEqual([]);
  });

  it("a machine that fails without an outcome settles with the defect, and never rejects", async () => {
    const broken = turnMachine.provide({ actions: { useSession: () => { throw new Error("broken action"); } } });
    const turn = startTurn(broken.provide({ actors: { ensureSession: fromPromise(async () => "ses_1") } }), { input: INPUT });
    await expect(turn.run()).resolves.toEqual({ output: undefined, defect: "broken action" });
  });
});
